//! What the API shows of a case: views built from the entities, never the entities themselves
//! (their progress flags and caches are the engine's business and may change).

use super::deadline::Scheduled;
use super::incident::{Deadline, Incident};
use super::model::{IncidentView, Time};
use crate::config::Config;
use serde::Serialize;
use std::collections::BTreeMap;

/// `GET /api/v1/incidents/{id}`: the incident's facts, what has been done, and what is next.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct IncidentDetail {
    #[serde(flatten)]
    pub incident: IncidentView,
    pub registered_at: Time,
    pub acked: bool,
    /// What has happened, each only once it has: `notice_at` (SPEC §4.4), `followup_at`
    /// (§4.6), `reply_at`, `escalated_at` (§4.7).
    #[serde(flatten)]
    pub done: BTreeMap<&'static str, Time>,
    /// The organizations the notice went to.
    pub notified: Vec<String>,
    /// What happens next, earliest first: each pending deadline and its instant.
    pub next: Vec<Next>,
    /// The status-page status chosen (SPEC §4.15).
    pub status: super::model::PublicStatus,
    /// The alert that opened it, in its own words (incidents from monitoring).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<super::alerts::AlertContext>,
    /// The Alertmanager silence of an escalated incident: `active` or `expired`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub silence: Option<&'static str>,
}

/// What is open, for the console's overview (SPEC §5.6).
pub(crate) struct Overview {
    pub now: Time,
    /// Open incidents, most urgent first.
    pub incidents: Vec<IncidentDetail>,
    /// Not cancelled, not yet over.
    pub maintenances: Vec<super::model::MaintenanceView>,
    /// Each such maintenance's pending reminder (SPEC §4.5), by id.
    pub maintenance_next: std::collections::HashMap<String, Vec<Time>>,
    /// Inbound inquiries not yet answered.
    pub inquiries: Vec<super::model::InquiryView>,
}

/// A pending deadline: what, and when.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Next {
    pub what: Deadline,
    pub at: Time,
}

impl Incident {
    /// What the API shows of an open incident, with what is done and what is next.
    pub(crate) fn detail(&self, cfg: &Config) -> IncidentDetail {
        let mut next: Vec<Next> = <Incident as Scheduled>::ORDER
            .iter()
            .filter_map(|&what| {
                Some(Next {
                    what,
                    at: self.due(what, cfg)?,
                })
            })
            .collect();
        next.sort_by_key(|n| n.at);
        let done = [
            ("notice_at", self.notice_at),
            ("followup_at", self.followup_at),
            ("reply_at", self.reply_at),
            ("escalated_at", self.escalated_at),
        ];
        IncidentDetail {
            incident: self.view(cfg),
            registered_at: self.registered_at,
            acked: self.acked,
            done: done
                .into_iter()
                .filter_map(|(k, t)| Some((k, t?)))
                .collect(),
            notified: self.notified.to_vec(),
            next,
            status: self.public_status,
            alert: self.alert.clone(),
            silence: match (self.silence_created, self.silence_expired) {
                (true, false) => Some("active"),
                (true, true) => Some("expired"),
                _ => None,
            },
        }
    }
}

impl Incident {
    /// What the availability report keeps of this incident; `severe`: priority 1 or 2 now
    /// while open (the engine keeps it counted once it was).
    pub(crate) fn record(&self, severe: bool) -> super::availability::IncidentRecord {
        super::availability::IncidentRecord {
            id: self.id.clone(),
            services: self.services.clone(),
            detected_at: self.detected_at,
            resolved_at: self.resolved_at,
            counts: self.record_counts(severe),
            priority: self.cached_priority,
            kind: self.kind.as_str().to_string(),
        }
    }

    /// `r`, this incident's record, brought up to date in place: counted once it counted, its
    /// most severe priority kept, the rest as `record` gives it. Allocates only what changed
    /// (a settle runs at every step of a case: a new record each time was a twentieth of
    /// `simulate`'s engine thread, issue #32).
    pub(crate) fn update_record(&self, r: &mut super::availability::IncidentRecord, severe: bool) {
        let now = self.record_counts(severe);
        r.counts |= now;
        r.priority = match r.priority {
            0 => self.cached_priority,
            p => p.min(self.cached_priority),
        };
        r.detected_at = self.detected_at;
        r.resolved_at = self.resolved_at;
        if r.services != self.services {
            r.services.clone_from(&self.services);
        }
        if r.kind != self.kind.as_str() {
            r.kind = self.kind.as_str().to_string();
        }
    }

    /// What `update_record` reads of this incident. Its record changes only in `settle`
    /// (pruning removes only records of retired cases), so while these are the same the
    /// record is up to date and is not looked up: the lookup in the 37,000 records of the
    /// heavy year was a tenth of `simulate`'s engine thread (issue #32). Services only grow
    /// (`add_service`), so their count stands for them.
    pub(crate) fn record_inputs(&self, severe: bool) -> RecordInputs {
        RecordInputs {
            detected_at: self.detected_at,
            resolved_at: self.resolved_at,
            counts: self.record_counts(severe),
            priority: self.cached_priority,
            services: self.services.len(),
            kind: self.kind.as_str(),
        }
    }

    fn record_counts(&self, severe: bool) -> bool {
        severe
            && self.at_self()
            && self.environment == crate::engine::model::Environment::Produksjon
    }
}

/// The inputs of an incident's history record (`Incident::record_inputs`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RecordInputs {
    detected_at: crate::engine::model::Time,
    resolved_at: Option<crate::engine::model::Time>,
    counts: bool,
    priority: u8,
    services: usize,
    kind: &'static str,
}

impl crate::engine::maintenance::Maintenance {
    /// What the availability report keeps of this maintenance.
    pub(crate) fn record(&self) -> super::availability::MaintenanceRecord {
        super::availability::MaintenanceRecord {
            id: self.id.clone(),
            services: self.services.clone(),
            from: self.from,
            to: self.to,
            excuses: self.source.is_none() && !self.cancelled,
            view: Some(self.view()),
        }
    }
}

impl crate::engine::Engine {
    /// What the API shows of a case (SPEC §5.8), live or from history: an incident's
    /// `IncidentDetail`; a maintenance's view; an inquiry's view. A case that was retired
    /// shows what history kept of it, with `"retired": true`. `None`: never seen.
    pub(crate) fn case_json(
        &self,
        about: &crate::engine::model::About,
    ) -> Option<serde_json::Value> {
        use crate::engine::model::About;
        let cfg = self.config();
        let retired = |v: serde_json::Value| {
            let mut v = v;
            if let Some(o) = v.as_object_mut() {
                o.insert("retired".into(), serde_json::Value::Bool(true));
            }
            v
        };
        match about {
            About::Incident(id) => match self.incident(id) {
                Some(i) => serde_json::to_value(i.detail(cfg)).ok(),
                None => self
                    .history()
                    .incidents
                    .get(id)
                    .and_then(|r| serde_json::to_value(r).ok())
                    .map(retired),
            },
            About::Maintenance(id) => match self.maintenance(id) {
                Some(m) => serde_json::to_value(m.view()).ok().map(|mut v| {
                    use crate::engine::deadline::{next_json, Scheduled};
                    v["next"] = next_json(m.pending(cfg));
                    v["cancelled"] = m.cancelled.into();
                    v
                }),
                None => self
                    .history()
                    .maintenances
                    .get(id)
                    .and_then(|r| serde_json::to_value(r).ok())
                    .map(retired),
            },
            About::Inquiry(id) => self.inquiry(id).and_then(|q| {
                use crate::engine::deadline::{next_json, Scheduled};
                let mut v = serde_json::to_value(q.view(cfg)).ok()?;
                v["next"] = next_json(q.pending(cfg));
                v["answered_at"] = serde_json::to_value(q.answered_at).ok()?;
                Some(v)
            }),
            About::Report(_) => None,
            About::Directory(o) => self
                .directory()
                .get(o)
                .and_then(|d| serde_json::to_value(d).ok()),
        }
    }
}

/// One case in the console's list of all cases (open and closed), newest first.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CaseRow {
    pub about: super::model::About,
    /// Incidents: `feil`, `kvittering`, `info`.
    pub kind: Option<super::model::Kind>,
    pub services: Vec<String>,
    /// Organizations, where still known (open cases).
    pub orgs: Vec<String>,
    /// The most severe priority (incidents; 0 unknown).
    pub priority: u8,
    /// Started, or the window's start, or received.
    pub from: Time,
    /// Resolved, the window's end, or answered.
    pub to: Option<Time>,
    pub open: bool,
    pub cancelled: bool,
}

impl crate::engine::Engine {
    /// Every case the engine knows of: live ones, and those history keeps (incidents and
    /// maintenances for `storage.retention`). Newest first.
    pub(crate) fn cases(&self) -> Vec<CaseRow> {
        use super::model::{About, Kind};
        let mut v: Vec<CaseRow> = Vec::new();
        for i in self.incidents.values() {
            v.push(CaseRow {
                about: About::Incident(i.id.clone()),
                kind: Some(i.kind),
                services: i.services.clone(),
                orgs: i.orgs.to_vec(),
                priority: i.cached_priority,
                from: i.started_at,
                to: i.resolved_at,
                open: i.is_open(),
                cancelled: false,
            });
        }
        for r in self.history.incidents.values() {
            if self.incidents.contains_key(&r.id) {
                continue;
            }
            v.push(CaseRow {
                about: About::Incident(r.id.clone()),
                kind: Kind::parse(&r.kind),
                services: r.services.clone(),
                orgs: Vec::new(),
                priority: r.priority,
                from: r.detected_at,
                to: r.resolved_at,
                open: false,
                cancelled: false,
            });
        }
        for m in self.maintenances.values() {
            v.push(CaseRow {
                about: About::Maintenance(m.id.clone()),
                kind: None,
                services: m.services.clone(),
                orgs: m.orgs.clone(),
                priority: 0,
                from: m.from,
                to: Some(m.to),
                open: !m.cancelled,
                cancelled: m.cancelled,
            });
        }
        for r in self.history.maintenances.values() {
            if self.maintenances.contains_key(&r.id) {
                continue;
            }
            v.push(CaseRow {
                about: About::Maintenance(r.id.clone()),
                kind: None,
                services: r.services.clone(),
                orgs: Vec::new(),
                priority: 0,
                from: r.from,
                to: Some(r.to),
                open: false,
                cancelled: !r.excuses,
            });
        }
        for q in self.inquiries.values() {
            v.push(CaseRow {
                about: About::Inquiry(q.id.clone()),
                kind: None,
                services: Vec::new(),
                orgs: vec![q.org.clone()],
                priority: 0,
                from: q.received_at,
                to: q.answered_at,
                open: q.answered_at.is_none(),
                cancelled: false,
            });
        }
        v.sort_by(|a, b| {
            b.from
                .cmp(&a.from)
                .then_with(|| a.about.id().cmp(b.about.id()))
        });
        v
    }
}

/// What an action is, in short: its kind (`email`, `statuspage`, `silence`, `ops`, `report`),
/// its message, and the organization it goes to (e-mails and silences).
pub(crate) struct ActionParts<'a> {
    pub kind: &'static str,
    pub message: String,
    pub org: Option<&'a str>,
    pub to: &'a [String],
    pub cc: &'a [String],
}

impl super::model::Action {
    /// The snapshot of its case an action carries (an incident's or a maintenance's view), as
    /// the API shows it.
    pub(crate) fn case_view(&self) -> Option<serde_json::Value> {
        use super::model::ActionBody as B;
        let (i, m) = match &self.body {
            B::Email(e) => (e.incident.as_deref(), e.maintenance.as_deref()),
            B::Statuspage(p) => (p.incident.as_ref(), p.maintenance.as_ref()),
            B::Ops(o) => (o.incident.as_ref(), o.maintenance.as_ref()),
            _ => (None, None),
        };
        i.and_then(|i| serde_json::to_value(i).ok())
            .or_else(|| m.and_then(|m| serde_json::to_value(m).ok()))
    }

    /// The action's kind, message and recipients, as the console lists them.
    pub(crate) fn parts(&self) -> ActionParts<'_> {
        let none: &[String] = &[];
        let (kind, message, org, to, cc) = match &self.body {
            super::model::ActionBody::Email(m) => (
                "email",
                m.message.as_str().to_string(),
                Some(m.org.as_str()),
                &m.to[..],
                m.cc.as_slice(),
            ),
            super::model::ActionBody::Ops(o) => (
                "ops",
                o.message.as_str().into(),
                None,
                o.to.as_slice(),
                none,
            ),
            super::model::ActionBody::Statuspage(s) => {
                ("statuspage", s.message.as_str().into(), None, none, none)
            }
            super::model::ActionBody::Silence(s) => (
                "silence",
                s.message.clone(),
                Some(s.org.as_str()),
                none,
                none,
            ),
            super::model::ActionBody::Report(r) => {
                ("report", "monthly".into(), None, r.to.as_slice(), none)
            }
            super::model::ActionBody::Sms(t) => (
                "sms",
                t.message.as_str().into(),
                None,
                t.to.as_slice(),
                none,
            ),
        };
        ActionParts {
            kind,
            message,
            org,
            to,
            cc,
        }
    }
}

/// An inbound inquiry as the API and the console show it (SPEC §4.8).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct InquiryView {
    pub id: String,
    pub org: String,
    pub subject: Option<String>,
    pub received_at: Time,
    pub due: Time,
}
