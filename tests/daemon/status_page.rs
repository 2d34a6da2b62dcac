//! The built-in status page in headless Chromium with axe-core.

use crate::harness::*;
use crate::support::*;
use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn built_in_status_page_in_chromium_with_axe() {
    let env = Env::new("page");
    let _smtp = smtp_server(env.smtp, &env.maildir());
    let _d = env.daemon();
    let op = env.token("operator-token");
    // Priority 1 (category A, every municipality exchanging PLO): published at once.
    let (code, body) = env.post(
        "/api/v1/incidents",
        &op,
        r#"{"id":"INC-P1","services":["PLO"],"category":"A"}"#,
    );
    assert_eq!(code, 201, "{body}");
    let (code, _) = env.post(
        "/api/v1/incidents/INC-P1/update",
        &op,
        r#"{"measures":"Omstart av meldingstjeneren <b>pågår</b>"}"#,
    );
    assert_eq!(code, 200);
    // A test-environment incident goes to the test page only.
    let (code, _) = env.post(
        "/api/v1/incidents",
        &op,
        r#"{"id":"INC-T","services":["lab"],"category":"A","environment":"test"}"#,
    );
    assert_eq!(code, 201);

    let base = format!("http://127.0.0.1:{}", env.http);
    let html = get(env.http, "/", "");
    assert!(
        html.contains("Kritisk driftsforstyrrelse")
            && html.contains("Feil i meldingsutveksling: Pleie- og omsorgsmeldinger (PLO)"),
        "{html}"
    );
    assert!(
        html.contains("&lt;b&gt;pågår&lt;/b&gt;"),
        "text must be escaped: {html}"
    );
    assert!(
        !html.contains("Laboratoriesvar) </h3>")
            && !html.contains("Feil i meldingsutveksling: Laboratoriesvar"),
        "test incident on the production page"
    );
    assert!(get(env.http, "/test/", "").contains("Feil i meldingsutveksling: Laboratoriesvar"));

    let v: serde_json::Value = serde_json::from_str(&get(env.http, "/api/v1/status", "")).unwrap();
    for k in [
        "page",
        "status",
        "components",
        "incidents",
        "scheduled_maintenances",
    ] {
        assert!(v.get(k).is_some(), "summary.json key {k}: {v}");
    }
    assert_eq!(v["status"]["indicator"], "critical");
    let plo = v["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "PLO")
        .unwrap();
    assert_eq!(plo["status"], "major_outage");
    assert_eq!(
        v["incidents"][0]["incident_updates"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(["investigating", "identified", "monitoring", "resolved"]
        .contains(&v["incidents"][0]["status"].as_str().unwrap()));

    let atom = get(env.http, "/feed.atom", "");
    let check = Command::new("/usr/bin/python3")
        .args(["-c", "import sys, xml.etree.ElementTree as E; r = E.fromstring(sys.stdin.buffer.read()); ns='{http://www.w3.org/2005/Atom}'; assert r.tag == ns+'feed'; [e.find(ns+'id').text for e in r.findall(ns+'entry')]; assert r.find(ns+'updated') is not None and r.find(ns+'author') is not None; print(len(r.findall(ns+'entry')))"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    check
        .stdin
        .as_ref()
        .unwrap()
        .write_all(atom.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(out.status.success(), "Atom does not parse: {atom}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2");

    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let axe = browser(
        &format!("{base}/"),
        &artifacts.join("status-page-open.png"),
        "Omstart av meldingstjeneren <b>pågår</b>",
        "Ingen pågående hendelser",
    );
    eprintln!("axe (open incident): {axe}");
    let (code, _) = env.post("/api/v1/incidents/INC-P1/resolve", &op, "{}");
    assert_eq!(code, 200);
    let axe = browser(
        &format!("{base}/"),
        &artifacts.join("status-page-resolved.png"),
        "Ingen pågående hendelser",
        "Kritisk driftsforstyrrelse",
    );
    eprintln!("axe (resolved): {axe}");
    let v: serde_json::Value = serde_json::from_str(&get(env.http, "/api/v1/status", "")).unwrap();
    assert_eq!(v["status"]["indicator"], "none");
    assert!(get(env.http, "/", "").contains("Historikk"));
}
