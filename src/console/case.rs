//! A case's page in the console (SPEC §5.6): facts, what happens next in words, each
//! recipient organization with its delivery state, the timeline (§5.8), and the forms that
//! act on the case.

use super::forms::{FieldErrors, Form};
use super::pages::{case_url, recipients, tel, Field, CATEGORIES, IMPACTS};
use super::words;
use crate::config::Config;
use crate::engine::model::{About, ActionBody, Time};
use crate::engine::views::IncidentDetail;
use crate::store::TimelineEntry;
use serde_json::{json, Value};

/// What the page is about and what the engine and the store know of it.
pub struct CaseData<'a> {
    pub about: &'a About,
    /// `Engine::case_json`: live, or what history kept (`"retired": true`).
    pub case: Option<&'a Value>,
    /// An open incident's detail (for its next deadlines).
    pub detail: Option<&'a IncidentDetail>,
    pub timeline: &'a [TimelineEntry],
    pub now: Time,
}

/// A form being redone: its type, what was submitted, and what was refused.
pub struct Redo<'a> {
    pub ty: &'a str,
    pub form: &'a Form,
    pub errors: &'a FieldErrors,
}

fn time_of(v: &Value, k: &str) -> Option<Time> {
    v.get(k)?
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
}

fn list_of(v: &Value, k: &str) -> Vec<String> {
    v.get(k)
        .and_then(|x| x.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The facts of a case as label–value pairs, from its API view.
fn facts(cfg: &Config, about: &About, v: &Value) -> Vec<Value> {
    let mut f: Vec<(String, String)> = Vec::new();
    let t = |k: &str| time_of(v, k).map(|t| words::date_time(cfg, t));
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(String::from);
    let mut push = |k: &str, x: Option<String>| {
        if let Some(x) = x.filter(|x| !x.is_empty()) {
            f.push((k.to_string(), x));
        }
    };
    match about {
        About::Incident(_) => {
            push("Prioritet", v.get("priority").map(|p| p.to_string()));
            push("Kategori", s("category"));
            push(
                "Påvirkning",
                s("impact").map(|i| super::forms::impact_name(&i).to_string()),
            );
            push(
                "Hvor feilen er",
                v.get("at_org").map(|o| words::fault_at(cfg, o.as_str())),
            );
            push(
                "Tjenester",
                Some(words::services(cfg, &list_of(v, "services"))),
            );
            push("Berørte", Some(words::names(cfg, &list_of(v, "orgs"))));
            push("Startet", t("started_at"));
            push("Registrert", t("detected_at"));
            push("Forventet løst", t("expected_end"));
            push("Tiltak", s("measures"));
            push("Beskrivelse", s("text"));
            push("Miljø", s("environment"));
            push(
                "Kvittert ut",
                v.get("acked")
                    .and_then(|a| a.as_bool())
                    .map(|a| if a { "ja" } else { "nei" }.to_string()),
            );
            push("Varsel sendt", t("notice_at"));
            push("Oppfølging sendt", t("followup_at"));
            push("Svar mottatt", t("reply_at"));
            push("Eskalert", t("escalated_at"));
            push("Løst", t("resolved_at"));
        }
        About::Maintenance(_) => {
            push(
                "Hvem stopper",
                Some(match s("source") {
                    None => format!("{} (vårt vedlikehold)", cfg.self_.name),
                    Some(o) => words::org_name(cfg, &o),
                }),
            );
            push(
                "Tjenester",
                Some(words::services(cfg, &list_of(v, "services"))),
            );
            push("Berørte", Some(words::names(cfg, &list_of(v, "orgs"))));
            push("Fra", t("from"));
            push("Til", t("to"));
            push("Hva gjøres", s("measures"));
            push("Telefon", s("phone"));
        }
        About::Inquiry(_) => {
            push("Fra", s("org").map(|o| words::org_name(cfg, &o)));
            push("Emne", s("subject"));
            push("Mottatt", t("received_at"));
            push("Skal besvares innen", t("due"));
        }
        About::Report(_) => {}
    }
    f.into_iter()
        .map(|(k, v)| json!({"k": k, "v": v}))
        .collect()
}

fn state_class(s: &str) -> &'static str {
    match s {
        "sent" => "ok",
        "failing" | "bounced" => "bad",
        _ => "",
    }
}

/// The timeline, oldest first, in words.
fn timeline(cfg: &Config, t: &[TimelineEntry]) -> Vec<Value> {
    t.iter()
        .map(|e| match e {
            TimelineEntry::Event { at, ty, origin, by } => json!({
                "when": words::date_time(cfg, *at),
                "text": words::event(ty, origin.as_deref(), by.as_deref()),
            }),
            TimelineEntry::Action {
                at,
                action,
                state,
                attempts,
                sent_at,
                last_error,
                bounced_at,
                ..
            } => {
                let p = action.parts();
                let detail = match (sent_at, bounced_at, last_error) {
                    (_, Some(b), _) => format!("returnert {}", words::date_time(cfg, *b)),
                    (Some(s), None, _) => words::date_time(cfg, *s),
                    (None, None, Some(e)) => format!("{attempts} forsøk; siste feil: {e}"),
                    _ => String::new(),
                };
                json!({
                    "when": words::date_time(cfg, *at),
                    "text": match p.kind {
                        "statuspage" | "silence" | "ops" | "report" => words::message(p.kind, &p.message),
                        _ => format!("{} til {}", words::message(p.kind, &p.message), recipients(cfg, action)),
                    },
                    "state": words::state(state),
                    "state_class": state_class(state),
                    "detail": detail,
                })
            }
        })
        .collect()
}

/// Each organization that got (or is to get) e-mail, with every message and its state.
fn recipient_rows(cfg: &Config, t: &[TimelineEntry]) -> Vec<Value> {
    let mut rows: Vec<(String, Vec<Value>)> = Vec::new();
    for e in t {
        let TimelineEntry::Action {
            at,
            action,
            state,
            sent_at,
            ..
        } = e
        else {
            continue;
        };
        let ActionBody::Email(m) = &action.body else {
            continue;
        };
        let msg = json!({
            "message": words::message("email", m.message.as_str()).trim_start_matches("E-post: ").to_string(),
            "state": words::state(state),
            "state_class": state_class(state),
            "when": words::when(cfg, sent_at.unwrap_or(*at)),
        });
        match rows.iter_mut().find(|(o, _)| *o == m.org) {
            Some((_, v)) => v.push(msg),
            None => rows.push((m.org.clone(), vec![msg])),
        }
    }
    rows.into_iter()
        .map(|(org, messages)| {
            let phone = cfg.org(&org).and_then(|o| o.phone.clone());
            json!({
                "org": words::recipient(cfg, &org),
                "phone_link": phone.as_deref().map(tel),
                "phone": phone,
                "messages": messages,
            })
        })
        .collect()
}

/// A form on the case page: its fields, filled from a redo of the same type.
fn form(
    ty: &'static str,
    title: &str,
    button: &str,
    note: Option<&str>,
    fields: Vec<Field>,
    redo: Option<&Redo>,
) -> Value {
    let empty = FieldErrors::new();
    let (f, errors) = match redo.filter(|r| r.ty == ty) {
        Some(r) => (Some(r.form), r.errors),
        None => (None, &empty),
    };
    let fields: Vec<Field> = fields.into_iter().map(|x| x.fill(f, errors)).collect();
    json!({
        "ty": ty,
        "anchor": ty.replace('.', "-"),
        "title": title,
        "button": button,
        "note": note,
        "fields": fields,
        "error": errors.get(""),
    })
}

/// What the console says after an action was registered: how many messages it decided at
/// once (those dated with its event), or that it sends nothing now. Never "sent as shown"
/// when nothing is (issue #26: an ack sends nothing).
pub fn registered(t: &[TimelineEntry]) -> String {
    let last = t.iter().rev().find_map(|e| match e {
        TimelineEntry::Event { at, .. } => Some(*at),
        _ => None,
    });
    let n = t
        .iter()
        .filter(|e| matches!(e, TimelineEntry::Action { at, .. } if Some(*at) == last))
        .count();
    match n {
        0 => "Registrert. Ingen meldinger sendes nå; se «Hva skjer videre».".into(),
        n => format!(
            "Registrert. {} sendes nå; se «Tidslinje» for status.",
            words::count(n, "melding", "meldinger")
        ),
    }
}

/// The case page's context.
pub fn page(cfg: &Config, d: &CaseData, redo: Option<&Redo>) -> Value {
    let empty = json!({});
    let v = d.case.unwrap_or(&empty);
    let retired = v.get("retired").and_then(|r| r.as_bool()).unwrap_or(false)
        || d.case.is_none()
        || v.get("resolved_at").is_some_and(|r| !r.is_null());
    let (kind_label, title) = match d.about {
        About::Incident(_) => (
            "Hendelse",
            d.detail
                .map(|x| super::pages::incident_title(cfg, &x.incident))
                .unwrap_or_default(),
        ),
        About::Maintenance(_) => ("Vedlikehold", words::services(cfg, &list_of(v, "services"))),
        About::Inquiry(_) => ("Henvendelse", String::new()),
        About::Report(_) => ("Rapport", String::new()),
    };
    let next: Vec<String> = d
        .detail
        .map(|x| {
            x.next
                .iter()
                .map(|n| words::deadline(cfg, &x.incident, n.what, n.at))
                .collect()
        })
        .unwrap_or_default();
    let mut forms = Vec::new();
    if !retired {
        match d.about {
            About::Incident(_) => {
                let cat: Vec<(&str, &str)> = std::iter::once(("", "Uendret"))
                    .chain(CATEGORIES.iter().copied())
                    .collect();
                let imp: Vec<(&str, &str)> = std::iter::once(("", "Uendret"))
                    .chain(IMPACTS.iter().copied())
                    .collect();
                forms.push(form(
                    "incident.update",
                    "Oppdater",
                    "Forhåndsvis oppdateringen",
                    Some("Fyll ut bare det som er endret. Ny forventet rettetid sender «Oppdatering:» til de som er varslet; resten går til statussiden."),
                    vec![
                        Field::new("measures", "Tiltak", "textarea"),
                        Field::new("expected_end", "Forventet løst", "datetime-local").hint("Norsk tid."),
                        Field::new("text", "Beskrivelse", "textarea"),
                        Field::new("category", "Kategori", "select").options(&cat),
                        Field::new("impact", "Påvirkning", "select").options(&imp),
                    ],
                    redo,
                ));
                if !d.detail.is_some_and(|x| x.acked) {
                    forms.push(form(
                        "incident.ack",
                        "Kvitter ut",
                        "Forhåndsvis utkvittering",
                        Some("Bekrefter at noen jobber med saken; purringen til driftssenteret stopper."),
                        vec![],
                        redo,
                    ));
                }
                let mut orgs: Vec<(String, String)> = vec![("".into(), "Motparten".into())];
                for o in list_of(v, "orgs") {
                    orgs.push((o.clone(), words::org_name(cfg, &o)));
                }
                forms.push(form(
                    "reply",
                    "Registrer svar",
                    "Forhåndsvis svaret",
                    Some("Et svar på oppfølgingen stopper eskaleringen til KS e-Komp."),
                    vec![Field::new("org", "Svar fra", "select").options_owned(orgs)],
                    redo,
                ));
                forms.push(form(
                    "incident.resolve",
                    "Marker som løst",
                    "Forhåndsvis løst-meldingene",
                    Some("Sender «Løst:» til alle som er varslet, og avslutter driftsmeldingen."),
                    vec![],
                    redo,
                ));
            }
            About::Maintenance(_) => {
                forms.push(form(
                    "maintenance.change",
                    "Endre tidspunkt eller tekst",
                    "Forhåndsvis endringen",
                    Some("Fyll ut bare det som endres. Nytt tidspunkt sender «Endret:»."),
                    vec![
                        Field::new("from", "Fra", "datetime-local").hint("Norsk tid."),
                        Field::new("to", "Til", "datetime-local"),
                        Field::new("measures", "Hva gjøres", "textarea"),
                        Field::new("phone", "Telefon for spørsmål", "text"),
                    ],
                    redo,
                ));
                forms.push(form(
                    "maintenance.cancel",
                    "Avlys",
                    "Forhåndsvis avlysningen",
                    Some("Sender «Avlyst:» til de som er varslet."),
                    vec![],
                    redo,
                ));
            }
            About::Inquiry(_) => forms.push(form(
                "inquiry.answered",
                "Marker som besvart",
                "Forhåndsvis",
                Some("Når svaret er sendt: stopper påminnelsen og forfallsmeldingen."),
                vec![],
                redo,
            )),
            About::Report(_) => {}
        }
    }
    json!({
        "title": format!("{kind_label} {}", d.about.id()),
        "kind_label": kind_label,
        "id": d.about.id(),
        "url": case_url(d.about),
        "lead": title,
        "retired": retired,
        "facts": facts(cfg, d.about, v),
        "next": next,
        "recipients": recipient_rows(cfg, d.timeline),
        "timeline": timeline(cfg, d.timeline),
        "forms": forms,
        "now": words::date_time(cfg, d.now),
    })
}
