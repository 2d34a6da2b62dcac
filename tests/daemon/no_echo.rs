//! SPEC §4.12: a refused personal number is never shown back or logged. The daemon runs at
//! `MELDINGSVAKT_LOG=trace`; a number goes into the console's login name and into every field
//! of the console's forms, at the preview and at the send step, and into the API. Not one
//! response and not one log line carries it.

use crate::support::*;

/// The number, and a part of it that no other text of these pages contains.
const NUMBER: &str = "13057500020";
const TELL: &str = "130575";

#[test]
fn a_refused_number_is_never_shown_back_or_logged() {
    let env = Env::new("no-echo");
    let _smtp = smtp_server(env.smtp, &env.maildir());
    let _d = env.daemon_env(&[("MELDINGSVAKT_LOG", "trace")]);
    let op = env.token("operator-token");
    let b = Browser {
        jar: env.dir.join("cookies"),
        port: env.http,
    };
    let with_number = format!("Kari {NUMBER}");
    let (code, page) = b.post("/ops/login", &[("token", &op), ("name", &with_number)]);
    assert_eq!(code, 401, "{page}");
    assert!(!page.contains(TELL), "the login name came back: {page}");
    let (code, _) = b.post("/ops/login", &[("token", &op), ("name", "Kari Nordmann")]);
    assert_eq!(code, 303);
    // A case to update.
    let (code, resp) = env.post(
        "/api/v1/incidents",
        &op,
        r#"{"id":"INC-ECHO","orgs":["malvik"],"services":["PLO"],"category":"B"}"#,
    );
    assert_eq!(code, 201, "{resp}");
    let csrf = b.csrf();
    let soon = (chrono::Utc::now() + chrono::Duration::hours(4)).to_rfc3339();
    let later = (chrono::Utc::now() + chrono::Duration::days(9)).to_rfc3339();
    let end =
        (chrono::Utc::now() + chrono::Duration::days(9) + chrono::Duration::hours(3)).to_rfc3339();
    let pasient = format!("Pasient {NUMBER}");
    let id = format!("INC-{NUMBER}");
    let forms: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "incident.open",
            vec![
                ("id", "INC-E1"),
                ("orgs", "malvik"),
                ("services", "PLO"),
                ("category", "B"),
                ("expected_end", &soon),
                ("measures", "Kontaktet leverandør"),
                ("text", "Feil i PLO"),
            ],
        ),
        (
            "incident.update",
            vec![
                ("id", "INC-ECHO"),
                ("measures", "Omstart"),
                ("text", "Vi jobber med saken"),
                ("expected_end", &soon),
            ],
        ),
        (
            "maintenance.add",
            vec![
                ("id", "VED-E1"),
                ("orgs", "malvik"),
                ("services", "PLO"),
                ("from", &later),
                ("to", &end),
                ("measures", "Oppgradering"),
                ("phone", "+47 73 00 00 00"),
            ],
        ),
    ];
    let mut tried = 0;
    for (ty, fields) in &forms {
        for (i, (field, _)) in fields.iter().enumerate() {
            let hidden: &str = if *field == "id" { &id } else { &pasient };
            for step in ["preview", "send"] {
                let mut form: Vec<(&str, &str)> = vec![("ty", ty), ("csrf", &csrf), ("step", step)];
                for (j, (k, v)) in fields.iter().enumerate() {
                    form.push((k, if i == j { hidden } else { v }));
                }
                let (code, page) = b.post("/ops/act", &form);
                assert!(
                    code == 422 || code == 404,
                    "{ty}.{field} at {step}: {code}\n{page}"
                );
                assert!(
                    !page.contains(TELL),
                    "{ty}.{field} at {step}: the number came back"
                );
                tried += 1;
            }
        }
    }
    assert!(tried >= 30);
    // The API too.
    let (code, resp) = env.post(
        "/api/v1/incidents",
        &op,
        &format!(r#"{{"id":"INC-E2","orgs":["malvik"],"measures":"{pasient}"}}"#),
    );
    assert_eq!(code, 422);
    assert!(!resp.contains(TELL), "{resp}");
    let log = std::fs::read_to_string(env.dir.join("daemon.log")).unwrap();
    assert!(log.contains("console: signed in"), "{log}");
    if let Some(line) = log.lines().find(|l| l.contains(TELL)) {
        panic!("a log line carries the number: {line}");
    }
}
