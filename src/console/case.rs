//! A case's page in the console (SPEC §5.6): facts, what happens next in words, each
//! recipient organization with its delivery state, the timeline (§5.8), and the forms that
//! act on the case.

use super::forms::{FieldErrors, Form};
use super::pages::{case_url, tel, Field, CATEGORIES, IMPACTS};
use super::timeline::{state_class, states_summary, timeline};
use super::words;
use crate::config::Config;
use crate::engine::model::{About, Action, ActionBody, Time};
use crate::engine::views::IncidentDetail;
use crate::store::{Delivery, TimelineEntry};
use serde_json::{json, Value};

/// What the page is about and what the engine and the store know of it.
pub(crate) struct CaseData<'a> {
    pub about: &'a About,
    /// `Engine::case_json`: live, or what history kept (`"retired": true`).
    pub case: Option<&'a Value>,
    /// An open incident's detail (for its next deadlines).
    pub detail: Option<&'a IncidentDetail>,
    pub timeline: &'a [TimelineEntry],
    pub now: Time,
}

/// A form being redone: its type, what was submitted, and what was refused.
pub(crate) struct Redo<'a> {
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
        About::Report(_) | About::Directory(_) => {}
    }
    f.into_iter()
        .map(|(k, v)| json!({"k": k, "v": v}))
        .collect()
}

/// The recipients in one line: "65 organisasjoner · Varsel om uplanlagt driftsstans: 65
/// sendt", and whether any delivery has a problem (the list then opens by itself).
fn recipients_summary(t: &[TimelineEntry]) -> (String, bool) {
    let mut orgs: Vec<&str> = Vec::new();
    let mut per: Vec<(String, Vec<Delivery>)> = Vec::new();
    for (_, action, state, _) in actions(t) {
        let ActionBody::Email(m) = &action.body else {
            continue;
        };
        if !orgs.contains(&m.org.as_str()) {
            orgs.push(&m.org);
        }
        let label = words::message("email", m.message.as_str())
            .trim_start_matches("E-post: ")
            .to_string();
        match per.iter_mut().find(|(l, _)| *l == label) {
            Some((_, v)) => v.push(state),
            None => per.push((label, vec![state])),
        }
    }
    let bad = per.iter().any(|(_, v)| {
        v.iter()
            .any(|s| matches!(s, Delivery::Failing | Delivery::Bounced))
    });
    let mut line = words::count(orgs.len(), "organisasjon", "organisasjoner");
    for (label, states) in &per {
        let mut c = label.chars();
        let l = c
            .next()
            .map(|f| f.to_uppercase().chain(c).collect::<String>())
            .unwrap_or_default();
        line.push_str(&format!(
            " · {l}: {}",
            states_summary(states.iter().copied())
        ));
    }
    (line, bad)
}

/// A timeline's decided actions: when each was decided, the action, its delivery state, and
/// when it was sent.
fn actions(t: &[TimelineEntry]) -> impl Iterator<Item = (Time, &Action, Delivery, Option<Time>)> {
    t.iter().filter_map(|e| match e {
        TimelineEntry::Action(a) => Some((a.at, &*a.action, a.state, a.sent_at)),
        TimelineEntry::Event { .. } => None,
    })
}

/// Each organization that got (or is to get) e-mail, with every message and its state.
fn recipient_rows(cfg: &Config, t: &[TimelineEntry]) -> Vec<Value> {
    let mut rows: Vec<(String, Vec<Value>)> = Vec::new();
    for (at, action, state, sent_at) in actions(t) {
        let ActionBody::Email(m) = &action.body else {
            continue;
        };
        let msg = json!({
            "message": words::message("email", m.message.as_str()).trim_start_matches("E-post: ").to_string(),
            "state": words::state(state),
            "state_class": state_class(state),
            "when": words::when(cfg, sent_at.unwrap_or(at)),
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

/// A form on the case page: its fields, filled from a redo of the same type. A form without
/// fields is a single button (`quick`); one with fields sits behind a disclosure that opens
/// when it comes back with a refusal.
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
    let quick = fields.is_empty();
    let fields: Vec<Field> = fields.into_iter().map(|x| x.fill(f, errors)).collect();
    json!({
        "ty": ty,
        "anchor": ty.replace('.', "-"),
        "title": title,
        "button": button,
        "note": note,
        "fields": fields,
        "quick": quick,
        "open": f.is_some(),
        "error": errors.get(""),
    })
}

/// The Alertmanager silence of an incident, from its timeline: active since, or lifted.
fn silence(cfg: &Config, t: &[TimelineEntry]) -> Option<Value> {
    let mut created = None;
    let mut expired = None;
    let mut org = String::new();
    for (at, action, state, sent_at) in actions(t) {
        let ActionBody::Silence(s) = &action.body else {
            continue;
        };
        org = words::org_name(cfg, &s.org);
        let when = (state, sent_at.unwrap_or(at));
        if s.message == "create" {
            created = Some(when);
        } else {
            expired = Some(when);
        }
    }
    let (cstate, cat) = created?;
    let text = match (cstate, expired) {
        (_, Some((Delivery::Sent, t))) => format!(
            "Alarmene for {org} ble dempet {} og er slått på igjen {}.",
            words::when(cfg, cat),
            words::when(cfg, t)
        ),
        (_, Some(_)) => format!("Dempingen for {org} oppheves nå (venter på Alertmanager)."),
        (Delivery::Sent, None) => format!(
            "Alarmene for {org} er dempet siden {} og slås på igjen når saken er løst.",
            words::when(cfg, cat)
        ),
        _ => format!("Dempingen for {org} opprettes nå (venter på Alertmanager)."),
    };
    let active = cstate == Delivery::Sent && expired.is_none();
    Some(json!({
        "text": text,
        "state": if active { "Aktiv" } else if expired.is_some_and(|(s, _)| s == Delivery::Sent) { "Opphevet" } else { "Venter" },
        "link": cfg.sections.get::<crate::sinks::silence::Settings>().map(|s| format!("{}/#/silences", s.url.trim_end_matches('/'))),
    }))
}

/// The alert that opened an incident, in its own words, with links to the source and to
/// Alertmanager.
fn alert(cfg: &Config, d: Option<&IncidentDetail>) -> Option<Value> {
    let a = d?.alert.as_ref()?;
    Some(json!({
        "name": a.name,
        "summary": a.summary,
        "description": a.description,
        "source": a.source_url,
        "alertmanager": cfg.sections.get::<crate::sinks::silence::Settings>().map(|s| format!("{}/#/alerts", s.url.trim_end_matches('/'))),
    }))
}

/// What the console says after an action was registered: how many messages it decided at
/// once (those dated with its event), or that it sends nothing now. Never "sent as shown"
/// when nothing is (issue #26: an ack sends nothing).
pub(crate) fn registered(t: &[TimelineEntry]) -> String {
    let last = t.iter().rev().find_map(|e| match e {
        TimelineEntry::Event { at, .. } => Some(*at),
        _ => None,
    });
    let n = t
        .iter()
        .filter(|e| matches!(e, TimelineEntry::Action(a) if Some(a.at) == last))
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
pub(crate) fn page(cfg: &Config, d: &CaseData, redo: Option<&Redo>) -> Value {
    let empty = json!({});
    let v = d.case.unwrap_or(&empty);
    let retired = v.get("retired").and_then(|r| r.as_bool()).unwrap_or(false)
        || d.case.is_none()
        || v.get("resolved_at").is_some_and(|r| !r.is_null())
        || v.get("answered_at").is_some_and(|r| !r.is_null())
        || v.get("cancelled") == Some(&Value::Bool(true));
    let (kind_label, title) = match d.about {
        About::Incident(_) => (
            "Hendelse",
            d.detail
                .map(|x| super::pages::incident_title(cfg, &x.incident))
                .unwrap_or_else(|| {
                    v.get("kind")
                        .and_then(|k| k.as_str())
                        .and_then(crate::engine::model::Kind::parse)
                        .map(|k| super::pages::title_of(cfg, k, &list_of(v, "services")))
                        .unwrap_or_default()
                }),
        ),
        About::Maintenance(_) => ("Vedlikehold", words::services(cfg, &list_of(v, "services"))),
        About::Inquiry(_) => (
            "Henvendelse",
            v.get("org")
                .and_then(|o| o.as_str())
                .map(|o| format!("Fra {}", words::org_name(cfg, o)))
                .unwrap_or_default(),
        ),
        About::Report(_) => ("Rapport", String::new()),
        About::Directory(o) => ("Kontaktregister", words::org_name(cfg, o)),
    };
    let pending = |f: &dyn Fn(&str, Time) -> String| -> Vec<String> {
        v.get("next")
            .and_then(|n| n.as_array())
            .map(|n| {
                n.iter()
                    .filter_map(|x| Some(f(x["what"].as_str()?, time_of(x, "at")?)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let next: Vec<String> = match d.about {
        About::Incident(_) => d
            .detail
            .map(|x| {
                x.next
                    .iter()
                    .map(|n| words::deadline(cfg, &x.incident, n.what, n.at))
                    .collect()
            })
            .unwrap_or_default(),
        About::Maintenance(_) if !retired => {
            let orgs = list_of(v, "orgs").len();
            let mut n = Vec::new();
            if let (Some(from), Some(to)) = (time_of(v, "from"), time_of(v, "to")) {
                if from > d.now {
                    n.push(format!("Vedlikeholdet starter {}", words::when(cfg, from)));
                }
                if to > d.now {
                    n.push(format!("Vedlikeholdet slutter {}", words::when(cfg, to)));
                }
            }
            n.extend(pending(&|w, t| {
                words::maintenance_deadline(cfg, orgs, w, t)
            }));
            n
        }
        About::Inquiry(_) => pending(&|w, t| words::inquiry_deadline(cfg, w, t)),
        _ => Vec::new(),
    };
    let mut forms = Vec::new();
    if !retired {
        match d.about {
            About::Incident(_) => {
                if !d.detail.is_some_and(|x| x.acked) {
                    forms.push(form(
                        "incident.ack",
                        "Kvitter ut",
                        "Kvitter ut …",
                        Some("Bekrefter at noen jobber med saken; purringen til driftssenteret stopper."),
                        vec![],
                        redo,
                    ));
                }
                let cat: Vec<(&str, &str)> = std::iter::once(("", "Uendret"))
                    .chain(CATEGORIES.iter().copied())
                    .collect();
                let imp: Vec<(&str, &str)> = std::iter::once(("", "Uendret"))
                    .chain(IMPACTS.iter().copied())
                    .collect();
                let ours = v.get("at_org").is_none_or(|o| o.is_null());
                let mut fields = vec![
                    Field::new("measures", "Tiltak", "textarea"),
                    Field::new("expected_end", "Forventet løst", "datetime-local")
                        .hint("Norsk tid."),
                    Field::new("text", "Beskrivelse", "textarea"),
                ];
                if ours {
                    let now = d.detail.map(|x| x.status).unwrap_or_default();
                    let mut st: Vec<(String, String)> =
                        vec![("".into(), format!("Uendret ({})", now.norsk()))];
                    st.extend(
                        crate::engine::model::PublicStatus::ALL
                            .iter()
                            .map(|s| (s.as_str().to_string(), s.norsk().to_string())),
                    );
                    fields.push(
                        Field::new("status", "Status på statussiden", "select").options_owned(st),
                    );
                }
                fields.push(Field::new("category", "Kategori", "select").options(&cat));
                fields.push(Field::new("impact", "Påvirkning", "select").options(&imp));
                forms.push(form(
                    "incident.update",
                    "Oppdater",
                    "Forhåndsvis oppdateringen",
                    Some("Fyll ut bare det som er endret. Ny «Forventet løst» sender «Oppdatering:» til de som er varslet; resten går til statussiden."),
                    fields,
                    redo,
                ));
                // A reply is the counterpart's (SPEC §4.6): only where the fault is theirs.
                if !ours {
                    let mut orgs: Vec<(String, String)> = vec![("".into(), "Motparten".into())];
                    for o in list_of(v, "orgs") {
                        orgs.push((o.clone(), words::org_name(cfg, &o)));
                    }
                    forms.push(form(
                        "reply",
                        "Registrer svar",
                        "Forhåndsvis svaret",
                        Some("Et svar fra motparten stopper oppfølgingen og eskaleringen til KS e-Komp."),
                        vec![Field::new("org", "Svar fra", "select").options_owned(orgs)],
                        redo,
                    ));
                }
                forms.push(form(
                    "incident.resolve",
                    "Marker som løst",
                    "Forhåndsvis løst-meldingene",
                    Some("Sender «Løst:» til alle som er varslet, og avslutter driftsmeldingen."),
                    vec![Field::new("resolved_at", "Feilen ble rettet", "datetime-local")
                        .hint("Tomt: nå. Et tidligere tidspunkt brukes i tilgjengelighetsrapporten og står med ditt navn i tidslinjen.")],
                    redo,
                ));
            }
            About::Maintenance(_) => {
                forms.push(form(
                    "maintenance.cancel",
                    "Avlys",
                    "Avlys …",
                    Some("Sender «Avlyst:» til de som er varslet."),
                    vec![],
                    redo,
                ));
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
            }
            About::Inquiry(_) => forms.push(form(
                "inquiry.answered",
                "Marker som besvart",
                "Marker som besvart …",
                Some("Når svaret er sendt: stopper påminnelsen og forfallsmeldingen."),
                vec![],
                redo,
            )),
            About::Report(_) | About::Directory(_) => {}
        }
    }
    let (quick, full): (Vec<Value>, Vec<Value>) =
        forms.into_iter().partition(|f| f["quick"] == true);
    let (rsummary, rbad) = recipients_summary(d.timeline);
    json!({
        "title": format!("{kind_label} {}", d.about.id()),
        "kind_label": kind_label,
        "id": d.about.id(),
        "url": case_url(d.about),
        "lead": title,
        "retired": retired,
        "status": d.detail.filter(|_| !retired && matches!(d.about, About::Incident(_)) && v.get("at_org").is_none_or(|o| o.is_null())).map(|x| x.status.norsk()),
        "facts": facts(cfg, d.about, v),
        "next": next,
        "alert": alert(cfg, d.detail),
        "silence": silence(cfg, d.timeline),
        "recipients": recipient_rows(cfg, d.timeline),
        "recipients_summary": rsummary,
        "recipients_open": rbad,
        "timeline": timeline(cfg, d.timeline),
        "quick": quick,
        "forms": full,
        "has_forms": !quick.is_empty() || !full.is_empty(),
        "now": words::date_time(cfg, d.now),
    })
}
