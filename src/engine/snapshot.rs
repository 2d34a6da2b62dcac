//! The engine's state as data, so that a restart replays only the events that follow it
//! (SPEC §5.8: a restart takes the same time after five years as after one week).
//!
//! A snapshot holds every entity with its facts and progress, the alert table, the retired
//! ids, the case history and the engine's clock. Timers are not stored: each entity's next
//! deadline follows from its state (`Scheduled::next_wake`), so `restore` files them again, as
//! a reload does. Restoring a snapshot and handling the events after it decides exactly what
//! the engine that took it would have decided (`tests/engine_props.rs` checks this over random
//! histories).

use super::alerts::{FiringAlert, GroupKey};
use super::incident::Incident;
use super::inquiry::Inquiry;
use super::maintenance::Maintenance;
use super::model::Time;
use super::{Engine, Subject};
use crate::config::Config;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Bumped when the shape changes; a snapshot of another version is ignored (full replay).
pub(crate) const VERSION: u32 = 1;

/// The engine's state as stored, so a restart need not replay every event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u32,
    incidents: Vec<Incident>,
    maintenances: Vec<Maintenance>,
    inquiries: Vec<Inquiry>,
    retired: Vec<Subject>,
    alerts: BTreeMap<String, FiringAlert>,
    groups: Vec<(GroupKey, String)>,
    alert_seq: u64,
    clock: Option<Time>,
    history: super::availability::History,
    /// Months whose report is pending.
    reports: Vec<super::availability::Month>,
    /// The directory (SPEC §4.16); absent in snapshots taken before it existed.
    #[serde(default)]
    directory: Vec<super::directory::Entry>,
}

impl Engine {
    /// The state as data. Take it when every decided action has been polled.
    pub fn snapshot(&self) -> Snapshot {
        let sorted = |mut v: Vec<Subject>| {
            v.sort();
            v
        };
        Snapshot {
            version: VERSION,
            incidents: self.incidents.values().cloned().collect(),
            maintenances: self.maintenances.values().cloned().collect(),
            inquiries: self.inquiries.values().cloned().collect(),
            retired: sorted(self.retired.iter().cloned().collect()),
            alerts: self.alerts.clone(),
            groups: self
                .groups
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            alert_seq: self.alert_seq,
            clock: self.clock,
            history: self.history.clone(),
            reports: self
                .timer_of
                .keys()
                .filter_map(|s| match s {
                    Subject::Report(m) => Some(*m),
                    _ => None,
                })
                .collect(),
            directory: self.directory.values().cloned().collect(),
        }
    }

    /// An engine in the state `s` was taken in, under `cfg`, with its timers filed again.
    pub fn restore(cfg: Arc<Config>, s: Snapshot) -> Engine {
        let mut e = Engine::new(Arc::clone(&cfg));
        e.incidents = s.incidents.into_iter().map(|i| (i.id.clone(), i)).collect();
        // Equal organization lists shared again, as when the cases were opened.
        for i in e.incidents.values_mut() {
            i.orgs = e.org_lists.intern(i.orgs.clone());
            i.notified = e.org_lists.intern(i.notified.clone());
        }
        e.maintenances = s
            .maintenances
            .into_iter()
            .map(|m| (m.id.clone(), m))
            .collect();
        e.inquiries = s.inquiries.into_iter().map(|q| (q.id.clone(), q)).collect();
        e.retired = s.retired.into_iter().collect();
        e.alerts = s.alerts;
        e.groups = s.groups.into_iter().collect();
        e.alert_seq = s.alert_seq;
        e.clock = s.clock;
        e.history = s.history;
        e.directory = s
            .directory
            .into_iter()
            .map(|d| (d.org.clone(), d))
            .collect();
        for m in s.reports {
            let t = super::availability::due(&cfg, m);
            e.timers.insert((t, Subject::Report(m)));
            e.timer_of.insert(Subject::Report(m), t);
        }
        e.reconfigure(cfg);
        e
    }
}

impl Engine {
    /// Forget the history of cases closed before `before` (`storage.retention`): their report
    /// records and their retired ids. Live cases are kept whatever their age.
    pub fn forget_before(&mut self, before: Time) {
        let old_incidents: Vec<String> = self
            .history
            .incidents
            .iter()
            .filter(|(id, r)| {
                r.resolved_at.is_some_and(|t| t < before) && !self.incidents.contains_key(*id)
            })
            .map(|(id, _)| id.clone())
            .collect();
        let old_maintenances: Vec<String> = self
            .history
            .maintenances
            .iter()
            .filter(|(id, r)| r.to < before && !self.maintenances.contains_key(*id))
            .map(|(id, _)| id.clone())
            .collect();
        for id in old_incidents {
            self.history.incidents.remove(&id);
            self.retired.remove(&Subject::Incident(id));
        }
        for id in old_maintenances {
            self.history.maintenances.remove(&id);
            self.retired.remove(&Subject::Maintenance(id));
        }
    }
}
