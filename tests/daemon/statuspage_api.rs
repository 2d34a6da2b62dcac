//! Atlassian Statuspage (a local server checking every request): created once over a restart in a 429 burst.

use crate::support::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn statuspage_created_once_over_a_restart_in_a_429_burst_and_every_request_valid() {
    let spec =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/statuspage-openapi3.json");
    assert!(
        spec.exists(),
        "{} (shared/ beside the repository)",
        spec.display()
    );
    let env = Env::new("statuspage");
    let _smtp = smtp_server(env.smtp, &env.maildir());
    let sp_port = free_port();
    let log = env.dir.join("statuspage.jsonl");
    let key = "sp-test-key-0123456789abcdef";
    let mock = Command::new("/usr/bin/python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/statuspage_mock.py"))
        .args([
            sp_port.to_string(),
            spec.display().to_string(),
            key.to_string(),
            log.display().to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(env.dir.join("mock.log")).unwrap())
        .spawn()
        .expect("python3-jsonschema (Debian) must be installed: scripts/test.sh installs it");
    let _mock = Proc(mock);
    wait_port(sp_port);
    std::fs::write(env.dir.join("sp-key"), key).unwrap();
    let cfg_path = env.dir.join("meldingsvakt.toml");
    let mut cfg = std::fs::read_to_string(&cfg_path).unwrap();
    cfg.push_str(&format!("\n[statuspage]\npage_id = \"pgprod\"\ntest_page_id = \"pgtest\"\napi_key_file = \"sp-key\"\nbase_url = \"http://127.0.0.1:{sp_port}/v1\"\nmin_interval = \"20ms\"\n"));
    std::fs::write(&cfg_path, cfg).unwrap();
    let control = |body: &str| {
        let st = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-X", "POST", "--data-binary", body])
            .arg(format!("http://127.0.0.1:{sp_port}/_control"))
            .status()
            .unwrap();
        assert!(st.success());
    };
    let requests = || -> Vec<serde_json::Value> {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    let incidents = || -> Vec<serde_json::Value> {
        let out = Command::new("curl")
            .args(["-s", "-H", &format!("Authorization: OAuth {key}")])
            .arg(format!(
                "http://127.0.0.1:{sp_port}/v1/pages/pgprod/incidents"
            ))
            .output()
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    };

    // The first create meets a burst of 429s; the daemon is killed while it waits.
    control(r#"{"429": 3}"#);
    let mut d = env.daemon();
    let op = env.token("operator-token");
    let (code, _) = env.post(
        "/api/v1/incidents",
        &op,
        r#"{"id":"INC-S1","services":["PLO"],"category":"A"}"#,
    );
    assert_eq!(code, 201);
    let t = Instant::now();
    while !requests().iter().any(|r| r["fault"] == 429) {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "no request reached the mock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    d.kill9();
    let _d = env.daemon();
    let op = env.token("operator-token");
    // Updates and the resolution after the restart, plus a maintenance created and cancelled.
    let (code, _) = env.post(
        "/api/v1/incidents/INC-S1/update",
        &op,
        r#"{"measures":"Omstart pågår"}"#,
    );
    assert_eq!(code, 200);
    let from = (chrono::Utc::now() + chrono::Duration::days(10)).to_rfc3339();
    let to =
        (chrono::Utc::now() + chrono::Duration::days(10) + chrono::Duration::hours(1)).to_rfc3339();
    let (code, _) = env.post(
        "/api/v1/maintenances",
        &op,
        &format!(r#"{{"id":"VED-S","services":["lab"],"from":"{from}","to":"{to}"}}"#),
    );
    assert_eq!(code, 201);
    control(r#"{"500": 2}"#);
    let (code, _) = env.post("/api/v1/maintenances/VED-S/cancel", &op, "{}");
    assert_eq!(code, 200);
    let (code, _) = env.post("/api/v1/incidents/INC-S1/resolve", &op, "{}");
    assert_eq!(code, 200);
    let t = Instant::now();
    loop {
        let inc = incidents();
        let ours: Vec<&serde_json::Value> = inc
            .iter()
            .filter(|i| i["metadata"]["meldingsvakt"]["id"] == "INC-S1")
            .collect();
        let maint: Vec<&serde_json::Value> = inc
            .iter()
            .filter(|i| i["metadata"]["meldingsvakt"]["id"] == "VED-S")
            .collect();
        if ours.len() == 1
            && ours[0]["status"] == "resolved"
            && maint.len() == 1
            && maint[0]["status"] == "completed"
        {
            assert_eq!(ours[0]["components"]["plo"], "operational");
            break;
        }
        assert!(
            ours.len() <= 1 && maint.len() <= 1,
            "created twice: {inc:?}"
        );
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "not resolved on Statuspage: {inc:?}\n{:?}",
            requests()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let reqs = requests();
    let bad: Vec<&serde_json::Value> = reqs
        .iter()
        .filter(|r| !r["errors"].as_array().unwrap().is_empty())
        .collect();
    assert!(
        bad.is_empty(),
        "requests that break the OpenAPI description: {bad:?}"
    );
    assert!(
        reqs.iter().any(|r| r["fault"] == 500),
        "the 5xx burst was exercised"
    );
}
