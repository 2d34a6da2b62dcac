//! The outbound webhook sink against a real local HTTP receiver (Python's http.server) that
//! checks every request's HMAC-SHA256 signature: a burst of 503s, then `kill -9` of the
//! daemon in the middle of the fan-out, then a restart. Each action arrives, none is lost,
//! retries carry the same id and body and honour the backoff, and the e-mails do not wait
//! for the webhook.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

mod support;
use support::*;

/// Answers 503 to the first `burst` requests, then 200. With `hold_after` = N > 0, once N
/// requests were answered 200, every later request is *held*: not answered, and not logged,
/// until the file `release` exists (the file `held` says the hold began). A held request whose
/// client is gone by then is dropped. That makes "the daemon is killed while the fan-out is in
/// flight" certain instead of hoping each answer is slow. One JSON line per answered request.
const RECEIVER: &str = r#"
import hashlib, hmac, json, os, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
port, secret, log, burst = int(sys.argv[1]), open(sys.argv[2], 'rb').read().strip(), sys.argv[3], int(sys.argv[4])
hold_after, held, release = int(sys.argv[5]), sys.argv[6], sys.argv[7]
lock = threading.Lock()
seen = [0]
ok = [0]
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', '0')))
        want = 'sha256=' + hmac.new(secret, body, hashlib.sha256).hexdigest()
        sig_ok = hmac.compare_digest(want, self.headers.get('X-Meldingsvakt-Signature', ''))
        try:
            doc = json.loads(body)
        except Exception:
            doc = {}
        with lock:
            seen[0] += 1
            status = 503 if seen[0] <= burst else (200 if sig_ok else 401)
            hold = False
            if status == 200 and hold_after and not os.path.exists(release):
                if ok[0] >= hold_after:
                    hold = True
                    if not os.path.exists(held):
                        open(held, 'w').close()
                else:
                    ok[0] += 1
        if hold:
            while not os.path.exists(release):
                time.sleep(0.02)
            return
        rec = {'t': time.time(), 'id': self.headers.get('X-Meldingsvakt-Id'),
               'attempt': self.headers.get('X-Meldingsvakt-Attempt'), 'sig_ok': sig_ok,
               'type': self.headers.get('Content-Type'), 'status': status,
               'body_sha': hashlib.sha256(body).hexdigest(), 'doc': doc}
        with lock:
            with open(log, 'a') as f:
                f.write(json.dumps(rec) + '\n')
        self.send_response(status)
        self.send_header('Content-Length', '0')
        self.end_headers()
srv = ThreadingHTTPServer(('127.0.0.1', port), H)
srv.daemon_threads = True
print('ready', flush=True)
srv.serve_forever()
"#;

/// The receiver on a free port with its secret in `webhook-secret`, answering 503 to the
/// first `burst` requests and holding every request after `hold_after` successes (0: none);
/// its port, its log of requests and its hold (`held`, `release` files).
fn receiver(
    env: &Env,
    secret: &str,
    burst: u32,
    hold_after: u32,
) -> (Proc, u16, std::path::PathBuf, [std::path::PathBuf; 2]) {
    let port = free_port();
    let path = env.dir.join("webhook-secret");
    std::fs::write(&path, format!("{secret}\n")).unwrap();
    let log = env.dir.join("webhook.jsonl");
    let hold = [
        env.dir.join("webhook-held"),
        env.dir.join("webhook-release"),
    ];
    let paths = [&path, &log, &hold[0], &hold[1]].map(|p| p.to_string_lossy().to_string());
    let (p, ready) = helper(
        RECEIVER,
        &[
            port.to_string(),
            paths[0].clone(),
            paths[1].clone(),
            burst.to_string(),
            hold_after.to_string(),
            paths[2].clone(),
            paths[3].clone(),
        ],
    );
    assert_eq!(ready, "ready");
    (p, port, log, hold)
}

#[test]
fn webhook_delivers_every_action_signed_through_a_5xx_burst_and_a_kill_9() {
    let env = Env::new("webhook");
    let _smtp = smtp_server(env.smtp, &env.maildir());
    // 20 refusals, then 5 deliveries, then every request held: the kill lands mid-fan-out.
    let (_recv, port, log, [held, release]) = receiver(&env, "s3cr3t-for-the-ticket-system", 20, 5);
    let cfg = env.dir.join("meldingsvakt.toml");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!(
        "\n[webhook]\nurl = \"http://127.0.0.1:{port}/hooks/meldingsvakt\"\nsecret_file = \"webhook-secret\"\n"
    ));
    std::fs::write(&cfg, text).unwrap();

    let mut d = env.daemon();
    let (code, body) = env.post(
        "/api/v1/alerts",
        &env.token("alert-token"),
        &long_alert("WebhookKill"),
    );
    assert_eq!(code, 200, "{body}");
    // Kill once the burst is over, some deliveries have succeeded and the rest are held.
    let t = Instant::now();
    while !held.exists() {
        assert!(t.elapsed() < Duration::from_secs(60), "no webhook delivery");
        std::thread::sleep(Duration::from_millis(20));
    }
    d.kill9();
    let at_kill = json_lines(&log);
    assert_eq!(
        at_kill.iter().filter(|r| r["status"] == 200).count(),
        5,
        "killed with the fan-out in flight"
    );
    std::fs::write(&release, "").unwrap();
    let ok_at_kill: BTreeSet<String> = at_kill
        .iter()
        .filter(|r| r["status"] == 200)
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    eprintln!(
        "killed after {} requests, {} delivered",
        at_kill.len(),
        ok_at_kill.len()
    );
    let _d2 = env.daemon();

    // Every municipality's e-mail arrives; its key is what the webhook must deliver too. A
    // notice sent but not marked at the kill is sent again (same Message-ID), so count the
    // distinct ones, not the files.
    let config = meldingsvakt::config::Config::load(&cfg).unwrap();
    let keys_of = |mails: &[Mail]| -> BTreeSet<String> {
        mails
            .iter()
            .map(|m| {
                meldingsvakt::sinks::email::key_of_message_id(&config, &m.headers["message-id"])
                    .unwrap()
            })
            .collect()
    };
    let t = Instant::now();
    let keys = loop {
        let keys = keys_of(&read_mails(&env.maildir()));
        if keys.len() >= kommuner() || t.elapsed() > Duration::from_secs(60) {
            break keys;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(keys.len(), kommuner(), "one e-mail per municipality");
    let t = Instant::now();
    let delivered = loop {
        let ok: BTreeSet<String> = json_lines(&log)
            .iter()
            .filter(|r| r["status"] == 200)
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        if keys.is_subset(&ok) || t.elapsed() > Duration::from_secs(60) {
            break ok;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let missing: Vec<&String> = keys.difference(&delivered).collect();
    assert!(missing.is_empty(), "webhook never delivered {missing:?}");

    let all = json_lines(&log);
    assert!(
        all.iter().filter(|r| r["status"] == 503).count() == 20,
        "the burst happened"
    );
    let mut by_id: BTreeMap<String, Vec<&serde_json::Value>> = BTreeMap::new();
    for r in &all {
        assert_eq!(
            r["sig_ok"], true,
            "every request is signed with the secret: {r}"
        );
        assert_eq!(r["type"], "application/json");
        by_id
            .entry(r["id"].as_str().unwrap().to_string())
            .or_default()
            .push(r);
    }
    let mut retried = 0;
    for (id, reqs) in &by_id {
        // Retries carry the same id and the very same body.
        let bodies: BTreeSet<&str> = reqs
            .iter()
            .map(|r| r["body_sha"].as_str().unwrap())
            .collect();
        assert_eq!(bodies.len(), 1, "{id}: the body changed between attempts");
        let doc = &reqs[0]["doc"];
        assert_eq!(
            doc["id"],
            id.as_str(),
            "the body names the action by the same id"
        );
        assert_eq!(doc["key"], id.as_str());
        assert_eq!(doc["sender"], "hemit");
        assert!(
            doc["action"].is_string() && doc["message"].is_string(),
            "{doc}"
        );
        // After a 503 the next attempt waits for its backoff (5 s), across the kill too.
        for w in reqs.windows(2) {
            if w[0]["status"] == 503 {
                retried += 1;
                let gap = w[1]["t"].as_f64().unwrap() - w[0]["t"].as_f64().unwrap();
                assert!(gap >= 4.5, "{id}: retried {gap:.2} s after a 503");
            }
        }
        assert!(
            reqs.iter().any(|r| r["status"] == 200),
            "{id}: never delivered"
        );
    }
    assert!(retried > 0, "some action was retried after the burst");
    // Unplanned notices as the §5.2 JSON: recipient organization and addresses.
    let notice = all
        .iter()
        .map(|r| &r["doc"])
        .find(|d| d["message"] == "unplanned")
        .expect("an unplanned notice went to the webhook");
    assert_eq!(notice["action"], "email");
    assert!(notice["to"].as_array().is_some_and(|a| !a.is_empty()));
    assert_eq!(notice["subject"], "Feil i meldingsutveksling");
}

/// A sink added to the configuration takes effect on SIGHUP, without a restart: actions
/// decided after the reload reach the new webhook, actions decided before it do not (they were
/// committed without a copy for it). A reload whose sink cannot be built (its secret file is
/// missing) is refused whole, and the sinks in force stay.
#[test]
fn a_webhook_added_on_reload_takes_the_next_actions_and_a_broken_one_is_refused() {
    let env = Env::new("webhook-reload");
    let _smtp = smtp_server(env.smtp, &env.maildir());
    let (_recv, port, log, _) = receiver(&env, "another-secret", 0, 0);
    let d = env.daemon();
    let op = env.token("operator-token");
    let open = |id: &str| {
        // Known to last past 2 hours: the notice to Malvik goes out at once.
        let soon = (chrono::Utc::now() + chrono::Duration::hours(3)).to_rfc3339();
        let body = format!(
            r#"{{"id":"{id}","orgs":["malvik"],"services":["PLO"],"category":"A","expected_end":"{soon}"}}"#
        );
        let (code, resp) = env.post("/api/v1/incidents", &op, &body);
        assert_eq!(code, 201, "{resp}");
    };
    let hup = |log_line: &str| {
        let before = std::fs::read_to_string(env.dir.join("daemon.log")).unwrap_or_default();
        let n = before.matches(log_line).count();
        let _ = Command::new("kill")
            .args(["-HUP", &d.0.id().to_string()])
            .status();
        let t = Instant::now();
        loop {
            let now = std::fs::read_to_string(env.dir.join("daemon.log")).unwrap_or_default();
            if now.matches(log_line).count() > n {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "no {log_line:?}:\n{now}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let cfg = env.dir.join("meldingsvakt.toml");
    let base = std::fs::read_to_string(&cfg).unwrap();
    // Before: no webhook.
    open("INC-BEFORE");
    // A webhook whose secret file does not exist: the reload is refused.
    std::fs::write(
        &cfg,
        format!("{base}\n[webhook]\nurl = \"http://127.0.0.1:{port}/h\"\nsecret_file = \"missing-secret\"\n"),
    )
    .unwrap();
    hup("reload refused");
    open("INC-REFUSED");
    // Now a good one.
    std::fs::write(
        &cfg,
        format!("{base}\n[webhook]\nurl = \"http://127.0.0.1:{port}/h\"\nsecret_file = \"webhook-secret\"\nactions = [\"ops\", \"email\", \"statuspage\"]\n"),
    )
    .unwrap();
    hup("configuration reloaded");
    open("INC-AFTER");
    let t = Instant::now();
    let about = |r: &serde_json::Value| r["id"].as_str().unwrap_or("").to_string();
    loop {
        let got = json_lines(&log);
        if got.iter().any(|r| about(r).starts_with("INC-AFTER/")) {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the new webhook got nothing: {got:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    let got = json_lines(&log);
    assert!(got
        .iter()
        .all(|r| r["sig_ok"] == true && r["status"] == 200));
    assert!(
        !got.iter()
            .any(|r| about(r).starts_with("INC-BEFORE/") || about(r).starts_with("INC-REFUSED/")),
        "actions decided before the reload have no copy for the new sink: {got:?}"
    );
}
