//! The template context: cases and settings as the JSON the templates read.

use super::*;

pub(super) fn org_name(cfg: &Config, id: &str) -> String {
    if cfg.is_self(id) {
        return cfg.self_.name.clone();
    }
    if id == "region" {
        return "Regionen".into();
    }
    cfg.org(id)
        .map(|o| o.name.clone())
        .unwrap_or_else(|| id.to_string())
}

/// Services as people read them: each by its name, followed by its id in parentheses only
/// when the id is an abbreviation people know ("Pleie- og omsorgsmeldinger (PLO)"), never
/// a slug ("Epikriser", not "epikrise (Epikriser)"). None named: "alle tjenester".
pub(crate) fn services_text(cfg: &Config, ids: &[String]) -> String {
    if ids.is_empty() {
        return "alle tjenester".into();
    }
    let names: Vec<String> = ids
        .iter()
        .map(|s| match cfg.service(s) {
            Some(sv) if sv.name != sv.id && is_abbreviation(&sv.id) => {
                format!("{} ({})", sv.name, sv.id)
            }
            Some(sv) => sv.name.clone(),
            None => s.clone(),
        })
        .collect();
    match names.len() {
        1 => names[0].clone(),
        n => format!("{} og {}", names[..n - 1].join(", "), names[n - 1]),
    }
}

/// "PLO", "NAV2": two or more capitals and digits, as people write abbreviations.
fn is_abbreviation(id: &str) -> bool {
    id.len() >= 2
        && id.chars().any(|c| c.is_ascii_uppercase())
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// "Berørt tjeneste" for one service, "Berørte tjenester" for several or all.
fn services_label(ids: &[String]) -> &'static str {
    if ids.len() == 1 {
        "Berørt tjeneste"
    } else {
        "Berørte tjenester"
    }
}

pub(super) fn incident_json(cfg: &Config, i: &IncidentView) -> Value {
    let at_org_name = i
        .at_org
        .as_deref()
        .map(|o| org_name(cfg, o))
        .unwrap_or_else(|| cfg.self_.name.clone());
    json!({
        "id": i.id,
        "kind": i.kind.as_str(),
        "category": format!("{:?}", i.category),
        "priority": i.priority,
        "impact": serde_json::to_value(i.impact).unwrap_or(Value::Null),
        "at_self": i.at_org.is_none(),
        "at_org_name": at_org_name,
        "fault_location": if i.at_org.is_none() { format!("{} (vår side)", cfg.self_.name) } else { at_org_name.clone() },
        "orgs": i.orgs.iter().map(|o| org_name(cfg, o)).collect::<Vec<_>>().join(", "),
        "services": services_text(cfg, &i.services),
        "services_label": services_label(&i.services),
        "started_at": oslo_fmt(cfg, i.started_at),
        "detected_at": oslo_fmt(cfg, i.detected_at),
        "expected_end": i.expected_end.map(|t| oslo_fmt(cfg, t)),
        "measures": i.measures,
        "text": i.text,
        "note": i.note,
        "environment": i.environment.as_str(),
        "is_test": i.environment == Environment::Test,
        "resolved_at": i.resolved_at.map(|t| oslo_fmt(cfg, t)),
    })
}

pub(super) fn maintenance_json(cfg: &Config, m: &MaintenanceView) -> Value {
    json!({
        "id": m.id,
        "source_name": m.source.as_deref().map(|s| org_name(cfg, s)).unwrap_or_else(|| cfg.self_.name.clone()),
        "window": window_text(cfg, m.from, m.to),
        "from": oslo_fmt(cfg, m.from),
        "to": oslo_fmt(cfg, m.to),
        "services": services_text(cfg, &m.services),
        "services_label": services_label(&m.services),
        "orgs": m.orgs.iter().map(|o| org_name(cfg, o)).collect::<Vec<_>>().join(", "),
        "measures": m.measures,
    })
}

/// The patient-phone line: for our own incidents and notices our number; for a maintenance at
/// a counterpart, its number (or the one given with the maintenance).
pub(super) fn patient_phone(cfg: &Config, m: Option<&MaintenanceView>) -> String {
    if let Some(m) = m {
        if let Some(p) = &m.phone {
            return p.clone();
        }
        if let Some(p) = m
            .source
            .as_deref()
            .and_then(|s| cfg.org(s))
            .and_then(|o| o.phone.clone())
        {
            return p;
        }
    }
    cfg.self_.phone.clone()
}

/// A duration in Norwegian words: "7 dager", "2 timer", "30 minutter".
pub(crate) fn duration_nb(d: chrono::Duration) -> String {
    let m = d.num_minutes();
    let plural = |n: i64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    if m % (24 * 60) == 0 && m > 0 {
        plural(m / (24 * 60), "dag", "dager")
    } else if m % 60 == 0 && m > 0 {
        plural(m / 60, "time", "timer")
    } else {
        plural(m, "minutt", "minutter")
    }
}

pub(super) fn base_json(cfg: &Config) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert(
        "self".into(),
        json!({"name": cfg.self_.name, "meldingsansvarlig": cfg.self_.meldingsansvarlig, "phone": cfg.self_.phone}),
    );
    for k in [
        "incident",
        "maintenance",
        "previous",
        "inquiry",
        "post",
        "inquiry_sent_at",
        "reply_due",
        "base_subject",
        "freeze",
        "delivery",
        "directory",
    ] {
        m.insert(k.into(), Value::Null);
    }
    m.insert("phone".into(), Value::String(cfg.self_.phone.clone()));
    m.insert(
        "console_url".into(),
        Value::String(format!("{}/ops/", cfg.daemon.public_url)),
    );
    let p = &cfg.policy;
    m.insert(
        "policy".into(),
        json!({
            "notice_lead": duration_nb(p.notice_lead),
            "ack_priority1": duration_nb(p.ack_priority1),
            "ack_priority2": duration_nb(p.ack_priority2),
        }),
    );
    m.insert("recipient".into(), json!({"id": "", "name": ""}));
    m
}

/// The report e-mail's context: figures as Norwegian text (decimal comma), times local.
pub(super) fn report_json(cfg: &Config, r: &crate::report::Report) -> Value {
    let name = crate::report::month_name(&r.month);
    let num = |v: f64, d: usize| format!("{v:.d$}").replace('.', ",");
    let local = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|t| oslo_fmt(cfg, t.with_timezone(&chrono::Utc)))
            .unwrap_or_else(|_| t.to_string())
    };
    let services: Vec<Value> = r
        .services
        .iter()
        .map(|s| {
            json!({
                "service": s.service, "name": s.name,
                "label": services_text(cfg, std::slice::from_ref(&s.service)),
                "availability": num(s.availability, 3), "target": num(s.target, 1), "met": s.met,
                "downtime": num(s.downtime_minutes, 1),
                "downtime_text": crate::report::duration_text(s.downtime_minutes),
                "rolling_months": s.rolling_12m.months,
                "rolling_availability": num(s.rolling_12m.availability, 3),
                "rolling_target": num(s.rolling_12m.target, 1), "rolling_met": s.rolling_12m.met,
                "incidents": s.incidents.iter().map(|i| json!({
                    "id": i.id, "from": local(&i.from), "to": local(&i.to), "minutes": num(i.minutes, 1),
                    "duration": crate::report::duration_text(i.minutes), "open": i.open,
                    "priority": i.priority, "title": i.title,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let total: f64 = r.services.iter().map(|s| s.downtime_minutes).sum();
    let excluded: Vec<Value> = r
        .excluded_maintenance
        .iter()
        .map(|m| {
            json!({"id": m.id, "from": local(&m.from), "to": local(&m.to),
                   "services": services_text(cfg, &m.services)})
        })
        .collect();
    use crate::report::ReportState as S;
    json!({"month": r.month, "month_name": name, "hours": r.hours, "services": services,
           "total_downtime": crate::report::duration_text(total),
           "excluded": excluded,
           "preliminary": r.state == S::Preliminary, "no_data": r.state == S::NoData,
           "generated_at": local(&r.generated_at),
           "contact": cfg.self_.meldingsansvarlig})
}

/// An organization's contacts as a mail shows them.
pub(super) fn contacts_json(cfg: &Config, c: &crate::engine::directory::Contacts) -> Value {
    json!({
        "meldingsansvarlig": c.meldingsansvarlig,
        "extra": c.extra.join(", "),
        "phone": c.phone.clone().unwrap_or_else(|| "(ikke oppgitt)".into()),
        "services": services_text(cfg, &c.services),
        "hf_name": c.hf.as_deref().map(|h| org_name(cfg, h)),
    })
}

/// What a directory mail or ops note says: the organization and the contacts we hold.
pub(super) fn directory_json(cfg: &Config, d: &crate::engine::directory::DirectoryView) -> Value {
    json!({
        "org": d.org,
        "org_name": org_name(cfg, &d.org),
        "contacts": contacts_json(cfg, &d.contacts),
        "round": d.round,
        "proposed": d.proposal.as_ref().map(|(_, a)| a.clone()),
        "link": "",
        "expires": "",
        "note": Value::Null,
    })
}
