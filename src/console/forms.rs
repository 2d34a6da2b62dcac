//! Console forms to events, and refusals back to the field they concern (SPEC §5.6: "every
//! form obeys the same rules and errors as the API"). A form becomes the same JSON body the
//! API takes and goes through the same door (`Input::parse`) and the same engine; this file
//! only translates.

use crate::config::{Config, OrgKind};
use crate::engine::model::Refusal;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// A submitted form: every name–value pair, in order (checkboxes repeat names).
#[derive(Debug, Clone, Default)]
pub(crate) struct Form(pub Vec<(String, String)>);

/// Field → what is wrong with it, in Norwegian; `""` for the form as a whole.
pub(crate) type FieldErrors = BTreeMap<String, String>;

/// What the console submits; anything else is refused at the door.
pub(crate) const TYPES: &[&str] = &[
    "incident.open",
    "incident.update",
    "incident.ack",
    "incident.resolve",
    "reply",
    "maintenance.add",
    "maintenance.change",
    "maintenance.cancel",
    "inquiry.received",
    "inquiry.answered",
];

impl Form {
    /// A posted `application/x-www-form-urlencoded` body (`None`: unreadable).
    pub(crate) fn parse(body: &[u8]) -> Option<Form> {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .ok()
            .map(Form)
    }

    /// The first non-empty value of `k`, trimmed.
    pub(crate) fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.trim())
            .find(|v| !v.is_empty())
    }

    /// Every non-empty value of `k`, without repeats, in order.
    pub(crate) fn all(&self, k: &str) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for (_, x) in self.0.iter().filter(|(n, _)| n == k) {
            let x = x.trim();
            if !x.is_empty() && !v.iter().any(|y| y == x) {
                v.push(x.to_string());
            }
        }
        v
    }

    /// Set a field.
    pub(crate) fn set(&mut self, k: &str, v: &str) {
        self.0.retain(|(n, _)| n != k);
        self.0.push((k.into(), v.into()));
    }

    /// What goes back into a preview's hidden fields: everything but the console's controls.
    pub(crate) fn carried(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "csrf" | "step"))
            .cloned()
            .collect()
    }
}

/// A picker group of organizations (`group` values): `all`, `kind:kommune`,
/// `area:trondelag`, `area-kind:trondelag:kommune`, `service:PLO`.
pub(crate) fn group_members(cfg: &Config, group: &str) -> Vec<String> {
    let kind_is = |o: &crate::config::Organization, k: &str| match k {
        "hf" => o.kind == OrgKind::Hf,
        _ => o.kind != OrgKind::Hf,
    };
    cfg.orgs
        .iter()
        .filter(|o| o.retired_at.is_none())
        .filter(|o| match group.split(':').collect::<Vec<_>>().as_slice() {
            ["all"] => true,
            ["kind", k] => kind_is(o, k),
            ["area", a] => o.area.as_deref() == Some(*a),
            ["area-kind", a, k] => o.area.as_deref() == Some(*a) && kind_is(o, k),
            ["service", s] => o.services.iter().any(|x| x == s),
            _ => false,
        })
        .map(|o| o.id.clone())
        .collect()
}

/// The organizations a form names: each ticked one and every member of each ticked group.
pub(crate) fn picked_orgs(cfg: &Config, f: &Form) -> Vec<String> {
    let mut v = f.all("orgs");
    for g in f.all("group") {
        for o in group_members(cfg, &g) {
            if !v.contains(&o) {
                v.push(o);
            }
        }
    }
    v
}

/// The API body of a console form of type `ty`, with `by` (the signed-in operator). Empty
/// fields are left out (an update changes only what was filled in).
pub(crate) fn body(cfg: &Config, ty: &str, f: &Form, by: &str) -> Value {
    let mut o = Map::new();
    let text = |o: &mut Map<String, Value>, k: &str| {
        if let Some(v) = f.get(k) {
            o.insert(k.into(), json!(v));
        }
    };
    text(&mut o, "id");
    match ty {
        "incident.open" => {
            for k in [
                "kind",
                "at_org",
                "category",
                "impact",
                "started_at",
                "expected_end",
                "measures",
                "text",
                "environment",
            ] {
                text(&mut o, k);
            }
            o.insert("orgs".into(), json!(picked_orgs(cfg, f)));
            o.insert("services".into(), json!(f.all("services")));
        }
        "incident.update" => {
            for k in [
                "measures",
                "expected_end",
                "text",
                "category",
                "impact",
                "status",
            ] {
                text(&mut o, k);
            }
        }
        "incident.resolve" => text(&mut o, "resolved_at"),
        "inquiry.received" => {
            text(&mut o, "org");
            text(&mut o, "subject");
        }
        "reply" => text(&mut o, "org"),
        "maintenance.add" | "maintenance.change" => {
            for k in ["source", "from", "to", "measures", "phone"] {
                text(&mut o, k);
            }
            let orgs = picked_orgs(cfg, f);
            let services = f.all("services");
            if ty == "maintenance.add" || !orgs.is_empty() {
                o.insert("orgs".into(), json!(orgs));
            }
            if ty == "maintenance.add" || !services.is_empty() {
                o.insert("services".into(), json!(services));
            }
        }
        _ => {}
    }
    o.insert("by".into(), json!(by));
    Value::Object(o)
}

/// The field a refusal concerns (as the form names it), and what to tell the operator, in
/// bokmål (`Refusal::norsk`; the API keeps its English text).
pub(crate) fn explain(r: &Refusal) -> (String, String) {
    (r.field(), r.norsk())
}

/// The derived impact and priority of an incident form, as the rules would derive them
/// (SPEC §4.1): what the form shows while it is filled in. With no organization picked, the
/// rules' own choice: on our side, every organization exchanging the services; at a
/// counterpart, that organization (so the line agrees with the preview).
pub(crate) fn derived(cfg: &Config, f: &Form, now: crate::engine::model::Time) -> Value {
    use crate::engine::model::{Category, Impact};
    use crate::engine::priority::{derive_impact, priority};
    let services = f.all("services");
    let mut orgs = picked_orgs(cfg, f);
    let at_org = f.get("at_org").filter(|o| !cfg.is_self(o) && *o != "self");
    let chosen = !orgs.is_empty();
    if !chosen {
        orgs = match at_org {
            Some(o) => vec![o.to_string()],
            None => cfg.orgs_exchanging(&services, None, now),
        };
    }
    let category = f
        .get("category")
        .and_then(Category::parse)
        .unwrap_or_default();
    let impact = f
        .get("impact")
        .and_then(Impact::parse)
        .unwrap_or_else(|| derive_impact(cfg, &orgs, &services));
    json!({
        "impact": impact.as_str(),
        "priority": priority(category, impact),
        "orgs": orgs.len(),
        "text": format!(
            "Påvirkning: {} · Prioritet {} · {}{}",
            impact_name(impact.as_str()),
            priority(category, impact),
            crate::console::words::count(orgs.len(), "organisasjon", "organisasjoner"),
            match (chosen, at_org) {
                (true, _) => " valgt",
                (false, Some(_)) => " berørt (motparten selv)",
                (false, None) => " berørt (ingen valgt: alle som utveksler tjenestene)",
            }
        ),
    })
}

/// An impact's name in bokmål.
pub(crate) fn impact_name(i: &str) -> &'static str {
    match i {
        "alle" => "alle (hele regionen)",
        "hoy" => "høy (flere organisasjoner)",
        "medium" => "middels (én organisasjon)",
        "lav" => "lav (én bruker)",
        _ => "ukjent",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_become_api_bodies_and_refusals_find_their_field() {
        let cfg = crate::testutil::example_config();
        let f = Form::parse(
            b"ty=incident.open&id=I-1&services=PLO&orgs=malvik&group=area-kind:trondelag:kommune&category=A&impact=&measures=Omstart&csrf=x&step=preview",
        )
        .unwrap();
        let b = body(&cfg, "incident.open", &f, "Kari");
        assert_eq!(b["id"], "I-1");
        assert_eq!(b["by"], "Kari");
        assert!(b.get("impact").is_none(), "empty fields are left out");
        let orgs = b["orgs"].as_array().unwrap();
        let trondelag = cfg
            .orgs
            .iter()
            .filter(|o| o.area.as_deref() == Some("trondelag") && o.kind != OrgKind::Hf)
            .count();
        assert_eq!(
            orgs.len(),
            trondelag,
            "malvik is in the group, counted once"
        );
        assert!(b.get("csrf").is_none() && b.get("step").is_none());
        let carried = f.carried();
        assert!(carried.iter().all(|(k, _)| k != "csrf" && k != "step"));
        // An update sends only what was filled in.
        let u = Form::parse(b"id=I-1&measures=&expected_end=2026-11-23T16:00").unwrap();
        let b = body(&cfg, "incident.update", &u, "Kari");
        assert!(b.get("measures").is_none());
        assert_eq!(b["expected_end"], "2026-11-23T16:00");
        // Refusals land next to their field.
        let (field, msg) = explain(&Refusal::PersonalData {
            field: "measures".into(),
        });
        assert_eq!(field, "measures");
        assert!(msg.contains("fødselsnummer"));
        let (field, _) = explain(&Refusal::Malformed(
            "`expected_end`: invalid time \"x\"".into(),
        ));
        assert_eq!(field, "expected_end");
        let (field, _) = explain(&Refusal::UnknownOrg {
            field: "orgs",
            id: "x".into(),
        });
        assert_eq!(field, "orgs");
        // The derived priority: A and every municipality exchanging PLO → 1.
        let now = chrono::Utc::now();
        let d = derived(
            &cfg,
            &Form::parse(b"services=PLO&group=service:PLO&category=A").unwrap(),
            now,
        );
        assert_eq!(d["impact"], "alle");
        assert_eq!(d["priority"], 1);
        // Nothing picked: the rules' own choice, as the preview shows it (issue #26: the
        // line said "Prioritet 2 · 0 organisasjoner" for a region-wide priority 1).
        let d = derived(&cfg, &Form::parse(b"category=B&at_org=self").unwrap(), now);
        let all = cfg.orgs_exchanging(&[], None, now).len();
        assert_eq!(d["orgs"], all);
        assert_eq!(d["impact"], "alle");
        assert!(d["text"]
            .as_str()
            .unwrap()
            .contains(&format!("{all} organisasjoner berørt")));
        let d = derived(
            &cfg,
            &Form::parse(b"category=B&at_org=malvik").unwrap(),
            now,
        );
        assert!(
            d["text"]
                .as_str()
                .unwrap()
                .contains("1 organisasjon berørt"),
            "{d}"
        );
    }
}
