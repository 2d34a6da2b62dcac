//! Alertmanager alerts → incidents (SPEC §5.2). Labels (names configurable in
//! `[alerts.labels]`): `org` where the fault is (absent, `self` or our own id: our side),
//! `service`, `kind` (feil | kvittering | info, default feil), `severity` (A–D or
//! critical/major/warning/info, default B), `impact`, `environment`. Firing alerts are grouped
//! by (org, kind, environment): one open incident per group.

use super::model::*;
use crate::config::Config;
use std::collections::BTreeMap;

pub type GroupKey = (Option<String>, Kind, Environment);

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FiringAlert {
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
}

impl FiringAlert {
    pub fn group(&self) -> GroupKey {
        (self.at_org.clone(), self.kind, self.environment)
    }
}

/// Alertmanager's fingerprint is a hash of the label set; without one we use the sorted
/// labels themselves, which identify the alert just as well.
pub fn fingerprint(a: &Alert) -> String {
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
pub fn interpret(cfg: &Config, a: &Alert, now: Time) -> Result<FiringAlert, Refusal> {
    let l = &cfg.labels;
    let at_org = match label(&a.labels, &l.org) {
        None => None,
        Some(o) if cfg.is_self(o) => None,
        Some(o) if cfg.org(o).is_some_and(|x| x.active_at(now)) => Some(o.to_string()),
        Some(o) => {
            return Err(Refusal::Invalid {
                field: format!("labels.{}", l.org),
                message: format!("unknown organization {o:?}"),
            })
        }
    };
    let service = match label(&a.labels, &l.service) {
        None => None,
        Some(s) if cfg.service(s).is_some() => Some(s.to_string()),
        Some(s) => {
            return Err(Refusal::Invalid {
                field: format!("labels.{}", l.service),
                message: format!("unknown service {s:?}"),
            })
        }
    };
    let bad = |name: &str, v: &str, want: &str| Refusal::Invalid {
        field: format!("labels.{name}"),
        message: format!("{v:?} is not {want}"),
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
        .starts_at
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
    })
}
