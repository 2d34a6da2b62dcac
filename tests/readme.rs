//! README's Quick start, run as a newcomer would paste it: in a fresh directory holding only
//! the example configuration, with the machine's time zone set to UTC and to New York. The
//! daemon runs from that directory (its state in `./var`), the CLI opens the incident, and the
//! two `.eml` files the README promises appear in `var/mail`.
//!
//! Adapted only where a test must be: `cargo run --release --` is the binary under test, and
//! the daemon listens on a port reserved for the test instead of 8080 (the CLI is pointed at
//! it with `$MELDINGSVAKT_URL`; `curl localhost:8080` is rewritten to that port).

mod support;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

/// The ```sh blocks of README's Quick start, each as its commands (continuation lines joined).
fn quick_start_blocks() -> Vec<Vec<String>> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("## Quick start")
        .expect("a Quick start section");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut blocks = Vec::new();
    let mut lines = section.lines();
    while let Some(l) = lines.next() {
        if l.trim() != "```sh" {
            continue;
        }
        let mut cmds = Vec::new();
        let mut cur = String::new();
        for l in lines.by_ref() {
            if l.trim() == "```" {
                break;
            }
            if let Some(head) = l.strip_suffix('\\') {
                cur.push_str(head);
                continue;
            }
            cur.push_str(l);
            cmds.push(std::mem::take(&mut cur));
        }
        blocks.push(cmds);
    }
    blocks
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

fn quick_start_in(tz: &str) {
    let blocks = quick_start_blocks();
    // The first two: the daemon, then the lines for a second shell.
    assert!(
        blocks.len() >= 2,
        "shell blocks in the Quick start: {blocks:?}"
    );
    assert_eq!(blocks[0], ["cargo run --release -- run"]);
    let dir = std::env::temp_dir().join(format!(
        "mv-readme-{}-{}",
        tz.replace('/', "-"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("config"),
        &dir.join("config"),
    );
    let port = free_port();
    let cfg = dir.join("config/meldingsvakt.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        format!("{text}\n[http]\nlisten = \"127.0.0.1:{port}\"\n"),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_meldingsvakt");
    let sh = |line: &str| {
        line.replace("cargo run --release --", bin)
            .replace("localhost:8080", &format!("127.0.0.1:{port}"))
    };
    let daemon = Command::new("bash")
        .args(["-c", &format!("exec {}", sh(&blocks[0][0]))])
        .current_dir(&dir)
        .env("TZ", tz)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("daemon.log")).unwrap())
        .spawn()
        .unwrap();
    let _daemon = Proc(daemon);
    wait_port(port);
    for line in &blocks[1] {
        let (cmd, comment) = line.split_once('#').unwrap_or((line, ""));
        let out = if cmd.trim() == "ls var/mail" {
            // The notices are sent a moment after the command returns: wait for them.
            let want: Vec<&str> = comment.split(',').map(str::trim).collect();
            let t = Instant::now();
            while !want.iter().all(|f| dir.join("var/mail").join(f).exists()) {
                assert!(
                    t.elapsed() < Duration::from_secs(60),
                    "TZ={tz}: no {want:?} in var/mail: {:?}\n{}",
                    std::fs::read_dir(dir.join("var/mail"))
                        .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
                        .unwrap_or_default(),
                    std::fs::read_to_string(dir.join("daemon.log")).unwrap_or_default()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
            continue;
        } else {
            Command::new("bash")
                .args(["-c", &format!("set -o pipefail; {}", sh(cmd))])
                .current_dir(&dir)
                .env("TZ", tz)
                .env("MELDINGSVAKT_URL", format!("http://127.0.0.1:{port}"))
                .output()
                .unwrap()
        };
        assert!(
            out.status.success(),
            "TZ={tz}: `{line}` failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if cmd.contains("/metrics") {
            assert!(
                String::from_utf8_lossy(&out.stdout)
                    .contains("meldingsvakt_messages_sent_total{kind=\"unplanned\"} 2"),
                "{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn quick_start_writes_the_two_notices_with_tz_utc() {
    quick_start_in("UTC");
}

#[test]
fn quick_start_writes_the_two_notices_with_tz_new_york() {
    quick_start_in("America/New_York");
}
