//! Unplanned incidents (SPEC §4.2–4.4, §4.6, §4.7, §4.10).
//!
//! An incident holds facts (what happened) and progress (what has been done). What it still
//! has to do is a named `Deadline`; `due` says, in one place, whether each is pending and when
//! (see `engine::deadline`). Events only change facts and then call `step`, so the event path,
//! the timer path and a restart share one decision.

use super::deadline::{Scheduled, AT_ONCE};
use super::model::*;
use super::page;
use super::priority::{derive_impact, priority};
use crate::config::Config;
use std::sync::Arc;

/// An unplanned incident: its facts and what has been done about it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Incident {
    // Facts.
    pub id: String,
    pub kind: Kind,
    /// `None`: the fault is on our side.
    pub at_org: Option<String>,
    pub orgs: super::org_list::OrgList,
    pub services: Vec<String>,
    pub category: Category,
    pub impact: Option<Impact>,
    pub started_at: Time,
    pub detected_at: Time,
    pub registered_at: Time,
    pub expected_end: Option<Time>,
    pub measures: Option<String>,
    pub text: Option<String>,
    pub note: Option<String>,
    pub environment: Environment,
    pub acked: bool,
    /// The status-page status the operator chose (SPEC §4.15); starts as `Investigating`.
    #[serde(default)]
    pub public_status: PublicStatus,
    pub resolved_at: Option<Time>,
    pub reply_at: Option<Time>,
    /// Alert fingerprints that keep this incident open (incidents opened from alerts).
    pub alerts: Vec<String>,
    pub from_alerts: bool,
    /// The alert group it was opened for (`None`: not opened for one, or kept before #32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<super::alerts::GroupKey>,
    /// What the alert that opened it said (name, summary, description, source link).
    #[serde(default)]
    pub alert: Option<super::alerts::AlertContext>,

    // Progress.
    pub sp_created: bool,
    pub sp_last_post: Option<Time>,
    pub sp_seq: u32,
    pub sp_dirty: bool,
    pub sp_resolved: bool,
    pub notice_at: Option<Time>,
    pub notified: super::org_list::OrgList,
    pub notice_dirty: bool,
    pub update_seq: u32,
    pub resolved_mail_sent: bool,
    pub followup_at: Option<Time>,
    pub escalated_at: Option<Time>,
    pub silence_created: bool,
    pub silence_expired: bool,
    pub ack_reminded: bool,
    /// On-call was paged about this priority-1 incident (SPEC §4.18).
    #[serde(default)]
    pub paged: bool,
    /// The addresses each organization was first mailed at: the case keeps them when the
    /// directory changes (SPEC §4.16).
    #[serde(default)]
    pub book: super::directory_events::Book,

    /// Derived from the facts by `refresh` (before every `step`): impact and priority.
    pub cached_impact: Impact,
    pub cached_priority: u8,
    /// What `cached_impact` was derived from, when it was derived: `refresh` derives again
    /// only when one of these changed (deriving reads every organization of the
    /// configuration, and it ran on every settle). Its services are changed only through
    /// `add_service`.
    #[serde(skip)]
    pub impact_of: Option<ImpactInputs>,
    /// What its history record was last brought up to date from (`views.rs`).
    #[serde(skip)]
    pub(crate) recorded: Option<super::views::RecordInputs>,
    /// Its inquiry's due time, kept by `refresh` (`followup_due.rs`).
    #[serde(skip)]
    pub(crate) followup_due_of: Option<super::followup_due::Kept>,
}

/// A derived impact and what it was derived from: the configuration's number
/// (`Engine::cfg_seq`, raised on every change of it) and the organizations. The services
/// change only through `add_service`, which lets it go (a copy of them here was 0.9 MiB
/// with 10,000 open incidents).
#[derive(Debug, Clone)]
pub struct ImpactInputs {
    cfg_seq: u64,
    orgs: super::org_list::OrgList,
    impact: Impact,
}

impl Incident {
    /// Not resolved yet.
    pub(crate) fn is_open(&self) -> bool {
        self.resolved_at.is_none()
    }
    /// The fault is on our side (no `at_org`).
    pub(crate) fn at_self(&self) -> bool {
        self.at_org.is_none()
    }
    /// Name one more service (an alert of it joined the case).
    pub(crate) fn add_service(&mut self, service: String) {
        self.services.push(service);
        self.impact_of = None;
    }

    /// Recompute derived values after the facts changed.
    pub(crate) fn refresh(&mut self, cfg: &Config, cfg_seq: u64) {
        self.cached_impact = match (self.impact, &self.impact_of) {
            (Some(given), _) => given,
            // An interned list compares by pointer first: equal lists are mostly one.
            (None, Some(k)) if k.cfg_seq == cfg_seq && k.orgs == self.orgs => k.impact,
            (None, _) => {
                let impact = derive_impact(cfg, &self.orgs, &self.services);
                self.impact_of = Some(ImpactInputs {
                    cfg_seq,
                    orgs: self.orgs.clone(),
                    impact,
                });
                impact
            }
        };
        self.cached_priority = priority(self.category, self.cached_impact);
        self.keep_followup_due(cfg, cfg_seq);
    }
    /// Its impact: the given one, or derived from the organizations (SPEC §4.1).
    pub(crate) fn impact(&self, _cfg: &Config) -> Impact {
        self.cached_impact
    }
    /// Its priority from category and impact (SPEC §4.1).
    pub(crate) fn priority(&self, _cfg: &Config) -> u8 {
        self.cached_priority
    }

    /// The snapshot its actions carry.
    pub(crate) fn view(&self, cfg: &Config) -> IncidentView {
        IncidentView {
            id: self.id.clone(),
            kind: self.kind,
            category: self.category,
            impact: self.impact(cfg),
            priority: self.priority(cfg),
            at_org: self.at_org.clone(),
            orgs: self.orgs.clone(),
            services: self.services.clone(),
            started_at: self.started_at,
            detected_at: self.detected_at,
            expected_end: self.expected_end,
            measures: self.measures.clone(),
            text: self.text.clone(),
            note: self.note.clone(),
            environment: self.environment,
            resolved_at: self.resolved_at,
        }
    }

    fn publishable(&self, cfg: &Config) -> bool {
        self.at_self() && cfg.policy.publish_priorities.contains(&self.priority(cfg))
    }

    fn publish_due(&self, cfg: &Config) -> Time {
        self.registered_at + cfg.policy.publish_delay
    }

    /// SPEC §4.4: the stop is known to exceed the threshold.
    fn notice_due(&self, cfg: &Config) -> Time {
        let th = cfg.policy.unplanned_notice_after;
        match self.expected_end {
            Some(e) if e - self.started_at > th => self.registered_at,
            _ => self.started_at + th,
        }
    }

    pub(super) fn followup_due(&self, cfg: &Config) -> Time {
        cfg.calendar
            .add_business(self.detected_at, cfg.policy.followup_after)
    }

    fn reply_due(&self, cfg: &Config) -> Option<Time> {
        self.followup_at
            .map(|t| cfg.calendar.end_of_first_working_day_after(t))
    }

    /// What a step's e-mails share: the incident as they show it, and the reply deadline (a
    /// calendar walk once for a fan-out, not once per recipient).
    fn common(&self, cfg: &Config) -> (Arc<IncidentView>, Option<Time>) {
        (Arc::new(self.view(cfg)), self.reply_due(cfg))
    }

    fn ack_due(&self, cfg: &Config) -> Option<Time> {
        match self.priority(cfg) {
            1 => Some(self.registered_at + cfg.policy.ack_priority1),
            2 => Some(self.registered_at + cfg.policy.ack_priority2),
            _ => None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn email(
        &self,
        now: Time,
        kind: EmailKind,
        key: String,
        org: &str,
        to: Arc<[String]>,
        cc: Vec<String>,
        thread: Option<String>,
        (view, reply_due): &(Arc<IncidentView>, Option<Time>),
    ) -> Action {
        Action {
            at: now,
            key,
            about: About::Incident(self.id.clone()),
            body: ActionBody::Email(Box::new(Email {
                cc,
                thread,
                incident: Some(Arc::clone(view)),
                inquiry_sent_at: self.followup_at,
                reply_due: *reply_due,
                ..Email::new(kind, org.to_string(), to)
            })),
        }
    }

    fn status(
        &mut self,
        cfg: &Config,
        now: Time,
        kind: StatusKind,
        status: &str,
        periodic: bool,
    ) -> Action {
        self.sp_seq += 1;
        self.sp_last_post = Some(now);
        let next = (kind != StatusKind::IncidentResolve)
            .then(|| now + cfg.policy.statuspage_update_interval);
        Action {
            at: now,
            key: [&self.id, "/statuspage/", &self.sp_seq.to_string()].concat(),
            about: About::Incident(self.id.clone()),
            body: ActionBody::Statuspage(Box::new(StatusPost {
                message: kind,
                environment: self.environment,
                status: status.to_string(),
                periodic,
                next_update: next,
                incident: Some(self.view(cfg)),
                maintenance: None,
            })),
        }
    }

    /// Keys are joined with `concat` (one allocation of the exact length): `format!` starts
    /// a string that begins with an argument empty and grows it as it writes (measured: a
    /// tenth of the engine's allocations in `simulate`).
    fn notice_key(&self, org: &str) -> String {
        [&self.id, "/unplanned/", org].concat()
    }
    fn followup_key(&self) -> String {
        [&self.id, "/followup/", self.at_org.as_deref().unwrap_or("")].concat()
    }

    /// One e-mail to each of `orgs` (their own addresses), keyed `{id}/{tag}/{org}`.
    fn mail_each(
        &self,
        cfg: &Config,
        now: Time,
        kind: EmailKind,
        orgs: &[String],
        key: impl Fn(&str) -> String,
        out: &mut Vec<Action>,
    ) {
        // One view shared by every recipient: a fan-out to 65 is one snapshot, not 65.
        let common = self.common(cfg);
        for org in orgs {
            let thread = (kind != EmailKind::Unplanned).then(|| self.notice_key(org));
            let a = self.email(
                now,
                kind,
                key(org),
                org,
                self.book.addresses(cfg, org),
                vec![],
                thread,
                &common,
            );
            out.push(a);
        }
    }

    /// The counterpart's own e-mail: to it, KS e-Komp and its HF on copy (SPEC §4.6).
    fn mail_counterpart(&self, cfg: &Config, now: Time, kind: EmailKind, out: &mut Vec<Action>) {
        let (org, to, cc) = self.followup_recipients(cfg);
        let (key, thread) = match kind {
            EmailKind::Followup => (self.followup_key(), None),
            _ => (
                [&self.id, "/resolved/", &org].concat(),
                Some(self.followup_key()),
            ),
        };
        out.push(self.email(now, kind, key, &org, to, cc, thread, &self.common(cfg)));
    }

    /// SPEC §4.15: the operator chooses the status; measures alone do not change it.
    fn status_state(&self) -> &'static str {
        self.public_status.as_str()
    }

    fn do_fire(&mut self, d: Deadline, cfg: &Config, now: Time, out: &mut Vec<Action>) {
        use Deadline as D;
        match d {
            D::Publish => {
                self.sp_created = true;
                self.sp_dirty = false;
                let st = self.status_state();
                out.push(self.status(cfg, now, StatusKind::IncidentCreate, st, false));
            }
            D::StatusChange => {
                self.sp_dirty = false;
                let st = self.status_state();
                out.push(self.status(cfg, now, StatusKind::IncidentUpdate, st, false));
            }
            D::StatusPeriodic => {
                let st = self.status_state();
                out.push(self.status(cfg, now, StatusKind::IncidentUpdate, st, true));
            }
            D::StatusResolve => {
                self.sp_resolved = true;
                out.push(self.status(cfg, now, StatusKind::IncidentResolve, "resolved", false));
            }
            D::Notice => {
                self.notice_at = Some(now);
                self.notice_dirty = false;
                self.notified = self.orgs.clone();
                let orgs = self.notified.clone();
                self.mail_each(
                    cfg,
                    now,
                    EmailKind::Unplanned,
                    &orgs,
                    |o| self.notice_key(o),
                    out,
                );
            }
            D::NoticeUpdate => {
                self.notice_dirty = false;
                self.update_seq += 1;
                let prefix = format!("{}/update{}/", self.id, self.update_seq);
                let key = |o: &str| [&prefix, o].concat();
                self.mail_each(cfg, now, EmailKind::Update, &self.notified, key, out);
            }
            D::NoticeResolved => {
                self.resolved_mail_sent = true;
                let key = |o: &str| [&self.id, "/resolved/", o].concat();
                self.mail_each(cfg, now, EmailKind::Resolved, &self.notified, key, out);
            }
            D::Followup => {
                self.followup_at = Some(now);
                self.mail_counterpart(cfg, now, EmailKind::Followup, out);
            }
            D::Escalation => {
                self.escalated_at = Some(now);
                let org = self.at_org.clone().unwrap_or_default();
                let (to, cc) = self.escalation_recipients(cfg);
                let key = format!("{}/escalation/{}", self.id, org);
                let thread = Some(self.followup_key());
                let common = self.common(cfg);
                out.push(self.email(
                    now,
                    EmailKind::Escalation,
                    key,
                    &org,
                    to.into(),
                    cc,
                    thread,
                    &common,
                ));
                self.silence_created = true;
                out.push(self.silence(now, "create"));
            }
            D::FollowupResolved => {
                self.resolved_mail_sent = true;
                self.mail_counterpart(cfg, now, EmailKind::Resolved, out);
            }
            D::SilenceExpire => {
                self.silence_expired = true;
                out.push(self.silence(now, "expire"));
            }
            D::AckReminder => {
                self.ack_reminded = true;
                out.push(Action {
                    at: now,
                    key: format!("{}/ops/unacknowledged", self.id),
                    about: About::Incident(self.id.clone()),
                    body: ActionBody::Ops(Box::new(Ops {
                        incident: Some(self.view(cfg)),
                        ..Ops::new(
                            OpsKind::Reminder,
                            OpsReason::Unacknowledged,
                            cfg.self_.ops.clone(),
                        )
                    })),
                });
                let v = self.view(cfg);
                let head = format!("{}:", page::incident_head(&v));
                let middle = format!(
                    "{} Ikke kvittert ut etter {} min.",
                    page::incident_words(cfg, &v),
                    (now - self.registered_at).num_minutes()
                );
                let about = About::Incident(self.id.clone());
                out.extend(page::sms(
                    cfg,
                    now,
                    &about,
                    "unacknowledged",
                    SmsKind::Reminder,
                    (head, middle),
                ));
            }
            D::Page => {
                self.paged = true;
                let v = self.view(cfg);
                let head = format!("{}:", page::incident_head(&v));
                let middle = format!(
                    "{} Startet {}.",
                    page::incident_words(cfg, &v),
                    page::short_time(cfg, self.started_at)
                );
                let about = About::Incident(self.id.clone());
                out.extend(page::sms(
                    cfg,
                    now,
                    &about,
                    "new",
                    SmsKind::New,
                    (head, middle),
                ));
            }
        }
    }

    fn silence(&self, now: Time, what: &str) -> Action {
        let org = self.at_org.clone().unwrap_or_default();
        Action {
            at: now,
            key: format!("{}/silence/{}", self.id, what),
            about: About::Incident(self.id.clone()),
            body: ActionBody::Silence(Silence {
                message: what.to_string(),
                org,
                services: self.services.clone(),
                environment: self.environment,
            }),
        }
    }

    /// Whether nothing more can happen: resolved, and every closing action emitted.
    pub(crate) fn finished(&self, cfg: &Config) -> bool {
        !self.is_open() && self.next_wake(cfg).is_none()
    }

    /// A fact people see changed: the status page is due an update.
    pub(crate) fn touch_change(&mut self) {
        if self.sp_created {
            self.sp_dirty = true;
        }
    }

    /// Set the expected restoration; a change after the notice sends `Oppdatering:`.
    pub(crate) fn set_expected_end(&mut self, e: Option<Time>) {
        if e != self.expected_end {
            self.expected_end = e;
            if self.notice_at.is_some() {
                self.notice_dirty = true;
            }
            self.touch_change();
        }
    }
}

/// What an incident still has to do (SPEC §4.2–§4.4, §4.6, §4.7, §4.10), in firing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Deadline {
    /// The first status-page post, `publish_delay` after registration (§4.2).
    Publish,
    /// A status-page post for changed facts (at once).
    StatusChange,
    /// The periodic "still working on it" post, `statuspage_update_interval` after the last (§4.3).
    StatusPeriodic,
    /// The post that closes the status-page incident (at once on resolution).
    StatusResolve,
    /// The notice to the organizations when the stop passes (or is known to pass) 2 hours (§4.4).
    Notice,
    /// `Oppdatering` to those notified when the expected restoration changed (at once).
    NoticeUpdate,
    /// `Løst` to those notified (at once on resolution).
    NoticeResolved,
    /// Follow-up of a counterpart after 2 business hours (§4.6).
    Followup,
    /// Escalation to KS e-Komp at the end of the first working day without a reply (§4.7).
    Escalation,
    /// `Løst` to the counterpart and its copies (at once on resolution).
    FollowupResolved,
    /// Expire the Alertmanager silence of an escalated incident (at once on resolution).
    SilenceExpire,
    /// Reminder to ops when a priority 1/2 incident is not acknowledged in time (§4.10).
    AckReminder,
    /// On-call paged by SMS about a priority-1 incident (§4.18), at once: when it opens as
    /// priority 1, or when an update raises it to 1 (on-call has not heard of it as such).
    Page,
}

impl Scheduled for Incident {
    type Deadline = Deadline;
    const ORDER: &'static [Deadline] = &[
        Deadline::Publish,
        Deadline::StatusChange,
        Deadline::StatusPeriodic,
        Deadline::StatusResolve,
        Deadline::Notice,
        Deadline::NoticeUpdate,
        Deadline::NoticeResolved,
        Deadline::Followup,
        Deadline::Escalation,
        Deadline::FollowupResolved,
        Deadline::SilenceExpire,
        Deadline::AckReminder,
        Deadline::Page,
    ];

    fn due(&self, d: Deadline, cfg: &Config) -> Option<Time> {
        use Deadline as D;
        let open = self.is_open();
        let ours = self.at_self();
        let once = |cond: bool| cond.then_some(AT_ONCE);
        match d {
            D::Publish => (ours && open && !self.sp_created && self.publishable(cfg))
                .then(|| self.publish_due(cfg)),
            D::StatusChange => once(self.sp_created && open && self.sp_dirty),
            D::StatusPeriodic => self
                .sp_last_post
                .filter(|_| self.sp_created && open)
                .map(|last| last + cfg.policy.statuspage_update_interval),
            D::StatusResolve => once(self.sp_created && !open && !self.sp_resolved),
            D::Notice => (ours && open && self.notice_at.is_none()).then(|| self.notice_due(cfg)),
            D::NoticeUpdate => once(self.notice_at.is_some() && open && self.notice_dirty),
            D::NoticeResolved => {
                once(ours && self.notice_at.is_some() && !open && !self.resolved_mail_sent)
            }
            // SPEC §4.15: a reply registered before the inquiry is due means the organization
            // is already engaged: no inquiry, and so no escalation.
            D::Followup => (!ours && open && self.followup_at.is_none() && self.reply_at.is_none())
                .then(|| self.kept_followup_due(cfg)),
            D::Escalation => self.reply_due(cfg).filter(|_| {
                !ours && open && self.reply_at.is_none() && self.escalated_at.is_none()
            }),
            D::FollowupResolved => {
                once(!ours && self.followup_at.is_some() && !open && !self.resolved_mail_sent)
            }
            D::SilenceExpire => once(self.silence_created && !open && !self.silence_expired),
            D::AckReminder => self
                .ack_due(cfg)
                .filter(|_| open && !self.acked && !self.ack_reminded),
            D::Page => once(open && !self.paged && self.cached_priority == 1),
        }
    }

    /// A test-environment incident runs the same routine, but its e-mails to organizations
    /// (notice, Oppdatering, inquiry, escalation, Løst) are dropped unless
    /// `policy.test_environment_mail` (SPEC §4.11); the test status page and ops still get theirs.
    fn fire(&mut self, d: Deadline, cfg: &Config, now: Time, out: &mut Vec<Action>) {
        let first = out.len();
        self.do_fire(d, cfg, now, out);
        if self.environment == Environment::Test && !cfg.policy.test_environment_mail {
            let mut i = first;
            while i < out.len() {
                if matches!(out[i].body, ActionBody::Email(_)) {
                    out.remove(i);
                } else {
                    i += 1;
                }
            }
        }
    }
}
