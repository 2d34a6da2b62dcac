//! Harness shared by the daemon test files: real processes (the daemon, Debian's aiosmtpd),
//! free ports, mail reading.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A loopback port that no one else will take while this test process lives.
///
/// Binding port 0 and closing it again (the usual trick) leaves a window in which another
/// test's server, or the kernel's choice of source port for any outgoing connection, takes the
/// port before our server binds it. So the port comes from below the kernel's ephemeral range
/// (`ip_local_port_range`: no outgoing connection is ever given one of these), and it is
/// reserved with an exclusive lock on `/tmp/mv-test-ports/PORT` that this process holds until
/// it exits, so no other test (in this process or another) is handed the same port.
pub fn free_port() -> u16 {
    use std::sync::Mutex;
    static HELD: Mutex<Vec<std::fs::File>> = Mutex::new(Vec::new());
    let ephemeral_start: u32 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(32768);
    let (lo, hi) = (12_000u32, ephemeral_start.clamp(13_000, 65_535));
    let span = hi - lo;
    let dir = std::env::temp_dir().join("mv-test-ports");
    std::fs::create_dir_all(&dir).unwrap();
    let start = (std::process::id().wrapping_mul(7919) + nanos()) % span;
    let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
    for i in 0..span {
        let port = (lo + (start + i) % span) as u16;
        let Ok(f) = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(port.to_string()))
        else {
            continue;
        };
        if f.try_lock().is_err() {
            continue;
        }
        // Someone outside the tests may listen there; then it is not ours to take.
        if TcpListener::bind(("127.0.0.1", port)).is_err() {
            continue;
        }
        held.push(f);
        return port;
    }
    panic!("no free loopback port in {lo}..{hi}");
}

fn nanos() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
}

pub struct Proc(pub Child);

impl Proc {
    /// `kill -9` (SIGKILL: no shutdown, no flush), and reap it.
    pub fn kill9(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The tests' SMTP server (`tests/smtp_server.py`, Debian's aiosmtpd) on `port`, storing
/// every message in `maildir`.
pub fn smtp_server(port: u16, maildir: &Path) -> Proc {
    start_smtp(port, maildir, &[])
}

/// An SMTP server that answers the first `hold_at - 1` messages and then holds every later
/// one unanswered until [`Hold::release`]. [`Hold::wait_held`] returns once the `hold_at`-th
/// message is being held, with the number answered before it: the moment "in the middle of a
/// fan-out" made certain, not hoped for.
pub fn holding_smtp_server(port: u16, maildir: &Path, hold_at: usize) -> (Proc, Hold) {
    let dir = maildir.with_extension("hold");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let hold = Hold {
        held: dir.join("held"),
        release: dir.join("release"),
    };
    let args = [
        hold_at.to_string(),
        hold.held.to_string_lossy().to_string(),
        hold.release.to_string_lossy().to_string(),
    ];
    (start_smtp(port, maildir, &args), hold)
}

pub struct Hold {
    held: PathBuf,
    release: PathBuf,
}

impl Hold {
    /// Wait (up to `secs`) until the server holds a message; the number it answered before.
    pub fn wait_held(&self, secs: u64) -> usize {
        let t = Instant::now();
        loop {
            if let Ok(s) = std::fs::read_to_string(&self.held) {
                return s.trim().parse().expect("the held file holds a count");
            }
            assert!(
                t.elapsed() < Duration::from_secs(secs),
                "the SMTP server was never asked for the message it holds"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Answer the held messages and every later one.
    pub fn release(&self) {
        std::fs::write(&self.release, "").unwrap();
    }
}

fn start_smtp(port: u16, maildir: &Path, extra: &[String]) -> Proc {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_server.py");
    let mut child = Command::new("/usr/bin/python3")
        .arg(script)
        .arg(port.to_string())
        .arg(maildir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3-aiosmtpd (Debian) must be installed: scripts/test.sh installs it");
    let mut line = String::new();
    use std::io::BufRead;
    let _ = std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
    assert_eq!(
        line.trim(),
        "ready",
        "the SMTP server on {port} did not start"
    );
    Proc(child)
}

/// Wait (up to a minute) until something listens on `port`.
pub fn wait_port(port: u16) {
    wait_listening(port, true, "nothing listens on");
}

/// Wait until nothing listens on `port` any more (a server's helper processes can keep its
/// socket a moment after the server itself was killed).
pub fn wait_port_closed(port: u16) {
    wait_listening(port, false, "something still listens on");
}

fn wait_listening(port: u16, want: bool, failing: &str) {
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() != want {
        assert!(t.elapsed() < Duration::from_secs(60), "{failing} {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `curl -s` with `args` (options and the URL): the status and the body (with `-i`, the
/// head too). 0 when nothing answered.
pub fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = s.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// A console user: curl with a cookie jar, against the daemon on `port`.
pub struct Browser {
    pub jar: PathBuf,
    pub port: u16,
}

impl Browser {
    /// A request to `path` with curl `args`; the status and body. Cookies are kept.
    pub fn request(&self, path: &str, args: &[&str]) -> (u16, String) {
        let jar = self.jar.to_string_lossy().to_string();
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        curl(&[&["-b", &jar, "-c", &jar], args, &[url.as_str()]].concat())
    }

    /// POST a form (each field URL-encoded); the status and body.
    pub fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let fields: Vec<String> = form.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let args: Vec<&str> = fields
            .iter()
            .flat_map(|f| ["--data-urlencode", f.as_str()])
            .collect();
        self.request(path, &args)
    }

    /// GET `path`; the body.
    pub fn get(&self, path: &str) -> String {
        self.request(path, &[]).1
    }

    /// The CSRF token of the signed-in session (every page carries it in its sign-out form).
    pub fn csrf(&self) -> String {
        let page = self.get("/ops/tokens");
        let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
        page[at..].split('"').next().unwrap().to_string()
    }
}

/// A fuzz test's seed: `MV_FUZZ_SEED` to repeat a run, else a new one (odd, never 0).
pub fn fuzz_seed() -> u64 {
    std::env::var("MV_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        })
}

/// xorshift64*: a seeded generator for the tests' random inputs (no dependency), so a run
/// can be repeated from its seed.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

pub struct Env {
    pub dir: PathBuf,
    pub http: u16,
    pub smtp: u16,
}

impl Env {
    pub fn new(name: &str) -> Env {
        let dir = std::env::temp_dir().join(format!("mv-daemon-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let main = std::fs::read_to_string(repo.join("config/meldingsvakt.toml")).unwrap();
        let orgs = repo.join("config/organizations.d/*.toml");
        let (http, smtp) = (free_port(), free_port());
        let cfg = main.replace(
            "include = [\"organizations.d/*.toml\"]",
            &format!("include = [{:?}]\n\n[storage]\ndir = \"state\"\n\n[http]\nlisten = \"127.0.0.1:{http}\"\n\n[smtp]\ntransport = \"smtp\"\nhost = \"127.0.0.1\"\nport = {smtp}\nsecurity = \"none\"\n", orgs.to_string_lossy()),
        );
        std::fs::write(dir.join("meldingsvakt.toml"), cfg).unwrap();
        Env { dir, http, smtp }
    }

    pub fn daemon(&self) -> Proc {
        self.daemon_under(&[])
    }

    /// The daemon with extra environment variables (e.g. `MELDINGSVAKT_LOG=trace`).
    pub fn daemon_env(&self, vars: &[(&str, &str)]) -> Proc {
        let child = Command::new(env!("CARGO_BIN_EXE_meldingsvakt"))
            .args(["run", "--config"])
            .arg(self.dir.join("meldingsvakt.toml"))
            .current_dir(&self.dir)
            .envs(vars.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.join("daemon.log")).unwrap())
            .spawn()
            .unwrap();
        wait_port(self.http);
        Proc(child)
    }

    /// The daemon started through a wrapper command (e.g. `prlimit --nofile=1024:1024`).
    pub fn daemon_under(&self, wrapper: &[&str]) -> Proc {
        let bin = env!("CARGO_BIN_EXE_meldingsvakt");
        let (program, pre): (&str, &[&str]) = match wrapper.split_first() {
            Some((p, rest)) => (p, rest),
            None => (bin, &[]),
        };
        let mut cmd = Command::new(program);
        cmd.args(pre);
        if !wrapper.is_empty() {
            cmd.arg(bin);
        }
        let child = cmd
            .args(["run", "--config"])
            .arg(self.dir.join("meldingsvakt.toml"))
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.join("daemon.log")).unwrap())
            .spawn()
            .unwrap();
        wait_port(self.http);
        Proc(child)
    }

    pub fn token(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join("state").join(name))
            .unwrap()
            .trim()
            .to_string()
    }

    pub fn post(&self, path: &str, token: &str, body: &str) -> (u16, String) {
        // Large bodies go through a file (command lines have a size limit).
        let body_arg = if body.len() > 64 * 1024 {
            let f = self.dir.join("body.json");
            std::fs::write(&f, body).unwrap();
            format!("@{}", f.display())
        } else {
            body.to_string()
        };
        let body = body_arg.as_str();
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "-",
                "-w",
                "\n%{http_code}",
                "-X",
                "POST",
                "-H",
                &format!("Authorization: Bearer {token}"),
                "-H",
                "Content-Type: application/json",
            ])
            .arg(format!("http://127.0.0.1:{}{path}", self.http))
            .args(["--data-binary", body])
            .output()
            .unwrap();
        let s = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = s.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    pub fn maildir(&self) -> PathBuf {
        self.dir.join("maildir")
    }

    /// Wait (up to a minute) until the daemon's log contains `text`; fail with the log.
    pub fn wait_log(&self, text: &str) {
        let t = Instant::now();
        loop {
            let log = std::fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default();
            if log.contains(text) {
                return;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "no {text:?} in:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[derive(Debug)]
pub struct Mail {
    /// Lower-case header name → value: unfolded as sent, the subject decoded (RFC 2047).
    pub headers: BTreeMap<String, String>,
    /// The text body, transfer encoding undone, with `\n` line ends.
    pub body: String,
}

/// Read one message with `mail-parser`, the parser the daemon's mailbox uses.
pub fn parse_mail(raw: &[u8]) -> Mail {
    let msg = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("a parseable message");
    let mut headers = BTreeMap::new();
    for h in msg.headers() {
        let value = &msg.raw_message()[h.offset_start as usize..h.offset_end as usize];
        let value = String::from_utf8_lossy(value)
            .replace("\r\n", "")
            .replace('\n', "");
        headers
            .entry(h.name.as_str().to_ascii_lowercase())
            .or_insert_with(|| value.trim().to_string());
    }
    if let Some(subject) = msg.subject() {
        headers.insert("subject".into(), subject.to_string());
    }
    let body = msg.body_text(0).unwrap_or_default().replace("\r\n", "\n");
    Mail { headers, body }
}

pub fn read_mails(maildir: &Path) -> Vec<Mail> {
    let mut v = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(rd) = std::fs::read_dir(maildir.join(sub)) else {
            continue;
        };
        for e in rd.flatten() {
            if let Ok(raw) = std::fs::read(e.path()) {
                v.push(parse_mail(&raw));
            }
        }
    }
    v
}

/// Wait (up to `secs`) until at least `n` mails arrived; the mails then.
pub fn wait_mails(maildir: &Path, n: usize, secs: u64) -> Vec<Mail> {
    wait_mails_until(maildir, secs, |m| m.len() >= n)
}

/// Wait (up to `secs`) until the mails received satisfy `done`; the mails then (or at the
/// deadline, for the caller's assertion to explain).
pub fn wait_mails_until(maildir: &Path, secs: u64, done: impl Fn(&[Mail]) -> bool) -> Vec<Mail> {
    let t = Instant::now();
    loop {
        let m = read_mails(maildir);
        if done(&m) || t.elapsed() > Duration::from_secs(secs) {
            return m;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The number of distinct Message-IDs among `mails` (a copy resent after a crash counts once).
pub fn distinct_ids(mails: &[Mail]) -> usize {
    mails
        .iter()
        .map(|m| m.headers["message-id"].as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

pub fn kommuner() -> usize {
    65
}

/// An alert that has fired for 3 hours on our side: the 2-hour threshold has passed, so the
/// notice goes at once to every municipality exchanging PLO.
pub fn long_alert(name: &str) -> String {
    let started = (chrono::Utc::now() - chrono::Duration::hours(3)).to_rfc3339();
    format!(
        r#"{{"version":"4","status":"firing","receiver":"meldingsvakt","groupLabels":{{}},"commonLabels":{{}},"commonAnnotations":{{}},"externalURL":"http://am","alerts":[{{"status":"firing","labels":{{"alertname":"{name}","service":"PLO","severity":"C"}},"annotations":{{}},"startsAt":"{started}","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prom","fingerprint":"{name}"}}]}}"#
    )
}

/// A helper process (`python3 -c SCRIPT ARGS…`) that prints one line when it is ready; that
/// line is returned with the running process.
pub fn helper(script: &str, args: &[String]) -> (Proc, String) {
    let child = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut p = Proc(child);
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(p.0.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    (p, line.trim().to_string())
}

/// GET with a bearer token; the body.
pub fn get(port: u16, path: &str, token: &str) -> String {
    let out = Command::new("curl")
        .args(["-s", "-H", &format!("Authorization: Bearer {token}")])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The JSON lines a stand-in server logged (what it received); lines not yet whole are
/// skipped.
pub fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}
