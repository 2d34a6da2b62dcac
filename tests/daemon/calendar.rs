//! The calendar feeds and the planned mails' calendar attachment (SPEC §5.9), against a real
//! SMTP server, Python's `icalendar` and `vobject` with validation on (`ics_check.py`, which
//! also fails on warnings), and Radicale, Debian's CalDAV server.

use crate::support::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn python(script: &str, args: &[&str]) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(script);
    let out = Command::new("/usr/bin/python3")
        .arg(path)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A feed fetched, saved, and read strictly: its events by UID.
fn feed(env: &Env, path: &str) -> (std::path::PathBuf, Vec<Value>) {
    let (code, body) = curl(&["-s", &format!("http://127.0.0.1:{}{path}", env.http)]);
    assert_eq!(code, 200, "{path}: {body}");
    let file = env.dir.join(format!("feed-{}.ics", path.len()));
    std::fs::write(&file, &body).unwrap();
    let v = python("ics_check.py", &["feed", file.to_str().unwrap()]);
    (file, v["events"].as_array().unwrap().clone())
}

fn event<'a>(events: &'a [Value], uid: &str) -> Option<&'a Value> {
    events.iter().find(|e| e["uid"] == uid)
}

const UID: &str = "maintenance-VED-KAL@hemit";

#[test]
fn feeds_and_attachments_load_in_strict_readers_and_radicale() {
    let env = Env::new("calendar");
    let _smtp = smtp_server(env.smtp, &env.maildir());
    let _d = env.daemon();
    let op = env.token("operator-token");
    // A 4-hour stop at Malvik's PLO in ten days: on the status page and mailed (SPEC §4.5).
    let day = chrono::Utc::now() + chrono::Duration::days(10);
    let at = |h: i64| (day + chrono::Duration::hours(h)).to_rfc3339();
    let body = format!(
        r#"{{"id":"VED-KAL","orgs":["malvik"],"services":["PLO"],"from":"{}","to":"{}","measures":"Oppgradering; meldinger køes, og sendes etterpå"}}"#,
        at(0),
        at(4)
    );
    let (code, resp) = env.post("/api/v1/maintenances", &op, &body);
    assert_eq!(code, 201, "{resp}");

    let (_, events) = feed(&env, "/calendar.ics");
    let e = event(&events, UID).expect("the maintenance in the feed");
    assert_eq!(e["sequence"], 0);
    assert_eq!(e["status"], "CONFIRMED");
    assert!(
        e["summary"]
            .as_str()
            .unwrap()
            .starts_with("Planlagt stopp/forsinkelse i meldingstrafikk"),
        "{e}"
    );
    let d = e["description"].as_str().unwrap();
    assert!(
        d.contains("Pleie- og omsorgsmeldinger")
            && d.contains("Malvik kommune")
            && d.contains("køes, og"),
        "{d}"
    );
    assert!(e["start"].as_str().unwrap().len() >= 19, "{e}");
    let window = event(&events, "window-standard@hemit").expect("the standard window");
    assert_eq!(window["rrule"], "FREQ=WEEKLY;BYDAY=SU");
    assert!(
        window["start"]
            .as_str()
            .unwrap()
            .ends_with("T23:00:00+01:00"),
        "{window}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["uid"].as_str().unwrap().starts_with("freeze-")
                && e["summary"] == "Frysperiode: Julefrys"),
        "{events:?}"
    );

    // Narrowed: by a service it has, by another, by its organization and by another.
    assert!(event(&feed(&env, "/calendar.ics?service=PLO").1, UID).is_some());
    assert!(event(&feed(&env, "/calendar.ics?service=lab").1, UID).is_none());
    assert!(event(&feed(&env, "/calendar.ics?org=malvik").1, UID).is_some());
    assert!(event(&feed(&env, "/calendar.ics?org=melhus").1, UID).is_none());
    // The test environment's feed has no production maintenance; a misspelt filter is 404.
    let (_, test) = feed(&env, "/calendar-test.ics");
    assert!(event(&test, UID).is_none() && event(&test, "window-standard@hemit").is_some());
    for bad in [
        "/calendar.ics?service=nope",
        "/calendar.ics?org=nope",
        "/calendar.ics?tjeneste=PLO",
    ] {
        let (code, _) = curl(&["-s", &format!("http://127.0.0.1:{}{bad}", env.http)]);
        assert_eq!(code, 404, "{bad}");
    }

    // A change of time raises SEQUENCE; the cancellation raises it again, same UID.
    let (code, resp) = env.post(
        "/api/v1/maintenances/VED-KAL/change",
        &op,
        &format!(r#"{{"to":"{}"}}"#, at(5)),
    );
    assert_eq!(code, 200, "{resp}");
    let e = event(&feed(&env, "/calendar.ics").1, UID).unwrap().clone();
    assert_eq!(
        (e["sequence"].as_i64(), e["status"].as_str()),
        (Some(1), Some("CONFIRMED"))
    );
    let (code, resp) = env.post("/api/v1/maintenances/VED-KAL/cancel", &op, "{}");
    assert_eq!(code, 200, "{resp}");
    let (file, events) = feed(&env, "/calendar.ics");
    let e = event(&events, UID).unwrap();
    assert_eq!(
        (e["sequence"].as_i64(), e["status"].as_str()),
        (Some(2), Some("CANCELLED"))
    );

    // The mails: notice, change and cancellation to Malvik and the region, each with the
    // event; the text first and unchanged, METHOD:PUBLISH twice, then CANCEL, same UID.
    let t = Instant::now();
    let mails = loop {
        let v = python("ics_check.py", &["mail", env.maildir().to_str().unwrap()]);
        let v = v.as_array().unwrap().clone();
        if v.len() >= 6 || t.elapsed() > Duration::from_secs(60) {
            break v;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let malvik: Vec<&Value> = mails
        .iter()
        .filter(|m| m["to"].as_str().unwrap().contains("malvik"))
        .collect();
    assert_eq!(malvik.len(), 3, "{mails:?}");
    let of = |prefix: &str| {
        *malvik
            .iter()
            .find(|m| m["subject"].as_str().unwrap().starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix}: {malvik:?}"))
    };
    for (prefix, method, seq, status) in [
        ("Planlagt stopp", "PUBLISH", 0, "CONFIRMED"),
        ("Endret:", "PUBLISH", 1, "CONFIRMED"),
        ("Avlyst:", "CANCEL", 2, "CANCELLED"),
    ] {
        let m = of(prefix);
        assert_eq!(m["first"], "text/plain", "{m}");
        assert!(
            m["text"]
                .as_str()
                .unwrap()
                .starts_with("Telefonnummer for mottak"),
            "{m}"
        );
        assert_eq!(
            (m["method"].as_str(), m["content_method"].as_str()),
            (Some(method), Some(method)),
            "{m}"
        );
        let e = &m["events"][0];
        assert_eq!(
            (
                e["uid"].as_str(),
                e["sequence"].as_i64(),
                e["status"].as_str()
            ),
            (Some(UID), Some(seq), Some(status)),
            "{m}"
        );
    }

    // Radicale stores every event of the feed and gives each back as put.
    let port = free_port();
    let store = env.dir.join("radicale");
    let conf = env.dir.join("radicale.conf");
    std::fs::write(
        &conf,
        format!(
            "[server]\nhosts = 127.0.0.1:{port}\n[auth]\ntype = none\n[rights]\ntype = owner_only\n[storage]\nfilesystem_folder = {}\n[logging]\nlevel = warning\n",
            store.display()
        ),
    )
    .unwrap();
    let _radicale = Proc(
        Command::new("/usr/bin/python3")
            .args(["-m", "radicale", "--config"])
            .arg(&conf)
            .stderr(std::fs::File::create(env.dir.join("radicale.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_port(port);
    let back = python(
        "radicale_check.py",
        &[&port.to_string(), file.to_str().unwrap()],
    );
    assert_eq!(back[UID], 2, "{back}");
    assert_eq!(back.as_object().unwrap().len(), events.len(), "{back}");
}
