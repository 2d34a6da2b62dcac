//! Helpers the daemon stories share beyond `tests/support`: processes that stand in for the
//! world (Debian's Alertmanager and Dovecot, headless Chromium), the test clock, waiting.
#![allow(dead_code)]

use crate::support::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's Alertmanager with a webhook receiver pointing at the daemon (alert token from
/// the daemon's token file, as `credentials_file`).
pub fn alertmanager(env: &Env, port: u16) -> Proc {
    alertmanager_with_routes(env, port, "")
}

/// Alertmanager with extra child routes (YAML under `route.routes`) and a `blackhole` receiver.
pub fn alertmanager_with_routes(env: &Env, port: u16, routes: &str) -> Proc {
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

/// Run a browser script of `tests/browser` with node; fail with its output unless it exits 0.
pub fn node(script: &str, args: &[String]) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "run `npm ci` in tests/browser (scripts/test.sh does)"
    );
    let out = Command::new("node")
        .current_dir(&dir)
        .arg(script)
        .args(args)
        .output()
        .expect("node");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "browser check {script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The status-page check (`status-page.mjs`): expected and absent text, axe at 1280 and 375 px.
pub fn browser(url: &str, shot: &Path, expected: &str, absent: &str) -> String {
    node(
        "status-page.mjs",
        &[
            url.to_string(),
            shot.to_string_lossy().to_string(),
            expected.to_string(),
            absent.to_string(),
        ],
    )
}

/// Wait (60 s at most) until `f` holds; on time-out, fail with the daemon's log.
pub fn wait_for(env: &Env, what: &str, f: &dyn Fn() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}\n{}",
            std::fs::read_to_string(env.dir.join("daemon.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(150));
    }
}

/// Wait until the daemon has decided every deadline up to `at` (its `/healthz`
/// `decided_through`) and then sent everything it decided (no pending row in its outbox): the
/// barrier after which "nothing was sent" is a fact, not a hope that 2 seconds were enough.
#[cfg(feature = "test-clock")]
pub fn wait_settled(env: &Env, at: chrono::DateTime<chrono::Utc>) {
    wait_for(env, "the engine to decide through the test clock", &|| {
        let h = am_json(&format!("http://127.0.0.1:{}/healthz", env.http));
        h["decided_through"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .is_some_and(|t| t >= at)
    });
    wait_for(env, "the outbox to drain", &|| {
        outbox_pending(env) == Some(0)
    });
}

/// Pending rows in the daemon's outbox, read from its SQLite file.
pub fn outbox_pending(env: &Env) -> Option<i64> {
    let db = rusqlite::Connection::open_with_flags(
        env.dir.join("state/meldingsvakt.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .ok()?;
    db.busy_timeout(Duration::from_secs(5)).ok()?;
    db.query_row(
        "SELECT COUNT(*) FROM outbox WHERE status = 'pending'",
        [],
        |r| r.get(0),
    )
    .ok()
}

/// An RFC 3339 string of the API as UTC.
#[cfg(feature = "test-clock")]
pub fn utc(v: &serde_json::Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc)
}

/// Move the daemon's test clock so that it reads `at` (plus 2 s).
#[cfg(feature = "test-clock")]
pub fn set_clock(clock: &Path, at: chrono::DateTime<chrono::Utc>) {
    let secs = (at - chrono::Utc::now()).num_seconds() + 2;
    std::fs::write(clock, secs.to_string()).unwrap();
}

/// GET a JSON document (Alertmanager's API, `/healthz`; `null` when it does not answer).
pub fn am_json(url: &str) -> serde_json::Value {
    let out = Command::new("curl").arg("-s").arg(url).output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

/// Add `extra` to the end of the test configuration.
pub trait AppendConfig {
    fn append_config(&self, extra: &str);
}

impl AppendConfig for Env {
    fn append_config(&self, extra: &str) {
        let cfg_path = self.dir.join("meldingsvakt.toml");
        let mut cfg = std::fs::read_to_string(&cfg_path).unwrap();
        cfg.push_str(extra);
        std::fs::write(&cfg_path, cfg).unwrap();
    }
}

#[cfg(feature = "test-clock")]
impl Env {
    /// Watch the test Dovecot's mailbox: password file and `[imap]` section.
    pub fn with_imap(&self, port: u16, poll: &str) {
        std::fs::write(self.dir.join("imap-password"), "hemmelig-passord").unwrap();
        self.append_config(&format!("\n[imap]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nusername = \"meldingsansvarlig\"\npassword_file = \"imap-password\"\npoll = \"{poll}\"\n"));
    }

    /// The daemon with its clock offset read from the returned file (a `test-clock` build).
    pub fn daemon_with_clock(&self, extra_config: &str) -> (Proc, std::path::PathBuf) {
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
pub fn dovecot(dir: &Path, port: u16) -> Proc {
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
pub fn imap_append(port: u16, folder: &str, raw: &str) {
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

/// A console session for `name` with `groups` (comma-separated), made through the SSO proxy at
/// 127.0.0.2 (`trusted_groups_header = "X-Remote-Groups"`), kept in a cookie jar.
pub fn proxy_session(env: &Env, name: &str, groups: &str) -> Browser {
    let jar = env.dir.join(format!("jar-{}", name.replace(' ', "-")));
    let (code, body) = curl(&[
        "--interface",
        "127.0.0.2",
        "-c",
        jar.to_str().unwrap(),
        "-H",
        &format!("X-Remote-User: {name}"),
        "-H",
        &format!("X-Remote-Groups: {groups}"),
        &format!("http://127.0.0.1:{}/ops/tokens", env.http),
    ]);
    assert_eq!(code, 200, "{body}");
    Browser {
        jar,
        port: env.http,
    }
}

/// A personal API token made in the console by `b`'s person: the text shown once.
pub fn make_token(b: &Browser, label: &str) -> String {
    let csrf = b.csrf();
    let (code, page) = b.post("/ops/tokens", &[("csrf", &csrf), ("label", label)]);
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("Den vises ikke igjen"), "{page}");
    let at = page.find("mvt_").expect("the new token, shown once");
    page[at..at + 44].to_string()
}

/// `meldingsvakt audit verify --config …` with `extra` arguments: its exit code and output.
pub fn audit_verify(env: &Env, extra: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_meldingsvakt"))
        .args(["audit", "verify", "--config"])
        .arg(env.dir.join("meldingsvakt.toml"))
        .args(extra)
        .current_dir(&env.dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// A statement against the daemon's SQLite store with Debian's sqlite3: whether it ran, and
/// its output (and errors).
pub fn sql(env: &Env, statement: &str) -> (bool, String) {
    let out = Command::new("sqlite3")
        .arg(env.dir.join("state/meldingsvakt.db"))
        .arg(statement)
        .output()
        .expect("sqlite3 (Debian) must be installed: scripts/test.sh installs it");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `columns` (an SQL expression) of each audit entry of `what`, oldest first.
pub fn audit_of(env: &Env, columns: &str, what: &str) -> Vec<String> {
    let (ok, rows) = sql(
        env,
        &format!("SELECT {columns} FROM audit WHERE what = '{what}' ORDER BY seq"),
    );
    assert!(ok, "{rows}");
    rows.lines().map(str::to_string).collect()
}
