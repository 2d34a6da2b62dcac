//! A whole Friday shift in the console (issue #26): the story in `tests/browser/shift.mjs`
//! walks it in Chromium on the daemon's test clock; this side starts the daemon and a real
//! SMTP server, sends the two alerts, and afterwards checks what the browser cannot see: no
//! follow-up or escalation went to Malvik after its reply, the maintenance reminder went on
//! Monday, the answered inquiry was never reported overdue, and the report counts the stop
//! to its backdated end.
//!
//! `MELDINGSVAKT_SHOTS=docs/console-shift cargo test --features test-clock --test daemon
//! shift` writes the screenshots committed to `docs/`.

#![cfg(feature = "test-clock")]

use crate::harness::*;
use crate::support::*;
use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};

/// An instant in Oslo local time.
fn oslo(d: NaiveDate, h: u32, m: u32) -> chrono::DateTime<Utc> {
    chrono_tz::Europe::Oslo
        .from_local_datetime(&d.and_hms_opt(h, m, 0).unwrap())
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

fn alert(name: &str, labels: &str, summary: &str, description: &str, started: &str) -> String {
    format!(
        r#"{{"version":"4","status":"firing","receiver":"meldingsvakt","groupLabels":{{}},"commonLabels":{{}},"commonAnnotations":{{}},"externalURL":"http://alertmanager.hemit.example","alerts":[{{"status":"firing","labels":{{"alertname":"{name}",{labels}}},"annotations":{{"summary":"{summary}","description":"{description}"}},"startsAt":"{started}","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus.hemit.example/graph?g0.expr=plo_queue_stuck","fingerprint":"{name}"}}]}}"#
    )
}

#[test]
fn a_whole_friday_shift_in_the_console() {
    let env = Env::new("shift");
    let _smtp = smtp_server(env.smtp, &env.maildir());
    let cfg = meldingsvakt::config::Config::load(&env.dir.join("meldingsvakt.toml")).unwrap();
    // A Friday at least two days ahead whose Friday, Monday and Tuesday are working days
    // (so the story's "Monday 09:30" and "Monday 08:00" hold).
    let mut friday = (Utc::now() + Duration::days(2)).date_naive();
    while friday.weekday() != chrono::Weekday::Fri
        || ![0, 3, 4]
            .iter()
            .all(|d| cfg.calendar.is_working_day(friday + Duration::days(*d)))
    {
        friday += Duration::days(1);
    }
    let (_d, clock) = env.daemon_with_clock("");
    set_clock(&clock, oslo(friday, 14, 30));
    wait_for(&env, "the test clock", &|| {
        let h = am_json(&format!("http://127.0.0.1:{}/healthz", env.http));
        h["decided_through"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .is_some_and(|t| t >= oslo(friday, 14, 30))
    });

    // 14:30: the PLO queue on our side stopped at 14:25 (priority 1: all 65 municipalities),
    // and Malvik stopped sending receipts.
    let started = oslo(friday, 14, 25).to_rfc3339();
    let at = env.token("alert-token");
    for body in [
        alert(
            "PLOKoStopp",
            r#""service":"PLO","severity":"A""#,
            "Meldingskøen for PLO står stille",
            "Ingen PLO-meldinger er levert de siste 10 minuttene.",
            &started,
        ),
        alert(
            "PLOKvitteringMangler",
            r#""service":"PLO","severity":"B","org":"malvik","kind":"kvittering""#,
            "Malvik kommune sender ikke kvitteringer",
            "Ingen applikasjonskvitteringer fra Malvik siste time.",
            &started,
        ),
    ] {
        let (code, resp) = env.post("/api/v1/alerts", &at, &body);
        assert_eq!(code, 200, "{resp}");
    }
    let op = env.token("operator-token");
    let list: serde_json::Value =
        serde_json::from_str(&get(env.http, "/api/v1/incidents", &op)).unwrap();
    let id_of = |kind: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|i| i["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} incident: {list}"))["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (p1, kv) = (id_of("feil"), id_of("kvittering"));

    let shots = std::env::var("MELDINGSVAKT_SHOTS")
        .map(|d| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(d))
        .unwrap_or_else(|_| env.dir.clone());
    std::fs::create_dir_all(&shots).unwrap();
    let out = node(
        "shift.mjs",
        &[
            format!("http://127.0.0.1:{}", env.http),
            op.clone(),
            shots.to_string_lossy().to_string(),
            clock.to_string_lossy().to_string(),
            p1.clone(),
            kv.clone(),
            friday.to_string(),
            oslo(friday, 16, 40).to_rfc3339(),
        ],
    );
    eprintln!("{out}");
    // axe-core ran on every page at both widths, with no violation (the script fails on any).
    assert!(out.matches("\"violations\":[]").count() >= 26, "{out}");
    assert!(
        std::fs::metadata(shots.join("shift-report.pdf")).is_ok_and(|m| m.len() > 1000),
        "the report printed"
    );

    // The next days, step by step as a running daemon lives them: Monday 08:30 (the
    // maintenance reminder), Monday 10:00 (the follow-up would have gone at 09:30), Tuesday
    // 16:00 (the escalation would have gone at 15:00).
    for t in [
        oslo(friday + Duration::days(3), 8, 30),
        oslo(friday + Duration::days(3), 10, 0),
        oslo(friday + Duration::days(4), 16, 0),
    ] {
        set_clock(&clock, t);
        wait_settled(&env, t);
    }
    let mails = read_mails(&env.maildir());
    let to_malvik_or_ks = |m: &&Mail| {
        m.headers["to"].contains("malvik") || m.headers["to"].contains("ekomp-trondelag")
    };
    let chased: Vec<&String> = mails
        .iter()
        .filter(to_malvik_or_ks)
        .map(|m| &m.headers["subject"])
        .filter(|s| s.contains("Manglende kvittering") || s.starts_with("Eskalering"))
        .collect();
    assert!(
        chased.is_empty(),
        "Malvik replied before the follow-up (SPEC §4.15), yet: {chased:?}"
    );
    assert_eq!(
        mails
            .iter()
            .filter(|m| m.headers["subject"].starts_with("Løst:"))
            .count(),
        kommuner(),
        "Løst: to the 65 who got the notice"
    );
    let reminders: Vec<&Mail> = mails
        .iter()
        .filter(|m| m.headers["subject"].starts_with("Påminnelse: Planlagt"))
        .collect();
    let subjects: std::collections::BTreeMap<&String, usize> =
        mails.iter().fold(Default::default(), |mut m, x| {
            *m.entry(&x.headers["subject"]).or_default() += 1;
            m
        });
    assert!(
        !reminders.is_empty(),
        "the maintenance reminder on Monday: {subjects:#?}"
    );
    assert!(
        !mails
            .iter()
            .any(|m| m.headers["subject"].starts_with("Forfalt: henvendelse")),
        "the answered inquiry was reported overdue"
    );
    // The report counts the stop from its detection (14:30) to its backdated end (16:35).
    let month = format!("{:04}-{:02}", friday.year(), friday.month());
    let r: serde_json::Value =
        serde_json::from_str(&get(env.http, &format!("/reports/{month}.json"), &op)).unwrap();
    let plo = r["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "PLO")
        .unwrap();
    let inc = plo["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == p1.as_str())
        .unwrap_or_else(|| panic!("{r}"));
    // Detected when the alert came, a few seconds after 14:30 on the test clock.
    let to = chrono::DateTime::parse_from_rfc3339(inc["to"].as_str().unwrap()).unwrap();
    assert_eq!(to.with_timezone(&Utc), oslo(friday, 16, 35), "{inc}");
    let minutes = inc["minutes"].as_f64().unwrap();
    assert!((124.0..=125.0).contains(&minutes), "{inc}");
    assert_eq!(inc["priority"], 1);
    assert_eq!(inc["title"], "Feil i meldingsutveksling");
    // A month that has not begun has no report: 404, not twelve months at 100 %.
    let next_year = format!("{:04}-{:02}", friday.year() + 1, friday.month());
    let (code, _) = crate::support::curl(&[&format!(
        "http://127.0.0.1:{}/reports/{next_year}",
        env.http
    )]);
    assert_eq!(code, 404);
}
