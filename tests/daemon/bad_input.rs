//! Bad input gets a clear error and changes nothing.

use crate::support::*;
use std::process::Command;

#[test]
fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let env = Env::new("bad");
    let _d = env.daemon();
    let (alert, op) = (env.token("alert-token"), env.token("operator-token"));
    let cases: Vec<(&str, &str, &str, u16, &str)> = vec![
        (
            "/api/v1/incidents",
            "",
            r#"{"id":"X"}"#,
            401,
            "missing bearer token",
        ),
        (
            "/api/v1/incidents",
            "not-a-token-at-all",
            r#"{"id":"X"}"#,
            401,
            "unknown token",
        ),
        (
            "/api/v1/incidents",
            &alert,
            r#"{"id":"X"}"#,
            403,
            "operator token",
        ),
        (
            "/api/v1/alerts",
            &op,
            r#"{"alerts":[]}"#,
            403,
            "alert-ingestion token",
        ),
        ("/api/v1/incidents", &op, r#"{"id": "#, 400, "invalid JSON"),
        (
            "/api/v1/incidents",
            &op,
            r#"{"id":"X","category":7}"#,
            400,
            "`category`",
        ),
        (
            "/api/v1/incidents",
            &op,
            r#"{"id":"X","colour":"red"}"#,
            400,
            "unknown field `colour`",
        ),
        (
            "/api/v1/incidents",
            &op,
            r#"{"id":"X","at_org":"atlantis"}"#,
            422,
            "unknown organization \"atlantis\"",
        ),
        (
            "/api/v1/incidents",
            &op,
            r#"{"id":"X","measures":"pasient 15076500565"}"#,
            422,
            "national identity number",
        ),
        (
            "/api/v1/incidents/none/resolve",
            &op,
            "{}",
            404,
            "unknown incident",
        ),
        (
            "/api/v1/alerts",
            &alert,
            r#"{"version":"4"}"#,
            400,
            "`alerts`",
        ),
    ];
    for (path, token, body, want, text) in &cases {
        let (code, resp) = if token.is_empty() {
            let out = Command::new("curl")
                .args([
                    "-s",
                    "-w",
                    "\n%{http_code}",
                    "-X",
                    "POST",
                    "--data-binary",
                    body,
                ])
                .arg(format!("http://127.0.0.1:{}{path}", env.http))
                .output()
                .unwrap();
            let s = String::from_utf8_lossy(&out.stdout).to_string();
            let (b, c) = s.rsplit_once('\n').unwrap();
            (c.parse().unwrap(), b.to_string())
        } else {
            env.post(path, token, body)
        };
        assert_eq!(code, *want, "{path} {body}: {resp}");
        let v: serde_json::Value =
            serde_json::from_str(&resp).unwrap_or_else(|_| panic!("JSON error body: {resp}"));
        assert!(
            v["error"].as_str().unwrap().contains(text),
            "{path} {body}: {resp}"
        );
    }
    // Oversize body.
    let big = format!(r#"{{"alerts":[],"pad":"{}"}}"#, "a".repeat(2 << 20));
    let (code, _) = env.post("/api/v1/alerts", &alert, &big);
    assert_eq!(code, 413);
    // Nothing was applied: no event accepted, no incident. (An alert the rules cannot use
    // does not cost its batch: tests/daemon/alertmanager.rs.)
    let metrics = Command::new("curl")
        .arg("-s")
        .arg(format!("http://127.0.0.1:{}/metrics", env.http))
        .output()
        .unwrap();
    let metrics = String::from_utf8_lossy(&metrics.stdout).to_string();
    assert!(metrics.contains("meldingsvakt_events_total 0"), "{metrics}");
    assert_eq!(get(env.http, "/api/v1/incidents", &op).trim(), "[]");
}
