//! A counterpart incident's inquiry due time, kept between settles.
//!
//! `Incident::due` is read for every deadline at every settle (by `step` and by `next_wake`),
//! and the inquiry's time is working time after detection (`Calendar::add_business`, with the
//! time zone's local-to-UTC conversions): a tenth of `simulate`'s engine thread on the heavy
//! year (issue #32). It depends only on the detection time and the configuration, so
//! `refresh`, which runs before every settle and after every change of the configuration
//! (`Engine::reconfigure`), keeps it with the configuration's number; `due` takes the kept
//! time while the detection time is the same, and works it out otherwise.

use super::incident::Incident;
use super::model::Time;
use crate::config::Config;

/// An inquiry due time and what it was worked out from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kept {
    cfg_seq: u64,
    detected_at: Time,
    due: Time,
}

impl Incident {
    /// Work out the inquiry's due time again if the configuration or the detection time
    /// changed since it was kept (only for a counterpart case whose inquiry is not sent).
    pub(super) fn keep_followup_due(&mut self, cfg: &Config, cfg_seq: u64) {
        let kept = self
            .followup_due_of
            .is_some_and(|k| k.cfg_seq == cfg_seq && k.detected_at == self.detected_at);
        if !kept && !self.at_self() && self.followup_at.is_none() {
            self.followup_due_of = Some(Kept {
                cfg_seq,
                detected_at: self.detected_at,
                due: self.followup_due(cfg),
            });
        }
    }

    /// The inquiry's due time: the kept one for this detection time, else worked out.
    pub(super) fn kept_followup_due(&self, cfg: &Config) -> Time {
        match self.followup_due_of {
            Some(k) if k.detected_at == self.detected_at => k.due,
            _ => self.followup_due(cfg),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::model::{Event, Time};
    use crate::engine::Engine;
    use crate::testutil::example_config;
    use std::sync::Arc;

    /// The kept inquiry time follows a reload that changes the working time it is counted in.
    #[test]
    fn the_kept_inquiry_time_follows_a_reload() {
        let t = |s: &str| -> Time { chrono::DateTime::parse_from_rfc3339(s).unwrap().into() };
        let cfg = example_config();
        let org = (cfg.orgs.iter())
            .find(|o| o.kind == crate::config::OrgKind::Kommune)
            .map(|o| o.id.clone())
            .unwrap();
        let mut e = Engine::new(Arc::new(cfg.clone()));
        let open = serde_json::json!({
            "id": "K1", "kind": "kvittering", "at_org": org, "services": ["PLO"],
            "started_at": "2026-12-07T09:00:00+01:00", "detected_at": "2026-12-07T09:00:00+01:00",
        });
        e.handle(
            t("2026-12-07T09:05:00+01:00"),
            Event::from_parts("incident.open", &open).unwrap(),
        )
        .unwrap();
        let inquiry = |e: &Engine| {
            use crate::engine::deadline::Scheduled;
            let inc = e.incident("K1").unwrap();
            (inc.pending(e.config()).into_iter())
                .find(|(d, _)| *d == crate::engine::incident::Deadline::Followup)
                .map(|(_, at)| at)
        };
        // Two working hours after detection (the example's followup_after), Monday 11:00.
        assert_eq!(inquiry(&e), Some(t("2026-12-07T11:00:00+01:00")));
        let mut later = cfg;
        later.policy.followup_after = chrono::Duration::hours(4);
        e.reconfigure(Arc::new(later));
        assert_eq!(inquiry(&e), Some(t("2026-12-07T13:00:00+01:00")));
    }
}
