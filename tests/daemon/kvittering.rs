//! The kvittering story end to end with the clock moved: inquiry, escalation, silence, Løst; and the test environment's.

#![cfg(feature = "test-clock")]

use crate::harness::*;
use crate::support::*;
use std::process::Command;

/// The kvittering story end to end against real servers, with the clock moved by the test
/// (a `test-clock` build): alert → Alertmanager → daemon → inquiry at the SMTP server with the
/// KS e-Komp and HF copies → no reply → escalation → silence in Alertmanager muting the alert
/// → operator resolves → Løst and the silence expired. (The reply-less mailbox of issue #5's
/// Dovecot part is not in this build: no reply is registered.)
#[test]
fn kvittering_story_end_to_end_with_silence() {
    use meldingsvakt::calendar::Calendar;
    let env = Env::new("story");
    let _smtp = smtp_server(env.smtp, &env.maildir());
    let am_port = free_port();
    // The mailbox is watched, and no reply arrives in it.
    let imap_port = free_port();
    let _dv = dovecot(&env.dir.join("dovecot"), imap_port);
    env.with_imap(imap_port, "300ms");
    let (_d, clock) = env.daemon_with_clock(&format!(
        "\n[alertmanager]\nurl = \"http://127.0.0.1:{am_port}\"\n"
    ));
    let _am = alertmanager(&env, am_port);
    let am_get = |path: &str| am_json(&format!("http://127.0.0.1:{am_port}{path}"));
    let post = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H", "Content-Type: application/json"])
        .arg(format!("http://127.0.0.1:{am_port}/api/v2/alerts"))
        .args(["--data-binary", r#"[{"labels":{"alertname":"MissingAppRec","org":"malvik","service":"PLO","kind":"kvittering","severity":"B"}}]"#])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&post.stdout), "200");
    let op = env.token("operator-token");
    let id = "AM-malvik-kvittering-1";
    let wait_for = |what: &str, f: &dyn Fn() -> bool| wait_for(&env, what, f);
    wait_for("the incident", &|| {
        get(env.http, &format!("/api/v1/incidents/{id}"), &op).contains("detected_at")
    });
    let inc: serde_json::Value =
        serde_json::from_str(&get(env.http, &format!("/api/v1/incidents/{id}"), &op)).unwrap();
    let parse = utc;
    let cal = Calendar::default();
    let set_clock = |at| set_clock(&clock, at);
    // 2 business hours after detection: the inquiry, KS e-Komp and the HF on copy.
    set_clock(cal.add_business(parse(&inc["detected_at"]), chrono::Duration::hours(2)));
    let subject_to = |subject: &str, to: &str| {
        read_mails(&env.maildir())
            .into_iter()
            .find(|m| m.headers["subject"] == subject && m.headers["to"] == to)
    };
    wait_for("the inquiry", &|| {
        subject_to(
            "Manglende kvittering",
            "meldingsansvarlig@malvik.kommune.example",
        )
        .is_some()
    });
    let inquiry = subject_to(
        "Manglende kvittering",
        "meldingsansvarlig@malvik.kommune.example",
    )
    .unwrap();
    assert!(
        inquiry.headers["cc"].contains("ekomp-trondelag@ks.example")
            && inquiry.headers["cc"].contains("meldingsansvarlig@st-olavs.hf.example"),
        "{:?}",
        inquiry.headers
    );
    // No reply by the end of the first working day after: escalation and a silence.
    let inc: serde_json::Value =
        serde_json::from_str(&get(env.http, &format!("/api/v1/incidents/{id}"), &op)).unwrap();
    set_clock(cal.end_of_first_working_day_after(parse(&inc["followup_at"])));
    let esc = "Eskalering: manglende svar fra Malvik kommune – Manglende kvittering";
    wait_for("the escalation", &|| {
        subject_to(esc, "ekomp-trondelag@ks.example").is_some()
    });
    wait_for("the silence", &|| {
        am_get("/api/v2/silences").as_array().is_some_and(|a| {
            a.iter()
                .any(|s| s["createdBy"] == "meldingsvakt" && s["status"]["state"] == "active")
        })
    });
    let silences = am_get("/api/v2/silences");
    let silence = silences
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["createdBy"] == "meldingsvakt")
        .unwrap()
        .clone();
    assert!(silence["comment"].as_str().unwrap().contains(id));
    let sid = silence["id"].as_str().unwrap().to_string();
    // Alertmanager itself says the firing alert is muted by it.
    let alerts = am_get("/api/v2/alerts");
    let alert = alerts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["labels"]["alertname"] == "MissingAppRec")
        .unwrap();
    assert_eq!(alert["status"]["state"], "suppressed", "{alert}");
    assert!(alert["status"]["silencedBy"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == sid.as_str()));
    // The operator confirms it resolved: Løst to the inquiry's recipients, silence expired.
    let (code, _) = env.post(&format!("/api/v1/incidents/{id}/resolve"), &op, "{}");
    assert_eq!(code, 200);
    wait_for("Løst", &|| {
        subject_to(
            "Løst: Manglende kvittering",
            "meldingsansvarlig@malvik.kommune.example",
        )
        .is_some()
    });
    wait_for("the silence to expire", &|| {
        am_get(&format!("/api/v2/silence/{sid}"))["status"]["state"] == "expired"
    });
    let log = std::fs::read_to_string(env.dir.join("daemon.log")).unwrap_or_default();
    assert!(
        log.contains("mailbox connected"),
        "the mailbox was watched: {log}"
    );
}

/// SPEC §4.11 through Debian's Alertmanager: a test-environment case runs its routine to
/// escalation, but e-mails no organization, and its silence matches `environment="test"` only —
/// the production alerts of the same organization and service (one without an environment
/// label, one with `produksjon`) stay unsilenced.
#[test]
fn test_environment_escalation_leaves_production_alerts_unsilenced_and_mails_no_organization() {
    use meldingsvakt::calendar::Calendar;
    let env = Env::new("testenv");
    let _smtp = smtp_server(env.smtp, &env.maildir());
    let am_port = free_port();
    let (_d, clock) = env.daemon_with_clock(&format!(
        "\n[alertmanager]\nurl = \"http://127.0.0.1:{am_port}\"\n"
    ));
    // Production alerts exist in Alertmanager but are routed elsewhere: only the test case
    // reaches meldingsvakt.
    let _am = alertmanager_with_routes(
        &env,
        am_port,
        "  routes:\n  - matchers: ['alertname=~\"ProdWatch.*\"']\n    receiver: blackhole\n",
    );
    let am = |args: &[&str]| am_json(args[0]);
    let alerts_url = format!("http://127.0.0.1:{am_port}/api/v2/alerts");
    let post = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H", "Content-Type: application/json"])
        .arg(&alerts_url)
        .args(["--data-binary", r#"[
            {"labels":{"alertname":"MissingAppRecTest","org":"malvik","service":"PLO","kind":"kvittering","severity":"B","environment":"test"}},
            {"labels":{"alertname":"ProdWatchPlain","org":"malvik","service":"PLO","kind":"kvittering","severity":"B"}},
            {"labels":{"alertname":"ProdWatchLabelled","org":"malvik","service":"PLO","kind":"kvittering","severity":"B","environment":"produksjon"}}]"#])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&post.stdout), "200");
    let op = env.token("operator-token");
    let id = "AM-malvik-kvittering-1";
    let wait_for = |what: &str, f: &dyn Fn() -> bool| wait_for(&env, what, f);
    let incident = || -> serde_json::Value {
        serde_json::from_str(&get(env.http, &format!("/api/v1/incidents/{id}"), &op))
            .unwrap_or(serde_json::Value::Null)
    };
    wait_for("the test incident", &|| incident()["environment"] == "test");
    let parse = utc;
    let cal = Calendar::default();
    let set_clock = |at| set_clock(&clock, at);
    set_clock(cal.add_business(
        parse(&incident()["detected_at"]),
        chrono::Duration::hours(2),
    ));
    wait_for("the (unsent) inquiry", &|| {
        incident()["followup_at"].is_string()
    });
    let escalation_due = cal.end_of_first_working_day_after(parse(&incident()["followup_at"]));
    set_clock(escalation_due);
    wait_for("the escalation", &|| incident()["escalated_at"].is_string());
    wait_for("the silence", &|| {
        am(&[&format!("http://127.0.0.1:{am_port}/api/v2/silences")])
            .as_array()
            .is_some_and(|a| {
                a.iter()
                    .any(|s| s["createdBy"] == "meldingsvakt" && s["status"]["state"] == "active")
            })
    });
    let silences = am(&[&format!("http://127.0.0.1:{am_port}/api/v2/silences")]);
    let silence = silences
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["createdBy"] == "meldingsvakt")
        .unwrap()
        .clone();
    assert!(
        silence["matchers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "environment" && m["value"] == "test"),
        "{silence}"
    );
    // Alertmanager applies silences to its alerts asynchronously: wait until it has.
    wait_for("Alertmanager to mark the test alert silenced", &|| {
        am(&[&alerts_url]).as_array().is_some_and(|a| {
            a.iter().any(|a| {
                a["labels"]["alertname"] == "MissingAppRecTest"
                    && a["status"]["state"] == "suppressed"
            })
        })
    });
    let alerts = am(&[&alerts_url]);
    let state = |name: &str| {
        alerts
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["labels"]["alertname"] == name)
            .map(|a| a["status"]["state"].clone())
            .unwrap_or(serde_json::Value::Null)
    };
    assert_eq!(state("MissingAppRecTest"), "suppressed", "{alerts}");
    assert_eq!(
        state("ProdWatchPlain"),
        "active",
        "production stays watched: {alerts}"
    );
    assert_eq!(
        state("ProdWatchLabelled"),
        "active",
        "production stays watched: {alerts}"
    );
    // Nothing went to any organization or to KS e-Komp: ops only.
    wait_settled(&env, escalation_due);
    let mails = read_mails(&env.maildir());
    assert!(
        mails
            .iter()
            .all(|m| m.headers["to"] == "driftssenter@hemit.example"),
        "{:?}",
        mails
            .iter()
            .map(|m| (&m.headers["to"], &m.headers["subject"]))
            .collect::<Vec<_>>()
    );
}
