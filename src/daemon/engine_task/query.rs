//! Reads of the engine's state, answered in the engine task (no locks around the rules).

use super::{Query, Task};
use crate::sources::mailbox::OpenFollowup;

impl Task {
    pub(super) fn query(&self, q: Query) {
        let cfg = self.shared.cfg();
        match q {
            Query::OpenFollowups(reply) => {
                let v = self
                    .engine
                    .open_incidents()
                    .filter(|i| i.followup_at.is_some() && i.reply_at.is_none())
                    .filter_map(|i| Some(OpenFollowup::new(&i.id, i.at_org.as_deref()?, i.kind)))
                    .collect();
                let _ = reply.send(v);
            }
            Query::Incidents(reply) => {
                let mut v: Vec<_> = self.engine.open_incidents().map(|i| i.view(&cfg)).collect();
                v.sort_by(|a, b| a.started_at.cmp(&b.started_at).then(a.id.cmp(&b.id)));
                let _ = reply.send(v);
            }
            Query::Case(about, reply) => {
                let _ = reply.send(self.engine.case_json(&about));
            }
            Query::Report(month, reply) => {
                let now = self.now();
                let _ = reply.send(crate::report::monthly_checked(
                    &cfg,
                    self.engine.history(),
                    month,
                    now,
                ));
            }
            Query::Preview(input, horizon, reply) => {
                let now = self.now();
                let _ = reply.send(self.engine.preview(now, input.event, horizon));
            }
            Query::Overview(reply) => {
                let now = self.now();
                let mut incidents: Vec<_> = self
                    .engine
                    .open_incidents()
                    .map(|i| i.detail(&cfg))
                    .collect();
                incidents.sort_by(|a, b| {
                    (a.incident.priority, a.incident.started_at, &a.incident.id).cmp(&(
                        b.incident.priority,
                        b.incident.started_at,
                        &b.incident.id,
                    ))
                });
                let mut maintenances: Vec<_> = self
                    .engine
                    .maintenances()
                    .filter(|m| !m.cancelled && m.to > now)
                    .map(|m| m.view())
                    .collect();
                maintenances.sort_by(|a, b| a.from.cmp(&b.from).then(a.id.cmp(&b.id)));
                let maintenance_next = maintenances
                    .iter()
                    .filter_map(|v| {
                        use crate::engine::deadline::Scheduled;
                        let m = self.engine.maintenance(&v.id)?;
                        let next = m
                            .pending(&cfg)
                            .into_iter()
                            .filter(|(d, _)| *d == crate::engine::maintenance::Deadline::Reminder)
                            .map(|(_, t)| t)
                            .collect();
                        Some((v.id.clone(), next))
                    })
                    .collect();
                let mut inquiries: Vec<_> = self
                    .engine
                    .inquiries()
                    .filter(|q| q.answered_at.is_none())
                    .map(|q| q.view(&cfg))
                    .collect();
                inquiries.sort_by(|a, b| a.due.cmp(&b.due).then(a.id.cmp(&b.id)));
                let _ = reply.send(crate::engine::views::Overview {
                    now,
                    incidents,
                    maintenances,
                    maintenance_next,
                    inquiries,
                });
            }
            Query::Cases(reply) => {
                let _ = reply.send(self.engine.cases());
            }
            Query::Directory(reply) => {
                let _ = reply.send(self.engine.directory().values().cloned().collect());
            }
            Query::Detail(id, reply) => {
                let _ = reply.send(self.engine.incident(&id).map(|i| i.detail(&cfg)));
            }
            Query::Maintenances(reply) => {
                let mut v: Vec<_> = self.engine.maintenances().map(|m| m.view()).collect();
                v.sort_by(|a, b| a.from.cmp(&b.from).then(a.id.cmp(&b.id)));
                let _ = reply.send(v);
            }
        }
    }
}
