//! The report against hand-computed cases (SPEC §4.13). Times are Oslo local time.
use super::*;
use crate::engine::availability::{downtime, percent};
use crate::engine::model::{Environment, Event, IncidentOpen, IncidentUpdate, Kind, Ts};
use crate::testutil::example_config;
use chrono::Duration;

/// RFC 3339, or Oslo local time as `YYYY-MM-DD HH:MM`.
fn t(s: &str) -> Time {
    use chrono::TimeZone;
    match chrono::DateTime::parse_from_rfc3339(s) {
        Ok(t) => t.with_timezone(&chrono::Utc),
        Err(_) => chrono_tz::Europe::Oslo
            .from_local_datetime(
                &chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap(),
            )
            .earliest()
            .unwrap()
            .with_timezone(&chrono::Utc),
    }
}

fn inc(id: &str, services: &[&str], from: &str, to: Option<&str>) -> IncidentRecord {
    IncidentRecord {
        id: id.into(),
        services: services.iter().map(|s| s.to_string()).collect(),
        detected_at: t(from),
        resolved_at: to.map(t),
        counts: true,
        priority: 2,
        kind: "feil".into(),
    }
}

fn maint(id: &str, services: &[&str], from: &str, to: &str) -> MaintenanceRecord {
    MaintenanceRecord {
        id: id.into(),
        services: services.iter().map(|s| s.to_string()).collect(),
        from: t(from),
        to: t(to),
        excuses: true,
        view: None,
    }
}

fn history(first: &str, incidents: Vec<IncidentRecord>, m: Vec<MaintenanceRecord>) -> History {
    History {
        first: Some(t(first)),
        incidents: incidents.into_iter().map(|i| (i.id.clone(), i)).collect(),
        maintenances: m.into_iter().map(|m| (m.id.clone(), m)).collect(),
    }
}

/// A history of one incident.
fn one(first: &str, i: IncidentRecord) -> History {
    history(first, vec![i], vec![])
}

fn service<'a>(r: &'a Report, id: &str) -> &'a ServiceReport {
    r.services.iter().find(|s| s.service == id).unwrap()
}

fn month(s: &str) -> Month {
    s.parse().unwrap()
}

const LATER: &str = "2028-01-01T00:00:00+01:00";

#[test]
fn the_spec_example_95_minutes_in_march_2027() {
    let cfg = example_config();
    let h = one(
        "2027-01-10 09:00",
        inc("I1", &["PLO"], "2027-03-02 10:00", Some("2027-03-02 11:35")),
    );
    let r = monthly(&cfg, &h, month("2027-03"), t(LATER));
    // 31 days less the hour lost on 28 March (summer time).
    assert_eq!(r.hours, 743);
    let p = service(&r, "PLO");
    assert_eq!(p.downtime_minutes, 95.0);
    // 100 × (1 − 95 / 44 580) = 99.78690…
    assert_eq!(p.availability, 99.787);
    assert!(p.met, "99.787 ≥ 99.7");
    // Jan (first record 10 Jan), Feb, Mar: 95 min of 31·24·60 + 28·24·60 + 44 580 = 129 540.
    assert_eq!(p.rolling_12m.months, 3);
    assert_eq!(p.rolling_12m.availability, 99.927);
    assert!(p.rolling_12m.met);
    assert_eq!(p.incidents.len(), 1);
    assert_eq!(p.incidents[0].minutes, 95.0);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(
        json["services"][0]["incidents"][0]["from"],
        "2027-03-02T10:00:00+01:00"
    );
    // Other services lost nothing.
    assert_eq!(service(&r, "lab").availability, 100.0);
}

#[test]
fn overlapping_incidents_count_once_and_maintenance_inside_is_not_downtime() {
    let cfg = example_config();
    let h = history(
        "2026-11-01 00:00",
        vec![
            inc("A", &["PLO"], "2026-11-10 10:00", Some("2026-11-10 11:00")),
            inc("B", &["PLO"], "2026-11-10 10:30", Some("2026-11-10 12:00")),
            // 4 h, of which our maintenance covers 1 h.
            inc("C", &["lab"], "2026-11-12 10:00", Some("2026-11-12 14:00")),
        ],
        vec![
            maint("M1", &["lab"], "2026-11-12 11:00", "2026-11-12 12:00"),
            MaintenanceRecord {
                excuses: false,
                ..maint("M2", &["lab"], "2026-11-12 12:00", "2026-11-12 13:00")
            },
            MaintenanceRecord {
                excuses: false,
                ..maint("M3", &["lab"], "2026-11-12 13:00", "2026-11-12 14:00")
            },
        ],
    );
    let r = monthly(&cfg, &h, month("2026-11"), t(LATER));
    assert_eq!(r.hours, 720);
    let p = service(&r, "PLO");
    assert_eq!(p.downtime_minutes, 120.0, "10:00–12:00 once");
    assert_eq!(p.availability, 99.722); // 1 − 120/43 200
    let minutes: Vec<f64> = p.incidents.iter().map(|i| i.minutes).collect();
    assert_eq!(minutes, vec![60.0, 90.0], "each incident's own part");
    let lab = service(&r, "lab");
    assert_eq!(
        lab.downtime_minutes, 180.0,
        "only our own, not cancelled, maintenance counts"
    );
    assert_eq!(lab.availability, 99.583);
    assert!(!lab.met, "99.583 < 99.7");
}

#[test]
fn an_incident_across_midnight_of_a_month_is_split_and_october_has_745_hours() {
    let cfg = example_config();
    let h = one(
        "2026-01-01 00:00",
        inc(
            "X",
            &["epikrise"],
            "2026-10-31 23:00",
            Some("2026-11-01 01:00"),
        ),
    );
    let oct = monthly(&cfg, &h, month("2026-10"), t(LATER));
    assert_eq!(oct.hours, 745, "the extra hour of 25 October");
    assert_eq!(service(&oct, "epikrise").downtime_minutes, 60.0);
    assert_eq!(service(&oct, "epikrise").availability, 99.866); // 1 − 60/44 700
    let nov = monthly(&cfg, &h, month("2026-11"), t(LATER));
    assert_eq!(service(&nov, "epikrise").downtime_minutes, 60.0);
    assert_eq!(
        serde_json::to_value(&nov).unwrap()["services"][2]["incidents"][0]["from"],
        "2026-11-01T00:00:00+01:00",
        "clipped to the month"
    );
}

/// Records the engine marked as not counting (a counterpart's fault, the test environment,
/// priority 3–4: decided in `Incident::record`, and through the engine in the
/// `report-month` scenario) add nothing; an incident naming no service counts against all.
#[test]
fn records_that_do_not_count_and_unnamed_scope() {
    let cfg = example_config();
    let h = history(
        "2026-11-01 00:00",
        vec![
            IncidentRecord {
                counts: false,
                ..inc("CP", &["PLO"], "2026-11-03 10:00", Some("2026-11-03 12:00"))
            },
            IncidentRecord {
                counts: false,
                ..inc("T", &["PLO"], "2026-11-04 10:00", Some("2026-11-04 12:00"))
            },
            IncidentRecord {
                counts: false,
                ..inc(
                    "LOW",
                    &["PLO"],
                    "2026-11-05 10:00",
                    Some("2026-11-05 12:00"),
                )
            },
            // No service named: every service is down.
            inc("ALL", &[], "2026-11-06 10:00", Some("2026-11-06 10:30")),
        ],
        vec![],
    );
    let r = monthly(&cfg, &h, month("2026-11"), t(LATER));
    for s in &r.services {
        assert_eq!(s.downtime_minutes, 30.0, "{}", s.service);
    }
}

#[test]
fn a_still_open_incident_counts_to_now_or_to_the_months_end() {
    let cfg = example_config();
    let h = history(
        "2026-11-01 00:00",
        vec![inc("OPEN", &["PLO"], "2026-11-30T22:00:00+01:00", None)],
        vec![],
    );
    let during = monthly(&cfg, &h, month("2026-11"), t("2026-11-30 23:00"));
    assert_eq!(service(&during, "PLO").downtime_minutes, 60.0);
    let after = monthly(&cfg, &h, month("2026-11"), t("2026-12-05 00:00"));
    assert_eq!(
        service(&after, "PLO").downtime_minutes,
        120.0,
        "to the month's end"
    );
    let dec = monthly(&cfg, &h, month("2026-12"), t("2026-12-01 06:00"));
    assert_eq!(
        service(&dec, "PLO").downtime_minutes,
        360.0,
        "and on into December"
    );
}

#[test]
fn months_before_the_first_record_are_left_out_of_the_12_month_figure() {
    let cfg = example_config();
    let h = history("2026-12-15 12:00", vec![], vec![]);
    let r = monthly(&cfg, &h, month("2027-02"), t(LATER));
    assert_eq!(
        r.services[0].rolling_12m.months, 3,
        "December, January, February"
    );
    assert_eq!(r.services[0].rolling_12m.availability, 100.0);
}

/// Through the engine: a priority raised to 2 mid-incident counts the whole incident from
/// `detected_at`; one never above 3 does not count.
#[test]
fn a_priority_raised_mid_incident_counts_from_detection() {
    let cfg = std::sync::Arc::new(example_config());
    let mut e = crate::engine::Engine::new(cfg.clone());
    let open = |id: &str, at: &str| {
        Event::IncidentOpen(IncidentOpen {
            id: id.into(),
            kind: Kind::Feil,
            at_org: "self".into(),
            orgs: vec!["malvik".into()],
            services: vec!["PLO".into()],
            category: crate::engine::model::Category::D,
            impact: None,
            started_at: Some(Ts(t(at))),
            detected_at: Some(Ts(t(at))),
            expected_end: None,
            measures: None,
            text: None,
            environment: Environment::Produksjon,
        })
    };
    let resolve = |id: &str| {
        Event::IncidentResolve(crate::engine::model::Resolve {
            id: id.into(),
            resolved_at: None,
        })
    };
    e.handle(
        t("2026-11-10 10:00"),
        open("RAISED", "2026-11-10T10:00:00+01:00"),
    )
    .unwrap();
    e.handle(
        t("2026-11-10 10:00"),
        open("LOW", "2026-11-10T10:00:00+01:00"),
    )
    .unwrap();
    e.handle(
        t("2026-11-10 10:40"),
        Event::IncidentUpdate(IncidentUpdate {
            id: "RAISED".into(),
            measures: None,
            expected_end: None,
            text: None,
            category: Some(crate::engine::model::Category::A),
            impact: None,
            status: None,
        }),
    )
    .unwrap();
    e.handle(t("2026-11-10 11:00"), resolve("RAISED")).unwrap();
    e.handle(t("2026-11-10 11:00"), resolve("LOW")).unwrap();
    e.advance_to(t("2026-12-10 00:00"));
    let r = monthly(&cfg, e.history(), month("2026-11"), t("2026-12-10 00:00"));
    let p = service(&r, "PLO");
    assert_eq!(p.downtime_minutes, 60.0, "{:?}", p.incidents);
    assert_eq!(p.incidents.len(), 1);
    assert_eq!(p.incidents[0].id, "RAISED");
}

#[test]
fn csv_has_a_totals_row_and_html_escapes_and_prints_on_a4() {
    let cfg = example_config();
    let h = one(
        "2027-01-10 09:00",
        inc(
            "I<1>",
            &["PLO"],
            "2027-03-02 10:00",
            Some("2027-03-02 11:35"),
        ),
    );
    let r = monthly(&cfg, &h, month("2027-03"), t(LATER));
    let c = csv(&r);
    let lines: Vec<&str> = c.lines().collect();
    assert_eq!(lines.len(), 1 + cfg.services.len() + 1);
    assert!(lines[1].starts_with("2027-03,PLO,"), "{}", lines[1]);
    assert!(
        lines[1].contains(",95.0,99.787,99.7,ja,3,99.927,99.9,ja"),
        "{}",
        lines[1]
    );
    assert!(lines
        .last()
        .unwrap()
        .starts_with("2027-03,TOTALT,Alle tjenester,95.0,"));
    let h = html(&r, "Hemit HF", "ma@helse-midt.example");
    assert!(h.contains("I&lt;1&gt;") && !h.contains("I<1>"));
    assert!(h.contains("size: A4") && h.contains("break-inside: avoid"));
    assert!(
        h.contains("99,787&nbsp;%"),
        "no line break inside a percentage"
    );
    assert!(h.contains("<tr class=\"total\"><th scope=\"row\">Alle tjenester</th><td data-label=\"Nedetid\">1&nbsp;t&nbsp;35&nbsp;min</td>"));
    assert!(h.contains("Laget ") && h.contains("mailto:ma@helse-midt.example"));
    assert!(!h.contains("Foreløpig") && !h.contains("Ingen data"));
}

#[test]
fn months_parse_strictly_and_the_report_is_due_on_the_first_working_day() {
    assert_eq!(
        "2027-03".parse::<Month>(),
        Ok(Month {
            year: 2027,
            month: 3
        })
    );
    for bad in ["2027-3", "2027-13", "27-03", "2027/03", "marsj"] {
        assert!(bad.parse::<Month>().is_err(), "{bad}");
    }
    let cfg = example_config();
    // 1 January 2027 is a holiday (Friday): Monday 4 January at the start of business hours.
    assert_eq!(due(&cfg, month("2026-12")), t("2027-01-04T08:00:00+01:00"));
    // 1 December 2026 is a Tuesday.
    assert_eq!(due(&cfg, month("2026-11")), t("2026-12-01T08:00:00+01:00"));
}

/// The status page's rows: an incident across midnight is split over two days; days before
/// and after are clean; today counts only up to now.
#[test]
fn daily_rows_split_at_local_midnight() {
    let cfg = example_config();
    let h = one(
        "2026-11-01 00:00",
        inc("N", &["PLO"], "2026-11-20 23:30", Some("2026-11-21 00:45")),
    );
    let rows = daily(&cfg, &h, 90, t("2026-11-23 12:00"));
    let plo = rows.iter().find(|r| r.service == "PLO").unwrap();
    assert_eq!(plo.days.len(), 90);
    assert_eq!(plo.days.last().unwrap().0.to_string(), "2026-11-23");
    let on = |d: &str| plo.days.iter().find(|(x, _)| x.to_string() == d).unwrap().1;
    assert_eq!(on("2026-11-20"), Some(30.0));
    assert_eq!(on("2026-11-21"), Some(45.0));
    assert_eq!(on("2026-11-22"), Some(0.0));
    assert_eq!(on("2026-10-31"), None, "before the first record: no data");
    // 75 minutes in the 22.5 days from 1 November (the first record) to now.
    let want = 100.0 * (1.0 - 75.0 / (22.5 * 24.0 * 60.0));
    assert!(
        (plo.availability - want).abs() < 0.001,
        "{} vs {want}",
        plo.availability
    );
    assert!(rows
        .iter()
        .filter(|r| r.service != "PLO")
        .all(|r| r.availability == 100.0));
}

/// The 12-month figure is computed in one pass over the history; it must equal the sum of
/// each month's own downtime: incidents across month ends and the October hour, a hole, one
/// still open, and `now` inside the reported month.
#[test]
fn the_rolling_year_in_one_pass_equals_the_sum_of_its_months() {
    let cfg = example_config();
    let h = history(
        "2026-03-15 12:00",
        vec![
            inc("A", &["PLO"], "2026-03-31 23:00", Some("2026-04-01 02:00")),
            inc("B", &["PLO"], "2026-10-25 01:30", Some("2026-10-25 03:30")),
            inc("C", &[], "2026-12-31 22:00", Some("2027-01-01 01:00")),
            inc("D", &["PLO"], "2027-02-27 20:00", None),
            inc("E", &["PLO"], "2026-06-10 08:00", Some("2026-06-10 12:00")),
        ],
        vec![maint("M", &["PLO"], "2026-06-10 09:00", "2026-06-10 10:00")],
    );
    let now = t("2027-03-01 06:00");
    for m in ["2027-03", "2027-02", "2026-10", "2026-04"] {
        let r = monthly(&cfg, &h, month(m), now);
        let p = service(&r, "PLO");
        let (mut down, mut len, mut months) = (Duration::zero(), Duration::zero(), 0);
        let mut k = month(m);
        for _ in 0..12 {
            let (s, e) = k.bounds(&cfg);
            if h.first.is_some_and(|f| e > f) {
                months += 1;
                down += downtime(&h, "PLO", (s, e), now, false).0;
                len += e - s;
            }
            k = k.prev();
        }
        assert_eq!(p.rolling_12m.months, months, "{m}");
        assert_eq!(p.rolling_12m.availability, percent(down, len), "{m}");
        assert!(
            down > Duration::hours(2),
            "{m}: the case must have downtime to compare"
        );
    }
}

#[test]
fn downtime_reads_as_hours_and_minutes() {
    use super::duration_text as d;
    assert_eq!(d(0.0), "0 min");
    assert_eq!(d(0.2), "under 1 min");
    assert_eq!(d(35.0), "35 min");
    assert_eq!(d(95.0), "1 t 35 min");
    assert_eq!(d(120.0), "2 t 0 min");
    assert_eq!(d(1440.0 + 61.0), "1 d 1 t 1 min");
}

/// Issue #26: a report never claims success without data. Before the first record: "ingen
/// data"; the month in progress: "foreløpig", an open incident "pågår"; a month that has
/// not begun: refused.
#[test]
fn reports_say_what_they_know() {
    let cfg = example_config();
    let h = one(
        "2026-12-02T10:00:00+01:00",
        inc("OPEN", &["PLO"], "2026-12-02T10:00:00+01:00", None),
    );
    let now = t("2026-12-04T18:55:00+01:00");
    let before = monthly_checked(&cfg, &h, month("2026-11"), now).unwrap();
    assert_eq!(before.state, ReportState::NoData);
    let page = html(&before, "Hemit HF", "x@y.example");
    assert!(
        page.contains("Ingen data") && !page.contains("Oppfylt"),
        "{page}"
    );
    assert!(!page.contains("100,000"), "no figure claimed without data");

    let current = monthly_checked(&cfg, &h, month("2026-12"), now).unwrap();
    assert_eq!(current.state, ReportState::Preliminary);
    let plo = service(&current, "PLO");
    assert!(plo.incidents[0].open);
    let page = html(&current, "Hemit HF", "x@y.example");
    assert!(page.contains("(foreløpig)") && page.contains("Foreløpig:"));
    assert!(
        page.contains("pågår")
            && !page.contains("04.12.2026 kl.&nbsp;18:55</td><td data-label=\"Nedetid\"")
    );

    assert_eq!(
        monthly_checked(&cfg, &h, month("2027-01"), now),
        Err(FutureMonth(month("2027-01")))
    );
    let done = monthly_checked(&cfg, &h, month("2026-12"), t("2027-01-02T08:00:00+01:00"));
    assert_eq!(done.unwrap().state, ReportState::Final);
}
