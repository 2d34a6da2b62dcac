//! HTML and Atom renderings of a status page (handlebars with HTML escaping: every text is
//! escaped), and the JSON summary.

use super::{components, indicator, maintenance_status, summary_json, Page, Rendered};
use crate::config::Config;
use crate::engine::model::{Environment, Time};
use crate::render::oslo_fmt;
use chrono::Duration;
use handlebars::Handlebars;
use serde_json::{json, Value};
use std::sync::OnceLock;

fn hb() -> &'static Handlebars<'static> {
    static HB: OnceLock<Handlebars<'static>> = OnceLock::new();
    HB.get_or_init(|| {
        let mut h = Handlebars::new(); // default escape: HTML
        for (name, src) in [
            (
                "status.html",
                include_str!("../../templates/page/status.html.hbs"),
            ),
            (
                "feed.atom",
                include_str!("../../templates/page/feed.atom.hbs"),
            ),
        ] {
            if let Err(e) = h.register_template_string(name, src) {
                // Compiled into the binary and covered by tests; never expected.
                tracing::error!(error = %e, "built-in page template does not compile");
            }
        }
        h
    })
}

/// A component status in bokmål.
pub(crate) fn component_text(s: &str) -> &'static str {
    match s {
        "operational" => "Fungerer normalt",
        "degraded_performance" => "Redusert ytelse",
        "partial_outage" => "Delvis nedetid",
        "major_outage" => "Nedetid",
        "under_maintenance" => "Vedlikehold",
        _ => "Ukjent",
    }
}

/// An incident status in bokmål.
pub(crate) fn incident_text(s: &str) -> &'static str {
    match s {
        "investigating" => "Undersøker",
        "identified" => "Årsak funnet",
        "monitoring" => "Overvåker",
        "resolved" => "Løst",
        "scheduled" => "Planlagt",
        "in_progress" => "Pågår",
        "completed" => "Fullført",
        "cancelled" => "Avlyst",
        _ => "Ukjent",
    }
}

/// The uptime rows: a level per day (0 none, 1 under 30 minutes, 2 under 2 hours, 3 more) and,
/// for screen readers, a sentence naming the days with downtime.
fn uptime_json(rows: &[crate::report::DailyUptime]) -> Vec<Value> {
    rows.iter()
        .map(|u| {
            let day = |d: &chrono::NaiveDate| d.format("%d.%m.%Y").to_string();
            let mins = |m: f64| format!("{m:.0} min");
            let bad: Vec<String> = u
                .days
                .iter()
                .filter_map(|(d, m)| m.filter(|m| *m > 0.0).map(|m| (d, m)))
                .map(|(d, m)| format!("{} ({})", day(d), mins(m)))
                .collect();
            let pct = format!("{:.2}", u.availability).replace('.', ",");
            let known = u.days.iter().filter(|(_, m)| m.is_some()).count();
            let span = match known {
                1 => "det siste døgnet".to_string(),
                n => format!("de siste {n} dagene"),
            };
            let summary = if known == 0 {
                "Ingen data ennå.".to_string()
            } else if bad.is_empty() {
                format!("{pct} % tilgjengelig {span}, ingen nedetid.")
            } else {
                let n = match bad.len() {
                    1 => "én dag".to_string(),
                    n => format!("{n} dager"),
                };
                format!(
                    "{pct} % tilgjengelig {span}. Nedetid {n}: {}.",
                    bad.join(", ")
                )
            };
            let days: Vec<Value> = u
                .days
                .iter()
                .map(|(d, m)| {
                    let (level, text) = match *m {
                        None => ("n", "ingen data".to_string()),
                        Some(m) if m <= 0.0 => ("0", "ingen nedetid".to_string()),
                        Some(m) if m < 30.0 => ("1", format!("nedetid {}", mins(m))),
                        Some(m) if m < 120.0 => ("2", format!("nedetid {}", mins(m))),
                        Some(m) => ("3", format!("nedetid {}", mins(m))),
                    };
                    json!({"level": level, "title": format!("{}: {text}", day(d))})
                })
                .collect();
            json!({
                "name": u.name, "id": u.service, "availability": pct, "summary": summary, "days": days,
                "first": u.days.first().map(|(d, _)| day(d)).unwrap_or_default(),
            })
        })
        .collect()
}

/// A page (HTML, Atom or JSON) of one environment.
pub(crate) fn render(
    cfg: &Config,
    page: &Page,
    env: Environment,
    now: Time,
    uptime: &[crate::report::DailyUptime],
) -> Rendered {
    let is_test = env == Environment::Test;
    let base = if is_test { "/test/" } else { "/" };
    let api = if is_test {
        "/api/v1/status?environment=test"
    } else {
        "/api/v1/status"
    };
    let title = format!(
        "{} – driftsstatus{}",
        cfg.self_.name,
        if is_test { " (testmiljø)" } else { "" }
    );
    let (ind, desc) = indicator(page, now);
    let comps: Vec<Value> = components(cfg, page, now)
        .into_iter()
        .map(|(id, name, st)| json!({"id": id, "name": name, "status": st, "status_text": component_text(st)}))
        .collect();
    let (mut hist, mut open): (Vec<_>, Vec<_>) = page
        .incidents
        .values()
        .partition(|i| i.resolved_at.is_some());
    open.sort_by_key(|i| (i.view.priority, i.created_at));
    let incidents: Vec<Value> = open
        .iter()
        .map(|i| {
            json!({
                "name": i.name,
                "status_text": incident_text(&i.status),
                "started": oslo_fmt(cfg, i.view.started_at),
                "updates": i.updates.iter().rev().map(|u| json!({
                    "at": oslo_fmt(cfg, u.at), "iso": u.at.to_rfc3339(), "status_text": incident_text(&u.status),
                    "lines": u.body.lines().collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut maint: Vec<_> = page
        .maintenances
        .values()
        .filter(|m| matches!(maintenance_status(m, now), "scheduled" | "in_progress"))
        .collect();
    maint.sort_by_key(|m| m.view.from);
    let maintenances: Vec<Value> = maint
        .iter()
        .map(|m| json!({"name": m.name, "status_text": incident_text(maintenance_status(m, now)), "window": crate::render::window_text(cfg, m.view.from, m.view.to), "body": m.body}))
        .collect();
    hist.sort_by_key(|i| std::cmp::Reverse(i.resolved_at));
    let history: Vec<Value> = hist
        .iter()
        .map(|i| json!({"name": i.name, "started": oslo_fmt(cfg, i.view.started_at), "resolved": i.resolved_at.map(|t| oslo_fmt(cfg, t))}))
        .collect();
    let ctx = json!({
        "title": title, "base": base, "api": api, "is_test": is_test,
        "calendar": if is_test { "/calendar-test.ics" } else { "/calendar.ics" }, "indicator": ind, "description": desc,
        "updated": oslo_fmt(cfg, page.updated_at.unwrap_or(now)), "components": comps, "incidents": incidents,
        "maintenances": maintenances, "history": history, "owner": cfg.self_.name,
        "uptime": uptime_json(uptime), "uptime_days": super::UPTIME_DAYS,
    });
    let html = hb().render("status.html", &ctx).unwrap_or_else(|e| {
        format!(
            "<!doctype html><title>Feil</title><p>{}</p>",
            handlebars::html_escape(&e.to_string())
        )
    });

    // Atom: one entry per incident update and per maintenance, newest first.
    let mut entries: Vec<(Time, Value)> = Vec::new();
    for i in page.incidents.values() {
        for (n, u) in i.updates.iter().enumerate() {
            entries.push((u.at, json!({"id": format!("{}:{}", i.id, n + 1), "title": format!("{}: {}", incident_text(&u.status), i.name), "updated": u.at.to_rfc3339(), "content": u.body})));
        }
    }
    for m in page.maintenances.values() {
        let st = maintenance_status(m, now);
        entries.push((m.updated_at, json!({"id": format!("{}:{}", m.id, st), "title": format!("{}: {}", incident_text(st), m.name),
            "updated": m.updated_at.to_rfc3339(), "content": format!("{} {}", crate::render::window_text(cfg, m.view.from, m.view.to), m.body)})));
    }
    entries.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
    let page_id = format!("{}-{}", cfg.self_.id, env.as_str());
    let atom_ctx = json!({
        "title": title, "page_id": page_id, "owner": cfg.self_.name,
        "updated_iso": page.updated_at.unwrap_or(now).to_rfc3339(),
        "entries": entries.into_iter().take(100).map(|(_, v)| v).collect::<Vec<_>>(),
    });
    let atom = hb().render("feed.atom", &atom_ctx).unwrap_or_default();
    let json = summary_json(cfg, page, env, now).to_string();

    // Valid until a maintenance starts or ends, or a minute passes.
    let mut until = now + Duration::minutes(1);
    for m in page.maintenances.values() {
        for t in [m.view.from, m.view.to] {
            if t > now && t < until {
                until = t;
            }
        }
    }
    Rendered {
        html: html.into(),
        json: json.into(),
        atom: atom.into(),
        valid_until: until,
    }
}
