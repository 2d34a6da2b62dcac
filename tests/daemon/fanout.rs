//! Notices to 65 organizations at a real SMTP server: the fan-out, a kill -9 in the middle of it, and SMTP down.

use crate::harness::{make_token, proxy_session, AppendConfig};
use crate::support::*;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn alert_to_65_notices_at_a_real_smtp_server() {
    let env = Env::new("fanout");
    let _smtp = smtp_server(env.smtp, &env.maildir());
    let _d = env.daemon();
    let (code, body) = env.post(
        "/api/v1/alerts",
        &env.token("alert-token"),
        &long_alert("PLOQueueStuck"),
    );
    assert_eq!(code, 200, "{body}");
    let mails = wait_mails(&env.maildir(), kommuner(), 60);
    assert_eq!(mails.len(), kommuner());
    let ids: BTreeSet<&String> = mails.iter().map(|m| &m.headers["message-id"]).collect();
    assert_eq!(ids.len(), kommuner(), "one Message-ID per municipality");
    let to: BTreeSet<&String> = mails.iter().map(|m| &m.headers["to"]).collect();
    assert_eq!(
        to.len(),
        kommuner(),
        "one message per recipient organization; nobody sees another's address"
    );
    for m in &mails {
        assert_eq!(m.headers["subject"], "Feil i meldingsutveksling");
        assert_eq!(m.headers["auto-submitted"], "auto-generated");
        assert!(m.headers["from"].contains("meldingsansvarlig@helse-midt.example"));
        assert!(m.body.starts_with("Telefonnummer for mottak av pasientrelaterte opplysninger ved nedetid: +47 00 00 00 00"), "{}", m.body);
        assert!(
            m.body
                .contains("Berørt tjeneste: Pleie- og omsorgsmeldinger (PLO)"),
            "æøå intact: {}",
            m.body
        );
    }
    assert!(mails
        .iter()
        .any(|m| m.headers["to"] == "meldingsansvarlig@roros.kommune.example"));
}

#[test]
fn sigkill_mid_fanout_loses_nothing_and_resends_with_the_same_message_id() {
    let env = Env::new("crash");
    // The server answers 9 messages and holds the 10th and every later one, so the kill
    // lands in the middle of the fan-out however fast it runs.
    let (_smtp, hold) = holding_smtp_server(env.smtp, &env.maildir(), 10);
    let mut d = env.daemon();
    let (code, _) = env.post(
        "/api/v1/alerts",
        &env.token("alert-token"),
        &long_alert("Crash"),
    );
    assert_eq!(code, 200);
    let answered = hold.wait_held(30);
    d.kill9();
    let before = read_mails(&env.maildir()).len();
    assert_eq!(before, answered, "the server stored what it answered");
    assert!(
        before < kommuner(),
        "the fan-out finished before the kill ({before}); the test proves nothing"
    );
    eprintln!("killed with {before} of {} delivered", kommuner());
    hold.release();
    let _d2 = env.daemon();
    // Messages delivered but not yet marked done at the kill are sent again (same
    // Message-ID), so wait for every recipient, not for a number of files.
    let t = Instant::now();
    let mails = loop {
        let m = read_mails(&env.maildir());
        let distinct: BTreeSet<&String> = m.iter().map(|m| &m.headers["to"]).collect();
        if distinct.len() >= kommuner() || t.elapsed() > Duration::from_secs(60) {
            break m;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut by_to: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in &mails {
        by_to
            .entry(m.headers["to"].clone())
            .or_default()
            .insert(m.headers["message-id"].clone());
    }
    assert_eq!(
        by_to.len(),
        kommuner(),
        "every municipality got its notice after the restart (had {before} before the kill)"
    );
    for (to, ids) in &by_to {
        assert_eq!(ids.len(), 1, "{to} got different Message-IDs: {ids:?}");
    }
}

#[test]
fn smtp_down_messages_wait_then_all_arrive() {
    let env = Env::new("down");
    // Late delivery is reported to ops after 3 s here (10 minutes by default).
    let cfg_path = env.dir.join("meldingsvakt.toml");
    let cfg = std::fs::read_to_string(&cfg_path).unwrap().replace(
        "security = \"none\"\n",
        "security = \"none\"\nwarn_after = \"3s\"\n",
    );
    std::fs::write(&cfg_path, cfg).unwrap();
    env.append_config("\n[console]\ntrusted_user_header = \"X-Remote-User\"\ntrusted_groups_header = \"X-Remote-Groups\"\ntrusted_proxies = [\"127.0.0.2\"]\n\n[console.roles]\noperator = [\"drift\"]\n");
    let _d = env.daemon();
    let token = make_token(&proxy_session(&env, "Ola Operatør", "drift"), "fanout");
    // No SMTP server yet. A 4-hour maintenance for three municipalities: 3 + region = 4
    // notices, and (at an arbitrary hour, outside the Sunday-night window) 1 warning to ops.
    // Registered with a person's token (the break-glass key would add the day's mail to ops).
    let from = (chrono::Utc::now() + chrono::Duration::days(10)).to_rfc3339();
    let to =
        (chrono::Utc::now() + chrono::Duration::days(10) + chrono::Duration::hours(4)).to_rfc3339();
    let body = format!(
        r#"{{"id":"VED-1","orgs":["malvik","melhus","skaun"],"services":["PLO"],"from":"{from}","to":"{to}","measures":"Oppgradering"}}"#
    );
    let (code, resp) = env.post("/api/v1/maintenances", &token, &body);
    assert_eq!(code, 201, "{resp}");
    // The first attempts fail (nothing listens): wait until the metrics say so.
    let metrics = || {
        let out = Command::new("curl")
            .arg("-s")
            .arg(format!("http://127.0.0.1:{}/metrics", env.http))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let t = Instant::now();
    let m = loop {
        let m = metrics();
        // The gauge is refreshed by the dispatcher's next pass, so it may lag a moment.
        if m.contains("meldingsvakt_messages_failed_total{kind=\"planned\"}")
            && m.contains("meldingsvakt_outbox_pending 5\n")
            || t.elapsed() > Duration::from_secs(60)
        {
            break m;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        m.contains("meldingsvakt_messages_failed_total{kind=\"planned\"}"),
        "{m}"
    );
    assert!(m.contains("meldingsvakt_outbox_pending 5"), "{m}");
    // The server comes back: the retries (5 s, then 10 s) deliver everything.
    let _smtp = smtp_server(env.smtp, &env.maildir());
    // 4 notices + 1 window warning, then one late-delivery warning for the whole batch.
    let mails = wait_mails(&env.maildir(), 6, 60);
    assert_eq!(
        mails.len(),
        6,
        "{:?}",
        mails
            .iter()
            .map(|m| &m.headers["subject"])
            .collect::<Vec<_>>()
    );
    let late: Vec<&Mail> = mails
        .iter()
        .filter(|m| {
            m.headers["subject"].starts_with("Advarsel: ")
                && m.headers["subject"].contains("levert for sent")
        })
        .collect();
    assert_eq!(late.len(), 1, "one warning per outage, not per message");
    // It names every message that went out late, not only the first (issue #8).
    for who in ["malvik", "melhus", "skaun"] {
        assert!(
            late[0]
                .body
                .contains(&format!("meldingsansvarlig@{who}.kommune.example")),
            "{}",
            late[0].body
        );
    }
    assert_eq!(late[0].headers["to"], "driftssenter@hemit.example");
    assert!(
        late[0].body.contains("Siste feil: ") && !late[0].body.contains("Siste feil: ukjent"),
        "{}",
        late[0].body
    );
    let planned = mails
        .iter()
        .filter(|m| {
            m.headers["subject"]
                .starts_with("Planlagt stopp/forsinkelse i meldingstrafikk Hemit HF")
        })
        .count();
    assert_eq!(planned, 4);
    assert!(mails
        .iter()
        .any(|m| m.headers["to"] == "driftssenter@hemit.example"
            && m.headers["subject"].starts_with("Advarsel")));
}
