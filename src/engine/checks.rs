//! What an event must pass before it changes anything: the times it may carry (SPEC §6
//! "times out of range are refused at the door"), a new case's id, the organizations and
//! services it names, and whether a late event still has a case to act on.

use super::model::*;

/// Times an input may carry (SPEC §6: times out of range are refused at the door, not
/// carried into deadlines): a stop began at most a year ago and not more than a day ahead
/// (clock skew); an expected restoration is after the start and within a year; a maintenance
/// lies between a year ago and two years ahead and lasts at most 31 days.
pub(super) fn check_times(ev: &Event, now: Time) -> Result<(), Refusal> {
    use chrono::Duration as D;
    let within = |field: &str, t: Option<Time>, lo: D, hi: D, why: Why| match t {
        Some(t) if t < now - lo || t > now + hi => Err(Refusal::invalid(field, why)),
        _ => Ok(()),
    };
    let year = D::days(366);
    let past = Why::StopStartRange;
    match ev {
        Event::IncidentOpen(e) => {
            let start = e.started_at.map(|t| t.0);
            within("started_at", start, year, D::days(1), past.clone())?;
            within(
                "detected_at",
                e.detected_at.map(|t| t.0),
                year,
                D::days(1),
                past.clone(),
            )?;
            within(
                "expected_end",
                e.expected_end.map(|t| t.0),
                year,
                year,
                Why::ExpectedEndRange,
            )?;
            if let (Some(s), Some(x)) = (start, e.expected_end) {
                if x.0 < s {
                    return Err(Refusal::invalid("expected_end", Why::BeforeStart));
                }
            }
            Ok(())
        }
        Event::IncidentUpdate(e) => within(
            "expected_end",
            e.expected_end.map(|t| t.0),
            year,
            year,
            Why::ExpectedEndRange,
        ),
        Event::Alert(a) => within(
            "startsAt",
            a.started_at.map(|t| t.0),
            year,
            D::days(1),
            past,
        ),
        Event::IncidentResolve(e) => match e.resolved_at.map(|t| t.0) {
            Some(t) if t > now => Err(Refusal::invalid("resolved_at", Why::InFuture)),
            Some(t) if t < now - year => Err(Refusal::invalid("resolved_at", Why::ResolvedRange)),
            _ => Ok(()),
        },
        Event::MaintenanceAdd(MaintenanceAdd { from, to, .. }) => {
            check_window(Some(from.0), Some(to.0), now)
        }
        Event::MaintenanceChange(e) => check_window(e.from.map(|t| t.0), e.to.map(|t| t.0), now),
        _ => Ok(()),
    }
}

fn check_window(from: Option<Time>, to: Option<Time>, now: Time) -> Result<(), Refusal> {
    let (lo, hi) = (
        now - chrono::Duration::days(366),
        now + chrono::Duration::days(731),
    );
    for (field, t) in [("from", from), ("to", to)] {
        if t.is_some_and(|t| t < lo || t > hi) {
            return Err(Refusal::invalid(field, Why::WindowRange));
        }
    }
    if let (Some(f), Some(t)) = (from, to) {
        if t - f > chrono::Duration::days(31) {
            return Err(Refusal::invalid("to", Why::WindowTooLong));
        }
    }
    Ok(())
}

// ------------------------------------------------------------ what a case's event must pass

use super::incident::Incident;
use super::{Engine, Subject};
use crate::engine::model::Refusal;
use std::collections::BTreeSet;

impl Engine {
    /// Whether a late event about `s` has a live case to act on: `true` when it is live,
    /// `false` when it was retired (the event is then a harmless no-op), `Unknown` otherwise.
    pub(super) fn known(&self, s: Subject) -> Result<bool, Refusal> {
        let live = match &s {
            Subject::Incident(id) => self.incidents.contains_key(id),
            Subject::Maintenance(id) => self.maintenances.contains_key(id),
            Subject::Inquiry(id) => self.inquiries.contains_key(id),
            Subject::Report(_) => true,
            Subject::Directory(o) => self.directory.contains_key(o),
        };
        if live {
            return Ok(true);
        }
        if self.retired.contains(&s) {
            return Ok(false);
        }
        let (what, id) = match s {
            Subject::Incident(id) => ("incident", id),
            Subject::Maintenance(id) => ("maintenance", id),
            Subject::Inquiry(id) => ("inquiry", id),
            Subject::Report(m) => ("report", m.to_string()),
            Subject::Directory(o) => ("organization", o),
        };
        Err(Refusal::Unknown { what, id })
    }

    // ------------------------------------------------------------ validation helpers

    /// An organization a new reference may name at `now`: configured, and not one that was
    /// removed and is only kept for the cases that named it before.
    pub(super) fn check_org(
        &self,
        field: &'static str,
        id: &str,
        now: Time,
    ) -> Result<(), Refusal> {
        match self.cfg.org(id) {
            Some(o) if o.active_at(now) => Ok(()),
            Some(_) => Err(Refusal::invalid(field, Why::OrgRemoved(id.to_string()))),
            None => Err(Refusal::UnknownOrg {
                field,
                id: id.to_string(),
            }),
        }
    }

    pub(super) fn check_orgs(
        &self,
        field: &'static str,
        ids: &[String],
        now: Time,
    ) -> Result<(), Refusal> {
        ids.iter().try_for_each(|o| self.check_org(field, o, now))
    }

    /// Every organization a live case names (kept across a reload that removes it).
    pub(crate) fn referenced_orgs(&self) -> BTreeSet<String> {
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

    pub(super) fn check_services(&self, ids: &[String]) -> Result<(), Refusal> {
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

    pub(super) fn check_new_id(
        &self,
        what: &'static str,
        s: Subject,
        id: &str,
    ) -> Result<(), Refusal> {
        if id.trim().is_empty() {
            return Err(Refusal::invalid("id", Why::Empty));
        }
        let exists = match &s {
            Subject::Incident(i) => self.incidents.contains_key(i),
            Subject::Maintenance(i) => self.maintenances.contains_key(i),
            Subject::Inquiry(i) => self.inquiries.contains_key(i),
            Subject::Report(_) | Subject::Directory(_) => false,
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
    pub(super) fn derive_orgs(
        &self,
        services: &[String],
        exclude: Option<&str>,
        now: Time,
    ) -> Vec<String> {
        self.cfg.orgs_exchanging(services, exclude, now)
    }

    pub(super) fn open_incident_mut(&mut self, id: &str) -> Result<&mut Incident, Refusal> {
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

    /// What a new incident or maintenance must pass: a new id, a known organization where
    /// the fault or the work is (`None`: our side), known organizations and services.
    pub(super) fn check_new_case(
        &self,
        case: Subject,
        (field, at): (&'static str, &String),
        orgs: &[String],
        services: &[String],
        now: Time,
    ) -> Result<Option<String>, Refusal> {
        let (what, id) = match &case {
            Subject::Incident(id) => ("incident", id.clone()),
            Subject::Maintenance(id) => ("maintenance", id.clone()),
            Subject::Inquiry(id) => ("inquiry", id.clone()),
            Subject::Report(m) => ("report", m.to_string()),
            Subject::Directory(o) => ("organization", o.clone()),
        };
        self.check_new_id(what, case, &id)?;
        let at = if self.cfg.is_self(at) {
            None
        } else {
            self.check_org(field, at, now)?;
            Some(at.clone())
        };
        self.check_orgs("orgs", orgs, now)?;
        self.check_services(services)?;
        Ok(at)
    }
}
