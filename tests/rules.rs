//! The rules stated as plain assertions on simulated output (independent of the golden files).

use serde_json::Value;
use std::path::Path;

fn run(name: &str) -> Vec<Value> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(name);
    meldingsvakt::sim::run(&p)
        .unwrap_or_else(|e| panic!("{e}"))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn find<'a>(v: &'a [Value], action: &str, message: &str) -> Vec<&'a Value> {
    v.iter()
        .filter(|a| a["action"] == action && a["message"] == message)
        .collect()
}

#[test]
fn friday_1430_inquiry_goes_monday_0930_with_copies() {
    let v = run("friday-kvittering.toml");
    let f = find(&v, "email", "followup");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["at"], "2026-11-23T09:30:00+01:00");
    assert_eq!(f[0]["org"], "malvik");
    assert_eq!(
        f[0]["to"],
        serde_json::json!(["meldingsansvarlig@malvik.kommune.example"])
    );
    assert_eq!(
        f[0]["cc"],
        serde_json::json!([
            "ekomp-trondelag@ks.example",
            "meldingsansvarlig@st-olavs.hf.example"
        ])
    );
    assert_eq!(f[0]["subject"], "Manglende kvittering");
    let e = find(&v, "email", "escalation");
    assert_eq!(e[0]["at"], "2026-11-24T15:00:00+01:00");
    assert_eq!(
        e[0]["to"],
        serde_json::json!(["ekomp-trondelag@ks.example"])
    );
    assert_eq!(
        find(&v, "silence", "create")[0]["at"],
        "2026-11-24T15:00:00+01:00"
    );
}

#[test]
fn two_hour_threshold_is_exceed_not_reach() {
    let short = run("heal-1h59.toml");
    assert!(
        short.iter().all(|a| a["action"] != "email"),
        "no e-mail under 2 hours"
    );
    let long = run("heal-2h01.toml");
    assert_eq!(
        find(&long, "email", "unplanned")[0]["at"],
        "2026-11-17T10:00:00+01:00"
    );
    assert_eq!(
        find(&long, "email", "resolved")[0]["subject"],
        "Løst: Feil i meldingsutveksling"
    );
}

#[test]
fn statuspage_cadence_resets_on_manual_update() {
    let v = run("p1-cadence.toml");
    let times: Vec<&str> = v
        .iter()
        .filter(|a| a["action"] == "statuspage")
        .map(|a| a["at"].as_str().unwrap())
        .collect();
    assert_eq!(
        times,
        [
            "2026-11-16T09:00:00+01:00",
            "2026-11-16T09:30:00+01:00",
            "2026-11-16T09:40:00+01:00",
            "2026-11-16T10:10:00+01:00",
            "2026-11-16T10:40:00+01:00",
            "2026-11-16T10:55:00+01:00"
        ]
    );
}

#[test]
fn holidays_and_dst_move_deadlines_correctly() {
    assert_eq!(
        find(&run("easter-kvittering.toml"), "email", "followup")[0]["at"],
        "2027-03-30T09:00:00+02:00"
    );
    assert!(
        find(&run("easter-kvittering.toml"), "email", "escalation").is_empty(),
        "reply came in time"
    );
    assert_eq!(
        find(&run("christmas-kvittering.toml"), "email", "followup")[0]["at"],
        "2026-12-28T09:30:00+01:00"
    );
    let d = run("dst-deadline.toml");
    assert_eq!(
        find(&d, "email", "followup")[0]["at"],
        "2026-10-26T09:00:00+01:00"
    );
    assert_eq!(
        find(&d, "email", "escalation")[0]["at"],
        "2026-10-27T15:00:00+01:00"
    );
}

#[test]
fn planned_rules() {
    let v = run("planned-4h-reminder.toml");
    assert_eq!(find(&v, "statuspage", "maintenance.create").len(), 1);
    assert_eq!(
        find(&v, "email", "planned").len(),
        3,
        "two municipalities and the region"
    );
    let r = find(&v, "email", "planned.reminder");
    assert!(r.iter().all(|a| a["at"] == "2026-11-20T08:00:00+01:00"));
    assert!(
        v.iter().all(|a| a["action"] != "ops"),
        "in window, in time: no warning"
    );
    let short = run("planned-1h.toml");
    // The scenario runs into 1 December: November's availability report is its only other
    // action (SPEC §4.13), and the maintenance itself sends no e-mail.
    let (report, rest): (Vec<_>, Vec<_>) = short.iter().partition(|a| a["action"] == "report");
    assert!(rest.iter().all(|a| a["action"] == "statuspage"));
    assert_eq!(report.len(), 1);
    assert_eq!(report[0]["month"], "2026-11");
    let late = run("planned-late.toml");
    let reasons: Vec<&str> = late
        .iter()
        .filter(|a| a["action"] == "ops")
        .map(|a| a["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["late_notice", "outside_window"]);
    let cc = run("planned-change-cancel.toml");
    assert!(find(&cc, "email", "planned.change")[0]["subject"]
        .as_str()
        .unwrap()
        .starts_with("Endret: Planlagt stopp"));
    assert!(find(&cc, "email", "planned.cancel")[0]["subject"]
        .as_str()
        .unwrap()
        .starts_with("Avlyst: Planlagt stopp"));
    assert!(find(&cc, "email", "planned.reminder").is_empty());
}

#[test]
fn maintenance_suppresses_then_overrun_opens_incident() {
    let s = run("maintenance-suppress.toml");
    // 2 h (no e-mail notice) registered 2 h ahead, inside the Sunday window: no ops warning,
    // since the late-notice warning goes with the notice (SPEC §4.5).
    assert!(s.iter().all(|a| a["action"] != "ops"), "{s:?}");
    assert!(
        s.iter().all(|a| a["incident"].is_null()),
        "suppressed alert opened an incident: {s:?}"
    );
    let o = run("maintenance-overrun.toml");
    let w = o
        .iter()
        .find(|a| a["reason"] == "overrun")
        .expect("overrun warning");
    assert_eq!(w["at"], "2026-11-23T01:15:00+01:00");
}

#[test]
fn escalated_incident_waits_for_operator() {
    let v = run("escalated-alert.toml");
    let resolved = find(&v, "email", "resolved");
    assert_eq!(
        resolved[0]["at"], "2026-11-18T10:00:00+01:00",
        "not at the alert's resolution (09:00)"
    );
    assert_eq!(
        find(&v, "silence", "expire")[0]["at"],
        "2026-11-18T10:00:00+01:00"
    );
    let r = run("reply-in-time.toml");
    assert!(
        find(&r, "email", "escalation").is_empty() && r.iter().all(|a| a["action"] != "silence")
    );
}

#[test]
fn inbound_inquiries() {
    let v = run("inquiry-late.toml");
    assert_eq!(v.len(), 2);
    assert_eq!(v[0]["at"], "2026-11-23T08:00:00+01:00");
    assert_eq!(v[1]["message"], "overdue");
    assert_eq!(v[1]["at"], "2026-11-23T15:00:00+01:00");
    let w = run("inquiry-in-time.toml");
    assert_eq!(w.len(), 1);
    assert_eq!(w[0]["inquiry"], "INQ-B");
}

/// SPEC §5.2: `maintenance.change` and `maintenance.cancel` take the whole record, as a
/// scheduler re-sends it; only what differs counts.
#[test]
fn a_resent_full_record_changes_nothing_and_a_full_cancel_cancels() {
    let v = run("maintenance-full-record.toml");
    assert!(
        !v.iter().any(|a| a["at"] == "2026-11-16T11:00:00+01:00"),
        "the unchanged re-send decided something: {v:?}"
    );
    let change = find(&v, "email", "planned.change");
    assert_eq!(change.len(), 2, "malvik and the region hear of the move");
    assert!(change.iter().all(|a| a["at"] == "2026-11-16T12:00:00+01:00"
        && a["subject"].as_str().unwrap().contains("kl. 19:00–23:00")));
    let cancel = find(&v, "email", "planned.cancel");
    assert_eq!(cancel.len(), 2);
    assert_eq!(find(&v, "statuspage", "maintenance.cancel").len(), 1);
}

/// SPEC §4.15: a reply before the inquiry is due stops the inquiry and the escalation, and
/// no `Løst:` follows (nobody got a mail about the case).
#[test]
fn a_reply_before_the_followup_stops_it() {
    let v = run("reply-before-followup.toml");
    for (action, message) in [
        ("email", "followup"),
        ("email", "escalation"),
        ("email", "resolved"),
        ("silence", "create"),
    ] {
        assert!(
            find(&v, action, message).is_empty(),
            "{action} {message}: {v:?}"
        );
    }
    // The same case without the reply sends the inquiry (the scenario is not vacuous).
    let without = run("friday-kvittering.toml");
    assert_eq!(find(&without, "email", "followup").len(), 1);
}

/// SPEC §4.15: the status-page status is the operator's choice; measures do not change it.
#[test]
fn the_operator_chooses_the_public_status() {
    let v = run("status-choice.toml");
    let statuses: Vec<(&str, &str)> = v
        .iter()
        .filter(|a| a["action"] == "statuspage")
        .map(|a| (a["at"].as_str().unwrap(), a["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("2026-11-16T09:00:00+01:00", "investigating"),
            ("2026-11-16T09:20:00+01:00", "investigating"),
            ("2026-11-16T09:30:00+01:00", "identified"),
            ("2026-11-16T09:45:00+01:00", "identified"),
            ("2026-11-16T10:15:00+01:00", "identified"),
            ("2026-11-16T10:20:00+01:00", "monitoring"),
            ("2026-11-16T10:50:00+01:00", "resolved"),
        ]
    );
}

/// SPEC §4.18: on-call is paged by SMS for a new priority-1 incident and for the
/// unacknowledged reminder; texts fit one SMS and end with the console link; nobody else
/// gets SMS, and without `self.oncall` nobody is paged at all.
#[test]
fn oncall_is_paged_by_sms_within_one_text() {
    let v = run("oncall-sms.toml");
    let new = find(&v, "sms", "new");
    let at: Vec<_> = new.iter().map(|a| (&a["incident"], &a["at"])).collect();
    assert_eq!(
        at,
        [
            (&"INC-P1".into(), &"2026-11-17T03:12:00+01:00".into()),
            (&"INC-P2".into(), &"2026-11-17T11:00:00+01:00".into()),
            (&"INC-T".into(), &"2026-11-17T12:30:00+01:00".into()),
        ],
        "P1 at once; the P2 when it is raised to 1; the test environment too"
    );
    let reminder = find(&v, "sms", "reminder");
    assert_eq!(reminder.len(), 1, "only the incident nobody acknowledged");
    assert_eq!(reminder[0]["at"], "2026-11-17T03:42:00+01:00");
    assert!(new[2]["text"]
        .as_str()
        .unwrap()
        .starts_with("TEST P1 INC-T:"));
    for a in v.iter().filter(|a| a["action"] == "sms") {
        let text = a["text"].as_str().unwrap();
        assert!(meldingsvakt::engine::page::length(text) <= 160, "{text}");
        let id = a["incident"].as_str().unwrap();
        assert!(text.ends_with(&format!("/ops/incidents/{id}")), "{text}");
        assert_eq!(
            a["to"],
            serde_json::json!(["+4791234567", "+4798765432"]),
            "only the on-call numbers, normalized"
        );
    }
    // The same P1 incident without on-call numbers pages nobody.
    let plain = run("p1-cadence.toml");
    assert!(plain.iter().all(|a| a["action"] != "sms"));
}

/// SPEC §4.16 over a year of quarterly rounds (`directory-year.toml`).
#[test]
fn directory_rounds_go_at_working_day_starts_spread_and_chased_on_time() {
    use chrono::{Datelike, NaiveDate};
    let v = run("directory-year.toml");
    let closed = [
        "2026-12-25",
        "2027-01-01",
        "2027-03-25",
        "2027-03-26",
        "2027-03-29",
        "2027-05-06",
        "2027-05-17",
    ];
    let dir: Vec<&Value> = v
        .iter()
        .filter(|a| a["message"].as_str().unwrap().starts_with("directory."))
        .filter(|a| a["message"] != "directory.verify" && a["message"] != "directory.change")
        .collect();
    assert!(
        dir.len() > 300,
        "four rounds for 68 organizations: {}",
        dir.len()
    );
    for a in &dir {
        let at = a["at"].as_str().unwrap();
        assert_eq!(
            &at[11..19],
            "08:00:00",
            "not at the start of business hours: {a}"
        );
        let day = NaiveDate::parse_from_str(&at[..10], "%Y-%m-%d").unwrap();
        assert!(
            day.weekday().num_days_from_monday() < 5,
            "on a weekend: {a}"
        );
        assert!(!closed.contains(&&at[..10]), "on a holiday: {a}");
    }
    // The first round: every organization once, over 10 working days, at most 7 a day.
    let first: Vec<&&Value> = dir
        .iter()
        .filter(|a| {
            a["message"] == "directory.confirm" && a["key"].as_str().unwrap().ends_with("/1")
        })
        .collect();
    assert_eq!(first.len(), 68);
    let mut per_day = std::collections::BTreeMap::new();
    for a in &first {
        *per_day
            .entry(a["at"].as_str().unwrap()[..10].to_string())
            .or_insert(0) += 1;
    }
    assert_eq!(per_day.len(), 10, "{per_day:?}");
    assert!(per_day.values().all(|&n| n <= 7), "{per_day:?}");
    assert!(!per_day.contains_key("2026-12-25") && !per_day.contains_key("2027-01-01"));
    let of = |org: &str, message: &str| -> Vec<String> {
        v.iter()
            .filter(|a| a["org"] == org && a["message"] == message)
            .map(|a| a["at"].as_str().unwrap()[..10].to_string())
            .collect()
    };
    // frosta never answers: a reminder after 10 working days and ops after 20, each round;
    // Easter's three closed days are skipped in the counts of the March round.
    assert_eq!(
        of("frosta", "directory.confirm"),
        ["2026-12-24", "2027-03-24", "2027-06-24"]
    );
    assert_eq!(
        of("frosta", "directory.reminder"),
        ["2027-01-11", "2027-04-12", "2027-07-08"]
    );
    assert_eq!(
        of("frosta", "directory.unconfirmed"),
        ["2027-01-25", "2027-04-26", "2027-07-22"]
    );
    // malvik answers every round that morning: never chased.
    assert_eq!(
        of("malvik", "directory.confirm"),
        ["2026-12-22", "2027-03-23", "2027-06-24"]
    );
    assert!(of("malvik", "directory.reminder").is_empty());
    assert!(of("malvik", "directory.unconfirmed").is_empty());
    // levanger's new address gets its own link, and is used only once it confirms (a week on);
    // the case opened before the change keeps the old address.
    let to = |id: &str, message: &str| -> Value {
        v.iter()
            .find(|a| a["incident"] == id && a["message"] == message)
            .map(|a| a["to"].clone())
            .unwrap()
    };
    assert_eq!(of("levanger", "directory.verify"), ["2026-12-28"]);
    assert_eq!(of("levanger", "directory.change"), ["2027-01-04"]);
    let old = serde_json::json!(["meldingsansvarlig@levanger.kommune.example"]);
    let new = serde_json::json!(["postmottak@levanger.kommune.example"]);
    assert_eq!(to("INC-A", "unplanned"), old);
    assert_eq!(
        to("INC-A", "resolved"),
        old,
        "the case keeps the contacts it was sent with"
    );
    assert_eq!(to("INC-B", "unplanned"), new);
    let later: Vec<&Value> = v
        .iter()
        .filter(|a| a["org"] == "levanger" && a["message"] == "directory.confirm")
        .skip(1)
        .collect();
    assert!(later.iter().all(|a| a["to"] == new), "{later:?}");
}
