//! A real MTA (issue #32): the routine's fan-out to Debian's Postfix, run in its own directory
//! (`postfix -c`, `scripts/bench/postfix.py`: loopback only, the `discard:` transport, its log
//! in the directory). Every municipality's notice is accepted and finished by Postfix, each
//! under its own Message-ID, and nothing else is sent.

use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Postfix in `dir` on `port`; stopped when dropped.
struct Postfix {
    etc: PathBuf,
    log: PathBuf,
}

impl Postfix {
    fn start(dir: &Path, port: u16) -> Postfix {
        let bench = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench");
        let out = Command::new("/usr/bin/python3")
            .arg("-c")
            .arg("import sys; sys.path.insert(0, sys.argv[1]); from postfix import Postfix; p = Postfix(sys.argv[2], int(sys.argv[3])); print(p.etc); print(p.log)")
            .arg(&bench)
            .arg(dir)
            .arg(port.to_string())
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "Postfix (Debian's postfix, scripts/test.sh installs it) did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let mut lines = text.lines();
        Postfix {
            etc: PathBuf::from(lines.next().unwrap()),
            log: PathBuf::from(lines.next().unwrap()),
        }
    }

    /// (queue id, recipient) of every message Postfix finished, and each queue id's
    /// Message-ID.
    fn finished(
        &self,
    ) -> (
        Vec<(String, String)>,
        std::collections::BTreeMap<String, String>,
    ) {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut done = Vec::new();
        let mut ids = std::collections::BTreeMap::new();
        for line in log.lines() {
            let Some((_, rest)) = line.split_once("]: ") else {
                continue;
            };
            let Some((queue_id, what)) = rest.split_once(": ") else {
                continue;
            };
            if line.contains("postfix/discard[") {
                if let Some(to) = what.strip_prefix("to=<").and_then(|t| t.split('>').next()) {
                    done.push((queue_id.to_string(), to.to_string()));
                }
            } else if let Some(id) = what.strip_prefix("message-id=") {
                ids.insert(queue_id.to_string(), id.to_string());
            }
        }
        (done, ids)
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new("postfix")
            .arg("-c")
            .arg(&self.etc)
            .arg("stop")
            .output();
    }
}

#[test]
fn the_municipal_notices_go_through_postfix_each_once() {
    let env = Env::new("postfix");
    let pf = Postfix::start(&env.dir.join("postfix"), env.smtp);
    let _d = env.daemon();
    let at = env.token("alert-token");
    let (code, body) = env.post("/api/v1/alerts", &at, &long_alert("KoStoppPostfix"));
    assert_eq!(code, 200, "{body}");
    let t = std::time::Instant::now();
    let notices = loop {
        let (done, _) = pf.finished();
        let n = done
            .iter()
            .filter(|(_, to)| to.ends_with(".kommune.example"))
            .count();
        if n >= kommuner() || t.elapsed() > std::time::Duration::from_secs(120) {
            break n;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(notices, kommuner(), "notices Postfix finished");
    let (done, ids) = pf.finished();
    let to_kommuner: Vec<&(String, String)> = done
        .iter()
        .filter(|(_, to)| to.ends_with(".kommune.example"))
        .collect();
    let recipients: std::collections::BTreeSet<&str> =
        to_kommuner.iter().map(|(_, to)| to.as_str()).collect();
    assert_eq!(recipients.len(), kommuner(), "one notice per municipality");
    let message_ids: std::collections::BTreeSet<&str> = to_kommuner
        .iter()
        .map(|(q, _)| ids.get(q).map(String::as_str).expect("a Message-ID"))
        .collect();
    assert_eq!(
        message_ids.len(),
        kommuner(),
        "each under its own Message-ID"
    );
    assert!(message_ids.iter().all(|id| id.starts_with("<mv.hemit.")));
}
