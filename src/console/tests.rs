//! Every console page rendered from a real engine's state: the templates compile, the pages
//! say what the operator needs, and what users typed is escaped.

use super::case::{page, CaseData, Redo};
use super::forms::{FieldErrors, Form};
use super::pages::{self, Pages};
use crate::engine::events::Input;
use crate::engine::model::About;
use crate::engine::Engine;
use chrono::{TimeZone, Utc};
use serde_json::json;
use std::sync::Arc;

fn engine_with_cases() -> (Engine, chrono::DateTime<Utc>) {
    let cfg = Arc::new(crate::testutil::example_config());
    let mut e = Engine::new(cfg);
    // Friday 20.11.2026 14:30: a missing receipt from Malvik.
    let t = Utc.with_ymd_and_hms(2026, 11, 20, 13, 30, 0).unwrap();
    for (ty, v) in [
        (
            "incident.open",
            json!({"id": "K-1", "kind": "kvittering", "at_org": "malvik", "orgs": ["malvik"],
                   "services": ["PLO"], "measures": "<script>alert(1)</script>"}),
        ),
        (
            "maintenance.add",
            json!({"id": "V-1", "services": ["PLO"], "from": "2026-11-29T23:00:00+01:00",
                   "to": "2026-11-30T04:00:00+01:00"}),
        ),
        (
            "inquiry.received",
            json!({"id": "Q-1", "org": "trondheim", "subject": "Mangler kvittering"}),
        ),
    ] {
        let i = Input::parse(ty, &v).unwrap();
        e.handle(t, i.event).unwrap();
    }
    (e, t)
}

/// A page's context as an operator sees it (the layout adds `can_act` for the signed-in role).
fn operator(mut ctx: serde_json::Value) -> serde_json::Value {
    ctx["can_act"] = serde_json::Value::Bool(true);
    ctx
}

#[test]
fn every_page_renders_and_escapes_what_users_typed() {
    let pages = Pages::new().unwrap();
    let (mut e, t) = engine_with_cases();
    let cfg = e.config().clone();
    let overview = crate::engine::views::Overview {
        now: t,
        incidents: e.open_incidents().map(|i| i.detail(&cfg)).collect(),
        maintenances: e.maintenances().map(|m| m.view()).collect(),
        maintenance_next: [("V-1".to_string(), vec![t + chrono::Duration::days(6)])]
            .into_iter()
            .collect(),
        inquiries: e.inquiries().map(|q| q.view(&cfg)).collect(),
    };
    let html = pages.render("overview", &pages::overview(&cfg, &overview, &[]));
    // The next deadline in words: 2 business hours from Friday 14:30 is Monday 09:30.
    assert!(
        html.contains("Oppfølging sendes til Malvik kommune mandag 23.11 kl. 09:30"),
        "{html}"
    );
    assert!(html.contains("Q-1") && html.contains("V-1"), "{html}");
    // The maintenance's reminder, and the overview refreshes itself (without JavaScript too).
    assert!(html.contains("Påminnelse sendes til"), "{html}");
    assert!(html.contains("<meta http-equiv=\"refresh\" content=\"60\">"));
    assert!(html.contains("Per kl. "), "{html}");

    let detail = e.incident("K-1").unwrap().detail(&cfg);
    let case = e.case_json(&About::Incident("K-1".into()));
    let about = About::Incident("K-1".into());
    let data = CaseData {
        about: &about,
        case: case.as_ref(),
        detail: Some(&detail),
        timeline: &[],
        now: t,
    };
    // A viewer (no `can_act`) sees the case without a single form.
    let viewer = pages.render("case", &page(&cfg, &data, None));
    assert!(
        !viewer.contains("action=\"/ops/act\"") && viewer.contains("K-1"),
        "{viewer}"
    );
    let html = pages.render("case", &operator(page(&cfg, &data, None)));
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>alert"), "unescaped input");
    for form in [
        "incident.update",
        "incident.ack",
        "reply",
        "incident.resolve",
    ] {
        assert!(html.contains(&format!("value=\"{form}\"")), "{form}");
    }
    // The actions come first: before the facts, the recipients and the timeline.
    let act = html.find("id=\"h-act\"").unwrap();
    for later in ["id=\"h-facts\"", "id=\"h-time\""] {
        assert!(
            act < html.find(later).unwrap(),
            "{later} before the actions"
        );
    }
    // A maintenance and an inquiry say what happens next (issue #26 item 8).
    for (about, want) in [
        (About::Maintenance("V-1".into()), "Påminnelse sendes til"),
        (
            About::Inquiry("Q-1".into()),
            "Henvendelsen meldes forfalt til driftssenteret",
        ),
    ] {
        let case = e.case_json(&about);
        assert!(case.as_ref().unwrap()["next"]
            .as_array()
            .is_some_and(|n| !n.is_empty()));
        let data = CaseData {
            about: &about,
            case: case.as_ref(),
            detail: None,
            timeline: &[],
            now: t,
        };
        let html = pages.render("case", &operator(page(&cfg, &data, None)));
        assert!(html.contains(want), "{want}: {html}");
    }
    // Every case listed and found by search: by number, by service name, by organization.
    let rows = e.cases();
    assert_eq!(rows.len(), 3);
    for (q, hit) in [
        ("", 3),
        ("k-1", 1),
        ("pleie", 2),
        ("trondheim", 2),
        ("henvendelse trondheim", 1),
        ("20.11.2026", 2),
        ("nope", 0),
    ] {
        let ctx = crate::console::cases::cases(&cfg, &rows, q, t);
        assert_eq!(ctx["cases"].as_array().unwrap().len(), hit, "{q:?}: {ctx}");
    }
    let html = pages.render(
        "cases",
        &crate::console::cases::cases(&cfg, &rows, "K-1", t),
    );
    assert!(html.contains("href=\"/ops/incidents/K-1\""), "{html}");
    let html = pages.render(
        "new",
        &pages::new_case(&cfg, "inquiry.received", None, &FieldErrors::new()),
    );
    assert!(html.contains("value=\"inquiry.received\"") && html.contains("Ny henvendelse"));
    // A refused field is marked and explained next to it.
    let f = Form::parse(b"id=K-1&measures=x").unwrap();
    let errors = FieldErrors::from([("measures".to_string(), "Feltet er feil.".to_string())]);
    let redo = Redo {
        ty: "incident.update",
        form: &f,
        errors: &errors,
    };
    let html = pages.render("case", &operator(page(&cfg, &data, Some(&redo))));
    assert!(html.contains("aria-invalid=\"true\" aria-describedby=\"f-measures-err\""));
    assert!(html.contains("Feltet er feil."));

    for ty in ["incident.open", "maintenance.add"] {
        let html = pages.render("new", &pages::new_case(&cfg, ty, None, &FieldErrors::new()));
        assert!(html.contains("Alle kommuner i Trøndelag"), "{ty}");
        assert!(html.contains("name=\"step\" value=\"preview\""));
    }

    // The preview of a resolution: the «Løst» e-mail to Malvik is not due (no follow-up
    // was sent yet), so it shows the status page only if anything; it must render either way.
    let resolve = Input::parse("incident.resolve", &json!({"id": "K-1"})).unwrap();
    let p = e
        .preview(t, resolve.event, chrono::Duration::days(8))
        .unwrap();
    let renderer = crate::render::Renderer::new(&cfg).unwrap();
    let html = pages.render(
        "preview",
        &crate::console::preview::preview(&cfg, &renderer, "marker som løst", &p, t),
    );
    assert!(html.contains("Forhåndsvisning: marker som løst"));
    // A reply before the follow-up (SPEC §4.15): the preview says the follow-up of Monday
    // 09:30 and the escalation stop, and lists nothing that would go anyway.
    let reply = Input::parse("reply", &json!({"id": "K-1"})).unwrap();
    let p = e
        .preview(t, reply.event, chrono::Duration::days(8))
        .unwrap();
    let html = pages.render(
        "preview",
        &crate::console::preview::preview(&cfg, &renderer, "registrer svar", &p, t),
    );
    assert!(html.contains("Dette stopper"), "{html}");
    assert!(
        html.contains(
            "E-post: oppfølging (manglende kvittering) mandag 23.11 kl. 09:30 sendes ikke."
        ),
        "{html}"
    );
    assert!(html.contains("Ingen nye meldinger sendes."), "{html}");
    // A text update to a counterpart's case changes nothing that is sent.
    let update = Input::parse(
        "incident.update",
        &json!({"id": "K-1", "text": "Vi undersøker"}),
    )
    .unwrap();
    let p = e
        .preview(t, update.event, chrono::Duration::days(8))
        .unwrap();
    let html = pages.render(
        "preview",
        &crate::console::preview::preview(&cfg, &renderer, "oppdatering", &p, t),
    );
    assert!(html.contains("Ingen nye meldinger sendes."), "{html}");
    assert!(!html.contains("Dette stopper"), "{html}");
    assert!(
        e.poll_action().is_some(),
        "the real engine keeps its own actions"
    );

    let html = pages.render(
        "login",
        &json!({"title": "Logg inn", "error": "Feil operatørnøkkel."}),
    );
    assert!(html.contains("Feil operatørnøkkel.") && html.contains("lang=\"nb\""));
}

/// The text a person sees of a page: tags and attribute values left out.
fn visible(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Issue #26: an escalated case shows its silence and the link to Alertmanager; a fan-out is
/// one line; no page shows a service's id where its name belongs.
#[test]
fn silences_fanouts_and_service_names_on_the_case_page() {
    use crate::store::TimelineEntry;
    let pages = Pages::new().unwrap();
    let mut cfg = crate::testutil::example_config();
    cfg.sections.set(crate::sinks::silence::Settings {
        url: "http://alertmanager.hemit.example:9093".into(),
        duration: chrono::Duration::days(30),
    });
    let cfg = Arc::new(cfg);
    let mut e = Engine::new(Arc::clone(&cfg));
    let t = Utc.with_ymd_and_hms(2026, 11, 20, 13, 30, 0).unwrap();
    e.advance_to(t);
    for (ty, v) in [
        (
            "incident.open",
            json!({"id": "K-2", "kind": "kvittering", "at_org": "malvik", "orgs": ["malvik"],
                   "services": ["epikrise"]}),
        ),
        (
            "incident.open",
            json!({"id": "P-1", "services": ["epikrise"], "category": "A",
                   "expected_end": "2026-11-20T20:00:00+01:00"}),
        ),
    ] {
        e.handle(t, Input::parse(ty, &v).unwrap().event).unwrap();
    }
    // Past Tuesday 15:00 without a reply: escalated, and the alarms silenced.
    e.advance_to(Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 1).unwrap());
    let mut entries: Vec<(String, TimelineEntry)> = Vec::new();
    while let Some(a) = e.poll_action() {
        entries.push((
            a.about.key_prefix(),
            TimelineEntry::Action(crate::store::ActionEntry {
                at: a.at,
                key: a.key.clone(),
                sink: "test".into(),
                state: crate::store::Delivery::Sent,
                attempts: 1,
                sent_at: Some(a.at),
                first_failure_at: None,
                last_error: None,
                bounced_at: None,
                action: Box::new(a),
            }),
        ));
    }
    let of = |p: &str| -> Vec<TimelineEntry> {
        entries
            .iter()
            .filter(|(k, _)| k == p)
            .map(|(_, e)| e.clone())
            .collect()
    };
    let render = |id: &str, timeline: &[TimelineEntry]| {
        let about = About::Incident(id.into());
        let detail = e.incident(id).map(|i| i.detail(&cfg));
        let case = e.case_json(&about);
        let data = CaseData {
            about: &about,
            case: case.as_ref(),
            detail: detail.as_ref(),
            timeline,
            now: t,
        };
        pages.render("case", &operator(page(&cfg, &data, None)))
    };
    let k2 = render("K-2", &of("K-2"));
    assert!(k2.contains("Demping i Alertmanager"), "{k2}");
    assert!(
        k2.contains("Alarmene for Malvik kommune er dempet siden tirsdag 24.11 kl. 15:00"),
        "{k2}"
    );
    assert!(k2.contains("href=\"http://alertmanager.hemit.example:9093/#/silences\""));
    let p1 = render("P-1", &of("P-1"));
    let n = cfg
        .orgs_exchanging(&["epikrise".to_string()], None, t)
        .len();
    assert!(
        p1.contains(&format!(
            "{n} × E-post: varsel om uplanlagt driftsstans – <span class=\"state ok\">{n} sendt"
        )),
        "{p1}"
    );
    assert!(p1.contains(&format!(
        "{n} organisasjoner · Varsel om uplanlagt driftsstans: {n} sendt"
    )));
    for html in [&k2, &p1] {
        let text = visible(html);
        assert!(text.contains("Epikriser"), "{text}");
        assert!(
            !text
                .split(|c: char| !c.is_alphanumeric())
                .any(|w| w == "epikrise"),
            "a service id where its name belongs: {text}"
        );
    }
}
