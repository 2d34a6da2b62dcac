//! The console's «Kontaktregister» (admins, SPEC §4.16): the directory as a page and as CSV,
//! an import that shows its changes before it applies them, and the undo of a change or the
//! approval of a proposed address. Pure: what an admin asks for becomes the contacts of a
//! `directory.set` event, which the engine checks like any other.

use super::admin::csv_field;
use super::words;
use crate::config::{valid_email, Config};
use crate::engine::directory::{plausible_phone, Contacts, Entry};
use serde_json::{json, Value};

/// The directory page (admins, SPEC §4.16): every organization's contacts as held, with when
/// and by what they last changed, its last confirmation, its open round or proposal and its
/// recent bounces; organizations in the order given (the configuration's).
pub(crate) fn directory(cfg: &Config, entries: &[crate::engine::directory::Entry]) -> Value {
    let origin = |o: &str| {
        match o {
            "config" => "konfigurasjonen",
            "directory" => "organisasjonen selv",
            "console" => "konsollet",
            other => other,
        }
        .to_string()
    };
    let rows: Vec<Value> = entries
        .iter()
        .map(|e| {
            let c = &e.held;
            let round = e.open_round().map(|r| {
                let mut s = format!("Forespørsel sendt {}", words::date_time(cfg, r.started_at));
                if r.reminded {
                    s.push_str(", påminnet");
                }
                if r.reported {
                    s.push_str(", ubesvart");
                }
                s
            });
            let bounced: Vec<String> = e
                .recent
                .iter()
                .filter_map(|n| {
                    n.bounced
                        .as_ref()
                        .map(|a| format!("{a} i retur {}", words::date_time(cfg, n.at)))
                })
                .collect();
            json!({
                "org": e.org,
                "name": words::org_name(cfg, &e.org),
                "address": c.meldingsansvarlig,
                "extra": c.extra.join(", "),
                "phone": c.phone,
                "services": words::services(cfg, &c.services),
                "hf": c.hf.as_deref().map(|h| words::org_name(cfg, h)),
                "changed": words::date_time(cfg, e.changed_at),
                "origin": origin(&e.origin),
                "by": e.by,
                "retired": cfg.org(&e.org).is_none_or(|o| o.retired_at.is_some()),
                "confirmed": e.confirmed_at.map(|t| words::date_time(cfg, t)),
                "confirmed_by": e.confirmed_by,
                "round": round,
                "unanswered": e.open_round().is_some_and(|r| r.reported),
                "pending": e.pending.as_ref().map(|p| p.address.clone()),
                "bounced": bounced.join("; "),
                "undo": e
                    .recent
                    .iter()
                    .rev()
                    .find(|n| n.bounced.is_none())
                    .filter(|n| undo(e, n.n).is_some())
                    .map(|n| n.n),
            })
        })
        .collect();
    let unanswered = entries
        .iter()
        .filter(|e| e.open_round().is_some_and(|r| r.reported))
        .count();
    json!({
        "title": "Kontaktregister",
        "count": words::count(entries.len(), "organisasjon", "organisasjoner"),
        "unanswered": (unanswered > 0).then(|| words::count(unanswered, "organisasjon", "organisasjoner")),
        "rows": rows,
    })
}

/// The directory as CSV (RFC 4180, formulas defused): one line per organization.
pub(crate) fn directory_csv(entries: &[crate::engine::directory::Entry]) -> String {
    let mut out = String::from(
        "org,meldingsansvarlig,extra,phone,services,hf,changed_at,origin,changed_by,confirmed_at\r\n",
    );
    for e in entries {
        let c = &e.held;
        let cols = [
            e.org.clone(),
            c.meldingsansvarlig.clone(),
            c.extra.join(" "),
            c.phone.clone().unwrap_or_default(),
            c.services.join(" "),
            c.hf.clone().unwrap_or_default(),
            crate::audit::at_text(e.changed_at),
            e.origin.clone(),
            e.by.clone(),
            e.confirmed_at
                .map(crate::audit::at_text)
                .unwrap_or_default(),
        ];
        out.push_str(
            &cols
                .iter()
                .map(|c| csv_field(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
    }
    out
}

/// What one organization's contacts become, with the fields that differ.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Change {
    pub org: String,
    pub after: Contacts,
    /// (field in bokmål, before, after).
    pub fields: Vec<(&'static str, String, String)>,
}

fn fields(cfg: &Config, a: &Contacts, b: &Contacts) -> Vec<(&'static str, String, String)> {
    let mut v = Vec::new();
    let mut push = |name, x: String, y: String| {
        if x != y {
            v.push((name, x, y));
        }
    };
    push(
        "Meldingsansvarlig",
        a.meldingsansvarlig.clone(),
        b.meldingsansvarlig.clone(),
    );
    push("Andre adresser", a.extra.join(", "), b.extra.join(", "));
    push(
        "Pasienttelefon",
        a.phone.clone().unwrap_or_default(),
        b.phone.clone().unwrap_or_default(),
    );
    push(
        "Tjenester",
        words::services(cfg, &a.services),
        words::services(cfg, &b.services),
    );
    let hf = |c: &Contacts| {
        c.hf.as_deref()
            .map(|h| words::org_name(cfg, h))
            .unwrap_or_default()
    };
    push("HF på kopi", hf(a), hf(b));
    v
}

/// A field as exported: a formula defused with `'` comes back without it.
fn undefused(s: &str) -> &str {
    match s.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest,
        _ => s,
    }
}

/// Read a CSV in the export's shape (the header names the columns; `org` is needed, the
/// contact columns present replace what is held, the others are ignored): the changes it
/// makes, and what is wrong in it by line. Nothing is applied here.
pub(crate) fn import(cfg: &Config, held: &[Entry], text: &str) -> (Vec<Change>, Vec<String>) {
    let mut changes = Vec::new();
    let mut errors = Vec::new();
    let mut r = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header: Vec<String> = match r.headers() {
        Ok(h) => h.iter().map(str::to_string).collect(),
        Err(e) => {
            return (
                changes,
                vec![format!("Overskriftslinjen kan ikke leses: {e}")],
            )
        }
    };
    let col = |name: &str| header.iter().position(|h| h == name);
    let Some(org_col) = col("org") else {
        return (
            changes,
            vec!["Kolonnen «org» mangler i overskriftslinjen.".into()],
        );
    };
    let mut seen = std::collections::BTreeSet::new();
    for (i, rec) in r.records().enumerate() {
        let line = i + 2;
        let rec = match rec {
            Ok(x) => x,
            Err(e) => {
                errors.push(format!("Linje {line}: kan ikke leses ({e})."));
                continue;
            }
        };
        let get = |name: &str| col(name).and_then(|c| rec.get(c)).map(undefused);
        let org = rec.get(org_col).unwrap_or_default().to_string();
        let Some(e) = held.iter().find(|e| e.org == org) else {
            errors.push(format!("Linje {line}: ukjent organisasjon «{org}»."));
            continue;
        };
        if !seen.insert(org.clone()) {
            errors.push(format!("Linje {line}: «{org}» står to ganger."));
            continue;
        }
        let mut c = e.held.clone();
        let list = |s: &str| -> Vec<String> { s.split_whitespace().map(str::to_string).collect() };
        if let Some(a) = get("meldingsansvarlig") {
            c.meldingsansvarlig = a.to_string();
        }
        if let Some(x) = get("extra") {
            c.extra = list(x);
        }
        if let Some(p) = get("phone") {
            c.phone = (!p.is_empty()).then(|| p.to_string());
        }
        if let Some(s) = get("services") {
            c.services = list(s);
        }
        if let Some(h) = get("hf") {
            c.hf = (!h.is_empty()).then(|| h.to_string());
        }
        let mut wrong = Vec::new();
        for a in c.addresses() {
            if !valid_email(&a) {
                wrong.push(format!("«{a}» er ikke en e-postadresse"));
            }
        }
        if c.phone.as_deref().is_some_and(|p| !plausible_phone(p)) {
            wrong.push("telefonnummeret er ikke et telefonnummer".into());
        }
        for s in &c.services {
            if cfg.service(s).is_none() {
                wrong.push(format!("ukjent tjeneste «{s}»"));
            }
        }
        if c.services.is_empty() {
            wrong.push("ingen tjenester".into());
        }
        if c.hf.as_deref().is_some_and(|h| cfg.org(h).is_none()) {
            wrong.push("ukjent HF".into());
        }
        if !wrong.is_empty() {
            errors.push(format!("Linje {line} ({org}): {}.", wrong.join("; ")));
            continue;
        }
        let f = fields(cfg, &e.held, &c);
        if !f.is_empty() {
            changes.push(Change {
                org,
                after: c,
                fields: f,
            });
        }
    }
    (changes, errors)
}

/// Undo the latest change of an entry (note `n`): its contacts as they were before it.
/// `None` when `n` is not the latest change.
pub(crate) fn undo(e: &Entry, n: u32) -> Option<Contacts> {
    let last = e.recent.iter().rev().find(|x| x.bounced.is_none())?;
    (last.n == n && last.after == e.held).then(|| last.before.clone())
}

/// Approve the proposed address without its own confirmation (an admin who has checked it,
/// e.g. by phone): the contacts with it as meldingsansvarlig.
pub(crate) fn approve(e: &Entry) -> Option<Contacts> {
    let p = e.pending.as_ref()?;
    let mut c = e.held.clone();
    c.extra.retain(|a| !a.eq_ignore_ascii_case(&p.address));
    c.meldingsansvarlig = p.address.clone();
    Some(c)
}

/// The import's preview (or its result): each change with its fields, the errors, and the
/// CSV again for the confirming form.
pub(crate) fn import_page(
    cfg: &Config,
    changes: &[Change],
    errors: &[String],
    text: &str,
    applied: Option<usize>,
) -> Value {
    json!({
        "title": "Importer kontaktregister",
        "changes": changes.iter().map(|c| json!({
            "org": c.org,
            "name": words::org_name(cfg, &c.org),
            "fields": c.fields.iter().map(|(f, a, b)| json!({"field": f, "before": a, "after": b})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "count": words::count(changes.len(), "endring", "endringer"),
        "errors": errors,
        "csv": text,
        "applied": applied.map(|n| words::count(n, "organisasjon", "organisasjoner")),
        "can_apply": !changes.is_empty() && errors.is_empty() && applied.is_none(),
    })
}

/// The directory's open tasks for the overview (SPEC §4.16): organizations that did not
/// answer their round after the reminder, and addresses that bounced in the last 30 days.
pub(crate) fn tasks(
    cfg: &Config,
    entries: &[Entry],
    now: crate::engine::model::Time,
) -> Vec<Value> {
    let mut v = Vec::new();
    for e in entries {
        let name = words::org_name(cfg, &e.org);
        let phone = e.held.phone.clone();
        if let Some(r) = e.open_round().filter(|r| r.reported) {
            v.push(json!({
                "org": e.org, "name": name, "phone": phone,
                "phone_link": phone.as_deref().map(|p| p.replace(' ', "")),
                "text": format!("har ikke bekreftet kontaktinformasjonen (spurt {}, påminnet)", words::date_time(cfg, r.started_at)),
            }));
        }
        for n in e.recent.iter().chain(e.untold.iter()) {
            if let Some(a) = n
                .bounced
                .as_ref()
                .filter(|_| now - n.at < chrono::Duration::days(30))
            {
                v.push(json!({
                    "org": e.org, "name": name, "phone": phone,
                    "phone_link": phone.as_deref().map(|p| p.replace(' ', "")),
                    "text": format!("e-post til {a} kom i retur {}", words::date_time(cfg, n.at)),
                }));
            }
        }
    }
    v
}
