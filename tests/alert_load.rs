//! SPEC §4.12 under load: 100,000 alerts with random fingerprints and the annotations
//! monitoring really writes (IP addresses, phone numbers, dates and times), posted in batches
//! of 10 as Alertmanager does. Not one is refused or skipped: every alert opens or joins an
//! incident. (The old guard refused about 69 in a million fingerprints, and the whole batch
//! with them.) `ALERT_LOAD` sets the number of alerts.

mod support;
use std::io::{BufRead, BufReader, Read, Write};
use support::*;

const ORGS: [&str; 6] = ["malvik", "melhus", "skaun", "frosta", "roros", "orkland"];

fn alert(r: &mut Rng) -> serde_json::Value {
    let ip = |r: &mut Rng| format!("10.{}.{}.{}", r.below(256), r.below(256), r.below(256));
    let org = ORGS[r.below(ORGS.len() as u64) as usize];
    let started = chrono::Utc::now() - chrono::Duration::minutes(r.below(600) as i64);
    serde_json::json!({
        "status": "firing",
        "labels": {
            "alertname": format!("AppRecMissing{}", r.below(5)),
            "org": org,
            "service": "PLO",
            "kind": "kvittering",
            "severity": "B",
            "instance": format!("{}:{}", ip(r), 1024 + r.below(60000)),
        },
        "annotations": {
            "summary": format!("Ingen kvittering fra {} siden {}", ip(r), started.format("%d.%m.%Y kl. %H:%M")),
            "description": format!(
                "Siste melding {} ({} meldinger i kø); vakttelefon +47 {:08}, {} -> {}",
                started.format("%Y-%m-%d %H:%M:%S"),
                r.below(100_000),
                r.below(100_000_000),
                ip(r),
                ip(r)
            ),
        },
        "startsAt": started.to_rfc3339(),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": format!("http://prometheus:9090/graph?g0.expr=up%7Binstance%3D%22{}%22%7D", ip(r)),
        "fingerprint": format!("{:016x}", r.next()),
    })
}

/// POST on a kept-alive connection; the status and body.
fn post(
    stream: &mut std::net::TcpStream,
    reader: &mut BufReader<std::net::TcpStream>,
    token: &str,
    body: &str,
) -> (u16, String) {
    write!(
        stream,
        "POST /api/v1/alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    let code = status
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).unwrap();
        if h == "\r\n" || h.is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut b = vec![0u8; len];
    reader.read_exact(&mut b).unwrap();
    (code, String::from_utf8_lossy(&b).to_string())
}

#[test]
fn a_hundred_thousand_real_alerts_none_refused() {
    let n: usize = std::env::var("ALERT_LOAD")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let env = Env::new("alert-load");
    let _d = env.daemon();
    let token = env.token("alert-token");
    let clients = 4;
    let batches = n / 10;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("seed {seed}");
    let t0 = std::time::Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (port, token) = (env.http, token.clone());
            std::thread::spawn(move || {
                let mut r = Rng(seed.wrapping_add(c as u64 * 0x9E37_79B9));
                let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let (mut accepted, mut problems) = (0u64, Vec::new());
                for b in (c..batches).step_by(clients) {
                    let alerts: Vec<serde_json::Value> = (0..10).map(|_| alert(&mut r)).collect();
                    let body = serde_json::json!({"version": "4", "status": "firing", "receiver": "meldingsvakt", "alerts": alerts}).to_string();
                    let (code, resp) = post(&mut stream, &mut reader, &token, &body);
                    let v: serde_json::Value = serde_json::from_str(&resp).unwrap_or_default();
                    if code != 200 || v["skipped"] != serde_json::json!([]) || v["redacted"] != serde_json::json!([]) {
                        problems.push(format!("batch {b}: {code} {resp} for {body}"));
                    }
                    accepted += v["accepted"].as_u64().unwrap_or(0);
                }
                (accepted, problems)
            })
        })
        .collect();
    let (mut accepted, mut problems) = (0u64, Vec::new());
    for t in threads {
        let (a, p) = t.join().unwrap();
        accepted += a;
        problems.extend(p);
    }
    eprintln!(
        "{accepted} alerts accepted in {:.1} s; {} batches with a refusal, a skip or a redaction",
        t0.elapsed().as_secs_f64(),
        problems.len()
    );
    assert!(
        problems.is_empty(),
        "{}",
        problems[..problems.len().min(3)].join("\n")
    );
    assert_eq!(accepted as usize, batches * 10);
    // Every alert opened or joined an incident: one per organization and kind.
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "-H",
            &format!("Authorization: Bearer {}", env.token("operator-token")),
        ])
        .arg(format!("http://127.0.0.1:{}/api/v1/incidents", env.http))
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    for org in ORGS {
        assert!(
            ids.iter()
                .any(|i| i.starts_with(&format!("AM-{org}-kvittering-"))),
            "{org}: {ids:?}"
        );
    }
    let metrics = get(env.http, "/metrics", "");
    assert!(
        metrics.contains(&format!("meldingsvakt_events_total {}", batches * 10)),
        "{metrics}"
    );
}
