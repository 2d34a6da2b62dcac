use super::*;

use crate::report::ReportState;
use crate::testutil::example_config as cfg;

#[test]
fn every_template_renders_and_matches_snapshot() {
    let c = cfg();
    let r = Renderer::new(&c).expect("templates compile");
    for (name, a) in samples::all(&c) {
        let out = r.action(&c, &a).expect("renders").expect("has text");
        let snap = format!("Emne: {}\n\n{}", out.subject, out.body);
        insta::assert_snapshot!(name.replace('/', "__"), snap);
        if name.starts_with("email/") {
            assert!(
                out.body.starts_with(
                    "Telefonnummer for mottak av pasientrelaterte opplysninger ved nedetid: "
                ),
                "{name}: patient-phone line must come first (seeds/004 rev. 19.04.18)"
            );
        }
    }
}

#[test]
fn subjects_follow_the_routine() {
    let c = cfg();
    let r = Renderer::new(&c).unwrap();
    let subj = |name: &str| {
        let (_, a) = samples::all(&c)
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap();
        r.action(&c, &a).unwrap().unwrap().subject
    };
    // Sample maintenance crosses midnight.
    assert_eq!(
        subj("email/planned"),
        "Planlagt stopp/forsinkelse i meldingstrafikk Hemit HF 29.11.2026 kl. 23:00 – 30.11.2026 kl. 03:00"
    );
    assert_eq!(
        subj("email/planned.cancel"),
        format!("Avlyst: {}", subj("email/planned"))
    );
    assert_eq!(
        subj("email/planned.reminder"),
        format!("Påminnelse: {}", subj("email/planned"))
    );
    assert!(subj("email/planned.change").starts_with("Endret: Planlagt stopp/forsinkelse i meldingstrafikk Hemit HF 29.11.2026 kl. 23:00 – 30.11.2026 kl. 04:00"));
    assert_eq!(subj("email/unplanned"), "Feil i meldingsutveksling");
    assert_eq!(
        subj("email/update"),
        "Oppdatering: Feil i meldingsutveksling"
    );
    assert_eq!(subj("email/resolved"), "Løst: Feil i meldingsutveksling");
    assert_eq!(subj("email/followup"), "Manglende kvittering");
    assert_eq!(
        subj("email/escalation"),
        "Eskalering: manglende svar fra Trondheim kommune – Manglende kvittering"
    );
}

#[test]
fn same_day_window_and_kinds() {
    let c = cfg();
    let r = Renderer::new(&c).unwrap();
    let mut m = samples::maintenance(&c, false);
    m.source = Some("malvik".into());
    let e = Email {
        message: EmailKind::Planned,
        org: "trondheim".into(),
        to: Vec::new().into(),
        cc: vec![],
        thread: None,
        incident: None,
        maintenance: Some(std::sync::Arc::new(m)),
        previous: None,
        inquiry_sent_at: None,
        reply_due: None,
        directory: None,
    };
    let out = r.email(&c, &e, chrono::Utc::now(), None).unwrap();
    assert_eq!(
        out.subject,
        "Planlagt stopp/forsinkelse i meldingstrafikk Malvik kommune 29.11.2026 kl. 08:00–12:00"
    );
    // A maintenance at a counterpart shows that organization's patient phone.
    let malvik_phone = c.org("malvik").unwrap().phone.clone().unwrap();
    assert!(out.body.starts_with(&format!(
        "Telefonnummer for mottak av pasientrelaterte opplysninger ved nedetid: {malvik_phone}\n"
    )));
    let order = [
        "Telefonnummer",
        "Tidspunkt for nedetid",
        "Berørte tjenester: Pleie- og omsorgsmeldinger (PLO) og Helsestasjonsmeldinger",
        "Iverksatte tiltak",
        "Denne e-posten skal ikke besvares.",
    ];
    let pos: Vec<usize> = order.iter().map(|s| out.body.find(s).unwrap()).collect();
    assert!(
        pos.windows(2).all(|w| w[0] < w[1]),
        "planned body order {pos:?}"
    );

    for (kind, want) in [
        (Kind::Kvittering, "Manglende kvittering"),
        (
            Kind::Info,
            "Viktig informasjon vedrørende meldingsutveksling",
        ),
    ] {
        let e = Email {
            message: EmailKind::Unplanned,
            maintenance: None,
            incident: Some(std::sync::Arc::new(samples::incident(&c, true, kind))),
            ..e.clone()
        };
        assert_eq!(
            r.email(&c, &e, chrono::Utc::now(), None).unwrap().subject,
            want
        );
    }
}

#[test]
fn unplanned_body_order_and_norwegian_letters() {
    let c = cfg();
    let r = Renderer::new(&c).unwrap();
    let (_, a) = samples::all(&c)
        .into_iter()
        .find(|(n, _)| n == "email/unplanned")
        .unwrap();
    let body = r.action(&c, &a).unwrap().unwrap().body;
    let order = [
        "Telefonnummer for mottak",
        "Tidspunkt hendelsen oppstod: 20.11.2026 kl. 14:20",
        "Berørt tjeneste: Pleie- og omsorgsmeldinger (PLO)",
        "Iverksatte tiltak: Kontaktet leverandør.",
        "Når normal e-meldingskommunikasjon forventes å være på plass: 20.11.2026 kl. 18:00",
        "Feilen ligger hos: Hemit HF (vår side)",
    ];
    let pos: Vec<usize> = order
        .iter()
        .map(|s| body.find(s).unwrap_or_else(|| panic!("{s} in {body}")))
        .collect();
    assert!(
        pos.windows(2).all(|w| w[0] < w[1]),
        "unplanned body order {pos:?}"
    );
    assert!(body.contains("æ") || body.contains("ø") || body.contains("å"));
}

#[test]
fn broken_override_is_reported_with_place() {
    let tmp = crate::testutil::temp_dir();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("email")).unwrap();
    std::fs::write(
        dir.join("email/unplanned.hbs"),
        "Feil\n\nlinje 3\n{{#if x}}\n",
    )
    .unwrap();
    let e = Renderer::with_dir(Some(dir)).err().expect("must fail");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].to_string().contains("email/unplanned.hbs:"),
        "{}",
        e[0]
    );
    assert!(e[0].message.contains("does not compile"));
    std::fs::write(dir.join("email/unplanned.hbs"), "Feil\nno blank line\n").unwrap();
    let e = Renderer::with_dir(Some(dir)).err().expect("must fail");
    assert!(
        e[0].to_string()
            .contains("unplanned.hbs:2:1: the second line must be empty"),
        "{}",
        e[0]
    );
    // Unknown variable: compiles, fails at render with its place.
    std::fs::write(
        dir.join("email/unplanned.hbs"),
        "Feil\n\nHei {{incident.nosuch}}\n",
    )
    .unwrap();
    let r = Renderer::with_dir(Some(dir)).unwrap();
    let c = cfg();
    let (_, a) = samples::all(&c)
        .into_iter()
        .find(|(n, _)| n == "email/unplanned")
        .unwrap();
    let err = r.action(&c, &a).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("unplanned.hbs:3:5: unknown variable `incident.nosuch`"),
        "{err}"
    );
}

/// Within a fan-out the subject is rendered once, unless an overridden template could name
/// the recipient (directly, or through `base_subject`): then every copy gets its own.
#[test]
fn a_fanout_subject_is_shared_only_when_it_cannot_name_the_recipient() {
    let c = cfg();
    let (_, a) = samples::all(&c)
        .into_iter()
        .find(|(n, _)| n == "email/resolved")
        .unwrap();
    let to = |org: &str| {
        let mut b = a.clone();
        if let ActionBody::Email(e) = &mut b.body {
            e.org = org.to_string();
        }
        b
    };
    let subjects = |r: &Renderer| {
        ["trondheim", "malvik", "trondheim"].map(|o| r.subject(&c, &to(o)).unwrap().unwrap())
    };
    let shipped = Renderer::new(&c).unwrap();
    assert!(shipped.recipient_free_subject.contains("email/resolved"));
    assert_eq!(subjects(&shipped), ["Løst: Feil i meldingsutveksling"; 3]);

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("email")).unwrap();
    let body = "Telefonnummer for mottak av pasientrelaterte opplysninger ved nedetid: {{phone}}\n";
    // The base subject names the recipient; `resolved` itself only reads `base_subject`.
    std::fs::write(
        dir.path().join("email/unplanned.hbs"),
        format!("Feil hos {{{{recipient.name}}}}\n\n{body}"),
    )
    .unwrap();
    let custom = Renderer::with_dir(Some(dir.path())).unwrap();
    assert!(!custom.recipient_free_subject.contains("email/unplanned"));
    let got = subjects(&custom);
    assert_eq!(got[0], "Løst: Feil hos Trondheim kommune");
    assert!(got[1].starts_with("Løst: Feil hos Malvik"), "{got:?}");
    assert_eq!(got[2], got[0]);
    assert!(!subject_free_of_recipient(
        "{{#each this}}{{this}}{{/each}}"
    ));
    assert!(!subject_free_of_recipient("{{lookup @root \"recipient\"}}"));
    assert!(subject_free_of_recipient("Løst: {{base_subject}}"));
}

/// A sink's fan-out renders a message once when neither its subject nor its body can name
/// the recipient, and what each recipient gets is what rendering for it alone gives: under
/// the configuration in force (another one renders again), and never shared when the text
/// names the recipient.
#[test]
fn a_fanout_text_is_rendered_once_only_when_it_cannot_name_the_recipient() {
    let c = std::sync::Arc::new(cfg());
    let email = |name: &str, org: &str| {
        let (_, a) = samples::all(&c)
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap();
        match a.body {
            ActionBody::Email(mut e) => {
                e.org = org.to_string();
                (*e, a.at)
            }
            _ => unreachable!(),
        }
    };
    let each = |r: &Renderer, c: &std::sync::Arc<Config>, name: &str| {
        ["trondheim", "malvik", "trondheim"].map(|o| {
            let (e, at) = email(name, o);
            let shared = r.email_shared(c, &e, at, None).unwrap();
            assert_eq!(shared, r.email(c, &e, at, None).unwrap(), "{name} to {o}");
            shared
        })
    };
    let shipped = Renderer::new(&c).unwrap();
    // The notice does not name its recipient: one text for all.
    assert!(shipped.recipient_free.contains("email/unplanned"));
    let got = each(&shipped, &c, "email/unplanned");
    assert!(got[0] == got[1] && got[1] == got[2]);
    // The inquiry does ("Til {{recipient.name}}:"): each its own.
    assert!(!shipped.recipient_free.contains("email/followup"));
    let got = each(&shipped, &c, "email/followup");
    assert!(
        got[0].body.contains("Til Trondheim kommune:"),
        "{}",
        got[0].body
    );
    assert!(got[1].body.contains("Til Malvik"), "{}", got[1].body);

    // Another configuration (a reload): rendered under it, not taken from the last one.
    let (e, at) = email("email/unplanned", "malvik");
    let before = shipped.email_shared(&c, &e, at, None).unwrap();
    let mut renamed = (*c).clone();
    renamed.self_.name = "Helse Nord IKT".into();
    let renamed = std::sync::Arc::new(renamed);
    let after = shipped.email_shared(&renamed, &e, at, None).unwrap();
    assert!(before.body.contains("Hemit HF") && after.body.contains("Helse Nord IKT"));

    // An operator's body that names the recipient: each its own.
    let (_dir, custom) =
        own_unplanned("Feil i meldingsutveksling\n\nTil {{recipient.name}}: ring {{phone}}\n");
    assert!(!custom.recipient_free.contains("email/unplanned"));
    let got = each(&custom, &c, "email/unplanned");
    assert!(got[1].body.starts_with("Til Malvik"), "{}", got[1].body);
    assert_eq!(got[0], got[2]);
}

/// Issue #26: a service is named by its name; an id that is a slug (`epikrise`) never
/// reaches an e-mail, a status-page text or an ops mail, where its name belongs.
#[test]
fn services_are_named_not_identified() {
    let c = cfg();
    let r = Renderer::new(&c).unwrap();
    let ids: Vec<String> = ["epikrise", "lab", "henvisning"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let words = |t: &str| -> Vec<String> {
        t.split(|ch: char| !ch.is_alphanumeric())
            .map(str::to_string)
            .collect()
    };
    for (name, mut a) in samples::all(&c) {
        match &mut a.body {
            ActionBody::Email(e) => {
                if let Some(i) = e.incident.as_mut() {
                    std::sync::Arc::make_mut(i).services = ids.clone();
                }
                if let Some(m) = e.maintenance.as_mut() {
                    std::sync::Arc::make_mut(m).services = ids.clone();
                }
            }
            ActionBody::Statuspage(s) => {
                if let Some(i) = s.incident.as_mut() {
                    i.services = ids.clone();
                }
                if let Some(m) = s.maintenance.as_mut() {
                    m.services = ids.clone();
                }
            }
            ActionBody::Ops(o) => {
                if let Some(i) = o.incident.as_mut() {
                    i.services = ids.clone();
                }
                if let Some(m) = o.maintenance.as_mut() {
                    m.services = ids.clone();
                }
            }
            _ => {}
        }
        let Some(out) = r.action(&c, &a).unwrap() else {
            continue;
        };
        let text = format!("{}\n{}", out.subject, out.body);
        for id in &ids {
            assert!(
                !words(&text).contains(id),
                "{name}: service id {id:?} where its name belongs:\n{text}"
            );
        }
        let mentions = text.contains("Epikriser");
        let about_service = text.contains("tjenest") || text.contains("Planlagt vedlikehold:");
        assert!(
            mentions || !about_service,
            "{name}: names the services without their names:\n{text}"
        );
    }
}

#[test]
fn subscriber_mails_are_the_posts_with_their_links() {
    use super::subscriber::{Job, Links, Phase};
    let c = cfg();
    let r = Renderer::new(&c).unwrap();
    let links = Links {
        confirm: "https://meldingsvakt.hemit.example/abonner/abc.sig".into(),
        manage: "https://meldingsvakt.hemit.example/abonner/abc.sig".into(),
        unsubscribe: "https://meldingsvakt.hemit.example/abonner/abc.sig/avmeld".into(),
    };
    let snap = |name: &str, job: &Job, services: &[String], test: bool| {
        let out = r
            .subscriber(&c, job, services, test, &links)
            .expect("renders");
        insta::assert_snapshot!(
            format!("subscriber__{name}"),
            format!("Emne: {}\n\n{}", out.subject, out.body)
        );
        out
    };
    let out = snap("confirm", &Job::Confirm, &["PLO".to_string()], true);
    assert!(out.body.contains(&links.confirm) && !out.body.contains("avmeld"));
    for (name, a) in samples::all(&c) {
        let Some(kind) = name.strip_prefix("statuspage/") else {
            continue;
        };
        let job = Job::Post {
            action: Box::new(a.clone()),
            phase: None,
        };
        let out = snap(kind, &job, &[], false);
        let post = r.action(&c, &a).unwrap().unwrap();
        assert!(out.subject.ends_with(&post.subject), "{}", out.subject);
        assert!(out.body.starts_with(post.body.trim()), "{}", out.body);
        assert!(out.body.contains(&links.unsubscribe) && out.body.contains(&links.manage));
        if kind == "maintenance" {
            let start = Job::Post {
                action: Box::new(a),
                phase: Some(Phase::Start),
            };
            let out = snap("maintenance.start", &start, &[], false);
            assert!(out.subject.contains("Vedlikehold pågår"), "{}", out.subject);
        }
    }
}

/// Issue #32: `simulate` writes the shipped subject lines directly; every sample action, in
/// every kind, environment, fault side, service count and window shape, gets the text the
/// templates give. A template changed in the folder takes the template path.
#[test]
fn direct_subject_is_the_template_s() {
    let c = cfg();
    let r = Renderer::new(&c).unwrap();
    assert_eq!(r.direct_lines.len(), subject::DIRECT.len());
    let services: Vec<Vec<String>> = vec![
        vec![],
        c.services.iter().take(1).map(|s| s.id.clone()).collect(),
        c.services.iter().take(3).map(|s| s.id.clone()).collect(),
    ];
    let mut variants = Vec::new();
    for (_, a) in samples::all(&c) {
        variants.push(a.clone());
        let mut vary = |f: &dyn Fn(&mut Action)| {
            let mut b = a.clone();
            f(&mut b);
            variants.push(b);
        };
        for kind in [Kind::Feil, Kind::Kvittering, Kind::Info] {
            for env in [Environment::Produksjon, Environment::Test] {
                for at_self in [true, false] {
                    for svc in &services {
                        vary(&|b: &mut Action| {
                            let mut i = samples::incident(&c, at_self, kind);
                            i.environment = env;
                            i.services = svc.clone();
                            match &mut b.body {
                                ActionBody::Email(e) if e.incident.is_some() => {
                                    e.incident = Some(std::sync::Arc::new(i))
                                }
                                ActionBody::Statuspage(s) if s.incident.is_some() => {
                                    s.incident = Some(i)
                                }
                                _ => {}
                            }
                        });
                    }
                }
            }
        }
        for across in [true, false] {
            for source in [None, Some("malvik"), Some(c.self_.id.as_str())] {
                vary(&|b: &mut Action| {
                    let mut m = samples::maintenance(&c, across);
                    m.source = source.map(str::to_string);
                    match &mut b.body {
                        ActionBody::Email(e) if e.maintenance.is_some() => {
                            e.maintenance = Some(std::sync::Arc::new(m))
                        }
                        ActionBody::Statuspage(s) if s.maintenance.is_some() => {
                            s.maintenance = Some(m)
                        }
                        _ => {}
                    }
                });
            }
        }
    }
    // The report in each state and month, and the unacknowledged reminder at each priority
    // and environment: the two non-e-mail lines written directly.
    for (_, a) in samples::all(&c) {
        match &a.body {
            ActionBody::Report(_) => {
                for state in [
                    ReportState::Final,
                    ReportState::Preliminary,
                    ReportState::NoData,
                ] {
                    for month in ["2027-01", "2027-12"] {
                        let mut b = a.clone();
                        if let ActionBody::Report(r) = &mut b.body {
                            r.report.state = state;
                            r.report.month = month.into();
                        }
                        variants.push(b);
                    }
                }
            }
            ActionBody::Ops(o) if o.reason == OpsReason::Unacknowledged => {
                for (priority, env) in [(1, Environment::Test), (2, Environment::Produksjon)] {
                    let mut b = a.clone();
                    if let ActionBody::Ops(o) = &mut b.body {
                        let i = o.incident.as_mut().unwrap();
                        i.priority = priority;
                        i.environment = env;
                    }
                    variants.push(b);
                }
            }
            _ => {}
        }
    }
    let mut direct = 0;
    let mut lines = std::collections::HashSet::new();
    for a in &variants {
        let want = r.template_subject(&c, a).unwrap();
        if let Some(got) = r.direct_subject(&c, a) {
            direct += 1;
            lines.insert(got.clone());
            assert_eq!(Some(got), want, "{}", a.key);
        }
    }
    // Every e-mail and status-page sample was written directly.
    assert!(direct >= 12 * 18, "{direct} of {}", variants.len());
    for line in [
        "Tilgjengelighet desember 2027 – Hemit HF (foreløpig)",
        "Tilgjengelighet januar 2027 – Hemit HF",
        "Påminnelse: prioritet 1-hendelse INC-1 er ikke kvittert ut",
    ] {
        assert!(lines.contains(line), "{line} not among {lines:?}");
    }

    // An own `email/unplanned` line: its family takes the template path.
    let (_dir, custom) = own_unplanned("Avvik {{incident.id}}\n\nTelefonnummer for mottak av pasientrelaterte opplysninger ved nedetid: {{phone}}\n");
    let (_, resolved) = samples::all(&c)
        .into_iter()
        .find(|(n, _)| n == "email/resolved")
        .unwrap();
    assert_eq!(custom.direct_subject(&c, &resolved), None);
    assert_eq!(
        custom.subject(&c, &resolved).unwrap().as_deref(),
        Some("Løst: Avvik INC-1")
    );
}

/// Templates with an operator's own `email/unplanned.hbs` of `text` (the folder lives as long
/// as the first value).
fn own_unplanned(text: &str) -> (tempfile::TempDir, Renderer) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("email")).unwrap();
    std::fs::write(dir.path().join("email/unplanned.hbs"), text).unwrap();
    let r = Renderer::with_dir(Some(dir.path())).unwrap();
    (dir, r)
}
