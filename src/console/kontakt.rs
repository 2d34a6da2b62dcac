//! The organizations' own page, `/kontakt/{token}` (SPEC §4.16): what we hold, a button that
//! confirms it, a form that corrects it; for a proposed address, a button that confirms it.
//! Pure: the page's context from the directory entry and the link, and the form → the
//! directory event it asks for. Works without JavaScript; every text in bokmål.

use super::forms::{FieldErrors, Form};
use super::words;
use crate::config::Config;
use crate::engine::directory::Entry;
use crate::render::link::{Link, Purpose};
use serde_json::{json, Value};

/// What a link may still do with the entry as it stands: `None` when the link no longer
/// applies (another round followed, or the proposal it confirms is gone) — the page is then
/// the neutral "ugyldig eller utløpt", as for a forged one.
pub(crate) fn applies(link: &Link, e: &Entry) -> bool {
    match link.purpose {
        Purpose::Confirm => e.round.as_ref().is_some_and(|r| r.n == link.n),
        Purpose::Verify => e.pending.as_ref().is_some_and(|p| p.n == link.n),
    }
}

/// Who answers through this link: the address the request went to.
pub(crate) fn answerer(link: &Link, e: &Entry) -> String {
    match (link.purpose, &e.round, &e.pending) {
        (Purpose::Verify, _, Some(p)) => p.address.clone(),
        (_, Some(r), _) => {
            r.to.first()
                .cloned()
                .unwrap_or_else(|| e.held.meldingsansvarlig.clone())
        }
        _ => e.held.meldingsansvarlig.clone(),
    }
}

/// The page of a link that applies. `flash` says what was just done; `errors` and `form`
/// bring back a correction that was refused.
pub(crate) fn page(
    cfg: &Config,
    e: &Entry,
    link: &Link,
    flash: Option<&str>,
    errors: &FieldErrors,
    form: Option<&Form>,
) -> Value {
    let c = &e.held;
    let name = words::org_name(cfg, &e.org);
    let answered = e
        .round
        .as_ref()
        .filter(|r| r.n == link.n)
        .and_then(|r| r.answered_at)
        .map(|t| words::when(cfg, t));
    let chosen: Vec<String> = match form {
        Some(f) => f.all("services"),
        None => c.services.clone(),
    };
    let services: Vec<Value> = cfg
        .services
        .iter()
        .map(|s| {
            json!({"id": s.id, "name": words::services(cfg, std::slice::from_ref(&s.id)),
                   "checked": chosen.contains(&s.id)})
        })
        .collect();
    let value = |k: &str, held: &str| -> String {
        form.and_then(|f| f.get(k))
            .map(str::to_string)
            .unwrap_or_else(|| held.to_string())
    };
    json!({
        "title": format!("Kontaktinformasjon – {name}"),
        "org_name": name,
        "self_name": cfg.self_.name,
        "verify": link.purpose == Purpose::Verify,
        "proposed": e.pending.as_ref().map(|p| p.address.clone()),
        "address": c.meldingsansvarlig,
        "extra": c.extra.join(", "),
        "phone": c.phone.clone().unwrap_or_else(|| "(ikke oppgitt)".into()),
        "services_text": words::services(cfg, &c.services),
        "hf": c.hf.as_deref().map(|h| words::org_name(cfg, h)),
        "answered": answered,
        "expires": words::when(cfg, link.expires),
        "flash": flash,
        "errors": errors.values().cloned().collect::<Vec<_>>(),
        "error_address": errors.get("meldingsansvarlig"),
        "error_phone": errors.get("phone"),
        "error_services": errors.get("services"),
        "form_address": value("meldingsansvarlig", &c.meldingsansvarlig),
        "form_phone": value("phone", c.phone.as_deref().unwrap_or("")),
        "services": services,
    })
}

/// The neutral page of a link that is forged, expired or no longer applies.
pub(crate) fn invalid() -> Value {
    json!({"title": "Lenken er ugyldig eller utløpt", "invalid": true})
}

/// The directory event a posted form asks for, with its fields (SPEC §4.16): `confirm`, a
/// correction (`propose`: only what differs from what we hold), or `verify`. A form that
/// asks for nothing new is `None`.
pub(crate) fn event(link: &Link, e: &Entry, f: &Form) -> Option<(&'static str, Value)> {
    match (link.purpose, f.get("action")) {
        (Purpose::Verify, Some("verify")) => Some((
            "directory.verify",
            json!({"org": e.org, "proposal": link.n}),
        )),
        (Purpose::Confirm, Some("confirm")) => {
            Some(("directory.confirm", json!({"org": e.org, "round": link.n})))
        }
        (Purpose::Confirm, Some("propose")) => {
            let mut v = json!({"org": e.org, "round": link.n});
            let address = f.get("meldingsansvarlig").unwrap_or("");
            if !address.eq_ignore_ascii_case(&e.held.meldingsansvarlig) {
                v["meldingsansvarlig"] = json!(address);
            }
            let phone = f.get("phone").unwrap_or("");
            if Some(phone) != e.held.phone.as_deref() {
                v["phone"] = json!(phone);
            }
            let mut services = f.all("services");
            services.sort();
            let mut held = e.held.services.clone();
            held.sort();
            if services != held {
                v["services"] = json!(f.all("services"));
            }
            (v.as_object().is_some_and(|o| o.len() > 2)).then_some(("directory.propose", v))
        }
        _ => None,
    }
}
