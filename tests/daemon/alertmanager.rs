//! An alert through Debian's Alertmanager opens an incident.

use crate::harness::*;
use crate::support::*;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn alert_through_debian_alertmanager_opens_an_incident() {
    let env = Env::new("am");
    let _smtp = smtp_server(env.smtp, &env.maildir());
    let _d = env.daemon();
    let am_port = free_port();
    let _am = alertmanager(&env, am_port);
    let post = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H", "Content-Type: application/json"])
        .arg(format!("http://127.0.0.1:{am_port}/api/v2/alerts"))
        .args(["--data-binary", r#"[{"labels":{"alertname":"MissingAppRec","org":"malvik","service":"PLO","kind":"kvittering","severity":"B"}}]"#])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&post.stdout), "200");
    let op = env.token("operator-token");
    let t = Instant::now();
    loop {
        let list = get(env.http, "/api/v1/incidents", &op);
        if list.contains("AM-malvik-kvittering-1") {
            assert!(list.contains("\"at_org\":\"malvik\""), "{list}");
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "Alertmanager's webhook never opened the incident: {list}\n{}",
            std::fs::read_to_string(env.dir.join("am.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// SPEC §4.12 through Debian's Alertmanager: one notification carries three alerts — one
/// with a personal number in its summary, one for an organization the configuration lacks,
/// one ordinary. Nothing is refused (Alertmanager would never retry): two incidents open, the
/// number is `[fjernet]` before anything is stored, the unusable alert is counted and reported
/// to ops, and Alertmanager records no failed notification.
#[test]
fn an_alert_group_with_a_number_and_an_unknown_organization_loses_nothing() {
    let env = Env::new("am-door");
    let _smtp = smtp_server(env.smtp, &env.maildir());
    let _d = env.daemon();
    let am_port = free_port();
    let _am = alertmanager_with_routes(
        &env,
        am_port,
        "  routes:\n  - matchers: ['alertname=~\"Door.*\"']\n    receiver: mv\n    group_by: ['batch']\n    group_wait: 1s\n",
    );
    let post = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H", "Content-Type: application/json"])
        .arg(format!("http://127.0.0.1:{am_port}/api/v2/alerts"))
        .args(["--data-binary", r#"[
            {"labels":{"alertname":"DoorPnr","batch":"door","org":"malvik","service":"PLO","kind":"kvittering","severity":"B"},"annotations":{"summary":"Mangler kvittering for pasient 130575 00020"}},
            {"labels":{"alertname":"DoorPlain","batch":"door","org":"melhus","service":"PLO","kind":"kvittering","severity":"B"}},
            {"labels":{"alertname":"DoorUnknown","batch":"door","org":"atlantis","service":"PLO","kind":"kvittering","severity":"B"}}]"#])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&post.stdout), "200");
    let op = env.token("operator-token");
    let t = Instant::now();
    let list = loop {
        let list = get(env.http, "/api/v1/incidents", &op);
        if list.contains("\"AM-malvik-kvittering-") && list.contains("\"AM-melhus-kvittering-") {
            break list;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the two usable alerts did not open their incidents: {list}\n{}",
            std::fs::read_to_string(env.dir.join("daemon.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(!list.contains("atlantis"), "{list}");
    // Ops hear about both: the removed number (by field) and the unusable alert.
    let mails = wait_mails_until(&env.maildir(), 60, |m| {
        ["DoorPnr", "DoorUnknown"].iter().all(|name| {
            m.iter().any(|m| {
                m.headers["to"] == "driftssenter@hemit.example"
                    && m.headers["subject"].contains(name)
            })
        })
    });
    let subjects: Vec<&String> = mails.iter().map(|m| &m.headers["subject"]).collect();
    assert!(
        subjects.contains(&&"Advarsel: fødselsnummer fjernet fra varsel DoorPnr".to_string())
            && subjects.contains(&&"Advarsel: varsel DoorUnknown kunne ikke brukes".to_string()),
        "{subjects:?}"
    );
    let redacted = mails
        .iter()
        .find(|m| m.headers["subject"].contains("DoorPnr"))
        .unwrap();
    assert!(
        redacted.body.contains("annotations.summary"),
        "{}",
        redacted.body
    );
    // The number is nowhere: not in the store, the log, the metrics or any mail.
    let metrics = get(env.http, "/metrics", "");
    assert!(
        metrics.contains("meldingsvakt_alerts_redacted_total 1")
            && metrics.contains("meldingsvakt_alerts_unusable_total 1"),
        "{metrics}"
    );
    let mut stored = Vec::new();
    for f in ["meldingsvakt.db", "meldingsvakt.db-wal"] {
        stored.extend(std::fs::read(env.dir.join("state").join(f)).unwrap_or_default());
    }
    let stored = String::from_utf8_lossy(&stored);
    assert!(stored.contains("[fjernet]"), "the redacted alert is stored");
    let log = std::fs::read_to_string(env.dir.join("daemon.log")).unwrap_or_default();
    for (what, text) in [
        ("the store", stored.as_ref()),
        ("the log", &log),
        ("the metrics", &metrics),
    ] {
        assert!(!text.contains("130575"), "the number is in {what}");
    }
    for m in &mails {
        assert!(!m.body.contains("130575"), "{}", m.body);
    }
    // Alertmanager delivered the notification: no failure recorded.
    let am_metrics = get(am_port, "/metrics", "");
    let failed: f64 = am_metrics
        .lines()
        .filter(|l| {
            l.starts_with("alertmanager_notifications_failed_total") && l.contains("webhook")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(failed, 0.0, "{am_metrics}");
}
