//! An alert through Debian's Alertmanager opens an incident.

use crate::harness::*;
use crate::support::*;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn alert_through_debian_alertmanager_opens_an_incident() {
    let env = Env::new("am");
    let _smtp = smtp_server(env.smtp, &env.maildir());
    let _d = env.daemon();
    let am_port = free_port();
    let _am = alertmanager(&env, am_port);
    let post = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H", "Content-Type: application/json"])
        .arg(format!("http://127.0.0.1:{am_port}/api/v2/alerts"))
        .args(["--data-binary", r#"[{"labels":{"alertname":"MissingAppRec","org":"malvik","service":"PLO","kind":"kvittering","severity":"B"}}]"#])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&post.stdout), "200");
    let op = env.token("operator-token");
    let t = Instant::now();
    loop {
        let list = get(env.http, "/api/v1/incidents", &op);
        if list.contains("AM-malvik-kvittering-1") {
            assert!(list.contains("\"at_org\":\"malvik\""), "{list}");
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "Alertmanager's webhook never opened the incident: {list}\n{}",
            std::fs::read_to_string(env.dir.join("am.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
