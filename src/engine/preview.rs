//! What an event would decide, before it is decided (the console's preview, SPEC §5.6): the
//! event is applied to a copy of the engine, which is then driven ahead with no further input.
//! The real engine is untouched, so a preview can never send or record anything.

use super::model::{About, Action, Event, Refusal, Time};
use super::Engine;

/// The outcome of a previewed event.
#[derive(Debug, Clone)]
pub struct Preview {
    /// What the rules would do about the cases the event touches, in time order, from `at`
    /// up to the horizon, if nothing else happened meanwhile.
    pub actions: Vec<Action>,
    /// The touched case as the API would show it right after the event (derived impact,
    /// priority, organizations, …).
    pub case: Option<serde_json::Value>,
}

/// Actions beyond this many are not collected (65 municipalities times a few messages fit).
const MAX_ACTIONS: usize = 2_000;

impl Engine {
    /// Apply `ev` at `at` to a copy and drive the copy `horizon` ahead. A refusal is the one
    /// the real engine would give.
    pub fn preview(
        &self,
        at: Time,
        ev: Event,
        horizon: chrono::Duration,
    ) -> Result<Preview, Refusal> {
        let mut copy = self.clone();
        copy.catch_up(at);
        copy.out.clear();
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
        let mut actions: Vec<Action> = copy.out.drain(..).filter(mine).collect();
        let end = at + horizon;
        while let Some(t) = copy.poll_timeout().filter(|t| *t <= end) {
            copy.advance_to(t + super::NEXT_INSTANT);
            actions.extend(copy.out.drain(..).filter(mine));
            if actions.len() >= MAX_ACTIONS {
                break;
            }
        }
        actions.truncate(MAX_ACTIONS);
        Ok(Preview { actions, case })
    }
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
}
