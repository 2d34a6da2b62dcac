//! A case's timeline through the daemon (SPEC §5.8): the operator's event with who did it,
//! the notice delivered to a real SMTP server, a bounce of that notice through Dovecot tied
//! back to it, and `meldingsvakt incident show` printing it readably.

#![cfg(feature = "test-clock")]

use crate::harness::*;
use crate::support::*;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn timeline_shows_who_what_and_delivery_and_a_bounce_from_dovecot() {
    let env = Env::new("timeline");
    let _smtp = smtp_server(env.smtp, &env.maildir());
    let imap_port = free_port();
    let _dv = dovecot(&env.dir.join("dovecot"), imap_port);
    env.with_imap(imap_port, "300ms");
    env.append_config("\n[console]\ntrusted_user_header = \"X-Remote-User\"\ntrusted_groups_header = \"X-Remote-Groups\"\ntrusted_proxies = [\"127.0.0.2\"]\n\n[console.roles]\noperator = [\"vakt\"]\n");
    let (_d, _clock) = env.daemon_with_clock("");
    let op = env.token("operator-token");
    let wait_for = |what: &str, f: &dyn Fn() -> bool| wait_for(&env, what, f);

    // Known to last past 2 hours: the notice goes to Malvik and Melhus at once.
    let soon = (chrono::Utc::now() + chrono::Duration::hours(3)).to_rfc3339();
    let body = format!(
        r#"{{"id":"INC-T","orgs":["malvik","melhus"],"services":["PLO"],"category":"A","expected_end":"{soon}","by":"Kari Nordmann"}}"#
    );
    let (code, resp) = env.post("/api/v1/incidents", &op, &body);
    assert_eq!(code, 201, "{resp}");
    wait_for("the two notices", &|| read_mails(&env.maildir()).len() >= 2);
    let notice_to_melhus = read_mails(&env.maildir())
        .into_iter()
        .find(|m| m.headers["to"] == "meldingsansvarlig@melhus.kommune.example")
        .unwrap();
    let timeline = || -> serde_json::Value {
        serde_json::from_str(&get(env.http, "/api/v1/incidents/INC-T", &op)).unwrap()
    };
    wait_for("both notices recorded as sent", &|| {
        timeline()["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "email" && e["state"] == "sent")
            .count()
            == 2
    });
    let v = timeline();
    let t = v["timeline"].as_array().unwrap();
    assert_eq!(t[0]["entry"], "event");
    assert_eq!(t[0]["type"], "incident.open");
    assert_eq!(t[0]["origin"], "api");
    assert_eq!(
        t[0]["by"], "Kari Nordmann",
        "who did it, from the request's `by`"
    );
    let malvik = t
        .iter()
        .find(|e| e["action"] == "email" && e["org"] == "malvik")
        .unwrap();
    assert_eq!(malvik["message"], "unplanned");
    assert_eq!(malvik["to"][0], "meldingsansvarlig@malvik.kommune.example");
    assert!(
        malvik["sent_at"].is_string() && malvik["attempts"] == 1,
        "{malvik}"
    );
    assert!(
        t.iter().any(|e| e["action"] == "statuspage"),
        "the driftsmelding is in the timeline too"
    );
    // The stored event does not carry `by` as a field (replay parses it).
    assert!(v["next"].is_array());

    // Melhus's server returns the notice: a delivery-status report quoting its Message-ID.
    let mid = &notice_to_melhus.headers["message-id"];
    let bounce = format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.melhus.example>\nTo: meldingsansvarlig@helse-midt.example\nSubject: Undelivered Mail Returned to Sender\nMessage-ID: <bounce-1@mx.melhus.example>\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nCould not deliver.\n--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.melhus.example\n\nFinal-Recipient: rfc822; meldingsansvarlig@melhus.kommune.example\nAction: failed\nStatus: 5.1.1\n--b\nContent-Type: text/rfc822-headers\n\nMessage-ID: {mid}\nSubject: Feil i meldingsutveksling\n--b--\n"
    );
    imap_append(imap_port, "INBOX", &bounce);
    wait_for("the bounce tied to the notice", &|| {
        timeline()["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["org"] == "melhus" && e["state"] == "bounced")
    });
    // Melhus's address bounced for good: the directory's ops task (SPEC §4.16) — one mail,
    // naming the organization and the address; Melhus has no other address to ask.
    wait_for("the ops task", &|| {
        read_mails(&env.maildir())
            .iter()
            .any(|m| m.headers["subject"] == "E-post kom i retur: Melhus kommune")
    });
    let task: Vec<Mail> = read_mails(&env.maildir())
        .into_iter()
        .filter(|m| m.headers["subject"].contains("kom i retur"))
        .collect();
    assert_eq!(task.len(), 1, "one ops mail for the bounce");
    // … and a task on the console's overview, with the number to call.
    let overview = proxy_session(&env, "Kari Vakt", "vakt").get("/ops/");
    assert!(
        overview.contains("Kontaktinformasjon å følge opp")
            && overview.contains("e-post til meldingsansvarlig@melhus.kommune.example kom i retur"),
        "{overview}"
    );
    assert!(
        task[0]
            .body
            .contains("meldingsansvarlig@melhus.kommune.example")
            && task[0].body.contains("ingen annen adresse"),
        "{}",
        task[0].body
    );

    // The operator CLI against this daemon.
    let cli = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_meldingsvakt"))
            .args(args)
            .arg("--url")
            .arg(format!("http://127.0.0.1:{}", env.http))
            .arg("--token-file")
            .arg(env.dir.join("state/operator-token"))
            .output()
            .unwrap()
    };
    // `incident list`: a table in Oslo time, `--json` for scripts.
    let out = cli(&["incident", "list"]);
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(table.starts_with("ID "), "{table}");
    let started_raw = timeline()["started_at"].as_str().unwrap().to_string();
    let started = chrono::DateTime::parse_from_rfc3339(&started_raw)
        .unwrap()
        .with_timezone(&chrono_tz::Europe::Oslo);
    let local = started.format("%d.%m.%Y %H:%M").to_string();
    let row = table.lines().find(|l| l.starts_with("INC-T ")).unwrap();
    assert!(row.contains(&local) && row.contains("PLO"), "{table}");
    let out = cli(&["incident", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["id"], "INC-T");

    // A phoned-in inquiry, registered and answered through the CLI.
    let out = cli(&[
        "inquiry",
        "add",
        "TLF-1",
        "--org",
        "malvik",
        "--subject",
        "Mangler svar på PLO-meldinger",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&["inquiry", "answered", "TLF-1", "--by", "Ola Driftsvakt"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let q: serde_json::Value =
        serde_json::from_str(&get(env.http, "/api/v1/inquiries/TLF-1", &op)).unwrap();
    assert!(q["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "inquiry.answered" && e["by"] == "Ola Driftsvakt"));

    // A resolution time in the future is refused, in the CLI's words.
    let out = cli(&["incident", "resolve", "INC-T", "--at", "2099-01-01 10:00"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("resolved_at"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Resolved by someone else, through the CLI with --by, backdated to when the stop began.
    let at = started_raw;
    let out = cli(&[
        "incident",
        "resolve",
        "INC-T",
        "--at",
        &at,
        "--by",
        "Ola Driftsvakt",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t0 = Instant::now();
    let shown = loop {
        let out = cli(&["incident", "show", "INC-T"]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if text.contains("resolved [email]") && text.matches("sendt").count() >= 4 {
            break text;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "{text}");
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!("{shown}");
    // Resolved and every closing message sent: the case is retired; history and its last
    // message still show what it was.
    assert!(
        shown.starts_with("INC-T  (feil, kategori A, prioritet 1)  (avsluttet)\nOppdaget: "),
        "{shown}"
    );
    assert!(
        shown.contains("incident.open (api, av Kari Nordmann)"),
        "{shown}"
    );
    assert!(
        shown.contains("incident.resolve (api, av Ola Driftsvakt)"),
        "{shown}"
    );
    assert!(shown.contains(&format!("Løst: {local}\n")), "{shown}");
    assert!(
        shown.contains("→ meldingsansvarlig@melhus.kommune.example: kom i retur"),
        "{shown}"
    );
    // The bounce is in the audit log, from the mailbox, and the chain verifies.
    let rows = audit_of(
        &env,
        "who || '|' || origin || '|' || object",
        "directory.bounce",
    );
    assert_eq!(rows, ["postkasse|mailbox|directory/melhus"]);
    let (code, out) = audit_verify(&env, &[]);
    assert_eq!(code, 0, "{out}");
}
