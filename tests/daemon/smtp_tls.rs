//! SMTP with encryption and a login, against aiosmtpd set to insist on both
//! (tests/smtp_auth_server.py): STARTTLS on a plain port, TLS from the first byte, and a server
//! that offers no STARTTLS (refused, nothing sent in clear). The certificate is made here
//! with openssl and trusted through `SSL_CERT_FILE` (the system roots plus this one).

use crate::support::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A test CA and a server certificate for `localhost` signed by it: (CA, certificate, key).
fn certificate(dir: &Path) -> (String, String, String) {
    let p = |n: &str| dir.join(n).display().to_string();
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let steps: [Vec<String>; 3] = [
        [
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=meldingsvakt test CA",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([
            "-addext".into(),
            "basicConstraints=critical,CA:TRUE".into(),
            "-addext".into(),
            "keyUsage=critical,keyCertSign".into(),
        ])
        .chain(["-keyout".into(), p("ca.key"), "-out".into(), p("ca.pem")])
        .collect(),
        [
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain(["-keyout".into(), p("key.pem"), "-out".into(), p("leaf.csr")])
        .collect(),
        ["x509", "-req", "-days", "2", "-CAcreateserial"]
            .iter()
            .map(|s| s.to_string())
            .chain([
                "-in".into(),
                p("leaf.csr"),
                "-CA".into(),
                p("ca.pem"),
                "-CAkey".into(),
                p("ca.key"),
            ])
            .chain([
                "-extfile".into(),
                p("leaf.ext"),
                "-out".into(),
                p("cert.pem"),
            ])
            .collect(),
    ];
    for args in steps {
        let ok = Command::new("openssl")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl");
        assert!(ok.success(), "openssl {args:?}");
    }
    (p("ca.pem"), p("cert.pem"), p("key.pem"))
}

fn server(mode: &str, env: &Env, cert: &str, key: &str) -> Proc {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_auth_server.py");
    let mut child = Command::new("/usr/bin/python3")
        .arg(script)
        .args([mode, &env.smtp.to_string()])
        .arg(env.maildir())
        .args([cert, key, "meldingsvakt", "s3cret-passord"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    Proc(child)
}

/// The daemon with `[smtp]` pointed at `localhost` with `security` and a login, trusting `ca`.
fn daemon(env: &Env, security: &str, ca: &str) -> Proc {
    let path = env.dir.join("meldingsvakt.toml");
    let cfg = std::fs::read_to_string(&path)
        .unwrap()
        .replace("host = \"127.0.0.1\"\nport", "host = \"localhost\"\nport");
    let cfg = cfg.replace(
        "security = \"none\"\n",
        &format!("security = \"{security}\"\nusername = \"meldingsvakt\"\npassword_file = \"smtp-password\"\n"),
    );
    std::fs::write(&path, cfg).unwrap();
    std::fs::write(env.dir.join("smtp-password"), "s3cret-passord\n").unwrap();
    // The system's roots plus the test CA.
    let bundle = env.dir.join("roots.pem");
    let mut roots = std::fs::read("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default();
    roots.extend(std::fs::read(ca).unwrap());
    std::fs::write(&bundle, roots).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_meldingsvakt"))
        .args(["run", "--config"])
        .arg(&path)
        .current_dir(&env.dir)
        .env("SSL_CERT_FILE", &bundle)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(env.dir.join("daemon.log")).unwrap())
        .spawn()
        .unwrap();
    wait_port(env.http);
    Proc(child)
}

fn fan_out(env: &Env) {
    let (code, body) = env.post(
        "/api/v1/alerts",
        &env.token("alert-token"),
        &long_alert("TlsFanout"),
    );
    assert_eq!(code, 200, "{body}");
}

#[test]
fn starttls_and_login_deliver_a_fanout_on_pooled_sessions() {
    let env = Env::new("smtp-starttls");
    let (ca, cert, key) = certificate(&env.dir);
    let _srv = server("starttls", &env, &cert, &key);
    let _d = daemon(&env, "starttls", &ca);
    fan_out(&env);
    // The server refuses MAIL before STARTTLS and before AUTH: each message proves both.
    let mails = wait_mails(&env.maildir(), kommuner(), 60);
    assert_eq!(mails.len(), kommuner());
    let log = std::fs::read_to_string(env.dir.join("daemon.log")).unwrap();
    assert!(!log.contains("delivery failed"), "{log}");
}

#[test]
fn implicit_tls_and_login_deliver() {
    let env = Env::new("smtp-smtps");
    let (ca, cert, key) = certificate(&env.dir);
    let _srv = server("smtps", &env, &cert, &key);
    let _d = daemon(&env, "tls", &ca);
    fan_out(&env);
    let mails = wait_mails(&env.maildir(), kommuner(), 60);
    assert_eq!(mails.len(), kommuner());
}

/// `security = "starttls"` is required encryption: a server that does not offer STARTTLS gets
/// nothing (no login, no message in clear), and the log says why.
#[test]
fn a_server_without_starttls_gets_nothing_in_clear() {
    let env = Env::new("smtp-nostarttls");
    let (ca, _, _) = certificate(&env.dir);
    let _srv = smtp_server(env.smtp, &env.maildir());
    let _d = daemon(&env, "starttls", &ca);
    fan_out(&env);
    let t = Instant::now();
    let log = loop {
        let log = std::fs::read_to_string(env.dir.join("daemon.log")).unwrap();
        if log.contains("does not offer STARTTLS") || t.elapsed() > Duration::from_secs(60) {
            break log;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(log.contains("does not offer STARTTLS"), "{log}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(read_mails(&env.maildir()).is_empty());
}
