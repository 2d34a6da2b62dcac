//! The preview page (SPEC §5.6): what an action would send, change and stop, before it is sent.

use super::pages::recipients;
use super::words;
use crate::config::Config;
use crate::engine::model::{Action, ActionBody, Time};
use serde_json::{json, Value};

/// The preview page: what the event would send, grouped by message and instant, with the
/// first of each rendered in full, and the rules' warnings (an ops `warning`) on top.
pub(crate) fn preview(
    cfg: &Config,
    renderer: &crate::render::Renderer,
    what: &str,
    p: &crate::engine::preview::Preview,
    now: Time,
) -> Value {
    let mut groups: Vec<(String, Time, Vec<&Action>)> = Vec::new();
    let mut warnings = Vec::new();
    for a in &p.actions {
        let parts = a.parts();
        let label = words::message(parts.kind, &parts.message);
        if parts.kind == "ops" && parts.message == "warning" {
            if let Ok(Some(r)) = renderer.action(cfg, a) {
                warnings.push(json!({"subject": r.subject, "body": r.body}));
            }
            continue;
        }
        match groups.iter_mut().find(|(l, _, _)| *l == label) {
            // The same message at the same instant (a fan-out): one group.
            Some((_, t, v)) if *t == a.at => v.push(a),
            // The same message again later (a periodic update): shown once.
            Some(_) => {}
            None => groups.push((label, a.at, vec![a])),
        }
    }
    let mut seen_kinds: Vec<&'static str> = Vec::new();
    let groups: Vec<Value> = groups
        .iter()
        .map(|(label, at, v)| {
            // The first e-mail and the first status-page text are shown open.
            let kind = v[0].parts().kind;
            let open = !seen_kinds.contains(&kind);
            seen_kinds.push(kind);
            let first = v[0];
            let r = renderer.action(cfg, first).ok().flatten();
            let names: Vec<String> = v.iter().map(|a| recipients(cfg, a)).collect();
            json!({
                "label": label,
                "when": if *at <= now { "nå".to_string() } else { words::when(cfg, *at) },
                "later": *at > now,
                "to": if names.len() > 6 { format!("{} ({} mottakere)", names[..3].join(", ") + " m.fl.", names.len()) } else { names.join(", ") },
                "count": v.len() > 1,
                "first_org": names.first(),
                "subject": r.as_ref().map(|r| r.subject.clone()),
                "body": r.as_ref().map(|r| r.body.clone()),
                "open": open,
                "status": match &first.body {
                    ActionBody::Statuspage(s) => Some(crate::status::page::incident_text(&s.status)),
                    _ => None,
                },
            })
        })
        .collect();
    // What would have happened without this action and now will not, once per message.
    let mut stopped: Vec<(String, Time, usize)> = Vec::new();
    for a in &p.stopped {
        let parts = a.parts();
        let label = words::message(parts.kind, &parts.message);
        match stopped.iter_mut().find(|(l, _, _)| *l == label) {
            Some((_, _, n)) => *n += 1,
            None => stopped.push((label, a.at, 1)),
        }
    }
    let stopped: Vec<Value> = stopped
        .into_iter()
        .map(|(label, at, n)| {
            json!({
                "label": label,
                "when": words::when(cfg, at),
                "more": (n > 1).then(|| format!("og {} senere", n - 1)),
            })
        })
        .collect();
    let derived = p.case.as_ref().map(|c| {
        let orgs = words::count(
            c["orgs"].as_array().map_or(0, |a| a.len()),
            "organisasjon berørt",
            "organisasjoner berørt",
        );
        if c.get("priority").is_some() {
            format!(
                "Påvirkning: {} · Prioritet {} · {orgs}",
                super::forms::impact_name(c["impact"].as_str().unwrap_or("")),
                c["priority"],
            )
        } else {
            orgs
        }
    });
    json!({
        "title": format!("Forhåndsvisning: {what}"),
        "what": what,
        "groups": groups,
        "stopped": stopped,
        "unchanged": (p.unchanged > 0).then(|| words::count(p.unchanged, "melding", "meldinger")),
        "warnings": warnings,
        "derived": derived,
    })
}
