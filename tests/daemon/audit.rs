//! The audit log (SPEC §5.10) through the daemon: sign-ins (one refused), operator events
//! with who, role and origin and the values before and after, then an intruder who edits the
//! database with `sqlite3` — changes one entry, deletes another, inserts a third — and
//! `meldingsvakt audit verify` naming each.

use crate::harness::{audit_verify, sql};
use crate::support::*;
use std::process::Command;

#[test]
fn audit_names_who_did_what_and_verify_names_every_edit() {
    let env = Env::new("audit");
    let cfg = env.dir.join("meldingsvakt.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace("transport = \"smtp\"", "transport = \"file\""),
    )
    .unwrap();
    let d = env.daemon();
    let op = env.token("operator-token");

    // The console: a wrong token (refused, audited), then the right one.
    let b = Browser {
        jar: env.dir.join("jar"),
        port: env.http,
    };
    let (code, _) = b.post(
        "/ops/login",
        &[("name", "Kari Nordmann"), ("token", "feil")],
    );
    assert_eq!(code, 401);
    let (code, _) = b.post("/ops/login", &[("name", "Kari Nordmann"), ("token", &op)]);
    assert_eq!(code, 303);

    // The API with the shared token, naming who (`by`), and from the CLI.
    let (code, r) = env.post(
        "/api/v1/incidents",
        &op,
        r#"{"id":"INC-A1","services":["PLO"],"category":"A","by":"Ola Nordmann"}"#,
    );
    assert_eq!(code, 201, "{r}");
    let end = (chrono::Utc::now() + chrono::Duration::hours(3)).format("%Y-%m-%dT%H:%M:00Z");
    let (code, r) = env.post(
        "/api/v1/incidents/INC-A1/update",
        &op,
        &format!(r#"{{"expected_end":"{end}","by":"Ola Nordmann"}}"#),
    );
    assert_eq!(code, 200, "{r}");
    let cli = Command::new(env!("CARGO_BIN_EXE_meldingsvakt"))
        .args(["incident", "ack", "INC-A1", "--url"])
        .arg(format!("http://127.0.0.1:{}", env.http))
        .args(["--token-file"])
        .arg(env.dir.join("state/operator-token"))
        .args(["--by", "Per Hansen"])
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    for (i, ty) in ["update", "update", "update", "resolve"].iter().enumerate() {
        let body = if *ty == "update" {
            format!(r#"{{"measures":"Tiltak {i}","by":"Ola Nordmann"}}"#)
        } else {
            r#"{"by":"Ola Nordmann"}"#.to_string()
        };
        let (code, r) = env.post(&format!("/api/v1/incidents/INC-A1/{ty}"), &op, &body);
        assert_eq!(code, 200, "{r}");
    }
    drop(d);

    // What was recorded: who, in which role, from where, what, and before/after.
    let (_, rows) = sql(
        &env,
        "SELECT seq, who, role, origin, what, object, before, after FROM audit ORDER BY seq",
    );
    let all: Vec<&str> = rows.lines().collect();
    assert_eq!(all.len(), 10, "{rows}");
    // First, the directory seeded from the configuration (SPEC §4.16); then the people.
    assert!(
        all[0].starts_with("1|konfigurasjonen|system|config|directory.seed|directory||"),
        "{rows}"
    );
    let lines = &all[1..];
    assert!(
        lines[0].starts_with("2|Kari Nordmann|break-glass|console|sign_in.refused||"),
        "{rows}"
    );
    assert!(
        lines[1].starts_with("3|Kari Nordmann|break-glass|console|sign_in||"),
        "{rows}"
    );
    assert!(
        lines[2].starts_with("4|Ola Nordmann|break-glass|api|incident.open|INC-A1||"),
        "{rows}"
    );
    assert!(
        lines[3].starts_with("5|Ola Nordmann|break-glass|api|incident.update|INC-A1|")
            && lines[3].contains(r#""expected_end":null"#)
            && lines[3].contains(&format!(r#""expected_end":"{end}""#)),
        "the update names the expected end before and after: {rows}"
    );
    assert!(
        lines[4].starts_with("6|Per Hansen|break-glass|cli|incident.ack|INC-A1|"),
        "{rows}"
    );
    assert!(
        lines[8].starts_with("10|Ola Nordmann|break-glass|api|incident.resolve|INC-A1|"),
        "{rows}"
    );

    let (code, out) = audit_verify(&env, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("audit log holds: 10 entries"), "{out}");
    let head = out.trim().rsplit(' ').next().unwrap().to_string();
    assert_eq!(head.len(), 64, "{out}");
    let (code, out) = audit_verify(&env, &["--head", &head]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = audit_verify(&env, &["--head", &"ab".repeat(32)]);
    assert_eq!(code, 1, "a head the chain does not hold: {out}");

    // The store refuses edits; an intruder drops its guards first.
    let (ok, out) = sql(&env, "UPDATE audit SET who = 'Ukjent' WHERE seq = 4");
    assert!(!ok && out.contains("append-only"), "{out}");
    let (ok, out) = sql(&env, "DELETE FROM audit WHERE seq = 6");
    assert!(!ok && out.contains("append-only"), "{out}");
    let (ok, out) = sql(
        &env,
        "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;
         UPDATE audit SET who = 'Per Hansen' WHERE seq = 4;
         DELETE FROM audit WHERE seq = 6;
         INSERT INTO audit (seq, at, who, role, origin, what, object, before, after, prev, hash)
            SELECT 8, at, 'Kari Nordmann', 'admin', 'console', 'incident.update', 'INC-A1', NULL,
                   '{\"measures\":\"Alt er i orden\"}', prev, hash
            FROM audit WHERE seq = 8;",
    );
    assert!(ok, "{out}");
    let (code, out) = audit_verify(&env, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with("audit log broken: entry 4 was changed\n"),
        "{out}"
    );
    assert!(out.contains("also: entry 6 was removed"), "{out}");
    assert!(out.contains("also: entry 8 was inserted"), "{out}");
    assert_eq!(
        out.matches("also:").count(),
        2,
        "nothing else is named: {out}"
    );
}
