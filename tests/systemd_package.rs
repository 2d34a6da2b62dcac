//! The Debian package under a real systemd (issue #27, SPEC §5.11): a Debian bookworm root made
//! by debootstrap (cached under `target/nspawn/`), booted with systemd-nspawn (systemd as PID 1,
//! its own network namespace), and driven with `nsenter … systemctl`. One test walks the
//! whole life: install, start through READY=1, reload (good and rejected configuration),
//! the watchdog restarting a stopped daemon, the journal, `systemd-analyze security`, an
//! upgrade that keeps configuration edits and state, remove and purge.
//!
//! Needs root, debootstrap and systemd-container (scripts/test.sh installs them).

#[path = "support/package.rs"]
mod package_support;

use package_support::{package, root, run};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The cached Debian root: made once (about a minute), then copied for each run.
fn debian_root() -> PathBuf {
    let cache = root().join("target/nspawn/bookworm");
    if cache.join("usr/lib/systemd/systemd").exists() {
        return cache;
    }
    let tmp = root().join(format!("target/nspawn/bookworm.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(tmp.parent().unwrap()).unwrap();
    run(Command::new("debootstrap")
        .args([
            "--variant=minbase",
            "--include=systemd,systemd-sysv,dbus",
            "bookworm",
        ])
        .arg(&tmp));
    std::fs::rename(&tmp, &cache).unwrap();
    cache
}

/// A booted container; shut down (and its copy removed) when dropped.
struct Container {
    nspawn: Child,
    init: u32,
    dir: PathBuf,
}

impl Container {
    fn boot() -> Container {
        let dir = root().join(format!("target/nspawn/run-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        run(Command::new("cp")
            .args(["-a", "--reflink=auto"])
            .arg(debian_root())
            .arg(&dir));
        let nspawn = Command::new("systemd-nspawn")
            .arg("-D")
            .arg(&dir)
            .args([
                "--boot",
                "--register=no",
                "--keep-unit",
                "--private-network",
            ])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.with_extension("console.log")).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("systemd-nspawn (scripts/test.sh installs systemd-container)");
        let pid = nspawn.id();
        let mut c = Container {
            nspawn,
            init: 0,
            dir,
        };
        // The container's PID 1 is nspawn's child.
        c.init = wait("the container's systemd", 60, || {
            let out = Command::new("pgrep")
                .args(["-P", &pid.to_string()])
                .output()
                .ok()?;
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()?
                .trim()
                .parse()
                .ok()
        });
        wait("the container to boot", 120, || {
            let s = c.sh(&["systemctl", "is-system-running"]);
            (s.contains("running") || s.contains("degraded")).then_some(())
        });
        c
    }

    /// A command inside the container (its namespaces, its files); stdout, whatever the status.
    fn sh(&self, args: &[&str]) -> String {
        let out = Command::new("nsenter")
            .args(["-t", &self.init.to_string(), "-m", "-u", "-i", "-n", "-p"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
    }

    /// The same, asserting it succeeded.
    fn ok(&self, args: &[&str]) -> String {
        run(Command::new("nsenter")
            .args(["-t", &self.init.to_string(), "-m", "-u", "-i", "-n", "-p"])
            .args(args)
            .stdin(Stdio::null()))
    }

    /// HTTP from the host's curl inside the container's network namespace: status and body.
    fn http(&self, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, String) {
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &self.init.to_string(), "-n", "curl", "-s", "-m", "10"]);
        if let Some(t) = token {
            cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
        }
        if let Some(b) = body {
            cmd.args(["-H", "Content-Type: application/json", "--data", b]);
        }
        cmd.args([
            "-w",
            "\n%{http_code}",
            &format!("http://127.0.0.1:8080{path}"),
        ]);
        let out = cmd.output().unwrap();
        let s = String::from_utf8_lossy(&out.stdout).to_string();
        let (b, code) = s.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), b.to_string())
    }

    fn file(&self, p: &str) -> PathBuf {
        self.dir.join(p.trim_start_matches('/'))
    }

    fn main_pid(&self) -> String {
        self.sh(&[
            "systemctl",
            "show",
            "-p",
            "MainPID",
            "--value",
            "meldingsvakt",
        ])
        .trim()
        .to_string()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        // SIGTERM to nspawn powers the container off; then it is killed if it lingers.
        let _ = Command::new("kill")
            .args(["-TERM", &self.nspawn.id().to_string()])
            .status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = self.nspawn.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = self.nspawn.kill();
        let _ = self.nspawn.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Poll `f` until it gives a value, for at most `secs` seconds.
fn wait<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let t = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "{what}: nothing after {secs} s"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn the_package_under_a_real_systemd() {
    assert_eq!(
        run(Command::new("id").arg("-u")).trim(),
        "0",
        "systemd-nspawn needs root"
    );
    let first = package(Some("0.1.0-1"));
    let c = Container::boot();
    let into = |deb: &Path| {
        let name = deb.file_name().unwrap().to_string_lossy().to_string();
        std::fs::copy(deb, c.file(&format!("/var/tmp/{name}"))).unwrap();
        format!("/var/tmp/{name}")
    };

    // 2. Install (no network in the container: dpkg, the dependencies are in the base).
    let deb = into(&first);
    c.ok(&["dpkg", "-i", &deb]);
    assert!(
        c.ok(&["id", "meldingsvakt"]).contains("(meldingsvakt)"),
        "the system user from sysusers.d"
    );
    assert_eq!(
        c.sh(&["systemctl", "is-enabled", "meldingsvakt"]).trim(),
        "enabled"
    );

    // 3. Start: `systemctl start` returns once READY=1 came (Type=notify); then /healthz is 200.
    let t = Instant::now();
    c.ok(&["systemctl", "start", "meldingsvakt"]);
    let took = t.elapsed();
    eprintln!("systemctl start → active: {} ms", took.as_millis());
    assert_eq!(
        c.sh(&["systemctl", "is-active", "meldingsvakt"]).trim(),
        "active"
    );
    assert_eq!(
        c.http("/healthz", None, None).0,
        200,
        "healthz right after start"
    );
    let status = c.sh(&[
        "systemctl",
        "show",
        "-p",
        "StatusText",
        "--value",
        "meldingsvakt",
    ]);
    assert!(
        !status.trim().is_empty(),
        "the daemon reports its status: {status}"
    );

    // 6. The journal has the start-up line.
    let journal = c.sh(&["journalctl", "-u", "meldingsvakt", "--no-pager"]);
    assert!(journal.contains("meldingsvakt running"), "{journal}");

    // 4. Reload: an edited configuration is read; a rejected one keeps the old, and says why.
    let cfg = "/etc/meldingsvakt/meldingsvakt.toml";
    let good = std::fs::read_to_string(c.file(cfg)).unwrap();
    let edited = good.replacen("name = \"Hemit HF\"", "name = \"Hemit HF (testvakt)\"", 1);
    assert_ne!(good, edited, "the example names Hemit HF");
    std::fs::write(c.file(cfg), &edited).unwrap();
    c.ok(&["systemctl", "reload", "meldingsvakt"]);
    wait("the reloaded name on the status page", 30, || {
        c.http("/", None, None)
            .1
            .contains("Hemit HF (testvakt)")
            .then_some(())
    });
    std::fs::write(
        c.file(cfg),
        edited.replacen("[self]", "[self]\nbogus = 1", 1),
    )
    .unwrap();
    c.ok(&["systemctl", "reload", "meldingsvakt"]);
    wait("the refusal in the journal", 30, || {
        let j = c.sh(&["journalctl", "-u", "meldingsvakt", "--no-pager"]);
        (j.contains("unknown key `self.bogus`") && j.contains("reload refused")).then_some(())
    });
    let j = c.sh(&["journalctl", "-u", "meldingsvakt", "--no-pager"]);
    assert!(
        j.matches("Reloading meldingsvakt.service").count() >= 2,
        "{j}"
    );
    assert!(
        j.matches("Reloaded meldingsvakt.service").count() >= 2,
        "{j}"
    );
    assert_eq!(
        c.sh(&["systemctl", "is-active", "meldingsvakt"]).trim(),
        "active"
    );
    assert!(c.http("/", None, None).1.contains("Hemit HF (testvakt)"));
    std::fs::write(c.file(cfg), &edited).unwrap();

    // 7. The unit's exposure, as systemd rates it inside the container.
    let sec = c.sh(&["systemd-analyze", "security", "meldingsvakt", "--no-pager"]);
    let score: f64 = sec
        .lines()
        .find_map(|l| l.split("meldingsvakt.service: ").nth(1))
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{sec}"));
    eprintln!("systemd-analyze security: {score}");
    assert!(score <= 2.0, "{sec}");

    // 8a. Before the upgrade: an open incident and an edited configuration.
    let token = std::fs::read_to_string(c.file("/var/lib/meldingsvakt/operator-token"))
        .unwrap()
        .trim()
        .to_string();
    let (code, body) = c.http(
        "/api/v1/incidents",
        Some(&token),
        Some(
            r#"{"id":"INC-OPPGRADERING","kind":"kvittering","at_org":"malvik","services":["PLO"]}"#,
        ),
    );
    assert_eq!(code, 201, "{body}");

    // 5. The watchdog: a stopped daemon is restarted within WatchdogSec (30 s).
    let before = c.main_pid();
    run(Command::new("nsenter").args([
        "-t",
        &c.init.to_string(),
        "-p",
        "/bin/kill",
        "-STOP",
        &before,
    ]));
    let t = Instant::now();
    wait("the watchdog restart", 75, || {
        let now = c.main_pid();
        (now != before
            && now != "0"
            && c.sh(&["systemctl", "is-active", "meldingsvakt"]).trim() == "active")
            .then_some(())
    });
    eprintln!("watchdog restart after {} s", t.elapsed().as_secs());
    let j = c.sh(&["journalctl", "-u", "meldingsvakt", "--no-pager"]);
    assert!(j.contains("Watchdog timeout"), "{j}");
    wait("healthz after the restart", 30, || {
        (c.http("/healthz", None, None).0 == 200).then_some(())
    });

    // 8b. Upgrade: no conffile prompt (stdin is closed, so a prompt would fail dpkg), the
    // edit survives, the incident is still open, the service runs the new version.
    let second = package(Some("0.1.0-2"));
    let deb = into(&second);
    let out = c.ok(&["dpkg", "-i", &deb]);
    assert!(!out.contains("Configuration file"), "{out}");
    assert_eq!(std::fs::read_to_string(c.file(cfg)).unwrap(), edited);
    assert!(c
        .sh(&["dpkg-query", "-W", "meldingsvakt"])
        .contains("0.1.0-2"));
    wait("the service after the upgrade", 60, || {
        (c.http("/healthz", None, None).0 == 200).then_some(())
    });
    let (code, body) = c.http("/api/v1/incidents/INC-OPPGRADERING", Some(&token), None);
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains("\"resolved_at\":null") || !body.contains("resolved_at\":\""),
        "{body}"
    );

    // 9. remove keeps the state; purge removes it.
    c.ok(&["apt-get", "remove", "-y", "meldingsvakt"]);
    assert!(c.file("/var/lib/meldingsvakt/operator-token").exists());
    c.ok(&["apt-get", "purge", "-y", "meldingsvakt"]);
    assert!(!c.file("/var/lib/meldingsvakt").exists());
    assert!(!c.file("/etc/meldingsvakt/meldingsvakt.toml").exists());
}
