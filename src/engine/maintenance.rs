//! Planned maintenance (SPEC §4.5; seeds/004 §1, seeds/003 §6.3.2.2 and §6.3.4).
//!
//! Immediate actions (notice, change, cancel, warnings, status page) are emitted by the event
//! handlers in `engine/mod.rs`; `step` handles what waits for a time: the reminder on the last
//! working day before the window, and the overrun check `maintenance_grace` after it ends.

use super::deadline::Scheduled;
use super::model::*;
use crate::config::Config;
use std::sync::Arc;

/// A planned stop: its facts, and what has been sent about it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Maintenance {
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
    /// When it last changed (a change or the cancellation; `None`: never since registered).
    #[serde(default)]
    pub modified_at: Option<Time>,

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
    /// The addresses each organization was first mailed at (SPEC §4.16).
    #[serde(default)]
    pub book: super::directory_events::Book,
}

impl Maintenance {
    /// What the API and templates show of it.
    pub(crate) fn view(&self) -> MaintenanceView {
        MaintenanceView {
            id: self.id.clone(),
            source: self.source.clone(),
            orgs: self.orgs.clone(),
            services: self.services.clone(),
            from: self.from,
            to: self.to,
            measures: self.measures.clone(),
            phone: self.phone.clone(),
            sequence: self.change_seq + u32::from(self.cancelled),
            cancelled: self.cancelled,
            registered_at: Some(self.registered_at),
            modified_at: Some(self.modified_at.unwrap_or(self.registered_at)),
        }
    }

    /// SPEC §4.5: only a stop longer than the threshold is announced by e-mail.
    pub(crate) fn long(&self, cfg: &Config) -> bool {
        self.to - self.from > cfg.policy.planned_notice_threshold
    }

    /// Whether its stop is long enough to be announced by e-mail (SPEC §4.5).
    pub(crate) fn emailed(&self) -> bool {
        !self.notified.is_empty() || self.region_notified
    }

    /// Whether the window (plus grace) covers `t`.
    pub(crate) fn covers_time(&self, cfg: &Config, t: Time) -> bool {
        !self.cancelled && self.from <= t && t < self.to + cfg.policy.maintenance_grace
    }

    /// Whether an alert at `org` (None = our side) for `service` belongs to this maintenance.
    pub(crate) fn covers(&self, org: Option<&str>, service: Option<&str>) -> bool {
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

    /// One of its e-mails to one organization, keyed by kind, recipient and change.
    pub(crate) fn email(
        &self,
        now: Time,
        kind: EmailKind,
        key: String,
        org: &str,
        to: Arc<[String]>,
        (view, previous): (&Arc<MaintenanceView>, Option<&Arc<MaintenanceView>>),
    ) -> Action {
        let thread = match kind {
            EmailKind::Planned => None,
            _ => Some([&self.key_prefix(), "/planned/", org].concat()),
        };
        Action {
            at: now,
            key,
            about: About::Maintenance(self.id.clone()),
            body: ActionBody::Email(Box::new(Email {
                thread,
                maintenance: Some(Arc::clone(view)),
                previous: previous.cloned(),
                ..Email::new(kind, org.to_string(), to)
            })),
        }
    }

    /// The start of every outbox key of this maintenance (`About::key_prefix`).
    pub(crate) fn key_prefix(&self) -> String {
        About::Maintenance(self.id.clone()).key_prefix()
    }

    /// One e-mail per notified organization, plus the region's address when it was notified.
    pub(crate) fn fan_out(
        &self,
        cfg: &Config,
        now: Time,
        kind: EmailKind,
        tag: &str,
        previous: Option<&MaintenanceView>,
        out: &mut Vec<Action>,
    ) {
        // One view (and one earlier window) shared by every recipient of the fan-out.
        let view = Arc::new(self.view());
        let previous = previous.map(|p| Arc::new(p.clone()));
        let prefix = self.key_prefix();
        for org in &self.notified {
            let key = [&prefix, "/", tag, "/", org].concat();
            let to = self.book.addresses(cfg, org);
            out.push(self.email(now, kind, key, org, to, (&view, previous.as_ref())));
        }
        if self.region_notified {
            if let Some(r) = &cfg.self_.region {
                let key = format!("{}/{}/region", self.key_prefix(), tag);
                let to: Arc<[String]> = Arc::new([r.clone()]);
                out.push(self.email(now, kind, key, "region", to, (&view, previous.as_ref())));
            }
        }
    }

    /// Its status-page post of `kind`.
    pub(crate) fn status(&mut self, now: Time, kind: StatusKind, status: &str) -> Action {
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

    /// A note to ops about it, keyed by reason and change.
    pub(crate) fn ops(&self, cfg: &Config, now: Time, kind: OpsKind, reason: OpsReason) -> Action {
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
                maintenance: Some(self.view()),
                ..Ops::new(kind, reason, cfg.self_.ops.clone())
            })),
        }
    }

    /// When alerts past its end open an incident (SPEC §4.5, `maintenance_grace`).
    pub(crate) fn overrun_due(&self, cfg: &Config) -> Time {
        self.to + cfg.policy.maintenance_grace
    }
}

/// What a maintenance still has to do, in firing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Deadline {
    /// The reminder on the last working day before the start (SPEC §4.5).
    Reminder,
    /// `maintenance_grace` after the end: alerts it held back are released (SPEC §4.8). Firing
    /// it only marks it; the engine, which owns the alert table, does the release.
    Overrun,
}

impl Scheduled for Maintenance {
    type Deadline = Deadline;
    const ORDER: &'static [Deadline] = &[Deadline::Reminder, Deadline::Overrun];

    fn due(&self, d: Deadline, cfg: &Config) -> Option<Time> {
        match d {
            Deadline::Reminder => self.reminder_pending(cfg).then(|| self.reminder_due(cfg)),
            Deadline::Overrun => {
                (!self.cancelled && !self.overrun_checked).then(|| self.overrun_due(cfg))
            }
        }
    }

    fn fire(&mut self, d: Deadline, cfg: &Config, now: Time, out: &mut Vec<Action>) {
        match d {
            Deadline::Reminder => {
                self.reminded_for = Some(self.from);
                // Woken after the start (the daemon was down): too late to remind; the
                // deadline is spent without a mail.
                if now < self.from {
                    let tag = format!("reminder{}", self.change_seq);
                    self.fan_out(cfg, now, EmailKind::PlannedReminder, &tag, None, out);
                }
            }
            Deadline::Overrun => self.overrun_checked = true,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The engine's event effects for maintenance (SPEC §4.5, §5.2): add, change, cancel, and the
// warnings a window raises. The engine owns the maps; these are its methods, kept with the
// entity they change.

use super::{guard_text, Engine, Subject};

impl Engine {
    fn validate_window(&self, from: Time, to: Time) -> Result<(), Refusal> {
        if to <= from {
            return Err(Refusal::invalid("to", Why::ToNotAfterFrom));
        }
        Ok(())
    }

    pub(super) fn window_warnings(
        &self,
        m: &Maintenance,
        now: Time,
        late_check: bool,
    ) -> Vec<Action> {
        let cfg = &self.cfg;
        let mut v = Vec::new();
        // SPEC §4.5: the warning is about the notice, so it applies to maintenances that get one.
        if late_check && m.long(cfg) && m.from - now < cfg.policy.notice_lead {
            v.push(m.ops(cfg, now, OpsKind::Warning, OpsReason::LateNotice));
        }
        if !cfg.calendar.in_standard_window(m.from, m.to) {
            v.push(m.ops(cfg, now, OpsKind::Warning, OpsReason::OutsideWindow));
        }
        if cfg.calendar.freeze_overlapping(m.from, m.to).is_some() {
            v.push(m.ops(cfg, now, OpsKind::Warning, OpsReason::Freeze));
        }
        v
    }

    pub(super) fn maintenance_add(&mut self, now: Time, e: MaintenanceAdd) -> Result<(), Refusal> {
        let case = Subject::Maintenance(e.id.clone());
        let source = self.check_new_case(case, ("source", &e.source), &e.orgs, &e.services, now)?;
        guard_text("measures", &e.measures)?;
        self.validate_window(e.from.0, e.to.0)?;
        if e.orgs.is_empty() && e.services.is_empty() && source.is_some() {
            return Err(Refusal::invalid("orgs", Why::NameAffected));
        }
        let orgs = if e.orgs.is_empty() {
            self.derive_orgs(&e.services, source.as_deref(), now)
        } else {
            e.orgs.clone()
        };
        let mut m = Maintenance {
            id: e.id.clone(),
            source,
            orgs,
            services: e.services,
            from: e.from.0,
            to: e.to.0,
            measures: e.measures,
            phone: e.phone,
            registered_at: now,
            cancelled: false,
            modified_at: None,
            sp_seq: 0,
            notified: vec![],
            region_notified: false,
            last_notice_at: None,
            change_seq: 0,
            reminded_for: None,
            overrun_checked: false,
            book: Default::default(),
        };
        let mut out = vec![m.status(now, StatusKind::MaintenanceCreate, "scheduled")];
        if m.long(&self.cfg) {
            m.notified = m.orgs.clone();
            m.region_notified = self.cfg.self_.region.is_some();
            m.last_notice_at = Some(now);
            m.fan_out(
                &self.cfg,
                now,
                EmailKind::Planned,
                "planned",
                None,
                &mut out,
            );
        }
        out.extend(self.window_warnings(&m, now, true));
        self.out.extend(out);
        self.maintenances.insert(e.id.clone(), m);
        self.settle(&Subject::Maintenance(e.id), now);
        Ok(())
    }

    pub(super) fn live_maintenance(&self, id: &str) -> Result<&Maintenance, Refusal> {
        match self.maintenances.get(id) {
            Some(m) if !m.cancelled => Ok(m),
            Some(_) => Err(Refusal::Closed {
                what: "maintenance",
                id: id.into(),
                state: "cancelled",
            }),
            None if self.retired.contains(&Subject::Maintenance(id.into())) => {
                Err(Refusal::Closed {
                    what: "maintenance",
                    id: id.into(),
                    state: "completed or cancelled",
                })
            }
            None => Err(Refusal::Unknown {
                what: "maintenance",
                id: id.into(),
            }),
        }
    }

    pub(super) fn maintenance_change(
        &mut self,
        now: Time,
        mut e: MaintenanceChange,
    ) -> Result<(), Refusal> {
        let cur = self.live_maintenance(&e.id)?.clone();
        if let Some(src) = &e.source {
            let same = match &cur.source {
                None => self.cfg.is_self(src),
                Some(s) => s == src,
            };
            if !same {
                return Err(Refusal::invalid("source", Why::SourceFixed));
            }
        }
        // A full record re-sent with `orgs = []` means what it meant in `maintenance.add`:
        // the organizations of the services (of the source).
        if e.orgs.as_ref().is_some_and(|o| o.is_empty()) {
            let services = e.services.as_ref().unwrap_or(&cur.services);
            if services.is_empty() && cur.source.is_some() {
                return Err(Refusal::invalid("orgs", Why::NameAffected));
            }
            e.orgs = Some(self.derive_orgs(services, cur.source.as_deref(), now));
        }
        // Only what differs counts: an unchanged record re-sent changes nothing.
        let differs = e.from.is_some_and(|t| t.0 != cur.from)
            || e.to.is_some_and(|t| t.0 != cur.to)
            || e.orgs.as_ref().is_some_and(|o| *o != cur.orgs)
            || e.services.as_ref().is_some_and(|s| *s != cur.services)
            || e.measures
                .as_ref()
                .is_some_and(|m| Some(m) != cur.measures.as_ref())
            || e.phone
                .as_ref()
                .is_some_and(|p| Some(p) != cur.phone.as_ref());
        if !differs {
            return Ok(());
        }
        if let Some(o) = &e.orgs {
            // Organizations the maintenance already names may stay, even if since retired.
            let new: Vec<String> = o
                .iter()
                .filter(|x| !cur.orgs.contains(x))
                .cloned()
                .collect();
            self.check_orgs("orgs", &new, now)?;
        }
        if let Some(s) = &e.services {
            self.check_services(s)?;
        }
        guard_text("measures", &e.measures)?;
        let from = e.from.map(|t| t.0).unwrap_or(cur.from);
        let to = e.to.map(|t| t.0).unwrap_or(cur.to);
        self.validate_window(from, to)?;
        let mut m = cur.clone();
        let prev = m.view();
        let time_changed = from != m.from || to != m.to;
        m.from = from;
        m.to = to;
        let mut scope_changed = false;
        if let Some(s) = e.services {
            scope_changed |= s != m.services;
            m.services = s;
        }
        if let Some(o) = e.orgs {
            scope_changed |= o != m.orgs;
            m.orgs = o;
        }
        if let Some(x) = e.measures {
            m.measures = Some(x);
        }
        if let Some(p) = e.phone {
            m.phone = Some(p);
        }
        m.change_seq += 1;
        m.modified_at = Some(now);
        let mut out = vec![m.status(now, StatusKind::MaintenanceUpdate, "scheduled")];
        let cfg = Arc::clone(&self.cfg);
        if m.emailed() && (time_changed || scope_changed) {
            // Everyone told before hears of the change (also those no longer affected);
            // organizations new to it get the full notice.
            let tag = format!("change{}", m.change_seq);
            m.fan_out(
                &cfg,
                now,
                EmailKind::PlannedChange,
                &tag,
                Some(&prev),
                &mut out,
            );
            let new: Vec<String> = m
                .orgs
                .iter()
                .filter(|o| !m.notified.contains(o))
                .cloned()
                .collect();
            let view = Arc::new(m.view());
            for org in &new {
                let key = format!("{}/planned/{}", m.key_prefix(), org);
                let to = m.book.addresses(&cfg, org);
                out.push(m.email(now, EmailKind::Planned, key, org, to, (&view, None)));
            }
            m.notified.extend(new);
            m.last_notice_at = Some(now);
        } else if !m.emailed() && m.long(&cfg) {
            m.notified = m.orgs.clone();
            m.region_notified = cfg.self_.region.is_some();
            m.last_notice_at = Some(now);
            m.fan_out(&cfg, now, EmailKind::Planned, "planned", None, &mut out);
        }
        if time_changed {
            out.extend(self.window_warnings(&m, now, false));
        }
        self.out.extend(out);
        self.maintenances.insert(e.id.clone(), m);
        self.settle(&Subject::Maintenance(e.id), now);
        Ok(())
    }

    pub(super) fn maintenance_cancel(&mut self, now: Time, id: &str) -> Result<(), Refusal> {
        let mut m = self.live_maintenance(id)?.clone();
        let cfg = Arc::clone(&self.cfg);
        // Cancelled before its last messages are made: they carry the cancelled view (the
        // calendar attachment's `STATUS:CANCELLED` and raised `SEQUENCE`, SPEC §5.9).
        m.cancelled = true;
        m.modified_at = Some(now);
        let mut out = vec![m.status(now, StatusKind::MaintenanceCancel, "cancelled")];
        if m.emailed() {
            m.fan_out(
                &cfg,
                now,
                EmailKind::PlannedCancel,
                "cancel",
                None,
                &mut out,
            );
        }
        self.out.extend(out);
        self.maintenances.insert(id.to_string(), m);
        self.release_suppressed(id, now, false);
        self.settle(&Subject::Maintenance(id.to_string()), now);
        Ok(())
    }

    // ------------------------------------------------------------ inquiries
}
