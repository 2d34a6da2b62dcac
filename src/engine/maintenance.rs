//! Planned maintenance (SPEC §4.5; seeds/004 §1, seeds/003 §6.3.2.2 and §6.3.4).
//!
//! Immediate actions (notice, change, cancel, warnings, status page) are emitted by the event
//! handlers in `engine/mod.rs`; `step` handles what waits for a time: the reminder on the last
//! working day before the window, and the overrun check `maintenance_grace` after it ends.

use super::incident::org_addresses;
use super::model::*;
use crate::config::Config;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Maintenance {
    pub id: String,
    pub source: Option<String>,
    pub orgs: Vec<String>,
    pub services: Vec<String>,
    pub from: Time,
    pub to: Time,
    pub measures: Option<String>,
    pub phone: Option<String>,
    pub registered_at: Time,
    pub cancelled: bool,

    pub sp_seq: u32,
    /// Organizations that have had an e-mail about this maintenance.
    pub notified: Vec<String>,
    pub region_notified: bool,
    /// When the latest notice or change went out (for the reminder rule).
    pub last_notice_at: Option<Time>,
    pub change_seq: u32,
    /// The `from` the reminder was sent for.
    pub reminded_for: Option<Time>,
    pub overrun_checked: bool,
}

impl Maintenance {
    pub fn view(&self) -> MaintenanceView {
        MaintenanceView {
            id: self.id.clone(),
            source: self.source.clone(),
            orgs: self.orgs.clone(),
            services: self.services.clone(),
            from: self.from,
            to: self.to,
            measures: self.measures.clone(),
            phone: self.phone.clone(),
        }
    }

    /// SPEC §4.5: only a stop longer than the threshold is announced by e-mail.
    pub fn long(&self, cfg: &Config) -> bool {
        self.to - self.from > cfg.policy.planned_notice_threshold
    }

    pub fn emailed(&self) -> bool {
        !self.notified.is_empty() || self.region_notified
    }

    /// Whether the window (plus grace) covers `t`.
    pub fn covers_time(&self, cfg: &Config, t: Time) -> bool {
        !self.cancelled && self.from <= t && t < self.to + cfg.policy.maintenance_grace
    }

    /// Whether an alert at `org` (None = our side) for `service` belongs to this maintenance.
    pub fn covers(&self, org: Option<&str>, service: Option<&str>) -> bool {
        let svc_ok = match service {
            None => true,
            Some(s) => self.services.is_empty() || self.services.iter().any(|x| x == s),
        };
        let org_ok = match org {
            None => self.source.is_none(),
            Some(o) => self.source.as_deref() == Some(o) || self.orgs.iter().any(|x| x == o),
        };
        svc_ok && org_ok
    }

    fn reminder_due(&self, cfg: &Config) -> Time {
        cfg.calendar.start_of_last_working_day_before(self.from)
    }

    fn reminder_pending(&self, cfg: &Config) -> bool {
        if self.cancelled || !self.emailed() || self.reminded_for == Some(self.from) {
            return false;
        }
        let due = self.reminder_due(cfg);
        // "unless the notice itself went out on that day or later" (SPEC §4.5)
        match self.last_notice_at {
            Some(n) => cfg.calendar.local_date(n) < cfg.calendar.local_date(due),
            None => false,
        }
    }

    pub fn email(
        &self,
        now: Time,
        kind: EmailKind,
        key: String,
        org: &str,
        to: Vec<String>,
        previous: Option<MaintenanceView>,
    ) -> Action {
        let thread = match kind {
            EmailKind::Planned => None,
            _ => Some(format!("{}/planned/{}", self.key_prefix(), org)),
        };
        Action {
            at: now,
            key,
            about: About::Maintenance(self.id.clone()),
            body: ActionBody::Email(Box::new(Email {
                message: kind,
                org: org.to_string(),
                to,
                cc: vec![],
                thread,
                incident: None,
                maintenance: Some(self.view()),
                previous,
                inquiry_sent_at: None,
                reply_due: None,
            })),
        }
    }

    /// The start of every outbox key of this maintenance (`About::key_prefix`).
    pub fn key_prefix(&self) -> String {
        About::Maintenance(self.id.clone()).key_prefix()
    }

    /// One e-mail per notified organization, plus the region's address when it was notified.
    pub fn fan_out(
        &self,
        cfg: &Config,
        now: Time,
        kind: EmailKind,
        tag: &str,
        previous: Option<&MaintenanceView>,
        out: &mut Vec<Action>,
    ) {
        for org in &self.notified {
            let key = format!("{}/{}/{}", self.key_prefix(), tag, org);
            out.push(self.email(
                now,
                kind,
                key,
                org,
                org_addresses(cfg, org),
                previous.cloned(),
            ));
        }
        if self.region_notified {
            if let Some(r) = &cfg.self_.region {
                let key = format!("{}/{}/region", self.key_prefix(), tag);
                out.push(self.email(now, kind, key, "region", vec![r.clone()], previous.cloned()));
            }
        }
    }

    pub fn status(&mut self, now: Time, kind: StatusKind, status: &str) -> Action {
        self.sp_seq += 1;
        Action {
            at: now,
            key: format!("{}/statuspage/{}", self.key_prefix(), self.sp_seq),
            about: About::Maintenance(self.id.clone()),
            body: ActionBody::Statuspage(Box::new(StatusPost {
                message: kind,
                environment: Environment::Produksjon,
                status: status.to_string(),
                periodic: false,
                next_update: None,
                incident: None,
                maintenance: Some(self.view()),
            })),
        }
    }

    pub fn ops(&self, cfg: &Config, now: Time, kind: OpsKind, reason: OpsReason) -> Action {
        Action {
            at: now,
            key: format!(
                "{}/ops/{}/{}",
                self.key_prefix(),
                reason.as_str(),
                self.change_seq
            ),
            about: About::Maintenance(self.id.clone()),
            body: ActionBody::Ops(Box::new(Ops {
                message: kind,
                reason,
                to: cfg.self_.ops.clone(),
                incident: None,
                maintenance: Some(self.view()),
                inquiry: None,
                delivery: None,
            })),
        }
    }

    /// Reminder only; the overrun check needs the alert table and is done by the engine.
    pub fn step(&mut self, cfg: &Config, now: Time, out: &mut Vec<Action>) {
        if self.reminder_pending(cfg) && now >= self.reminder_due(cfg) && now < self.from {
            self.reminded_for = Some(self.from);
            let tag = format!("reminder{}", self.change_seq);
            self.fan_out(cfg, now, EmailKind::PlannedReminder, &tag, None, out);
        }
    }

    pub fn overrun_due(&self, cfg: &Config) -> Time {
        self.to + cfg.policy.maintenance_grace
    }

    pub fn next_wake(&self, cfg: &Config) -> Option<Time> {
        let mut t: Option<Time> = None;
        if self.reminder_pending(cfg) && self.reminder_due(cfg) < self.from {
            t = Some(self.reminder_due(cfg));
        }
        if !self.cancelled && !self.overrun_checked {
            let o = self.overrun_due(cfg);
            t = Some(t.map_or(o, |x| x.min(o)));
        }
        t
    }
}
