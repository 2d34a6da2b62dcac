//! What an event would decide, before it is decided (the console's preview, SPEC §5.6): the
//! event is applied to a copy of the engine, which is then driven ahead with no further input.
//! The real engine is untouched, so a preview can never send or record anything.

use super::model::{About, Action, Event, Refusal, Time};
use super::Engine;

/// The outcome of a previewed event: what it changes, against the same engine driven over
/// the same horizon without it (issue #26: a preview lists what this action changes, not
/// everything that is pending anyway).
#[derive(Debug, Clone)]
pub(crate) struct Preview {
    /// What the rules would do about the cases the event touches, in time order, from `at`
    /// up to the horizon, if nothing else happened meanwhile, less what would have happened
    /// anyway at the same instant: new messages, and pending ones moved to another time.
    pub actions: Vec<Action>,
    /// What would have happened without the event and no longer will (an ack stops the
    /// reminder; a reply stops the follow-up and the escalation).
    pub stopped: Vec<Action>,
    /// How many messages would go exactly as they would have anyway.
    pub unchanged: usize,
    /// The touched case as the API would show it right after the event (derived impact,
    /// priority, organizations, …).
    pub case: Option<serde_json::Value>,
}

/// Actions beyond this many are not collected (65 municipalities times a few messages fit).
const MAX_ACTIONS: usize = 2_000;

impl Engine {
    /// Apply `ev` at `at` to a copy and drive the copy `horizon` ahead. A refusal is the one
    /// the real engine would give.
    pub(crate) fn preview(
        &self,
        at: Time,
        ev: Event,
        horizon: chrono::Duration,
    ) -> Result<Preview, Refusal> {
        let mut copy = self.clone();
        copy.catch_up(at);
        copy.out.clear();
        let mut base = copy.clone();
        let id = ev.id().map(str::to_string);
        copy.handle(at, ev)?;
        let touched = copy.take_touched();
        let case = match (id, touched.first()) {
            (Some(id), Some(prefix)) => {
                let about = if prefix.starts_with("maintenance/") {
                    About::Maintenance(id)
                } else if prefix.starts_with("inquiry/") {
                    About::Inquiry(id)
                } else {
                    About::Incident(id)
                };
                copy.case_json(&about)
            }
            _ => None,
        };
        let mine = |a: &Action| touched.contains(&a.about.key_prefix());
        let end = at + horizon;
        let run = |e: &mut Engine, mut actions: Vec<Action>| {
            while let Some(t) = e.poll_timeout().filter(|t| *t <= end) {
                e.advance_to(t + super::NEXT_INSTANT);
                actions.extend(e.out.drain(..).filter(mine));
                if actions.len() >= MAX_ACTIONS {
                    break;
                }
            }
            actions.truncate(MAX_ACTIONS);
            actions
        };
        let first: Vec<Action> = copy.out.drain(..).filter(mine).collect();
        let with = run(&mut copy, first);
        let without = run(&mut base, Vec::new());
        let case = case.map(|mut c| {
            // A case resolved by the event retires at once; its facts are those its last
            // message carried (not the bare history record: "0 organisasjoner").
            let view = with.iter().rev().find_map(Action::case_view);
            if let (Some(serde_json::Value::Object(view)), Some(o)) = (view, c.as_object_mut()) {
                for (k, x) in view {
                    o.entry(k).or_insert(x);
                }
            }
            c
        });
        let (actions, stopped, unchanged) = difference(with, without);
        Ok(Preview {
            actions,
            stopped,
            unchanged,
            case,
        })
    }
}

/// What an action is and where it goes, without its time: (kind, message, organization).
fn what(a: &Action) -> (&'static str, String, Option<String>) {
    let p = a.parts();
    (p.kind, p.message, p.org.map(str::to_string))
}

/// `with` against `without`: the actions of `with` that `without` does not have at the same
/// instant (new or moved), the actions of `without` that `with` has at no instant (stopped),
/// and how many are the same.
fn difference(with: Vec<Action>, without: Vec<Action>) -> (Vec<Action>, Vec<Action>, usize) {
    let mut left: Vec<Option<Action>> = without.into_iter().map(Some).collect();
    let mut changed = Vec::new();
    let mut unchanged = 0;
    for a in with {
        let w = what(&a);
        let same = left
            .iter()
            .position(|b| b.as_ref().is_some_and(|b| b.at == a.at && what(b) == w));
        match same {
            Some(i) => {
                left[i] = None;
                unchanged += 1;
            }
            None => changed.push(a),
        }
    }
    let moved: std::collections::HashSet<_> = changed.iter().map(what).collect();
    let stopped = left
        .into_iter()
        .flatten()
        .filter(|b| !moved.contains(&what(b)))
        .collect();
    (changed, stopped, unchanged)
}

#[cfg(test)]
mod tests {
    use crate::engine::events::Input;
    use crate::engine::Engine;
    use chrono::{TimeZone, Utc};
    use std::sync::Arc;

    #[test]
    fn a_preview_shows_what_would_happen_and_changes_nothing() {
        let cfg = Arc::new(crate::testutil::example_config());
        let mut e = Engine::new(cfg);
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        e.advance_to(t);
        let open = Input::parse(
            "incident.open",
            &serde_json::json!({"id": "P-1", "services": ["PLO"], "category": "A",
                                "orgs": ["malvik", "trondheim"]}),
        )
        .unwrap();
        let p = e
            .preview(t, open.event, chrono::Duration::hours(3))
            .unwrap();
        // Priority 1 (A, more than one organization): published at once, the notice when the
        // stop passes 2 hours.
        assert_eq!(p.case.as_ref().unwrap()["priority"], 1);
        let first = &p.actions[0];
        assert_eq!(first.at, t);
        let notices: Vec<_> = p
            .actions
            .iter()
            .filter(|a| a.key.contains("/unplanned/"))
            .collect();
        assert_eq!(notices.len(), 2, "{:#?}", p.actions);
        assert!(notices
            .iter()
            .all(|a| a.at == t + chrono::Duration::hours(2)));
        assert!(
            p.stopped.is_empty() && p.unchanged == 0,
            "a new case changes nothing pending"
        );
        // Nothing of it happened.
        assert!(e.incident("P-1").is_none());
        assert!(e.poll_action().is_none());
        // A refusal is the engine's.
        let bad = Input::parse(
            "incident.update",
            &serde_json::json!({"id": "NOPE", "measures": "x"}),
        )
        .unwrap();
        assert!(e.preview(t, bad.event, chrono::Duration::hours(1)).is_err());
    }

    /// Issue #26: an ack's preview says the reminder stops and lists nothing that would go
    /// anyway; a resolution's preview knows the organizations it sends `Løst:` to.
    #[test]
    fn a_preview_shows_what_the_action_changes() {
        let cfg = Arc::new(crate::testutil::example_config());
        let mut e = Engine::new(cfg);
        let t = Utc.with_ymd_and_hms(2026, 11, 20, 13, 30, 0).unwrap();
        e.advance_to(t);
        let ev = |ty: &str, v: serde_json::Value| Input::parse(ty, &v).unwrap().event;
        e.handle(
            t,
            ev(
                "incident.open",
                serde_json::json!({"id": "P-1", "services": ["PLO"], "category": "A",
                                   "orgs": ["malvik", "melhus"],
                                   "expected_end": "2026-11-20T18:00:00+01:00"}),
            ),
        )
        .unwrap();
        while e.poll_action().is_some() {}
        let h = chrono::Duration::hours(8);
        let later = t + chrono::Duration::minutes(5);
        let ack = e
            .preview(
                later,
                ev("incident.ack", serde_json::json!({"id": "P-1"})),
                h,
            )
            .unwrap();
        assert!(
            ack.actions.is_empty(),
            "an ack sends nothing: {:#?}",
            ack.actions
        );
        assert_eq!(ack.stopped.len(), 1, "{:#?}", ack.stopped);
        assert!(ack.stopped[0].key.ends_with("/ops/unacknowledged"));
        assert!(ack.unchanged > 0, "the periodic updates go anyway");
        let resolve = e
            .preview(
                later,
                ev("incident.resolve", serde_json::json!({"id": "P-1"})),
                h,
            )
            .unwrap();
        let case = resolve.case.unwrap();
        assert_eq!(case["orgs"], serde_json::json!(["malvik", "melhus"]));
        assert_eq!(case["priority"], 1);
        let losts = resolve
            .actions
            .iter()
            .filter(|a| a.key.contains("/resolved/"))
            .count();
        assert_eq!(losts, 2);
        assert!(resolve
            .stopped
            .iter()
            .any(|a| a.key.ends_with("/ops/unacknowledged")));
    }
}
