//! On-call paging by SMS (SPEC §4.18) against a local gateway stand-in (Python's
//! http.server) that checks every request as a gateway would: the method, the content type,
//! the bearer token, a number in E.164 form that is on call, and a text of at most 160 GSM-7
//! characters. It answers a burst of 503s first, then holds a request unanswered so that
//! `kill -9` lands with a text in flight; after a restart every on-call number has its text
//! exactly once, retries wait for their backoff, and every attempt for one number carries
//! the same `ref`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

mod support;
use support::*;

/// `argv`: port, token file, log, burst, hold_after, held, release, numbers (comma separated).
/// 503 to the first `burst` requests; after `hold_after` requests answered 200, every later
/// one is held (not answered, not logged) until `release` exists (`held` says it began). A
/// request the gateway would refuse gets 400 with why, and is logged as such.
const GATEWAY: &str = r##"
import json, os, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
port, token, log, burst = int(sys.argv[1]), open(sys.argv[2]).read().strip(), sys.argv[3], int(sys.argv[4])
hold_after, held, release, numbers = int(sys.argv[5]), sys.argv[6], sys.argv[7], sys.argv[8].split(',')
BASIC = set("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà\n")
EXT = set("^{}\\[~]|€")
def septets(t):
    n = 0
    for c in t:
        if c in BASIC or c == '…': n += 1
        elif c in EXT: n += 2
        else: return None
    return n
lock = threading.Lock()
seen, ok = [0], [0]
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', '0')))
        why = None
        try:
            doc = json.loads(body)
        except Exception:
            doc, why = {}, 'body is not JSON'
        if self.path != '/v1/messages': why = why or 'wrong path ' + self.path
        if self.headers.get('Content-Type') != 'application/json': why = why or 'wrong content type'
        if self.headers.get('Authorization') != 'Bearer ' + token: why = why or 'wrong token'
        to, text = doc.get('to', ''), doc.get('text', '')
        if not (to.startswith('+') and to[1:].isdigit() and 8 <= len(to) - 1 <= 15): why = why or 'not E.164: ' + to
        if to not in numbers: why = why or 'not on call: ' + to
        n = septets(text)
        if n is None: why = why or 'not GSM-7: ' + text
        elif n > 160: why = why or 'longer than one SMS: %d' % n
        with lock:
            seen[0] += 1
            status = 400 if why else (503 if seen[0] <= burst else 200)
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
        rec = {'t': time.time(), 'status': status, 'why': why, 'doc': doc}
        with lock:
            with open(log, 'a') as f:
                f.write(json.dumps(rec) + '\n')
        out = json.dumps({'id': seen[0]}).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(out)))
        self.end_headers()
        self.wfile.write(out)
srv = ThreadingHTTPServer(('127.0.0.1', port), H)
srv.daemon_threads = True
print('ready', flush=True)
srv.serve_forever()
"##;

const NUMBERS: [&str; 2] = ["+4791234567", "+4798765432"];

/// The gateway on a free port, its token in `sms-token`, answering 503 to the first `burst`
/// requests and holding every request after `hold_after` successes (0: none); the
/// configuration gets the on-call numbers and `[sms]` pointing at it. Its port's process,
/// its log of requests and its hold (`held`, `release`).
fn gateway(
    env: &Env,
    burst: u32,
    hold_after: u32,
) -> (Proc, std::path::PathBuf, [std::path::PathBuf; 2]) {
    let port = free_port();
    let token = env.dir.join("sms-token");
    std::fs::write(&token, "gateway-token-123\n").unwrap();
    let log = env.dir.join("gateway.jsonl");
    let (held, release) = (env.dir.join("held"), env.dir.join("release"));
    let paths = [&token, &log, &held, &release].map(|p| p.to_string_lossy().to_string());
    let (gw, ready) = helper(
        GATEWAY,
        &[
            port.to_string(),
            paths[0].clone(),
            paths[1].clone(),
            burst.to_string(),
            hold_after.to_string(),
            paths[2].clone(),
            paths[3].clone(),
            NUMBERS.join(","),
        ],
    );
    assert_eq!(ready, "ready");
    let cfg = env.dir.join("meldingsvakt.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let text = text.replacen(
        "\nops = [",
        "\noncall = [\"+47 912 34 567\", \"+47 987 65 432\"]\nops = [",
        1,
    );
    assert!(text.contains("oncall ="), "the test config has [self] ops");
    std::fs::write(
        &cfg,
        format!(
            "{text}\n[sms]\nurl = \"http://127.0.0.1:{port}/v1/messages\"\npassword_file = \"sms-token\"\n\
             body = '{{\"to\": \"{{{{to}}}}\", \"text\": \"{{{{text}}}}\", \"ref\": \"{{{{ref}}}}\"}}'\n"
        ),
    )
    .unwrap();
    (gw, log, [held, release])
}

/// Waits until every on-call number got a text (answered 200) that `pick` accepts.
fn wait_texts(log: &std::path::Path, pick: impl Fn(&str) -> bool) -> Vec<serde_json::Value> {
    let t = Instant::now();
    loop {
        let all = json_lines(log);
        let texted: Vec<&str> = all
            .iter()
            .filter(|r| r["status"] == 200)
            .filter(|r| pick(r["doc"]["text"].as_str().unwrap_or("")))
            .filter_map(|r| r["doc"]["to"].as_str())
            .collect();
        if NUMBERS.iter().all(|n| texted.contains(n)) {
            return all;
        }
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "not every on-call number was texted: {all:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn oncall_gets_each_text_once_through_a_5xx_burst_and_a_kill_9() {
    let env = Env::new("sms");
    let _smtp = smtp_server(env.smtp, &env.maildir());
    // One refusal, then one text, then the next one held: the kill lands mid-page.
    let (_gw, log, [held, release]) = gateway(&env, 1, 1);
    let mut d = env.daemon();
    // Priority 1: category A, every organization.
    let (code, body) = env.post(
        "/api/v1/incidents",
        &env.token("operator-token"),
        r#"{"id":"INC-SMS","services":["PLO"],"category":"A","measures":"Vi feilsøker – leverandøren er kontaktet."}"#,
    );
    assert_eq!(code, 201, "{body}");
    let t = Instant::now();
    while !held.exists() {
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "no text reached the gateway: {:?}",
            json_lines(&log)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    d.kill9();
    let at_kill = json_lines(&log);
    assert_eq!(
        at_kill.iter().filter(|r| r["status"] == 200).count(),
        1,
        "killed with one number texted and the other in flight: {at_kill:?}"
    );
    std::fs::write(&release, "").unwrap();
    let _d2 = env.daemon();

    let all = wait_texts(&log, |t| t.starts_with("P1 INC-SMS: "));
    assert!(
        all.iter().all(|r| r["why"].is_null()),
        "the gateway refused a request: {all:?}"
    );
    assert_eq!(
        all.iter().filter(|r| r["status"] == 503).count(),
        1,
        "the burst happened"
    );
    let mut by_number: BTreeMap<&str, Vec<&serde_json::Value>> = BTreeMap::new();
    for r in &all {
        by_number
            .entry(r["doc"]["to"].as_str().unwrap())
            .or_default()
            .push(r);
    }
    for (number, reqs) in &by_number {
        assert_eq!(
            reqs.iter().filter(|r| r["status"] == 200).count(),
            1,
            "{number} got its text exactly once: {reqs:?}"
        );
        let refs: std::collections::BTreeSet<&str> = reqs
            .iter()
            .map(|r| r["doc"]["ref"].as_str().unwrap())
            .collect();
        assert_eq!(refs.len(), 1, "{number}: one ref for every attempt");
        for w in reqs.windows(2) {
            if w[0]["status"] == 503 {
                let gap = w[1]["t"].as_f64().unwrap() - w[0]["t"].as_f64().unwrap();
                assert!(gap >= 4.5, "{number}: retried {gap:.2} s after a 503");
            }
        }
        let text = reqs[0]["doc"]["text"].as_str().unwrap();
        assert!(text.starts_with("P1 INC-SMS: "), "{text}");
        assert!(text.ends_with("/ops/incidents/INC-SMS"), "{text}");
    }
    // Nobody else was texted: only the two on-call numbers ever reached the gateway.
    assert_eq!(by_number.len(), 2, "{by_number:?}");
}

/// SPEC §4.18: on-call gets a text beside the ops warning that messages went out late.
#[test]
fn late_delivery_pages_oncall() {
    let env = Env::new("sms-late");
    let (_gw, log, _) = gateway(&env, 0, 0);
    // Late after 3 s here (10 minutes by default).
    let cfg_path = env.dir.join("meldingsvakt.toml");
    let cfg = std::fs::read_to_string(&cfg_path).unwrap().replace(
        "security = \"none\"\n",
        "security = \"none\"\nwarn_after = \"3s\"\n",
    );
    assert!(
        cfg.contains("warn_after"),
        "the test config has [smtp] security"
    );
    std::fs::write(&cfg_path, cfg).unwrap();
    let _d = env.daemon();
    // No SMTP server yet: a 4-hour maintenance for Malvik waits.
    let from = (chrono::Utc::now() + chrono::Duration::days(10)).to_rfc3339();
    let to =
        (chrono::Utc::now() + chrono::Duration::days(10) + chrono::Duration::hours(4)).to_rfc3339();
    let body = format!(
        r#"{{"id":"VED-SMS","orgs":["malvik"],"services":["PLO"],"from":"{from}","to":"{to}","measures":"Oppgradering"}}"#
    );
    let (code, resp) = env.post("/api/v1/maintenances", &env.token("operator-token"), &body);
    assert_eq!(code, 201, "{resp}");
    // Let the first attempts fail for longer than warn_after, then bring the server up.
    env.wait_log("delivery failed; will retry");
    std::thread::sleep(Duration::from_secs(4));
    let _smtp = smtp_server(env.smtp, &env.maildir());
    let all = wait_texts(&log, |t| t.starts_with("Forsinket levering VED-SMS:"));
    let text = all
        .iter()
        .find_map(|r| {
            r["doc"]["text"]
                .as_str()
                .filter(|t| t.starts_with("Forsinket levering VED-SMS:"))
        })
        .unwrap();
    assert!(
        text.contains("gikk ut") && text.ends_with("/ops/maintenances/VED-SMS"),
        "{text}"
    );
    assert!(all.iter().all(|r| r["why"].is_null()), "{all:?}");
}
