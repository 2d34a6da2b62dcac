//! Which rows of a claimed batch may be sent now: a sliding window of at most `IN_FLIGHT`
//! exchanges, opened gradually, that keeps the batch's order per recipient. Pure bookkeeping:
//! the dispatcher starts what [`Window::ready`] hands out and reports each end to
//! [`Window::finished`].
//!
//! - **Order per recipient.** A row starts only when every earlier row of the batch that
//!   shares a recipient with it has finished (an "Oppdatering" never overtakes its "Feil" at
//!   the same address). Rows to other recipients go past a blocked one.
//! - **Sliding, not in waves.** A finished exchange frees its slot at once; nothing waits for
//!   the slowest of a group.
//! - **Slow start.** One exchange first, then one more slot for every exchange that ends, up
//!   to `IN_FLIGHT`: the first recipient of a fan-out has the server to itself (the first
//!   notice is out as soon as one exchange allows), and a server that is down sees one failed
//!   attempt per batch before the rest follow, not eight at once.

use crate::store::OutboxRow;
use std::collections::{HashMap, VecDeque};

/// At most this many SMTP (or HTTP) exchanges at once.
pub(crate) const IN_FLIGHT: usize = 8;

/// The addresses (or, for rows without any, the case) whose order a row must keep.
fn recipients(row: &OutboxRow) -> Vec<String> {
    let to = row.action.body.recipients();
    if to.is_empty() {
        vec![row.action.about.key_prefix()]
    } else {
        to
    }
}

/// Which claimed rows may start: at most IN_FLIGHT, in order per recipient.
pub(crate) struct Window {
    queued: VecDeque<(OutboxRow, Vec<String>)>,
    /// Recipients of the exchanges under way, by row key.
    running: HashMap<String, Vec<String>>,
    finished: usize,
}

impl Window {
    /// A window over the rows of one claim.
    pub(crate) fn new(rows: Vec<OutboxRow>) -> Window {
        Window {
            queued: rows
                .into_iter()
                .map(|r| {
                    let who = recipients(&r);
                    (r, who)
                })
                .collect(),
            running: HashMap::new(),
            finished: 0,
        }
    }

    /// How many exchanges may run at once now.
    fn limit(&self) -> usize {
        (1 + self.finished).min(IN_FLIGHT)
    }

    #[cfg(test)]
    fn running(&self) -> usize {
        self.running.len()
    }

    /// Rows not started yet.
    pub(crate) fn queued(&self) -> usize {
        self.queued.len()
    }

    /// The rows that may start now, in batch order; they count as running until
    /// [`Window::finished`].
    pub(crate) fn ready(&mut self) -> Vec<OutboxRow> {
        let mut out = Vec::new();
        // Recipients of running rows and of earlier rows still queued: a row naming one of
        // them must wait.
        let mut busy: std::collections::HashSet<String> =
            self.running.values().flatten().cloned().collect();
        let mut i = 0;
        while i < self.queued.len() && self.running.len() < self.limit() {
            let free = !self.queued[i].1.iter().any(|r| busy.contains(r));
            if free {
                if let Some((row, who)) = self.queued.remove(i) {
                    busy.extend(who.iter().cloned());
                    self.running.insert(row.key.clone(), who);
                    out.push(row);
                }
            } else {
                busy.extend(self.queued[i].1.iter().cloned());
                i += 1;
            }
        }
        out
    }

    /// The exchange of `key` ended (delivered, failed or dropped).
    pub(crate) fn finished(&mut self, key: &str) {
        if self.running.remove(key).is_some() {
            self.finished += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::model::{About, Action, ActionBody, Email, EmailKind};

    fn row(key: &str, to: &str) -> OutboxRow {
        let e = Email::new(EmailKind::Unplanned, "x".into(), vec![to.to_string()]);
        OutboxRow {
            key: key.into(),
            kind: "unplanned".into(),
            action: Action {
                at: chrono::DateTime::UNIX_EPOCH,
                key: key.into(),
                about: About::Incident("I1".into()),
                body: ActionBody::Email(Box::new(e)),
            },
            attempts: 0,
            first_failure_at: None,
            last_error: None,
        }
    }

    fn keys(rows: &[OutboxRow]) -> Vec<&str> {
        rows.iter().map(|r| r.key.as_str()).collect()
    }

    #[test]
    fn the_window_opens_one_slot_per_finished_exchange_up_to_the_limit() {
        let rows: Vec<_> = (0..20)
            .map(|i| row(&format!("k{i}"), &format!("m{i}@x.example")))
            .collect();
        let mut w = Window::new(rows);
        let first = w.ready();
        assert_eq!(keys(&first), ["k0"], "one exchange first");
        assert!(w.ready().is_empty(), "nothing more until it ends");
        w.finished("k0");
        assert_eq!(
            keys(&w.ready()),
            ["k1", "k2"],
            "each end frees its slot and opens one more"
        );
        w.finished("k1");
        assert_eq!(keys(&w.ready()), ["k3", "k4"]);
        // Finish the oldest running exchange, one at a time: the window reaches IN_FLIGHT
        // and never goes past it.
        let mut running: std::collections::VecDeque<String> =
            ["k2", "k3", "k4"].map(String::from).into();
        let mut widest = 0;
        while let Some(k) = running.pop_front() {
            w.finished(&k);
            running.extend(w.ready().into_iter().map(|r| r.key));
            assert_eq!(running.len(), w.running());
            assert!(w.running() <= IN_FLIGHT, "{} at once", w.running());
            widest = widest.max(w.running());
        }
        assert_eq!(widest, IN_FLIGHT);
        assert_eq!(w.queued(), 0, "every row was started");
    }

    #[test]
    fn a_recipient_gets_its_rows_in_batch_order_and_others_pass_a_blocked_one() {
        let mut w = Window::new(vec![
            row("a1", "a@x.example"),
            row("a2", "a@x.example"),
            row("b1", "b@x.example"),
        ]);
        w.finished("x"); // an unknown key changes nothing
        assert_eq!(keys(&w.ready()), ["a1"]);
        w.finished("a1");
        // The window is 2 now: a2 (a's turn, a1 done) and b1.
        assert_eq!(keys(&w.ready()), ["a2", "b1"]);
        let mut w = Window::new(vec![
            row("a1", "a@x.example"),
            row("b1", "b@x.example"),
            row("a2", "a@x.example"),
            row("c1", "c@x.example"),
        ]);
        w.finished("none");
        assert_eq!(keys(&w.ready()), ["a1"]);
        w.finished("a1");
        assert_eq!(keys(&w.ready()), ["b1", "a2"]);
        // a2 runs: a third row to a would wait, c1 passes.
        w.finished("b1");
        assert_eq!(keys(&w.ready()), ["c1"]);
        assert_eq!(w.queued(), 0);
    }

    #[test]
    fn a_row_waits_while_an_earlier_row_to_the_same_address_is_still_queued() {
        let mut w = Window::new(vec![
            row("b1", "b@x.example"),
            row("a1", "a@x.example"),
            row("a2", "a@x.example"),
        ]);
        // Open the window wide first with unrelated work.
        assert_eq!(keys(&w.ready()), ["b1"]);
        w.finished("b1");
        // a1 and a2 share a recipient: only a1 starts, though two slots are free.
        assert_eq!(keys(&w.ready()), ["a1"]);
        assert!(w.ready().is_empty());
        w.finished("a1");
        assert_eq!(keys(&w.ready()), ["a2"]);
    }
}
