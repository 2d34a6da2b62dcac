//! Two hosts on one real PostgreSQL (Debian's `postgresql`, SPEC §5.7): a cluster of its own
//! in a temporary directory on a loopback port, with password (SCRAM) sign-in, and daemons on
//! loopback ports, each with its own real SMTP server (so the test knows who sent what).

use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The newest installed PostgreSQL's programs.
fn bin(name: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = glob_dirs("/usr/lib/postgresql");
    dirs.sort_by_key(|d| {
        d.file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0)
    });
    let dir = dirs
        .pop()
        .expect("Debian's postgresql must be installed: scripts/test.sh installs it");
    dir.join("bin").join(name)
}

fn glob_dirs(root: &str) -> Vec<PathBuf> {
    std::fs::read_dir(root)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

fn is_root() -> bool {
    // SAFETY-free: the effective uid from /proc.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// A command run as the `postgres` user when we are root (PostgreSQL refuses root).
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ])
        .arg(program);
        c
    } else {
        Command::new(program)
    }
}

pub struct Pg {
    pub dir: PathBuf,
    pub port: u16,
    server: Option<std::process::Child>,
}

pub const PASSWORD: &str = "correct horse battery staple";

impl Pg {
    pub fn start(name: &str) -> Pg {
        let dir = std::env::temp_dir().join(format!("mv-pg-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("pw"), PASSWORD).unwrap();
        if is_root() {
            assert!(Command::new("chown")
                .args(["-R", "postgres"])
                .arg(&dir)
                .status()
                .unwrap()
                .success());
        }
        let out = as_postgres(&bin("initdb"))
            .arg("-D")
            .arg(dir.join("data"))
            .args([
                "-U",
                "meldingsvakt",
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .arg(format!("--pwfile={}", dir.join("pw").display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut pg = Pg {
            dir,
            port: free_port(),
            server: None,
        };
        pg.spawn();
        pg
    }

    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("postgres.log"))
            .unwrap();
        let child = as_postgres(&bin("postgres"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(&self.dir)
            .args(["-c", "listen_addresses=127.0.0.1"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.server = Some(child);
        let t = Instant::now();
        loop {
            let ok = Command::new(bin("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q"])
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "PostgreSQL did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A fast shutdown: every session ends, as in a restart by systemd.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.server.take() {
            unsafe_signal(c.id(), "INT");
            let t = Instant::now();
            while c.try_wait().ok().flatten().is_none() && t.elapsed() < Duration::from_secs(60) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("postgresql://meldingsvakt@127.0.0.1:{}/postgres", self.port)
    }

    /// One SQL statement through psql; its output (unaligned, tuples only).
    pub fn sql(&self, q: &str) -> String {
        let out = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "meldingsvakt",
                "-d",
                "postgres",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                q,
            ])
            .env("PGPASSWORD", PASSWORD)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql {q}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn unsafe_signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

/// One daemon host: its directory, HTTP port, SMTP server and maildir.
pub struct Host {
    pub dir: PathBuf,
    pub http: u16,
    pub proc: Option<Proc>,
    _smtp: Proc,
    /// The hold of a [`Host::holding`] host's SMTP server.
    pub hold: Option<Hold>,
}

impl Host {
    /// A host of `pg`, sharing the tokens in `pg.dir`; `lease` as `[storage] lease`.
    pub fn new(pg: &Pg, name: &str, lease: &str) -> Host {
        Host::with_hold(pg, name, lease, None)
    }

    /// A host whose SMTP server holds its `hold_at`-th message and every later one unanswered
    /// (see [`holding_smtp_server`]).
    pub fn holding(pg: &Pg, name: &str, lease: &str, hold_at: usize) -> Host {
        Host::with_hold(pg, name, lease, Some(hold_at))
    }

    fn with_hold(pg: &Pg, name: &str, lease: &str, hold_at: Option<usize>) -> Host {
        let dir = pg.dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for t in ["alert-token", "operator-token"] {
            let f = pg.dir.join(t);
            if !f.exists() {
                use std::io::Read;
                let mut b = [0u8; 24];
                std::fs::File::open("/dev/urandom")
                    .unwrap()
                    .read_exact(&mut b)
                    .unwrap();
                let v: String = b.iter().map(|x| format!("{x:02x}")).collect();
                std::fs::write(&f, v).unwrap();
            }
        }
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let main = std::fs::read_to_string(repo.join("config/meldingsvakt.toml")).unwrap();
        let orgs = repo.join("config/organizations.d/*.toml");
        let (http, smtp) = (free_port(), free_port());
        let cfg = main.replace(
            "include = [\"organizations.d/*.toml\"]",
            &format!(
                "include = [{orgs:?}]\n\n[storage]\ndir = \"state\"\nurl = {url:?}\npassword_file = {pw:?}\nlease = {lease:?}\n\n[http]\nlisten = \"127.0.0.1:{http}\"\nalert_token_file = {at:?}\noperator_token_file = {ot:?}\n\n[smtp]\ntransport = \"smtp\"\nhost = \"127.0.0.1\"\nport = {smtp}\nsecurity = \"none\"\n",
                orgs = orgs.to_string_lossy(),
                url = pg.url(),
                pw = pg.dir.join("pw").to_string_lossy(),
                at = pg.dir.join("alert-token").to_string_lossy(),
                ot = pg.dir.join("operator-token").to_string_lossy(),
            ),
        );
        std::fs::write(dir.join("meldingsvakt.toml"), cfg).unwrap();
        let (smtp_proc, hold) = match hold_at {
            Some(n) => {
                let (p, h) = holding_smtp_server(smtp, &dir.join("maildir"), n);
                (p, Some(h))
            }
            None => (smtp_server(smtp, &dir.join("maildir")), None),
        };
        Host {
            dir,
            http,
            proc: None,
            _smtp: smtp_proc,
            hold,
        }
    }

    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("daemon.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_meldingsvakt"))
            .args(["run", "--config"])
            .arg(self.dir.join("meldingsvakt.toml"))
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.proc = Some(Proc(child));
        wait_port(self.http);
    }

    pub fn kill9(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill9();
        }
    }

    /// SIGTERM, then wait (up to 30 s) for the exit; its code (`None`: killed by a signal,
    /// e.g. after a panic's abort, or still running at the deadline and then killed).
    pub fn term(&mut self) -> Option<i32> {
        let mut p = self.proc.take()?;
        unsafe_signal(p.0.id(), "TERM");
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(status)) = p.0.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    pub fn pid(&self) -> u32 {
        self.proc.as_ref().map(|p| p.0.id()).unwrap_or(0)
    }

    pub fn maildir(&self) -> PathBuf {
        self.dir.join("maildir")
    }

    /// `/healthz`'s role, or "down".
    pub fn role(&self) -> String {
        let out = Command::new("curl")
            .args(["-s", "-m", "2"])
            .arg(format!("http://127.0.0.1:{}/healthz", self.http))
            .output()
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .ok()
            .and_then(|v| v["role"].as_str().map(str::to_string))
            .unwrap_or_else(|| "down".into())
    }

    pub fn post(&self, path: &str, token: &str, body: &str) -> (u16, String) {
        let out = Command::new("curl")
            .args([
                "-s",
                "-m",
                "30",
                "-o",
                "-",
                "-w",
                "\n%{http_code}",
                "-X",
                "POST",
            ])
            .args(["-H", &format!("Authorization: Bearer {token}")])
            .args(["-H", "Content-Type: application/json"])
            .arg(format!("http://127.0.0.1:{}{path}", self.http))
            .args(["--data-binary", body])
            .output()
            .unwrap();
        let s = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = s.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default()
    }
}

pub fn token_of(pg: &Pg, name: &str) -> String {
    std::fs::read_to_string(pg.dir.join(name))
        .unwrap()
        .trim()
        .to_string()
}

/// Wait until `f` holds (panics after `secs`); returns how long it took.
pub fn until(what: &str, secs: u64, f: &mut dyn FnMut() -> bool) -> Duration {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "timed out after {secs} s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    t.elapsed()
}

/// An Alertmanager webhook with one firing alert at `org`'s side (a notice to that
/// organization), fingerprint `fp`, firing for 3 hours.
pub fn org_alert(org: &str, fp: &str) -> String {
    let started = (chrono::Utc::now() - chrono::Duration::hours(3)).to_rfc3339();
    format!(
        r#"{{"version":"4","status":"firing","receiver":"meldingsvakt","groupLabels":{{}},"commonLabels":{{}},"commonAnnotations":{{}},"externalURL":"http://am","alerts":[{{"status":"firing","labels":{{"alertname":"{fp}","service":"PLO","severity":"C","org":"{org}"}},"annotations":{{}},"startsAt":"{started}","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prom","fingerprint":"{fp}"}}]}}"#
    )
}

/// An operator's incident at our side for one organization, known to last 3 hours: the
/// notice goes to that organization at once. Its text names it, so no two notices match.
pub fn incident_for(id: &str, org: &str) -> String {
    let until = (chrono::Utc::now() + chrono::Duration::hours(3)).to_rfc3339();
    format!(
        r#"{{"id":"{id}","orgs":["{org}"],"services":["PLO"],"category":"A","expected_end":"{until}","text":"Prøve {id}","by":"Soak"}}"#
    )
}
