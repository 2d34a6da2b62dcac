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
//! - **Slow start, per sink.** One exchange of each sink (the row's `kind`) first, then one
//!   more slot of that sink for every exchange of it that ends, up to `IN_FLIGHT` in all: the
//!   first recipient of a fan-out has the mail server to itself (the first notice is out as
//!   soon as one exchange allows), and a server that is down sees one failed attempt per batch
//!   before the rest follow, not eight at once. Per sink, because the status page's post and
//!   the subscribers' copy talk to other servers (or only to the store): their quick ends
//!   must not open mail slots while the first notice is still under way.
//! - **The first notice leads.** Rows about the case only (no recipients: the status page's
//!   post, the subscribers' copy) wait until the batch's first row addressed to people has
//!   ended. On a 2-core host their work (an HTTP post, a store transaction) would otherwise
//!   share the CPU with the first notice's exchange; the status page has 15 minutes, the
//!   subscribers' lane waits for the routine anyway.

use crate::store::OutboxRow;
use std::collections::{HashMap, VecDeque};

/// At most this many SMTP (or HTTP) exchanges at once.
pub(crate) const IN_FLIGHT: usize = 8;

/// The addresses (or, for rows without any, the case) whose order a row must keep, and
/// whether the row is addressed to people.
fn recipients(row: &OutboxRow) -> (Vec<String>, bool) {
    let to = row.action.body.recipients();
    if to.is_empty() {
        (vec![row.action.about.key_prefix()], false)
    } else {
        (to, true)
    }
}

/// A row not started yet: its recipients (`recipients`) and whether it is addressed to people.
struct Queued {
    row: OutboxRow,
    who: Vec<String>,
    addressed: bool,
}

/// Which claimed rows may start: at most IN_FLIGHT, in order per recipient.
pub(crate) struct Window {
    queued: VecDeque<Queued>,
    /// Recipients and sink of the exchanges under way, by row key.
    running: HashMap<String, (Vec<String>, String)>,
    /// Exchanges ended, per sink.
    finished: HashMap<String, usize>,
    /// The batch's first row addressed to people, until its exchange ends: rows about the
    /// case only (the status page, the subscribers' copy) wait for it.
    lead: Option<String>,
    /// The sinks of the batch's rows, once each: when none of them may start another
    /// exchange, `ready` stops without walking the rest of the queue.
    kinds: Vec<String>,
}

impl Window {
    /// A window over the rows of one claim.
    pub(crate) fn new(rows: Vec<OutboxRow>) -> Window {
        let queued: VecDeque<Queued> = rows
            .into_iter()
            .map(|row| {
                let (who, addressed) = recipients(&row);
                Queued {
                    row,
                    who,
                    addressed,
                }
            })
            .collect();
        let lead = queued
            .iter()
            .find(|q| q.addressed)
            .map(|q| q.row.key.clone());
        let mut kinds: Vec<String> = Vec::new();
        for q in &queued {
            if !kinds.contains(&q.row.kind) {
                kinds.push(q.row.kind.clone());
            }
        }
        Window {
            kinds,
            queued,
            running: HashMap::new(),
            finished: HashMap::new(),
            lead,
        }
    }

    /// Whether one more exchange of sink `kind` may start now: its own slow start allows it
    /// (one, plus one per exchange of it that ended) and fewer than `IN_FLIGHT` run in all.
    fn may_start(&self, kind: &str) -> bool {
        let finished = self.finished.get(kind).copied().unwrap_or(0);
        let running = self.running.values().filter(|(_, k)| k == kind).count();
        self.running.len() < IN_FLIGHT && running < (1 + finished).min(IN_FLIGHT)
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
        let mut busy: std::collections::HashSet<String> = self
            .running
            .values()
            .flat_map(|(who, _)| who)
            .cloned()
            .collect();
        let mut i = 0;
        while i < self.queued.len() && self.kinds.iter().any(|k| self.may_start(k)) {
            let q = &self.queued[i];
            let free = !q.who.iter().any(|r| busy.contains(r));
            let behind_lead = !q.addressed && self.lead.is_some();
            if free && !behind_lead && self.may_start(&q.row.kind) {
                if let Some(Queued { row, who, .. }) = self.queued.remove(i) {
                    busy.extend(who.iter().cloned());
                    self.running
                        .insert(row.key.clone(), (who, row.kind.clone()));
                    out.push(row);
                }
            } else {
                busy.extend(q.who.iter().cloned());
                i += 1;
            }
        }
        out
    }

    /// The exchange of `key` ended (delivered, failed or dropped).
    pub(crate) fn finished(&mut self, key: &str) {
        if self.lead.as_deref() == Some(key) {
            self.lead = None;
        }
        if let Some((_, kind)) = self.running.remove(key) {
            *self.finished.entry(kind).or_default() += 1;
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

    /// A row of another sink (`kind`) about the case, with no recipient of its own.
    fn other(key: &str, kind: &str) -> OutboxRow {
        let mut r = row(key, "-");
        r.kind = kind.into();
        r.action.body = ActionBody::Email(Box::new(Email::new(
            EmailKind::Unplanned,
            "x".into(),
            Vec::<String>::new(),
        )));
        r
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
    fn the_first_notice_leads_and_each_sink_has_its_own_slow_start() {
        // A fan-out's batch: the status page's post and the subscribers' copy first (no
        // recipients: their order is the case's), then the notices.
        let mut rows = vec![
            other("sp", "statuspage"),
            other("sp#subscribers", "subscribers"),
        ];
        rows.extend((0..6).map(|i| row(&format!("n{i}"), &format!("m{i}@x.example"))));
        let mut w = Window::new(rows);
        // The first notice goes alone: the rows about the case wait for it.
        assert_eq!(keys(&w.ready()), ["n0"]);
        assert!(w.ready().is_empty());
        w.finished("n0");
        // Then the post (the copy keeps the case's order behind it) and two notices.
        assert_eq!(keys(&w.ready()), ["sp", "n1", "n2"]);
        w.finished("sp");
        // The post's end lets the copy start, and opens no mail slot: the notices' slow
        // start counts only the notices' own ends.
        assert_eq!(keys(&w.ready()), ["sp#subscribers"]);
        w.finished("sp#subscribers");
        assert!(w.ready().is_empty(), "two notices still under way");
        w.finished("n1");
        assert_eq!(keys(&w.ready()), ["n3", "n4"]);
        // A batch with no notice: the rows about the case go at once.
        let mut w = Window::new(vec![other("sp", "statuspage")]);
        assert_eq!(keys(&w.ready()), ["sp"]);
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
