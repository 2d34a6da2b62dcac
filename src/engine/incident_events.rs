//! What the operators' incident events do to the engine (SPEC §5.2 `incident.open`,
//! `incident.update`, `incident.resolve`, `reply`): the facts change, then the incident
//! settles (its deadlines decide what is sent).

use super::incident::Incident;
use super::model::*;
use super::{guard_text, Engine, Subject};

impl Engine {
    pub(super) fn incident_open(&mut self, now: Time, e: IncidentOpen) -> Result<(), Refusal> {
        let case = Subject::Incident(e.id.clone());
        let at_org = self.check_new_case(case, ("at_org", &e.at_org), &e.orgs, &e.services, now)?;
        guard_text("measures", &e.measures)?;
        guard_text("text", &e.text)?;
        let orgs = match (&at_org, e.orgs.is_empty()) {
            (_, false) => e.orgs.clone(),
            (None, true) => self.derive_orgs(&e.services, None, now),
            (Some(o), true) => vec![o.clone()],
        };
        let orgs = self.org_lists.intern(orgs);
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

    pub(super) fn incident_update(&mut self, now: Time, e: IncidentUpdate) -> Result<(), Refusal> {
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
        if let Some(s) = e.status.filter(|s| *s != inc.public_status) {
            inc.public_status = s;
            inc.touch_change();
        }
        self.settle(&Subject::Incident(e.id), now);
        Ok(())
    }

    /// Resolve `id`; `at` backdates when the stop ended (it cannot precede the start). What
    /// resolution sends goes now; the report counts the downtime to `at`.
    pub(super) fn incident_resolve(
        &mut self,
        now: Time,
        id: &str,
        at: Option<Time>,
    ) -> Result<(), Refusal> {
        let inc = self.open_incident_mut(id)?;
        let at = at.unwrap_or(now).min(now);
        if at < inc.started_at {
            return Err(Refusal::invalid("resolved_at", Why::BeforeStart));
        }
        inc.resolved_at = Some(at);
        // Only an incident alerts opened is any alert group's (`alerts.rs`).
        if inc.from_alerts {
            let group = inc.group.clone();
            self.ungroup(id, group);
        }
        self.settle(&Subject::Incident(id.to_string()), now);
        Ok(())
    }

    pub(super) fn reply(&mut self, now: Time, e: Reply) -> Result<(), Refusal> {
        if !self.known(Subject::Incident(e.id.clone()))? {
            return Ok(());
        }
        let Some(inc) = self.incidents.get_mut(&e.id) else {
            return Ok(());
        };
        if let Some(o) = &e.org {
            if inc.at_org.as_deref() != Some(o.as_str()) && !inc.orgs.contains(o) {
                return Err(Refusal::invalid(
                    "org",
                    Why::NotOfIncident {
                        org: o.clone(),
                        incident: e.id.clone(),
                    },
                ));
            }
        }
        inc.reply_at.get_or_insert(now);
        self.settle(&Subject::Incident(e.id), now);
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn new_incident(
    id: String,
    kind: Kind,
    at_org: Option<String>,
    orgs: super::org_list::OrgList,
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
        public_status: PublicStatus::Investigating,
        resolved_at: None,
        reply_at: None,
        alerts: vec![],
        from_alerts: false,
        group: None,
        alert: None,
        sp_created: false,
        sp_last_post: None,
        sp_seq: 0,
        sp_dirty: false,
        sp_resolved: false,
        notice_at: None,
        notified: Default::default(),
        notice_dirty: false,
        update_seq: 0,
        resolved_mail_sent: false,
        followup_at: None,
        escalated_at: None,
        silence_created: false,
        silence_expired: false,
        ack_reminded: false,
        paged: false,
        book: Default::default(),
        cached_impact: Impact::Medium,
        cached_priority: 4,
        impact_of: None,
        recorded: None,
        followup_due_of: None,
    }
}

/// Who the counterpart's e-mails go to.
impl Incident {
    /// Followup recipients (SPEC §4.6): the organization; KS e-Komp of its area and its HF on copy.
    pub(super) fn followup_recipients(
        &self,
        cfg: &crate::config::Config,
    ) -> (String, std::sync::Arc<[String]>, Vec<String>) {
        let org = self.at_org.clone().unwrap_or_default();
        let to = self.book.addresses(cfg, &org);
        let mut cc = Vec::new();
        if let Some(o) = cfg.org(&org) {
            if let Some(k) = o.area.as_deref().and_then(|a| cfg.ks_for_area(a)) {
                cc.push(k.email.clone());
            }
            if let Some(h) = o.hf.as_deref().and_then(|h| cfg.org(h)) {
                cc.push(self.book.first(cfg, &h.id));
            }
        }
        cc.retain(|a| !to.contains(a));
        cc.dedup();
        (org, to, cc)
    }

    /// Escalation recipients (SPEC §4.7): KS e-Komp; the HF and the organization on copy.
    /// Without a KS e-Komp representative (e.g. an HF counterpart) the HF, then ops, take its place.
    pub(super) fn escalation_recipients(
        &self,
        cfg: &crate::config::Config,
    ) -> (Vec<String>, Vec<String>) {
        let org = self.at_org.clone().unwrap_or_default();
        let o = cfg.org(&org);
        let ks = o
            .and_then(|o| o.area.as_deref())
            .and_then(|a| cfg.ks_for_area(a));
        let hf = o.and_then(|o| o.hf.as_deref()).and_then(|h| cfg.org(h));
        let mut cc = Vec::new();
        let to = match (ks, hf) {
            (Some(k), _) => {
                if let Some(h) = hf {
                    cc.push(self.book.first(cfg, &h.id));
                }
                vec![k.email.clone()]
            }
            (None, Some(h)) => vec![self.book.first(cfg, &h.id)],
            (None, None) => cfg.self_.ops.clone(),
        };
        cc.extend(self.book.addresses(cfg, &org).iter().cloned());
        cc.retain(|a| !to.contains(a));
        (to, cc)
    }
}
