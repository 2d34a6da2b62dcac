//! Personal API tokens and the audit page (SPEC §5.10, issue #29), through the daemon with a
//! real SMTP server and the test clock: a token made in the console works with
//! `meldingsvakt incident …` and names its person in the timeline and the audit log, shows
//! when it was last used, stops at revocation and at expiry; an admin filters and exports the
//! audit log (each export audited), a viewer may not; the break-glass key mails ops once a day.

use crate::harness::*;
use crate::support::*;
use std::process::Command;

fn cli(env: &Env, token: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_meldingsvakt"))
        .args(args)
        .args(["--url", &format!("http://127.0.0.1:{}", env.http)])
        .env("MELDINGSVAKT_TOKEN", token)
        .env_remove("MELDINGSVAKT_BY")
        .current_dir(&env.dir)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn personal_tokens_and_the_audit_page() {
    let env = Env::new("people");
    let _smtp = smtp_server(env.smtp, &env.maildir());
    let (_d, clock) = env.daemon_with_clock(
        "\n[console]\ntrusted_user_header = \"X-Remote-User\"\ntrusted_groups_header = \"X-Remote-Groups\"\ntrusted_proxies = [\"127.0.0.2\"]\n\n[console.roles]\nviewer = [\"les\"]\noperator = [\"drift\"]\nadmin = [\"admin\"]\n",
    );
    let ola = proxy_session(&env, "Ola Operatør", "drift");
    let token = make_token(&ola, "bærbar");
    // Stored as a hash only: the token's text is nowhere in the database.
    let db = std::fs::read(env.dir.join("state/meldingsvakt.db")).unwrap();
    assert!(
        !db.windows(40).any(|w| w == &token.as_bytes()[4..]),
        "the token is stored in clear"
    );

    // The command line with the personal token: the timeline and the audit log name Ola.
    let (ok, out) = cli(
        &env,
        &token,
        &[
            "incident",
            "open",
            "INC-P1",
            "--service",
            "PLO",
            "--category",
            "A",
        ],
    );
    assert!(ok, "{out}");
    let v: serde_json::Value =
        serde_json::from_str(&get(env.http, "/api/v1/incidents/INC-P1", &token)).unwrap();
    let opened = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "incident.open")
        .cloned()
        .unwrap();
    assert_eq!(opened["by"], "Ola Operatør", "{opened}");
    // Its last use is shown on the tokens page.
    let page = ola.get("/ops/tokens");
    assert!(
        page.contains("bærbar") && !page.contains(">aldri<"),
        "{page}"
    );

    // Revoked: refused at once.
    let id = &token[4..12];
    let csrf = ola.csrf();
    let (code, _) = ola.post("/ops/tokens/revoke", &[("csrf", &csrf), ("id", id)]);
    assert_eq!(code, 303);
    let (ok, out) = cli(&env, &token, &["incident", "list"]);
    assert!(!ok && out.contains("401"), "{out}");
    // Someone else cannot revoke Ola's tokens.
    let second = make_token(&ola, "skript");
    let vera = proxy_session(&env, "Vera Visning", "les");
    let csrf = vera.csrf();
    let (code, _) = vera.post(
        "/ops/tokens/revoke",
        &[("csrf", &csrf), ("id", &second[4..12])],
    );
    assert_eq!(code, 404);
    assert!(
        cli(&env, &second, &["incident", "list"]).0,
        "Ola's token still works"
    );
    // Expired after the lifetime (90 days): refused.
    set_clock(&clock, chrono::Utc::now() + chrono::Duration::days(91));
    let (ok, out) = cli(&env, &second, &["incident", "list"]);
    assert!(!ok && out.contains("401"), "{out}");
    set_clock(&clock, chrono::Utc::now());

    // The revoked and the expired token's attempts are refused sign-ins under Ola's name.
    let ada = proxy_session(&env, "Ada Admin", "admin");
    let refusals = ada.get("/ops/audit?what=sign_in.refused&format=json");
    let refusals: Vec<serde_json::Value> = serde_json::from_str(&refusals).unwrap();
    let whys: Vec<&str> = refusals
        .iter()
        .filter(|e| e["who"] == "Ola Operatør")
        .filter_map(|e| e["after"].as_str())
        .collect();
    assert!(
        whys.iter().any(|w| w.contains("revoked")) && whys.iter().any(|w| w.contains("expired")),
        "{refusals:?}"
    );

    // The audit page: admins only; filters; exports that are themselves audited.
    let (code, _) = vera.request("/ops/audit", &[]);
    assert_eq!(code, 403);
    let page = ada.get("/ops/audit?who=Ola+Operat%C3%B8r");
    for what in ["token.create", "incident.open", "token.revoke", "sign_in"] {
        assert!(page.contains(what), "{what}: {page}");
    }
    assert!(
        !page.contains("Vera Visning"),
        "the filter let others through"
    );
    let (code, csv) = ada.request("/ops/audit?who=Ola+Operat%C3%B8r&format=csv", &["-i"]);
    assert_eq!(code, 200);
    assert!(
        csv.to_lowercase()
            .contains("content-disposition: attachment"),
        "{csv}"
    );
    assert!(csv.contains("seq,at,who,role,origin,what,object,before,after,prev,hash"));
    assert!(
        csv.contains(",Ola Operatør,operator,cli,incident.open,INC-P1,"),
        "{csv}"
    );
    let (code, json) = ada.request("/ops/audit?what=token.&format=json", &[]);
    assert_eq!(code, 200);
    let entries: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["what"] == "token.create")
            .count(),
        2,
        "{json}"
    );
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["what"] == "token.revoke")
            .count(),
        1
    );
    let page = ada.get("/ops/audit?what=audit.export");
    assert_eq!(page.matches("<td>audit.export</td>").count(), 3, "{page}");
    assert!(page.contains("Ada Admin"));

    // The break-glass key: flagged each time, one mail to ops for the day.
    let glass = env.token("operator-token");
    for _ in 0..3 {
        assert!(!get(env.http, "/api/v1/incidents", &glass).is_empty());
    }
    let mails = wait_mails_until(&env.maildir(), 30, |m| {
        m.iter()
            .any(|m| m.headers["subject"].starts_with("Nødnøkkelen ble brukt"))
    });
    assert_eq!(
        mails
            .iter()
            .filter(|m| m.headers["subject"].starts_with("Nødnøkkelen ble brukt"))
            .count(),
        1
    );
    let log = std::fs::read_to_string(env.dir.join("daemon.log")).unwrap();
    assert!(log.matches("break-glass").count() >= 3, "{log}");

    // Ops can alert on both in Prometheus.
    let (_, metrics) = curl(&[&format!("http://127.0.0.1:{}/metrics", env.http)]);
    assert!(
        metrics.contains("meldingsvakt_break_glass_uses_total 3\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("meldingsvakt_sign_ins_refused_total 2\n"),
        "{metrics}"
    );

    // The chain holds.
    let (code, out) = audit_verify(&env, &[]);
    assert_eq!(code, 0, "{out}");
}
