//! The daemon against real parts: a real SMTP server (Debian's python3-aiosmtpd, installed by
//! scripts/test.sh), real sockets, SIGKILL in the middle of a fan-out.

use std::collections::{BTreeMap, BTreeSet};

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::*;

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
    let mails = wait_mails(&env.maildir(), kommuner(), 30);
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
                .contains("Berørt tjeneste: PLO (Pleie- og omsorgsmeldinger)"),
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
    let _smtp = smtp_server(env.smtp, &env.maildir());
    let mut d = env.daemon();
    let (code, _) = env.post(
        "/api/v1/alerts",
        &env.token("alert-token"),
        &long_alert("Crash"),
    );
    assert_eq!(code, 200);
    // Kill as soon as the first messages arrive, in the middle of the fan-out.
    let t = Instant::now();
    while read_mails(&env.maildir()).is_empty() && t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(2));
    }
    unsafe_kill9(&mut d);
    let before = read_mails(&env.maildir()).len();
    assert!(
        before < kommuner(),
        "the fan-out finished before the kill ({before}); the test proves nothing"
    );
    eprintln!("killed with {before} of {} delivered", kommuner());
    let _d2 = env.daemon();
    // Messages delivered but not yet marked done at the kill are sent again (same
    // Message-ID), so wait for every recipient, not for a number of files.
    let t = Instant::now();
    let mails = loop {
        let m = read_mails(&env.maildir());
        let distinct: BTreeSet<&String> = m.iter().map(|m| &m.headers["to"]).collect();
        if distinct.len() >= kommuner() || t.elapsed() > Duration::from_secs(30) {
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

fn unsafe_kill9(p: &mut Proc) {
    let _ = Command::new("kill")
        .args(["-9", &p.0.id().to_string()])
        .status();
    let _ = p.0.wait();
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
    let _d = env.daemon();
    // No SMTP server yet. A 4-hour maintenance for three municipalities: 3 + region = 4
    // notices, and (at an arbitrary hour, outside the Sunday-night window) 1 warning to ops.
    let from = (chrono::Utc::now() + chrono::Duration::days(10)).to_rfc3339();
    let to =
        (chrono::Utc::now() + chrono::Duration::days(10) + chrono::Duration::hours(4)).to_rfc3339();
    let body = format!(
        r#"{{"id":"VED-1","orgs":["malvik","melhus","skaun"],"services":["PLO"],"from":"{from}","to":"{to}","measures":"Oppgradering"}}"#
    );
    let (code, resp) = env.post("/api/v1/maintenances", &env.token("operator-token"), &body);
    assert_eq!(code, 201, "{resp}");
    std::thread::sleep(Duration::from_secs(2));
    let metrics = Command::new("curl")
        .arg("-s")
        .arg(format!("http://127.0.0.1:{}/metrics", env.http))
        .output()
        .unwrap();
    let metrics = String::from_utf8_lossy(&metrics.stdout).to_string();
    assert!(
        metrics.contains("meldingsvakt_outbox_pending 5"),
        "{metrics}"
    );
    assert!(
        metrics.contains("meldingsvakt_messages_failed_total{kind=\"planned\"}"),
        "{metrics}"
    );
    // The server comes back: the retries (5 s, then 10 s) deliver everything.
    let _smtp = smtp_server(env.smtp, &env.maildir());
    // 4 notices + 1 window warning, then one late-delivery warning for the whole batch.
    let mails = wait_mails(&env.maildir(), 6, 40);
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

#[test]
fn systemd_notify_ready_watchdog_reload_and_stop() {
    use std::os::unix::net::UnixDatagram;
    let env = Env::new("notify");
    let sock_path = env.dir.join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // As systemd does: WATCHDOG_PID names the service's main process (exec keeps the pid).
    let child = Command::new("sh")
        .arg("-c")
        .arg("WATCHDOG_PID=$$ exec \"$0\" run --config \"$1\"")
        .arg(env!("CARGO_BIN_EXE_meldingsvakt"))
        .arg(env.dir.join("meldingsvakt.toml"))
        .current_dir(&env.dir)
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "400000")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(env.dir.join("daemon.log")).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let _d = Proc(child);
    let recv = |want: &str| {
        let mut buf = [0u8; 512];
        let t = Instant::now();
        loop {
            let n = sock
                .recv(&mut buf)
                .unwrap_or_else(|e| panic!("waiting for {want}: {e}"));
            let msg = String::from_utf8_lossy(&buf[..n]).to_string();
            if msg.contains(want) {
                return msg;
            }
            assert!(t.elapsed() < Duration::from_secs(10), "no {want}");
        }
    };
    recv("READY=1");
    recv("WATCHDOG=1");
    // A broken configuration on SIGHUP: RELOADING, then READY again with the old one in force.
    let cfg_path = env.dir.join("meldingsvakt.toml");
    let good = std::fs::read_to_string(&cfg_path).unwrap();
    std::fs::write(&cfg_path, good.replace("[self]", "[self]\nbogus = 1")).unwrap();
    Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    let m = recv("RELOADING=1");
    assert!(m.contains("MONOTONIC_USEC="), "{m}");
    recv("READY=1");
    let log = std::fs::read_to_string(env.dir.join("daemon.log")).unwrap();
    assert!(
        log.contains("unknown key `self.bogus`")
            && log.contains("previous configuration stays in force"),
        "{log}"
    );
    // Still serving.
    let (code, _) = env.post(
        "/api/v1/incidents/none/ack",
        &env.token("operator-token"),
        "{}",
    );
    assert_eq!(code, 404);
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    recv("STOPPING=1");
}

/// Debian's Alertmanager with a webhook receiver pointing at the daemon (alert token from
/// the daemon's token file, as `credentials_file`).
fn alertmanager(env: &Env, port: u16) -> Proc {
    alertmanager_with_routes(env, port, "")
}

/// Alertmanager with extra child routes (YAML under `route.routes`) and a `blackhole` receiver.
fn alertmanager_with_routes(env: &Env, port: u16, routes: &str) -> Proc {
    let am = "/usr/bin/prometheus-alertmanager";
    assert!(
        Path::new(am).exists(),
        "prometheus-alertmanager (Debian) must be installed: scripts/test.sh installs it"
    );
    let amdir = env.dir.join("am");
    std::fs::create_dir_all(&amdir).unwrap();
    std::fs::write(
        amdir.join("am.yml"),
        format!(
            "route:\n  receiver: mv\n  group_by: ['org', 'kind']\n  group_wait: 0s\n  group_interval: 1s\n{routes}receivers:\n- name: blackhole\n- name: mv\n  webhook_configs:\n  - url: 'http://127.0.0.1:{}/api/v1/alerts'\n    send_resolved: true\n    http_config:\n      authorization:\n        type: Bearer\n        credentials_file: '{}'\n",
            env.http,
            env.dir.join("state/alert-token").display()
        ),
    )
    .unwrap();
    let child = Command::new(am)
        .arg(format!("--config.file={}", amdir.join("am.yml").display()))
        .arg(format!("--storage.path={}", amdir.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(env.dir.join("am.log")).unwrap())
        .spawn()
        .unwrap();
    wait_port(port);
    Proc(child)
}

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
            t.elapsed() < Duration::from_secs(20),
            "Alertmanager's webhook never opened the incident: {list}\n{}",
            std::fs::read_to_string(env.dir.join("am.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn maintenance_files_are_declared_at_start_and_reconciled_on_sighup() {
    let env = Env::new("mfiles");
    let _smtp = smtp_server(env.smtp, &env.maildir());
    let dir = env.dir.join("maintenance.d");
    std::fs::create_dir_all(&dir).unwrap();
    let from = (chrono::Utc::now() + chrono::Duration::days(9))
        .format("%Y-%m-%dT%H:00:00Z")
        .to_string();
    let to = (chrono::Utc::now() + chrono::Duration::days(9) + chrono::Duration::hours(4))
        .format("%Y-%m-%dT%H:00:00Z")
        .to_string();
    let one_off = format!("[[maintenance]]\nid = \"VED-FIL\"\norgs = [\"malvik\", \"melhus\"]\nservices = [\"PLO\"]\nfrom = \"{from}\"\nto = \"{to}\"\nmeasures = \"Oppgradering\"\n");
    let weekly = "[[recurring]]\nid = \"sondag\"\ncron = \"0 0 23 * * Sun\"\nduration = \"1h\"\nservices = [\"lab\"]\n";
    std::fs::write(dir.join("a.toml"), &one_off).unwrap();
    std::fs::write(dir.join("b.toml"), weekly).unwrap();
    let d = env.daemon();
    let op = env.token("operator-token");
    let t = Instant::now();
    let list = loop {
        let l = get(env.http, "/api/v1/maintenances", &op);
        if l.contains("VED-FIL") || t.elapsed() > Duration::from_secs(10) {
            break l;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(list.contains("VED-FIL"), "{list}");
    assert_eq!(
        list.matches("sondag:").count(),
        2,
        "two Sundays within 14 days: {list}"
    );
    // 4 h: notices to the two municipalities and the region.
    let mails = wait_mails(&env.maildir(), 3, 20);
    assert!(
        mails
            .iter()
            .filter(|m| m.headers["subject"].starts_with("Planlagt stopp"))
            .count()
            >= 3
    );
    // The one-off is removed from the files; SIGHUP cancels it (Avlyst to those notified).
    std::fs::remove_file(dir.join("a.toml")).unwrap();
    Command::new("kill")
        .args(["-HUP", &d.0.id().to_string()])
        .status()
        .unwrap();
    let t = Instant::now();
    loop {
        let m = read_mails(&env.maildir());
        if m.iter()
            .filter(|m| m.headers["subject"].starts_with("Avlyst: Planlagt stopp"))
            .count()
            >= 3
        {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "no Avlyst after the file was removed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let list = get(env.http, "/api/v1/maintenances", &op);
    assert!(
        !list.contains("VED-FIL") && list.contains("sondag:"),
        "{list}"
    );
}

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
        (
            "/api/v1/alerts",
            &alert,
            r#"{"alerts":[{"status":"firing","labels":{"org":"malvik"}},{"status":"firing","labels":{"org":"atlantis"}}]}"#,
            422,
            "alerts[1]",
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
    // Nothing was applied: no event accepted, no incident (the valid first alert of the
    // refused batch included).
    let metrics = Command::new("curl")
        .arg("-s")
        .arg(format!("http://127.0.0.1:{}/metrics", env.http))
        .output()
        .unwrap();
    let metrics = String::from_utf8_lossy(&metrics.stdout).to_string();
    assert!(metrics.contains("meldingsvakt_events_total 0"), "{metrics}");
    assert_eq!(get(env.http, "/api/v1/incidents", &op).trim(), "[]");
}

fn browser(url: &str, shot: &Path, expected: &str, absent: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "run `npm ci` in tests/browser (scripts/test.sh does)"
    );
    let out = Command::new("node")
        .current_dir(&dir)
        .args(["status-page.mjs", url])
        .arg(shot)
        .args([expected, absent])
        .output()
        .expect("node");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "browser check failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

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
            && html.contains("Feil i meldingsutveksling: PLO"),
        "{html}"
    );
    assert!(
        html.contains("&lt;b&gt;pågår&lt;/b&gt;"),
        "text must be escaped: {html}"
    );
    assert!(
        !html.contains("Laboratoriesvar) </h3>")
            && !html.contains("Feil i meldingsutveksling: lab"),
        "test incident on the production page"
    );
    assert!(get(env.http, "/test/", "").contains("Feil i meldingsutveksling: lab"));

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
            t.elapsed() < Duration::from_secs(10),
            "no request reached the mock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    unsafe_kill9(&mut d);
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
            t.elapsed() < Duration::from_secs(40),
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

/// Wait (30 s at most) until `f` holds; on time-out, fail with the daemon's log.
#[cfg(feature = "test-clock")]
fn wait_for(env: &Env, what: &str, f: &dyn Fn() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}\n{}",
            std::fs::read_to_string(env.dir.join("daemon.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(150));
    }
}

/// An RFC 3339 string of the API as UTC.
#[cfg(feature = "test-clock")]
fn utc(v: &serde_json::Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc)
}

/// Move the daemon's test clock so that it reads `at` (plus 2 s).
#[cfg(feature = "test-clock")]
fn set_clock(clock: &Path, at: chrono::DateTime<chrono::Utc>) {
    let secs = (at - chrono::Utc::now()).num_seconds() + 2;
    std::fs::write(clock, secs.to_string()).unwrap();
}

/// GET a JSON document from Alertmanager's API (`null` when it does not answer).
#[cfg(feature = "test-clock")]
fn am_json(url: &str) -> serde_json::Value {
    let out = Command::new("curl").arg("-s").arg(url).output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

/// The kvittering story end to end against real servers, with the clock moved by the test
/// (a `test-clock` build): alert → Alertmanager → daemon → inquiry at the SMTP server with the
/// KS e-Komp and HF copies → no reply → escalation → silence in Alertmanager muting the alert
/// → operator resolves → Løst and the silence expired. (The reply-less mailbox of issue #5's
/// Dovecot part is not in this build: no reply is registered.)
#[cfg(feature = "test-clock")]
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
#[cfg(feature = "test-clock")]
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
    set_clock(cal.end_of_first_working_day_after(parse(&incident()["followup_at"])));
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
    // Alertmanager applies silences to its alerts asynchronously; give it a moment.
    std::thread::sleep(Duration::from_secs(2));
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
    std::thread::sleep(Duration::from_secs(1));
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

#[cfg(feature = "test-clock")]
impl Env {
    /// Watch the test Dovecot's mailbox: password file and `[imap]` section.
    fn with_imap(&self, port: u16, poll: &str) {
        std::fs::write(self.dir.join("imap-password"), "hemmelig-passord").unwrap();
        self.append_config(&format!("\n[imap]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nusername = \"meldingsansvarlig\"\npassword_file = \"imap-password\"\npoll = \"{poll}\"\n"));
    }

    fn append_config(&self, extra: &str) {
        let cfg_path = self.dir.join("meldingsvakt.toml");
        let mut cfg = std::fs::read_to_string(&cfg_path).unwrap();
        cfg.push_str(extra);
        std::fs::write(&cfg_path, cfg).unwrap();
    }

    /// The daemon with its clock offset read from the returned file (a `test-clock` build).
    fn daemon_with_clock(&self, extra_config: &str) -> (Proc, std::path::PathBuf) {
        self.append_config(extra_config);
        let clock = self.dir.join("clock-offset");
        std::fs::write(&clock, "0").unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_meldingsvakt"))
            .args(["run", "--config"])
            .arg(self.dir.join("meldingsvakt.toml"))
            .current_dir(&self.dir)
            .env("MELDINGSVAKT_TEST_CLOCK_FILE", &clock)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.join("daemon.log")).unwrap())
            .spawn()
            .unwrap();
        wait_port(self.http);
        (Proc(child), clock)
    }
}

/// Debian's Dovecot in the foreground (`-F`) on a free port, one user, maildir under `dir`.
#[cfg(feature = "test-clock")]
fn dovecot(dir: &Path, port: u16) -> Proc {
    let conf = dir.join("dovecot.conf");
    std::fs::create_dir_all(dir.join("run")).unwrap();
    // Mail is stored as Debian's `dovecot` user (Dovecot refuses root for it).
    std::fs::create_dir_all(dir.join("mail")).unwrap();
    assert!(Command::new("chown")
        .args(["-R", "dovecot:dovecot"])
        .arg(dir.join("mail"))
        .status()
        .unwrap()
        .success());
    std::fs::write(
        dir.join("users"),
        "meldingsansvarlig:{PLAIN}hemmelig-passord\n",
    )
    .unwrap();
    std::fs::write(
        &conf,
        format!(
            "protocols = imap\nlisten = 127.0.0.1\nbase_dir = {d}/run\nstate_dir = {d}/run\nlog_path = {d}/dovecot.log\nssl = no\ndisable_plaintext_auth = no\nauth_mechanisms = plain login\nmail_location = maildir:{d}/mail/%u\ndefault_internal_user = dovecot\ndefault_login_user = dovenull\nfirst_valid_uid = 1\npassdb {{\n  driver = passwd-file\n  args = scheme=PLAIN {d}/users\n}}\nuserdb {{\n  driver = static\n  args = uid=dovecot gid=dovecot home={d}/mail/%u\n}}\nservice imap-login {{\n  inet_listener imap {{\n    port = {port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}\nnamespace inbox {{\n  inbox = yes\n  mailbox Sent {{\n    special_use = \\Sent\n    auto = create\n  }}\n}}\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let child = Command::new("/usr/sbin/dovecot")
        .args(["-F", "-c"])
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dovecot-imapd (Debian) must be installed: scripts/test.sh installs it");
    wait_port(port);
    Proc(child)
}

#[cfg(feature = "test-clock")]
fn imap_append(port: u16, folder: &str, raw: &str) {
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", &format!("import imaplib,sys; m=imaplib.IMAP4('127.0.0.1',{port}); m.login('meldingsansvarlig','hemmelig-passord'); r=m.append('{folder}', None, None, sys.stdin.buffer.read()); assert r[0]=='OK', r")])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(raw.replace('\n', "\r\n").as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "IMAP APPEND to {folder}");
}

#[cfg(feature = "test-clock")]
#[test]
fn mailbox_replies_and_inquiries_through_dovecot_across_a_restart() {
    use meldingsvakt::calendar::Calendar;
    let env = Env::new("imap");
    let _smtp = smtp_server(env.smtp, &env.maildir());
    let imap_port = free_port();
    let dvdir = env.dir.join("dovecot");
    let mut dv = dovecot(&dvdir, imap_port);
    env.with_imap(imap_port, "300ms");
    let (_d, clock) = env.daemon_with_clock("");
    let op = env.token("operator-token");
    let log = || std::fs::read_to_string(env.dir.join("daemon.log")).unwrap_or_default();
    let wait_for = |what: &str, f: &dyn Fn() -> bool| {
        let t = Instant::now();
        while !f() {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "timed out waiting for {what}\n{}",
                log()
            );
            std::thread::sleep(Duration::from_millis(150));
        }
    };
    let parse = utc;
    let cal = Calendar::default();
    let set_clock = |at: chrono::DateTime<chrono::Utc>| {
        std::fs::write(
            &clock,
            ((at - chrono::Utc::now()).num_seconds() + 2).to_string(),
        )
        .unwrap()
    };
    let incident = || -> serde_json::Value {
        serde_json::from_str(&get(env.http, "/api/v1/incidents/INC-M", &op)).unwrap()
    };

    // The inquiry to Malvik goes out.
    let (code, _) = env.post(
        "/api/v1/incidents",
        &op,
        r#"{"id":"INC-M","kind":"kvittering","at_org":"malvik","services":["PLO"],"category":"C"}"#,
    );
    assert_eq!(code, 201);
    set_clock(cal.add_business(
        parse(&incident()["detected_at"]),
        chrono::Duration::hours(2),
    ));
    wait_for("the inquiry", &|| {
        read_mails(&env.maildir())
            .iter()
            .any(|m| m.headers["subject"] == "Manglende kvittering")
    });
    let ours = read_mails(&env.maildir())
        .into_iter()
        .find(|m| m.headers["subject"] == "Manglende kvittering")
        .unwrap()
        .headers["message-id"]
        .clone();

    // An auto-reply to it is not a reply.
    imap_append(imap_port, "INBOX", &format!("From: meldingsansvarlig@malvik.kommune.example\nTo: meldingsansvarlig@helse-midt.example\nSubject: Fravær: Manglende kvittering\nAuto-Submitted: auto-replied\nIn-Reply-To: {ours}\nMessage-ID: <auto1@malvik.kommune.example>\n\nJeg er borte.\n"));
    wait_for("the auto-reply to be looked at", &|| {
        log().contains("decision=AutoReply")
    });
    assert!(
        incident()["reply_at"].is_null(),
        "an auto-reply counted as a reply"
    );
    // The real reply is.
    imap_append(imap_port, "INBOX", &format!("From: meldingsansvarlig@malvik.kommune.example\nTo: meldingsansvarlig@helse-midt.example\nCc: ekomp-trondelag@ks.example\nSubject: SV: Manglende kvittering\nIn-Reply-To: {ours}\nMessage-ID: <reply1@malvik.kommune.example>\n\nVi har startet feilsøking.\n"));
    wait_for("the reply", &|| !incident()["reply_at"].is_null());
    // Replied in time: the reply deadline passes without an escalation.
    set_clock(
        cal.end_of_first_working_day_after(parse(&incident()["followup_at"]))
            + chrono::Duration::minutes(1),
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !read_mails(&env.maildir())
            .iter()
            .any(|m| m.headers["subject"].starts_with("Eskalering")),
        "escalated despite the reply"
    );

    // Two inbound inquiries; Dovecot restarts; our answer to one appears in Sent.
    imap_append(imap_port, "INBOX", "From: meldingsansvarlig@melhus.kommune.example\nSubject: Feil ved sending av epikrise\nMessage-ID: <q1@melhus.kommune.example>\n\nHei, får dere epikrisene våre?\n");
    imap_append(imap_port, "INBOX", "From: meldingsansvarlig@skaun.kommune.example\nSubject: Manglende kvitteringer fra sykehuset\nMessage-ID: <q2@skaun.kommune.example>\n\nHei!\n");
    wait_for("both inquiries", &|| {
        log().matches("decision=Inquiry").count() == 2
    });
    drop(dv);
    std::thread::sleep(Duration::from_millis(500));
    dv = dovecot(&dvdir, imap_port);
    imap_append(imap_port, "Sent", "From: meldingsansvarlig@helse-midt.example\nTo: meldingsansvarlig@melhus.kommune.example\nSubject: SV: Feil ved sending av epikrise\nIn-Reply-To: <q1@melhus.kommune.example>\nMessage-ID: <a1@helse-midt.example>\n\nVi ser på det.\n");
    wait_for("the answer", &|| log().contains("decision=Answer"));

    // Next working day 08:00: only the unanswered inquiry (Skaun) earns a reminder.
    let now = chrono::Utc::now()
        + chrono::Duration::seconds(
            std::fs::read_to_string(&clock)
                .unwrap()
                .trim()
                .parse()
                .unwrap(),
        );
    let day = cal.first_working_day_after(cal.local_date(now));
    set_clock(cal.business_window(day).unwrap().0);
    wait_for("the reminder", &|| {
        read_mails(&env.maildir())
            .iter()
            .any(|m| m.headers["subject"].contains("henvendelse fra Skaun kommune"))
    });
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        !read_mails(&env.maildir())
            .iter()
            .any(|m| m.headers["subject"].contains("Melhus")),
        "answered inquiry reminded"
    );
    // Each of the five messages handled exactly once, across the Dovecot restart.
    let handled = log().matches("mailbox message handled").count()
        + log().matches("mailbox message needs nothing").count();
    assert_eq!(handled, 5, "{}", log());
    drop(dv);
}

/// With IDLE, new mail is handled at once: the poll interval is 60 s, the inquiry must be seen
/// within 5 s (only IDLE can explain that).
#[cfg(feature = "test-clock")]
#[test]
fn imap_idle_handles_new_mail_at_once() {
    let env = Env::new("idle");
    let imap_port = free_port();
    let _dv = dovecot(&env.dir.join("dovecot"), imap_port);
    env.with_imap(imap_port, "60s");
    let _d = env.daemon();
    let log = || std::fs::read_to_string(env.dir.join("daemon.log")).unwrap_or_default();
    let t = Instant::now();
    while !log().contains("mailbox connected") {
        assert!(t.elapsed() < Duration::from_secs(10), "{}", log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        log().contains("idle=true"),
        "Dovecot offers IDLE: {}",
        log()
    );
    std::thread::sleep(Duration::from_millis(500)); // let the first IDLE begin
    imap_append(imap_port, "INBOX", "From: meldingsansvarlig@frosta.kommune.example\nSubject: Spørsmål om PLO\nMessage-ID: <idle1@frosta.kommune.example>\n\nHei\n");
    let t = Instant::now();
    while !log().contains("decision=Inquiry") {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "not handled within 5 s with a 60 s poll: IDLE is not working\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
