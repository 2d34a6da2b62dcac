//! Maintenance files: declared at start, reconciled on SIGHUP.

use crate::support::*;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn maintenance_files_are_declared_at_start_and_reconciled_on_sighup() {
    let env = Env::new("mfiles");
    let _smtp = smtp_server(env.smtp, &env.maildir());
    let dir = env.dir.join("maintenance.d");
    std::fs::create_dir_all(&dir).unwrap();
    let from = (chrono::Utc::now() + chrono::Duration::days(9))
        .format("%Y-%m-%dT%H:00:00Z")
        .to_string();
    let to = (chrono::Utc::now() + chrono::Duration::days(9) + chrono::Duration::hours(4))
        .format("%Y-%m-%dT%H:00:00Z")
        .to_string();
    let one_off = format!("[[maintenance]]\nid = \"VED-FIL\"\norgs = [\"malvik\", \"melhus\"]\nservices = [\"PLO\"]\nfrom = \"{from}\"\nto = \"{to}\"\nmeasures = \"Oppgradering\"\n");
    let weekly = "[[recurring]]\nid = \"sondag\"\ncron = \"0 0 23 * * Sun\"\nduration = \"1h\"\nservices = [\"lab\"]\n";
    std::fs::write(dir.join("a.toml"), &one_off).unwrap();
    std::fs::write(dir.join("b.toml"), weekly).unwrap();
    let d = env.daemon();
    let op = env.token("operator-token");
    let t = Instant::now();
    let list = loop {
        let l = get(env.http, "/api/v1/maintenances", &op);
        if l.contains("VED-FIL") || t.elapsed() > Duration::from_secs(60) {
            break l;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(list.contains("VED-FIL"), "{list}");
    assert_eq!(
        list.matches("sondag:").count(),
        2,
        "two Sundays within 14 days: {list}"
    );
    // 4 h: notices to the two municipalities and the region (and, at most hours, a warning
    // to ops that the window is outside Sunday night; the order is not fixed).
    let planned = |m: &[Mail]| {
        m.iter()
            .filter(|m| m.headers["subject"].starts_with("Planlagt stopp"))
            .count()
    };
    let mails = wait_mails_until(&env.maildir(), 60, |m| planned(m) >= 3);
    assert!(planned(&mails) >= 3);
    // The one-off is removed from the files; SIGHUP cancels it (Avlyst to those notified).
    std::fs::remove_file(dir.join("a.toml")).unwrap();
    Command::new("kill")
        .args(["-HUP", &d.0.id().to_string()])
        .status()
        .unwrap();
    let t = Instant::now();
    loop {
        let m = read_mails(&env.maildir());
        if m.iter()
            .filter(|m| m.headers["subject"].starts_with("Avlyst: Planlagt stopp"))
            .count()
            >= 3
        {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "no Avlyst after the file was removed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let list = get(env.http, "/api/v1/maintenances", &op);
    assert!(
        !list.contains("VED-FIL") && list.contains("sondag:"),
        "{list}"
    );
}
