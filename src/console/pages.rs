//! The console's pages: the handlebars registry (HTML-escaped; templates compiled in from
//! `templates/console/`), form fields, and the contexts of the overview, the preview and the
//! forms for new cases. Case pages are in `case.rs`. Pure: everything comes in as arguments.

use super::forms::{FieldErrors, Form};
use super::words;
use crate::config::{Config, OrgKind};
use crate::engine::model::{About, Action, ActionBody};
use crate::store::TimelineEntry;
use handlebars::Handlebars;
use serde::Serialize;
use serde_json::{json, Value};

/// The console's templates, HTML-escaped.
pub(crate) struct Pages {
    hb: Handlebars<'static>,
}

const TEMPLATES: &[(&str, &str)] = &[
    ("layout", include_str!("../../templates/console/layout.hbs")),
    ("field", include_str!("../../templates/console/field.hbs")),
    (
        "pickers",
        include_str!("../../templates/console/pickers.hbs"),
    ),
    ("login", include_str!("../../templates/console/login.hbs")),
    (
        "overview",
        include_str!("../../templates/console/overview.hbs"),
    ),
    ("case", include_str!("../../templates/console/case.hbs")),
    ("cases", include_str!("../../templates/console/cases.hbs")),
    ("new", include_str!("../../templates/console/new.hbs")),
    (
        "preview",
        include_str!("../../templates/console/preview.hbs"),
    ),
    (
        "message",
        include_str!("../../templates/console/message.hbs"),
    ),
    ("tokens", include_str!("../../templates/console/tokens.hbs")),
    ("audit", include_str!("../../templates/console/audit.hbs")),
    (
        "directory",
        include_str!("../../templates/console/directory.hbs"),
    ),
    (
        "kontakt",
        include_str!("../../templates/console/kontakt.hbs"),
    ),
    (
        "subscribers",
        include_str!("../../templates/console/subscribers.hbs"),
    ),
    (
        "abonner",
        include_str!("../../templates/console/abonner.hbs"),
    ),
    (
        "directory_import",
        include_str!("../../templates/console/directory_import.hbs"),
    ),
];

/// The console's stylesheet.
pub(crate) const CSS: &str = include_str!("../../templates/console/console.css");
/// The console's script (progressive enhancement only).
pub(crate) const JS: &str = include_str!("../../templates/console/console.js");

impl Pages {
    /// The compiled-in templates (a unit test renders each page, so this holds).
    pub(crate) fn new() -> Result<Pages, Box<handlebars::TemplateError>> {
        let mut hb = Handlebars::new();
        for (name, src) in TEMPLATES {
            hb.register_template_string(name, *src).map_err(Box::new)?;
        }
        Ok(Pages { hb })
    }

    /// A page; a rendering failure (a bug) is logged and shown as a plain apology.
    pub(crate) fn render(&self, name: &str, ctx: &Value) -> String {
        self.hb.render(name, ctx).unwrap_or_else(|e| {
            tracing::error!(page = name, error = %e, "console page could not be rendered");
            "<!doctype html><html lang=\"nb\"><title>Feil</title><p>Siden kunne ikke vises; se loggen.</p></html>".into()
        })
    }
}

/// One form field as the `field` partial draws it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Field {
    pub name: &'static str,
    pub label: &'static str,
    /// `text`, `textarea`, `datetime-local`, `select`.
    pub kind: &'static str,
    pub value: String,
    pub error: Option<String>,
    pub hint: Option<&'static str>,
    pub described: Option<String>,
    pub required: bool,
    pub options: Vec<Opt>,
}

/// One option of a select.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

impl Field {
    /// A field of a form.
    pub(crate) fn new(name: &'static str, label: &'static str, kind: &'static str) -> Field {
        Field {
            name,
            label,
            kind,
            value: String::new(),
            error: None,
            hint: None,
            described: None,
            required: false,
            options: Vec::new(),
        }
    }
    /// With a hint under it.
    pub(crate) fn hint(mut self, h: &'static str) -> Field {
        self.hint = Some(h);
        self
    }
    /// Required.
    pub(crate) fn required(mut self) -> Field {
        self.required = true;
        self
    }
    /// A select with these options (value, label).
    pub(crate) fn options(mut self, o: &[(&str, &str)]) -> Field {
        self.options = o
            .iter()
            .map(|(v, l)| Opt {
                value: v.to_string(),
                label: l.to_string(),
                selected: false,
            })
            .collect();
        self
    }
    /// A select with these options (value, label).
    pub(crate) fn options_owned(mut self, o: Vec<(String, String)>) -> Field {
        self.options = o
            .into_iter()
            .map(|(value, label)| Opt {
                value,
                label,
                selected: false,
            })
            .collect();
        self
    }
    /// With this value filled in.
    pub(crate) fn value(mut self, v: impl Into<String>) -> Field {
        self.value = v.into();
        self
    }
    /// The submitted value and the refusal that concerns this field, if any.
    pub(crate) fn fill(mut self, f: Option<&Form>, errors: &FieldErrors) -> Field {
        if let Some(v) = f.and_then(|f| f.get(self.name)) {
            self.value = v.to_string();
        }
        for o in &mut self.options {
            o.selected = o.value == self.value;
        }
        self.error = errors.get(self.name).cloned();
        let mut d = Vec::new();
        if self.hint.is_some() {
            d.push(format!("f-{}-hint", self.name));
        }
        if self.error.is_some() {
            d.push(format!("f-{}-err", self.name));
        }
        self.described = (!d.is_empty()).then(|| d.join(" "));
        self
    }
}

/// The categories A–D with their names.
pub(crate) const CATEGORIES: &[(&str, &str)] = &[
    ("A", "A – kritisk"),
    ("B", "B – alvorlig"),
    ("C", "C – mindre alvorlig"),
    ("D", "D – lav"),
];
/// The impacts with their names.
pub(crate) const IMPACTS: &[(&str, &str)] = &[
    ("alle", "Alle (hele regionen)"),
    ("hoy", "Høy (flere organisasjoner)"),
    ("medium", "Middels (én organisasjon, flere brukere)"),
    ("lav", "Lav (én bruker)"),
];

/// Our own organization first, then every configured one in alphabetical order (for "where
/// is the fault").
fn org_options(cfg: &Config, ours: &str) -> Vec<(String, String)> {
    let mut v = vec![("self".to_string(), format!("{} ({ours})", cfg.self_.name))];
    v.extend(sorted_orgs(cfg));
    v
}

/// Every active organization as (id, name), sorted by name the Norwegian way (æ, ø, å last).
pub(crate) fn sorted_orgs(cfg: &Config) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = cfg
        .orgs
        .iter()
        .filter(|o| o.retired_at.is_none())
        .map(|o| (o.id.clone(), o.name.clone()))
        .collect();
    v.sort_by_key(|a| norsk_key(&a.1));
    v
}

/// A sort key for Norwegian names: case folded, æ ø å after z (and ä ö as æ ø).
pub(crate) fn norsk_key(s: &str) -> Vec<u32> {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'æ' | 'ä' => 'z' as u32 + 1,
            'ø' | 'ö' => 'z' as u32 + 2,
            'å' => 'z' as u32 + 3,
            c => c as u32,
        })
        .collect()
}

/// An area's name for people: its KS e-Komp office without the prefix, or its id.
pub(crate) fn area_name(cfg: &Config, area: &str) -> String {
    cfg.ks_for_area(area)
        .map(|k| k.name.trim_start_matches("KS e-Komp").trim().to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| area.to_string())
}

/// The organization and service pickers: groups (all, by kind, by area and kind, by service)
/// and every organization by area.
pub(crate) fn pickers(cfg: &Config, f: Option<&Form>, errors: &FieldErrors) -> Value {
    let picked = |k: &str, v: &str| f.is_some_and(|f| f.all(k).iter().any(|x| x == v));
    let mut areas: Vec<String> = cfg.orgs.iter().filter_map(|o| o.area.clone()).collect();
    areas.sort();
    areas.dedup();
    let mut groups = vec![
        ("all".to_string(), "Alle organisasjoner".to_string()),
        ("kind:kommune".into(), "Alle kommuner".into()),
        ("kind:hf".into(), "Alle helseforetak".into()),
    ];
    for a in &areas {
        groups.push((
            format!("area-kind:{a}:kommune"),
            format!("Alle kommuner i {}", area_name(cfg, a)),
        ));
    }
    for s in &cfg.services {
        groups.push((
            format!("service:{}", s.id),
            format!("Alle som utveksler {}", s.name),
        ));
    }
    let mut by_area: Vec<(String, Vec<Value>)> = Vec::new();
    let mut orgs: Vec<&crate::config::Organization> =
        cfg.orgs.iter().filter(|o| o.retired_at.is_none()).collect();
    orgs.sort_by_key(|a| norsk_key(&a.name));
    for o in orgs {
        let name = match (&o.area, o.kind) {
            (_, OrgKind::Hf) => "Helseforetak".to_string(),
            (Some(a), _) => area_name(cfg, a),
            (None, _) => "Andre".to_string(),
        };
        let entry = json!({"id": o.id, "name": o.name, "checked": picked("orgs", &o.id)});
        match by_area.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => v.push(entry),
            None => by_area.push((name, vec![entry])),
        }
    }
    json!({
        "groups": groups.iter().map(|(v, l)| json!({"value": v, "label": l, "checked": picked("group", v)})).collect::<Vec<_>>(),
        "areas": by_area.iter().map(|(n, v)| json!({
            "name": n, "count": v.len(), "orgs": v,
            "open": v.iter().any(|o| o["checked"] == true),
        })).collect::<Vec<_>>(),
        "services": cfg.services.iter().map(|s| json!({"id": s.id, "name": s.name, "checked": picked("services", &s.id)})).collect::<Vec<_>>(),
        "orgs_error": errors.get("orgs"),
        "services_error": errors.get("services"),
    })
}

/// The new-incident, new-maintenance or new-inquiry page; `ty` is `incident.open`,
/// `maintenance.add` or `inquiry.received`.
pub(crate) fn new_case(cfg: &Config, ty: &str, f: Option<&Form>, errors: &FieldErrors) -> Value {
    if ty == "inquiry.received" {
        let mut orgs = vec![("".to_string(), "Velg organisasjon".to_string())];
        orgs.extend(sorted_orgs(cfg));
        let fields: Vec<Field> = vec![
            Field::new("id", "Saksnummer", "text").hint("Tomt: lages automatisk (HEN-dato-tid)."),
            Field::new("org", "Fra", "select")
                .options_owned(orgs)
                .required(),
            Field::new("subject", "Hva gjelder det", "text")
                .hint("Noen få ord, uten personopplysninger."),
        ]
        .into_iter()
        .map(|x| x.fill(f, errors))
        .collect();
        return json!({
            "title": "Ny henvendelse",
            "intro": "Registrer en henvendelse som kom på telefon eller på annen måte enn til meldingsansvarlig-postkassen. Den skal besvares innen første virkedag etter at den kom; driftssenteret minnes på den.",
            "ty": ty,
            "fields": fields,
            "picker": null,
            "derive": false,
            "derived": null,
            "error": errors.get(""),
        });
    }
    let fields: Vec<Field> = if ty == "incident.open" {
        vec![
            Field::new("id", "Saksnummer", "text").hint("Tomt: lages automatisk (INC-dato-tid)."),
            Field::new("kind", "Type", "select").options(&[
                ("feil", "Feil: tjenesten er nede eller treg"),
                ("kvittering", "Manglende kvitteringer"),
                ("info", "Informasjon"),
            ]),
            Field::new("at_org", "Hvor er feilen?", "select")
                .options_owned(org_options(cfg, "hos oss")),
            Field::new("category", "Kategori", "select")
                .options(CATEGORIES)
                .value("B"),
            Field::new("impact", "Påvirkning", "select")
                .options(&[("", "Beregnes av de valgte organisasjonene")])
                .hint("Prioritet = kategori × påvirkning (prioriteringsmatrisen)."),
            Field::new("started_at", "Feilen startet", "datetime-local")
                .hint("Tomt: nå. Norsk tid."),
            Field::new("expected_end", "Forventet løst", "datetime-local")
                .hint("Mer enn 2 timer etter start sender varselet straks."),
            Field::new("measures", "Tiltak", "textarea"),
            Field::new("text", "Beskrivelse", "textarea"),
            Field::new("environment", "Miljø", "select")
                .options(&[("produksjon", "Produksjon"), ("test", "Test")]),
        ]
    } else {
        vec![
            Field::new("id", "Saksnummer", "text").hint("Tomt: lages automatisk (VED-dato-tid)."),
            Field::new("source", "Hvem stopper?", "select")
                .options_owned(org_options(cfg, "vårt vedlikehold")),
            Field::new("from", "Fra", "datetime-local")
                .required()
                .hint("Norsk tid. Standard vindu: søndag 23:00 – mandag 08:00."),
            Field::new("to", "Til", "datetime-local").required(),
            Field::new("measures", "Hva gjøres", "textarea"),
            Field::new("phone", "Telefon for spørsmål", "text"),
        ]
    };
    let mut fields: Vec<Field> = fields.into_iter().map(|x| x.fill(f, errors)).collect();
    if ty == "incident.open" {
        // The impact picker: "derive" plus the four levels.
        if let Some(i) = fields.iter_mut().find(|x| x.name == "impact") {
            let sel = i.value.clone();
            i.options.extend(IMPACTS.iter().map(|(v, l)| Opt {
                value: v.to_string(),
                label: l.to_string(),
                selected: *v == sel,
            }));
        }
    }
    let incident = ty == "incident.open";
    json!({
        "title": if incident { "Ny hendelse" } else { "Nytt vedlikehold" },
        "intro": if incident {
            "Registrer en uplanlagt hendelse. Forhåndsvisningen viser nøyaktig hva som sendes og når, før noe sendes."
        } else {
            "Planlegg et vedlikehold. Forhåndsvisningen viser varselet, statussiden og eventuelle advarsler (frys, utenfor vinduet, kortere varsel enn 7 dager)."
        },
        "ty": ty,
        "fields": fields,
        "picker": pickers(cfg, f, errors),
        "derive": incident,
        "derived": if incident { super::forms::derived(cfg, f.unwrap_or(&Form::default()), crate::clock::now())["text"].clone() } else { Value::Null },
        "error": errors.get(""),
    })
}

/// The console's link to a case.
pub(crate) fn case_url(about: &About) -> Option<String> {
    match about {
        About::Incident(i) => Some(format!("/ops/incidents/{i}")),
        About::Maintenance(i) => Some(format!("/ops/maintenances/{i}")),
        About::Inquiry(i) => Some(format!("/ops/inquiries/{i}")),
        About::Report(_) => None,
        About::Directory(o) => Some(format!("/ops/directory#{o}")),
    }
}

/// A phone number for a `tel:` link.
pub(crate) fn tel(p: &str) -> String {
    p.chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect()
}

/// Who an action goes to, for people.
pub(crate) fn recipients(cfg: &Config, a: &Action) -> String {
    match &a.body {
        ActionBody::Email(m) => words::recipient(cfg, &m.org),
        ActionBody::Ops(_) => "driftssenteret".into(),
        ActionBody::Statuspage(_) => "statussiden".into(),
        ActionBody::Silence(_) => "Alertmanager".into(),
        ActionBody::Report(r) => r.to.join(", "),
        ActionBody::Sms(_) => "vakttelefonen".into(),
    }
}

/// The overview (SPEC §5.6): open incidents with their next deadlines in words, maintenance,
/// inbound inquiries, and delivery problems with the organization to phone.
pub(crate) fn overview(
    cfg: &Config,
    o: &crate::engine::views::Overview,
    problems: &[TimelineEntry],
) -> Value {
    let incidents: Vec<Value> = o
        .incidents
        .iter()
        .map(|d| {
            let i = &d.incident;
            json!({
                "id": i.id,
                "url": format!("/ops/incidents/{}", i.id),
                "title": incident_title(cfg, i),
                "priority": i.priority,
                "category": format!("{:?}", i.category),
                "test": i.environment == crate::engine::model::Environment::Test,
                "acked": d.acked,
                "fault_at": words::fault_at(cfg, i.at_org.as_deref()),
                "started": words::when(cfg, i.started_at),
                "next": d.next.iter().take(3).map(|n| words::deadline(cfg, i, n.what, n.at)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let maintenances: Vec<Value> = o
        .maintenances
        .iter()
        .map(|m| {
            let running = m.from <= o.now;
            json!({
                "id": m.id,
                "url": format!("/ops/maintenances/{}", m.id),
                "services": words::services(cfg, &m.services),
                "running": running,
                "state": if running { "Pågår" } else { "Planlagt" },
                "window": format!("{} – {}", words::when(cfg, m.from), words::when(cfg, m.to)),
                "source": match &m.source { None => "Vårt vedlikehold".to_string(), Some(s) => format!("Hos {}", words::org_name(cfg, s)) },
                "orgs": format!("Berører {}", words::names(cfg, &m.orgs)),
                "next": o.maintenance_next.get(&m.id).into_iter().flatten()
                    .map(|t| words::maintenance_deadline(cfg, m.orgs.len(), "reminder", *t))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    let inquiries: Vec<Value> = o
        .inquiries
        .iter()
        .map(|q| {
            json!({
                "id": q.id,
                "url": format!("/ops/inquiries/{}", q.id),
                "org": words::org_name(cfg, &q.org),
                "subject": q.subject,
                "received": words::when(cfg, q.received_at),
                "due": words::when(cfg, q.due),
                "overdue": q.due <= o.now,
            })
        })
        .collect();
    let problems: Vec<Value> = problems.iter().filter_map(|e| problem(cfg, e)).collect();
    let local = o.now.with_timezone(&cfg.calendar.tz);
    json!({
        "title": "Oversikt",
        "refresh": true,
        "now": format!("kl. {}", local.format("%H:%M")),
        "counts": {
            "incidents": incidents.len(), "maintenances": maintenances.len(),
            "inquiries": inquiries.len(), "problems": problems.len(),
        },
        "incidents": incidents,
        "maintenances": maintenances,
        "inquiries": inquiries,
        "problems": problems,
    })
}

/// An incident's title as the console shows it.
pub(crate) fn incident_title(cfg: &Config, i: &crate::engine::model::IncidentView) -> String {
    title_of(cfg, i.kind, &i.services)
}

/// "Feil: Pleie- og omsorgsmeldinger": an incident's kind and services.
pub(crate) fn title_of(
    cfg: &Config,
    kind: crate::engine::model::Kind,
    services: &[String],
) -> String {
    let what = match kind {
        crate::engine::model::Kind::Feil => "Feil",
        crate::engine::model::Kind::Kvittering => "Manglende kvitteringer",
        crate::engine::model::Kind::Info => "Informasjon",
    };
    format!("{what}: {}", words::services(cfg, services))
}

fn problem(cfg: &Config, e: &TimelineEntry) -> Option<Value> {
    let TimelineEntry::Action(a) = e else {
        return None;
    };
    let (action, state, attempts, last_error) = (&a.action, &a.state, &a.attempts, &a.last_error);
    let (first_failure_at, bounced_at) = (&a.first_failure_at, &a.bounced_at);
    let p = action.parts();
    let org = p.org.filter(|o| *o != "region").map(|o| {
        (
            words::org_name(cfg, o),
            cfg.org(o).and_then(|x| x.phone.clone()),
        )
    });
    let detail = match (bounced_at, first_failure_at) {
        (Some(b), _) => format!("Returnert {}.", words::when(cfg, *b)),
        (None, Some(f)) => format!("{attempts} forsøk siden {}.", words::when(cfg, *f)),
        _ => String::new(),
    };
    Some(json!({
        "message": words::message(p.kind, &p.message),
        "org": org.as_ref().map(|o| &o.0),
        "phone": org.as_ref().and_then(|o| o.1.clone()),
        "phone_link": org.as_ref().and_then(|o| o.1.as_deref().map(tel)),
        "state": words::state(*state),
        "case": action.about.id(),
        "url": case_url(&action.about),
        "detail": detail,
        "error": last_error,
    }))
}

/// The name of an event type in a heading.
pub(crate) fn type_label(ty: &str) -> &'static str {
    match ty {
        "incident.open" => "ny hendelse",
        "incident.update" => "oppdatering",
        "incident.ack" => "utkvittering",
        "incident.resolve" => "marker som løst",
        "reply" => "registrer svar",
        "inquiry.received" => "ny henvendelse",
        "maintenance.add" => "nytt vedlikehold",
        "maintenance.change" => "endret vedlikehold",
        "maintenance.cancel" => "avlyst vedlikehold",
        "inquiry.answered" => "henvendelse besvart",
        _ => "handling",
    }
}
