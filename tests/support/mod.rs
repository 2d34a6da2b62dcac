//! Harness shared by the daemon test files: real processes (the daemon, Debian's aiosmtpd),
//! free ports, mail reading.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Proc(pub Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn smtp_server(port: u16, maildir: &Path) -> Proc {
    let child = Command::new("/usr/bin/python3")
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ])
        .arg(maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3-aiosmtpd (Debian) must be installed: scripts/test.sh installs it");
    wait_port(port);
    Proc(child)
}

pub fn wait_port(port: u16) {
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "nothing listens on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
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
}

/// Decode quoted-printable (soft line breaks and =XX), enough to read the bodies we send.
pub fn qp(s: &str) -> String {
    let s = s.replace("=\r\n", "").replace("=\n", "");
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

/// Decode RFC 2047 encoded words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`) in a header value;
/// whitespace between two adjacent encoded words is dropped.
pub fn rfc2047(v: &str) -> String {
    pub fn b64(s: &str) -> Vec<u8> {
        let val = |c: u8| match c {
            b'A'..=b'Z' => Some(c - b'A'),
            b'a'..=b'z' => Some(c - b'a' + 26),
            b'0'..=b'9' => Some(c - b'0' + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        };
        let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0);
        for c in s.bytes().filter_map(val) {
            acc = (acc << 6) | c as u32;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
            }
        }
        out
    }
    let mut out = String::new();
    let mut rest = v;
    let mut prev_encoded = false;
    while let Some(start) = rest.find("=?") {
        let (before, after) = rest.split_at(start);
        let parts: Vec<&str> = after[2..].splitn(3, '?').collect();
        let end = parts.get(2).and_then(|t| t.find("?="));
        let (Some(end), true) = (end, parts.len() == 3) else {
            break;
        };
        if !(prev_encoded && before.trim().is_empty()) {
            out.push_str(before);
        }
        let text = &parts[2][..end];
        let bytes = if parts[1].eq_ignore_ascii_case("b") {
            b64(text)
        } else {
            qp(&text.replace('_', " ")).into_bytes()
        };
        out.push_str(&String::from_utf8_lossy(&bytes));
        rest = &parts[2][end + 2..];
        prev_encoded = true;
    }
    out.push_str(rest);
    out
}

#[derive(Debug)]
pub struct Mail {
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

pub fn read_mails(maildir: &Path) -> Vec<Mail> {
    let mut v = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(rd) = std::fs::read_dir(maildir.join(sub)) else {
            continue;
        };
        for e in rd.flatten() {
            let text = std::fs::read_to_string(e.path())
                .unwrap_or_default()
                .replace("\r\n", "\n");
            let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
            let mut headers = BTreeMap::new();
            let mut last = String::new();
            for line in head.lines() {
                if line.starts_with(' ') || line.starts_with('\t') {
                    if let Some(v) = headers.get_mut(&last) {
                        let v: &mut String = v;
                        v.push_str(line); // unfolding keeps the whitespace (RFC 5322)
                    }
                } else if let Some((k, val)) = line.split_once(':') {
                    last = k.trim().to_ascii_lowercase();
                    headers.insert(last.clone(), val.trim().to_string());
                }
            }
            for v in headers.values_mut() {
                *v = rfc2047(v);
            }
            let body = if headers
                .get("content-transfer-encoding")
                .is_some_and(|e| e.eq_ignore_ascii_case("quoted-printable"))
            {
                qp(body)
            } else {
                body.to_string()
            };
            v.push(Mail { headers, body });
        }
    }
    v
}

pub fn wait_mails(maildir: &Path, n: usize, secs: u64) -> Vec<Mail> {
    let t = Instant::now();
    loop {
        let m = read_mails(maildir);
        if m.len() >= n || t.elapsed() > Duration::from_secs(secs) {
            return m;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
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
