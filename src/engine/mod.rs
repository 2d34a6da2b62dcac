//! The rules engine: a pure state machine (SPEC §4, §5.2).
//!
//! Architecture invariant: no clock, no I/O, no randomness. Every input carries `now`; the
//! engine answers with actions (`poll_action`) and the next instant it must be woken
//! (`poll_timeout`). The daemon drives it with the wall clock, `simulate` with a simulated one.
//! An event the engine refuses returns an error and changes nothing.
//!
//! Timers: each incident, maintenance and inquiry knows its own next deadline
//! (`next_wake`); the engine keeps them in an ordered set, so finding the next wake-up is
//! O(log n) and never scans all entities. Entities with nothing left to do are retired.

pub mod alerts;
mod checks;
mod events;
pub mod refusal;
pub mod time;
use checks::check_times;
pub mod guard;
pub mod incident;
pub mod inquiry;
pub mod maintenance;
pub mod model;
pub mod priority;

use crate::config::{Config, OrgKind};
use alerts::{FiringAlert, GroupKey};
use incident::Incident;
use inquiry::Inquiry;
use maintenance::Maintenance;
use model::*;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Subject {
    Incident(String),
    Maintenance(String),
    Inquiry(String),
}

pub struct Engine {
    cfg: Arc<Config>,
    incidents: HashMap<String, Incident>,
    maintenances: HashMap<String, Maintenance>,
    inquiries: HashMap<String, Inquiry>,
    /// Ids of retired entities, so that late events get a precise answer.
    retired: HashSet<Subject>,
    alerts: BTreeMap<String, FiringAlert>,
    groups: HashMap<GroupKey, String>,
    timers: BTreeSet<(Time, Subject)>,
    timer_of: HashMap<Subject, Time>,
    out: VecDeque<Action>,
    alert_seq: u64,
}

fn guard_text(field: &str, v: &Option<String>) -> Result<(), Refusal> {
    match v {
        Some(t) if guard::contains_identity_number(t) => Err(Refusal::PersonalData {
            field: field.to_string(),
        }),
        _ => Ok(()),
    }
}

impl Engine {
    pub fn new(cfg: Arc<Config>) -> Engine {
        Engine {
            cfg,
            incidents: HashMap::new(),
            maintenances: HashMap::new(),
            inquiries: HashMap::new(),
            retired: HashSet::new(),
            alerts: BTreeMap::new(),
            groups: HashMap::new(),
            timers: BTreeSet::new(),
            timer_of: HashMap::new(),
            out: VecDeque::new(),
            alert_seq: 0,
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The next action decided, in decision order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.out.pop_front()
    }

    /// The next instant at which `handle_timeout` has work.
    pub fn poll_timeout(&self) -> Option<Time> {
        self.timers.first().map(|(t, _)| *t)
    }

    /// Run every deadline due at or before `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        while let Some((t, s)) = self.timers.first().cloned() {
            if t > now {
                break;
            }
            self.timers.remove(&(t, s.clone()));
            self.timer_of.remove(&s);
            self.settle(&s, now);
        }
    }

    pub fn open_incidents(&self) -> impl Iterator<Item = &Incident> {
        self.incidents.values().filter(|i| i.is_open())
    }

    pub fn incident(&self, id: &str) -> Option<&Incident> {
        self.incidents.get(id)
    }

    pub fn maintenance(&self, id: &str) -> Option<&Maintenance> {
        self.maintenances.get(id)
    }

    pub fn maintenances(&self) -> impl Iterator<Item = &Maintenance> {
        self.maintenances.values().filter(|m| !m.cancelled)
    }

    /// Swap in a new configuration (SIGHUP) and recompute every deadline under it.
    pub fn reconfigure(&mut self, cfg: Arc<Config>) {
        self.cfg = cfg;
        let subjects: Vec<Subject> = self
            .incidents
            .keys()
            .map(|k| Subject::Incident(k.clone()))
            .chain(
                self.maintenances
                    .keys()
                    .map(|k| Subject::Maintenance(k.clone())),
            )
            .chain(self.inquiries.keys().map(|k| Subject::Inquiry(k.clone())))
            .collect();
        self.timers.clear();
        self.timer_of.clear();
        for s in subjects {
            let next = match &s {
                Subject::Incident(id) => self.incidents.get_mut(id).and_then(|i| {
                    i.refresh(&self.cfg);
                    i.next_wake(&self.cfg)
                }),
                Subject::Maintenance(id) => self
                    .maintenances
                    .get(id)
                    .and_then(|m| m.next_wake(&self.cfg)),
                Subject::Inquiry(id) => self.inquiries.get(id).and_then(|q| q.next_wake(&self.cfg)),
            };
            if let Some(t) = next {
                self.timers.insert((t, s.clone()));
                self.timer_of.insert(s, t);
            }
        }
    }

    /// Apply one event at `now`. On error nothing changed.
    pub fn handle(&mut self, now: Time, ev: Event) -> Result<(), Refusal> {
        check_times(&ev, now)?;
        match ev {
            Event::IncidentOpen(e) => self.incident_open(now, e),
            Event::IncidentUpdate(e) => self.incident_update(now, e),
            Event::IncidentResolve(e) => self.incident_resolve(now, &e.id),
            Event::IncidentAck(e) => {
                let inc = self.open_incident_mut(&e.id)?;
                inc.acked = true;
                self.settle(&Subject::Incident(e.id), now);
                Ok(())
            }
            Event::Reply(e) => self.reply(now, e),
            Event::Alert(a) => self.alert(now, a),
            Event::MaintenanceAdd(e) => self.maintenance_add(now, e),
            Event::MaintenanceChange(e) => self.maintenance_change(now, e),
            Event::MaintenanceCancel(e) => self.maintenance_cancel(now, &e.id),
            Event::InquiryReceived(e) => self.inquiry_received(now, e),
            Event::InquiryAnswered(e) => {
                let Some(q) = self.inquiries.get_mut(&e.id) else {
                    if self.retired.contains(&Subject::Inquiry(e.id.clone())) {
                        return Ok(());
                    }
                    return Err(Refusal::Unknown {
                        what: "inquiry",
                        id: e.id,
                    });
                };
                q.answered_at.get_or_insert(now);
                self.settle(&Subject::Inquiry(e.id), now);
                Ok(())
            }
        }
    }

    // ------------------------------------------------------------ scheduling

    fn settle(&mut self, s: &Subject, now: Time) {
        let cfg = Arc::clone(&self.cfg);
        let mut out = Vec::new();
        let (next, finished) = match s {
            Subject::Incident(id) => match self.incidents.get_mut(id) {
                Some(inc) => {
                    inc.refresh(&cfg);
                    inc.step(&cfg, now, &mut out);
                    (inc.next_wake(&cfg), inc.finished())
                }
                None => (None, true),
            },
            Subject::Maintenance(id) => {
                let overrun = match self.maintenances.get_mut(id) {
                    Some(m) => {
                        m.step(&cfg, now, &mut out);
                        if !m.cancelled && !m.overrun_checked && now >= m.overrun_due(&cfg) {
                            m.overrun_checked = true;
                            true
                        } else {
                            false
                        }
                    }
                    None => false,
                };
                self.out.extend(out.drain(..));
                if overrun {
                    self.release_suppressed(id, now, true);
                }
                match self.maintenances.get(id) {
                    Some(m) => (
                        m.next_wake(&cfg),
                        m.cancelled || (m.overrun_checked && m.next_wake(&cfg).is_none()),
                    ),
                    None => (None, true),
                }
            }
            Subject::Inquiry(id) => match self.inquiries.get_mut(id) {
                Some(q) => {
                    q.step(&cfg, now, &mut out);
                    (q.next_wake(&cfg), q.finished())
                }
                None => (None, true),
            },
        };
        self.out.extend(out);
        if let Some(old) = self.timer_of.remove(s) {
            self.timers.remove(&(old, s.clone()));
        }
        if finished {
            self.retire(s);
            return;
        }
        if let Some(mut t) = next {
            // A deadline at or before `now` would already have fired in `step`; keep the
            // engine live rather than spin if an entity ever disagrees with itself.
            if t <= now {
                t = now + chrono::Duration::seconds(1);
            }
            self.timers.insert((t, s.clone()));
            self.timer_of.insert(s.clone(), t);
        }
    }

    fn retire(&mut self, s: &Subject) {
        match s {
            Subject::Incident(id) => {
                self.incidents.remove(id);
                self.groups.retain(|_, v| v != id);
            }
            Subject::Maintenance(id) => {
                self.maintenances.remove(id);
            }
            Subject::Inquiry(id) => {
                self.inquiries.remove(id);
            }
        }
        self.retired.insert(s.clone());
    }

    // ------------------------------------------------------------ validation helpers

    /// An organization a new reference may name at `now`: configured, and not one that was
    /// removed and is only kept for the cases that named it before.
    fn check_org(&self, field: &'static str, id: &str, now: Time) -> Result<(), Refusal> {
        match self.cfg.org(id) {
            Some(o) if o.active_at(now) => Ok(()),
            Some(_) => Err(Refusal::Invalid {
                field: field.to_string(),
                message: format!("organization {id:?} was removed from the configuration; it is kept only for the cases that already name it"),
            }),
            None => Err(Refusal::UnknownOrg {
                field,
                id: id.to_string(),
            }),
        }
    }

    fn check_orgs(&self, field: &'static str, ids: &[String], now: Time) -> Result<(), Refusal> {
        ids.iter().try_for_each(|o| self.check_org(field, o, now))
    }

    /// Every organization a live case names (kept across a reload that removes it).
    pub fn referenced_orgs(&self) -> BTreeSet<String> {
        let mut v = BTreeSet::new();
        for i in self.incidents.values() {
            v.extend(i.at_org.iter().cloned());
            v.extend(i.orgs.iter().cloned());
            v.extend(i.notified.iter().cloned());
        }
        for m in self.maintenances.values() {
            v.extend(m.source.iter().cloned());
            v.extend(m.orgs.iter().cloned());
            v.extend(m.notified.iter().cloned());
        }
        for q in self.inquiries.values() {
            v.insert(q.org.clone());
        }
        v
    }

    fn check_services(&self, ids: &[String]) -> Result<(), Refusal> {
        for s in ids {
            if self.cfg.service(s).is_none() {
                return Err(Refusal::UnknownService {
                    field: "services",
                    id: s.clone(),
                });
            }
        }
        Ok(())
    }

    fn check_new_id(&self, what: &'static str, s: Subject, id: &str) -> Result<(), Refusal> {
        if id.trim().is_empty() {
            return Err(Refusal::Invalid {
                field: "id".into(),
                message: "must not be empty".into(),
            });
        }
        let exists = match &s {
            Subject::Incident(i) => self.incidents.contains_key(i),
            Subject::Maintenance(i) => self.maintenances.contains_key(i),
            Subject::Inquiry(i) => self.inquiries.contains_key(i),
        };
        if exists || self.retired.contains(&s) {
            return Err(Refusal::Duplicate {
                what,
                id: id.to_string(),
            });
        }
        Ok(())
    }

    /// Organizations affected when none are named: every non-HF organization exchanging one of
    /// the services (all services when none are named). Decision: HFs are left out because
    /// Hemit notifies on their behalf (seeds/004 §1); name them explicitly to include them.
    fn derive_orgs(&self, services: &[String], exclude: Option<&str>, now: Time) -> Vec<String> {
        self.cfg
            .orgs
            .iter()
            .filter(|o| o.kind != OrgKind::Hf && Some(o.id.as_str()) != exclude)
            .filter(|o| o.active_at(now))
            .filter(|o| services.is_empty() || o.services.iter().any(|s| services.contains(s)))
            .map(|o| o.id.clone())
            .collect()
    }

    fn open_incident_mut(&mut self, id: &str) -> Result<&mut Incident, Refusal> {
        match self.incidents.get_mut(id) {
            Some(i) if i.is_open() => Ok(i),
            Some(_) => Err(Refusal::Closed {
                what: "incident",
                id: id.into(),
                state: "resolved",
            }),
            None if self.retired.contains(&Subject::Incident(id.into())) => Err(Refusal::Closed {
                what: "incident",
                id: id.into(),
                state: "resolved",
            }),
            None => Err(Refusal::Unknown {
                what: "incident",
                id: id.into(),
            }),
        }
    }

    // ------------------------------------------------------------ incidents

    fn incident_open(&mut self, now: Time, e: IncidentOpen) -> Result<(), Refusal> {
        self.check_new_id("incident", Subject::Incident(e.id.clone()), &e.id)?;
        let at_org = if self.cfg.is_self(&e.at_org) {
            None
        } else {
            self.check_org("at_org", &e.at_org, now)?;
            Some(e.at_org.clone())
        };
        self.check_orgs("orgs", &e.orgs, now)?;
        self.check_services(&e.services)?;
        guard_text("measures", &e.measures)?;
        guard_text("text", &e.text)?;
        let orgs = match (&at_org, e.orgs.is_empty()) {
            (_, false) => e.orgs.clone(),
            (None, true) => self.derive_orgs(&e.services, None, now),
            (Some(o), true) => vec![o.clone()],
        };
        let started = e.started_at.map(|t| t.0).unwrap_or(now);
        let inc = new_incident(
            e.id.clone(),
            e.kind,
            at_org,
            orgs,
            e.services,
            e.category,
            e.impact,
            started,
            e.detected_at.map(|t| t.0).unwrap_or(now),
            now,
            e.environment,
        );
        let inc = Incident {
            expected_end: e.expected_end.map(|t| t.0),
            measures: e.measures,
            text: e.text,
            ..inc
        };
        self.incidents.insert(e.id.clone(), inc);
        self.settle(&Subject::Incident(e.id), now);
        Ok(())
    }

    fn incident_update(&mut self, now: Time, e: IncidentUpdate) -> Result<(), Refusal> {
        guard_text("measures", &e.measures)?;
        guard_text("text", &e.text)?;
        let inc = self.open_incident_mut(&e.id)?;
        if let Some(m) = e.measures {
            inc.measures = Some(m);
            inc.touch_change();
        }
        if let Some(t) = e.text {
            inc.text = Some(t);
            inc.touch_change();
        }
        if let Some(c) = e.category {
            inc.category = c;
            inc.touch_change();
        }
        if let Some(i) = e.impact {
            inc.impact = Some(i);
            inc.touch_change();
        }
        if let Some(x) = e.expected_end {
            inc.set_expected_end(Some(x.0));
        }
        self.settle(&Subject::Incident(e.id), now);
        Ok(())
    }

    fn incident_resolve(&mut self, now: Time, id: &str) -> Result<(), Refusal> {
        let inc = self.open_incident_mut(id)?;
        inc.resolved_at = Some(now);
        self.groups.retain(|_, v| v != id);
        self.settle(&Subject::Incident(id.to_string()), now);
        Ok(())
    }

    fn reply(&mut self, now: Time, e: Reply) -> Result<(), Refusal> {
        let Some(inc) = self.incidents.get_mut(&e.id) else {
            if self.retired.contains(&Subject::Incident(e.id.clone())) {
                return Ok(());
            }
            return Err(Refusal::Unknown {
                what: "incident",
                id: e.id,
            });
        };
        if let Some(o) = &e.org {
            if inc.at_org.as_deref() != Some(o.as_str()) && !inc.orgs.contains(o) {
                return Err(Refusal::Invalid {
                    field: "org".into(),
                    message: format!("{o:?} is not an organization of incident {:?}", e.id),
                });
            }
        }
        inc.reply_at.get_or_insert(now);
        self.settle(&Subject::Incident(e.id), now);
        Ok(())
    }

    // ------------------------------------------------------------ alerts

    fn inquiry_received(&mut self, now: Time, e: InquiryReceived) -> Result<(), Refusal> {
        self.check_new_id("inquiry", Subject::Inquiry(e.id.clone()), &e.id)?;
        self.check_org("org", &e.org, now)?;
        if e.subject
            .as_deref()
            .is_some_and(inquiry::about_planned_downtime)
        {
            // Not answered (seeds/004 §1); remembered so the id stays taken.
            self.retired.insert(Subject::Inquiry(e.id));
            return Ok(());
        }
        let q = Inquiry {
            id: e.id.clone(),
            org: e.org,
            subject: e.subject,
            received_at: now,
            answered_at: None,
            reminded: false,
            overdue_reported: false,
        };
        self.inquiries.insert(e.id.clone(), q);
        self.settle(&Subject::Inquiry(e.id), now);
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
fn new_incident(
    id: String,
    kind: Kind,
    at_org: Option<String>,
    orgs: Vec<String>,
    services: Vec<String>,
    category: Category,
    impact: Option<Impact>,
    started_at: Time,
    detected_at: Time,
    registered_at: Time,
    environment: Environment,
) -> Incident {
    Incident {
        id,
        kind,
        at_org,
        orgs,
        services,
        category,
        impact,
        started_at,
        detected_at,
        registered_at,
        expected_end: None,
        measures: None,
        text: None,
        note: None,
        environment,
        acked: false,
        resolved_at: None,
        reply_at: None,
        alerts: vec![],
        from_alerts: false,
        sp_created: false,
        sp_last_post: None,
        sp_seq: 0,
        sp_dirty: false,
        sp_resolved: false,
        notice_at: None,
        notified: vec![],
        notice_dirty: false,
        update_seq: 0,
        resolved_mail_sent: false,
        followup_at: None,
        escalated_at: None,
        silence_created: false,
        silence_expired: false,
        ack_reminded: false,
        cached_impact: Impact::Medium,
        cached_priority: 4,
    }
}
