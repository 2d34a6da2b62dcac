//! Alertmanager alerts → incidents (SPEC §5.2). Labels (names configurable in
//! `[alerts.labels]`): `org` where the fault is (absent, `self` or our own id: our side),
//! `service`, `kind` (feil | kvittering | info, default feil), `severity` (A–D or
//! critical/major/warning/info, default B), `impact`, `environment`. Firing alerts are grouped
//! by (org, kind, environment): one open incident per group.

use super::model::*;
use crate::config::Config;
use std::collections::BTreeMap;

/// Alerts that share this join one incident: (organization, kind, environment).
pub(crate) type GroupKey = (Option<String>, Kind, Environment);

/// An alert as the rules read it: its labels interpreted, and where it went.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct FiringAlert {
    pub at_org: Option<String>,
    pub kind: Kind,
    pub service: Option<String>,
    pub category: Category,
    pub impact: Option<Impact>,
    pub environment: Environment,
    pub started_at: Time,
    /// The maintenance whose window swallowed this alert.
    pub suppressed_by: Option<String>,
    /// The incident this alert belongs to.
    pub incident: Option<String>,
    /// What the alert said, for the operator (issue #26): kept with the alert so a held
    /// alert released after a maintenance still brings it.
    #[serde(default)]
    pub context: Option<AlertContext>,
}

/// An alert's own words, shown on its incident: `alertname`, the `summary` and
/// `description` annotations, and the link back to the monitoring source (`generatorURL`,
/// http(s) only). All passed the personal-data door (`sources::alertmanager::door`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AlertContext {
    pub name: Option<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub source_url: Option<String>,
}

impl AlertContext {
    fn of(a: &Alert) -> Option<AlertContext> {
        let text = |m: &BTreeMap<String, String>, k: &str| {
            m.get(k)
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .map(|s| s.chars().take(2000).collect::<String>())
        };
        let source_url = a
            .source_link
            .as_deref()
            .map(str::trim)
            .filter(|u| {
                (u.starts_with("https://") || u.starts_with("http://"))
                    && u.len() <= 2000
                    && !u.chars().any(char::is_control)
            })
            .map(str::to_string);
        let c = AlertContext {
            name: text(&a.labels, "alertname"),
            summary: text(&a.annotations, "summary"),
            description: text(&a.annotations, "description"),
            source_url,
        };
        (c != AlertContext {
            name: None,
            summary: None,
            description: None,
            source_url: None,
        })
        .then_some(c)
    }
}

impl FiringAlert {
    /// Its group (see [`GroupKey`]).
    pub(crate) fn group(&self) -> GroupKey {
        (self.at_org.clone(), self.kind, self.environment)
    }
}

/// Alertmanager's fingerprint is a hash of the label set; without one we use the sorted
/// labels themselves, which identify the alert just as well.
pub(crate) fn fingerprint(a: &Alert) -> String {
    match &a.fingerprint {
        Some(f) if !f.is_empty() => f.clone(),
        _ => a
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
    }
}

fn label<'a>(labels: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    labels.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
}

/// Interpret an alert's labels; errors name the label.
pub(crate) fn interpret(cfg: &Config, a: &Alert, now: Time) -> Result<FiringAlert, Refusal> {
    let l = &cfg.labels;
    let at_org = match label(&a.labels, &l.org) {
        None => None,
        Some(o) if cfg.is_self(o) => None,
        Some(o) if cfg.org(o).is_some_and(|x| x.active_at(now)) => Some(o.to_string()),
        Some(o) => {
            return Err(Refusal::invalid(
                format!("labels.{}", l.org),
                Why::LabelOrg(o.to_string()),
            ))
        }
    };
    let service = match label(&a.labels, &l.service) {
        None => None,
        Some(s) if cfg.service(s).is_some() => Some(s.to_string()),
        Some(s) => {
            return Err(Refusal::invalid(
                format!("labels.{}", l.service),
                Why::LabelService(s.to_string()),
            ))
        }
    };
    let bad = |name: &str, v: &str, want: &'static str| {
        Refusal::invalid(
            format!("labels.{name}"),
            Why::LabelValue {
                value: v.to_string(),
                want,
            },
        )
    };
    let kind = match label(&a.labels, &l.kind) {
        None => Kind::Feil,
        Some(k) => Kind::parse(k).ok_or_else(|| bad(&l.kind, k, "feil, kvittering or info"))?,
    };
    let category = match label(&a.labels, &l.severity) {
        None => Category::B,
        Some(s) => Category::parse(s).ok_or_else(|| bad(&l.severity, s, "a category A–D"))?,
    };
    let impact = match label(&a.labels, &l.impact) {
        None => None,
        Some(s) => {
            Some(Impact::parse(s).ok_or_else(|| bad(&l.impact, s, "alle, hoy, medium or lav"))?)
        }
    };
    let environment = match label(&a.labels, &l.environment) {
        None => Environment::Produksjon,
        Some("test") => Environment::Test,
        Some("produksjon") | Some("prod") | Some("production") => Environment::Produksjon,
        Some(e) => return Err(bad(&l.environment, e, "produksjon or test")),
    };
    let starts = a
        .started_at
        .map(|t| t.0)
        .filter(|t| *t <= now)
        .unwrap_or(now);
    Ok(FiringAlert {
        at_org,
        kind,
        service,
        category,
        impact,
        environment,
        started_at: starts,
        suppressed_by: None,
        incident: None,
        context: AlertContext::of(a),
    })
}

// ---------------------------------------------------------------------------------------------
// The engine's event effects for alerts (SPEC §4.1, §4.5): grouping into incidents, and alerts
// held back by a maintenance window and released after it.

use super::maintenance::Maintenance;
use super::{new_incident, Engine, Subject};
use std::sync::Arc;

impl Engine {
    pub(super) fn alert(&mut self, now: Time, a: Alert) -> Result<(), Refusal> {
        let fp = fingerprint(&a);
        if a.status == AlertStatus::Resolved {
            if let Some(st) = self.alerts.remove(&fp) {
                if let Some(id) = st.incident {
                    if let Some(inc) = self.incidents.get_mut(&id) {
                        inc.alerts.retain(|f| f != &fp);
                        // An escalated incident has its alarms silenced, so only an operator
                        // closes it (SPEC §4.7).
                        if inc.alerts.is_empty() && inc.is_open() && inc.escalated_at.is_none() {
                            inc.resolved_at = Some(now);
                            let group = inc.group.clone();
                            self.ungroup(&id, group);
                        }
                        self.settle(&Subject::Incident(id), now);
                    }
                }
            }
            return Ok(());
        }
        let mut st = interpret(&self.cfg, &a, now)?;
        if self.alerts.contains_key(&fp) {
            return Ok(()); // Alertmanager repeats firing alerts; nothing new.
        }
        // Inside a maintenance window: suppressed (SPEC §4.5).
        let cfg = Arc::clone(&self.cfg);
        let mut covering: Vec<&Maintenance> = self
            .maintenances
            .values()
            .filter(|m| {
                m.covers_time(&cfg, now) && m.covers(st.at_org.as_deref(), st.service.as_deref())
            })
            .collect();
        covering.sort_by(|a, b| a.id.cmp(&b.id));
        if let Some(m) = covering.first() {
            st.suppressed_by = Some(m.id.clone());
            self.alerts.insert(fp, st);
            return Ok(());
        }
        self.attach_alert(now, fp, st, None);
        Ok(())
    }

    /// Put a firing alert into its group's open incident, opening one if needed.
    pub(super) fn attach_alert(
        &mut self,
        now: Time,
        fp: String,
        mut st: FiringAlert,
        note: Option<String>,
    ) {
        let key = st.group();
        let existing = self
            .groups
            .get(&key)
            .cloned()
            .filter(|id| self.incidents.get(id).is_some_and(|i| i.is_open()));
        let id = match existing {
            Some(id) => {
                if let Some(inc) = self.incidents.get_mut(&id) {
                    inc.alerts.push(fp.clone());
                    if let Some(s) = &st.service {
                        if !inc.services.contains(s) {
                            inc.add_service(s.clone());
                            if inc.at_self() && inc.notice_at.is_none() {
                                // Recipients follow the services until the notice goes out.
                                let svcs = inc.services.clone();
                                let orgs = self.derive_orgs(&svcs, None, now);
                                let orgs = self.org_lists.intern(orgs);
                                if let Some(inc) = self.incidents.get_mut(&id) {
                                    inc.orgs = orgs;
                                }
                            }
                            if let Some(inc) = self.incidents.get_mut(&id) {
                                inc.touch_change();
                            }
                        }
                    }
                    if let Some(inc) = self.incidents.get_mut(&id) {
                        if st.category < inc.category {
                            inc.category = st.category;
                            inc.touch_change();
                        }
                    }
                }
                id
            }
            None => {
                self.alert_seq += 1;
                let org_part = st.at_org.clone().unwrap_or_else(|| "self".into());
                let mut id = format!("AM-{}-{}-{}", org_part, st.kind.as_str(), self.alert_seq);
                while self.incidents.contains_key(&id)
                    || self.retired.contains(&Subject::Incident(id.clone()))
                {
                    self.alert_seq += 1;
                    id = format!("AM-{}-{}-{}", org_part, st.kind.as_str(), self.alert_seq);
                }
                let services: Vec<String> = st.service.iter().cloned().collect();
                let orgs = match &st.at_org {
                    None => self.derive_orgs(&services, None, now),
                    Some(o) => vec![o.clone()],
                };
                let orgs = self.org_lists.intern(orgs);
                let mut inc = new_incident(
                    id.clone(),
                    st.kind,
                    st.at_org.clone(),
                    orgs,
                    services,
                    st.category,
                    st.impact,
                    st.started_at,
                    now,
                    now,
                    st.environment,
                );
                inc.from_alerts = true;
                inc.group = Some(key.clone());
                inc.alert = st.context.clone();
                inc.alerts.push(fp.clone());
                inc.note = note;
                self.incidents.insert(id.clone(), inc);
                self.groups.insert(key, id.clone());
                id
            }
        };
        st.incident = Some(id.clone());
        st.suppressed_by = None;
        self.alerts.insert(fp, st);
        self.settle(&Subject::Incident(id), now);
    }

    /// Alerts held back by maintenance `mid` become incidents: the window ended with them
    /// still firing, or the maintenance was cancelled.
    pub(super) fn release_suppressed(&mut self, mid: &str, now: Time, overrun: bool) {
        let held: Vec<(String, FiringAlert)> = self
            .alerts
            .iter()
            .filter(|(_, a)| a.suppressed_by.as_deref() == Some(mid))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if held.is_empty() {
            return;
        }
        let to = self.maintenances.get(mid).map(|m| m.to);
        for (fp, mut st) in held {
            let note = if overrun {
                // The unplanned part of the stop begins when the window ended.
                if let Some(to) = to {
                    st.started_at = to;
                }
                Some(format!(
                    "Planlagt vedlikehold {mid} ble ikke ferdig innenfor vinduet."
                ))
            } else {
                Some(format!(
                    "Planlagt vedlikehold {mid} ble avlyst mens varselet var aktivt."
                ))
            };
            self.attach_alert(now, fp, st, note);
        }
        if overrun {
            if let Some(m) = self.maintenances.get(mid) {
                let a = m.ops(&self.cfg, now, OpsKind::Warning, OpsReason::Overrun);
                self.out.push_back(a);
            }
        }
    }

    // ------------------------------------------------------------ maintenance
}
