//! The availability report over HTTP: `/reports/YYYY-MM` (HTML, in Chromium with axe-core at
//! 1280 and 375 px), `.json` and `.csv`, from the daemon's own history.

use crate::harness::*;
use crate::support::*;
use std::path::Path;

#[test]
fn the_report_of_this_month_is_served_as_json_csv_and_accessible_html() {
    let env = Env::new("report");
    let _smtp = smtp_server(env.smtp, &env.maildir());
    let _d = env.daemon();
    let op = env.token("operator-token");
    let now = chrono::Utc::now();
    let detected = now - chrono::Duration::minutes(95);
    let body = format!(
        r#"{{"id":"INC-R1","orgs":["malvik"],"services":["PLO"],"category":"A","started_at":"{0}","detected_at":"{0}"}}"#,
        detected.to_rfc3339()
    );
    let (code, resp) = env.post("/api/v1/incidents", &op, &body);
    assert_eq!(code, 201, "{resp}");
    let (code, resp) = env.post("/api/v1/incidents/INC-R1/resolve", &op, "{}");
    assert_eq!(code, 200, "{resp}");

    let oslo = chrono_tz::Europe::Oslo;
    let month = now.with_timezone(&oslo).format("%Y-%m").to_string();
    let month_start = chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_local_timezone(oslo)
        .unwrap()
        .with_timezone(&chrono::Utc);
    // The part of the 95 minutes inside this month (all of it, unless the month just began).
    let want = (now - detected.max(month_start)).num_seconds() as f64 / 60.0;

    // Public, like the status page: no token.
    let json = get(env.http, &format!("/reports/{month}.json"), "");
    let r: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(r["month"], month.as_str());
    let plo = r["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "PLO")
        .unwrap();
    let got = plo["downtime_minutes"].as_f64().unwrap();
    assert!(
        (got - want).abs() <= 0.3,
        "downtime {got} minutes, expected {want:.1}"
    );
    let hours = r["hours"].as_f64().unwrap();
    let avail = plo["availability"].as_f64().unwrap();
    let expect = 100.0 * (1.0 - got / (hours * 60.0));
    assert!((avail - expect).abs() < 0.0011, "{avail} vs {expect}");
    assert_eq!(plo["incidents"][0]["id"], "INC-R1");

    let csv = get(env.http, &format!("/reports/{month}.csv"), "");
    assert!(
        csv.starts_with("måned,tjeneste,navn,nedetid_minutter"),
        "{csv}"
    );
    assert!(
        csv.contains(&format!("\n{month},TOTALT,Alle tjenester,")),
        "{csv}"
    );

    // Refusals are JSON and name the problem.
    let bad = get(env.http, "/reports/2026-13", "");
    assert!(bad.contains("is not a month"), "{bad}");
    let bad = get(env.http, &format!("/reports/{month}.pdf"), "");
    assert!(bad.contains("no report format"), "{bad}");

    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let axe = browser(
        &format!("http://127.0.0.1:{}/reports/{month}", env.http),
        &artifacts.join("report.png"),
        "Tilgjengelighet per tjeneste",
        "Ingen nedetid som teller",
    );
    eprintln!("axe (report): {axe}");

    // The status page shows the last 90 days per service, with a text for screen readers.
    let page = get(env.http, "/", "");
    assert!(page.contains("Tilgjengelighet siste 90 dager"), "{page}");
    let today = now.with_timezone(&oslo).format("%d.%m.%Y").to_string();
    assert!(
        page.contains(&format!("{today} (")) && page.contains("class=\"sr-only\""),
        "the screen-reader text names today's downtime"
    );
    let axe = browser(
        &format!("http://127.0.0.1:{}/", env.http),
        &artifacts.join("status-page-uptime.png"),
        "Tilgjengelighet siste 90 dager",
        "",
    );
    eprintln!("axe (status page with uptime rows): {axe}");
}
