//! The directory's rules on the engine itself: answers, proposals, bounces, refusals, and a
//! snapshot that keeps it all.

use crate::engine::directory::Contacts;
use crate::engine::model::*;
use crate::engine::Engine;
use std::sync::Arc;

fn t(s: &str) -> Time {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().into()
}

/// The example configuration, seeded on Monday 7 December 2026 at 08:00.
fn engine() -> Engine {
    let mut e = Engine::new(Arc::new(crate::testutil::example_config()));
    e.seed_directory(t("2026-12-07T08:00:00+01:00")).unwrap();
    e
}

fn ev(ty: &str, v: serde_json::Value) -> Event {
    Event::from_parts(ty, &v).unwrap()
}

fn drain(e: &mut Engine, until: &str) -> Vec<Action> {
    e.advance_to(t(until));
    std::iter::from_fn(|| e.poll_action()).collect()
}

fn addresses(e: &Engine, org: &str) -> Vec<String> {
    e.config().org_addresses(org).to_vec()
}

#[test]
fn seeding_mails_nobody_and_starts_no_report_history() {
    let mut e = engine();
    assert_eq!(
        e.directory().len(),
        crate::testutil::example_config().orgs.len()
    );
    assert!(e.history().first.is_none(), "the seeding is not a case");
    assert!(drain(&mut e, "2027-05-01T00:00:00+02:00").is_empty());
    // Nothing new to read: the configuration has not changed.
    assert!(e.config_reading().is_none());
}

#[test]
fn a_new_phone_counts_at_once_a_new_address_only_once_it_confirms_itself() {
    let mut e = engine();
    let at = t("2026-12-08T10:00:00+01:00");
    e.handle(
        at,
        ev(
            "directory.propose",
            serde_json::json!({"org": "malvik", "phone": "+47 72 00 00 00",
                "meldingsansvarlig": "postmottak@malvik.kommune.example"}),
        ),
    )
    .unwrap();
    assert_eq!(
        e.config().org("malvik").unwrap().phone.as_deref(),
        Some("+47 72 00 00 00")
    );
    assert_eq!(
        addresses(&e, "malvik"),
        ["meldingsansvarlig@malvik.kommune.example"]
    );
    let out = drain(&mut e, "2026-12-08T10:00:01+01:00");
    let kinds: Vec<&str> = out.iter().map(|a| a.body.message()).collect();
    assert_eq!(kinds, ["directory.change", "directory.verify"], "{out:#?}");
    assert_eq!(
        out[1].body.recipients(),
        ["postmottak@malvik.kommune.example"]
    );
    // A replayed verification of another proposal changes nothing.
    let wrong = ev(
        "directory.verify",
        serde_json::json!({"org": "malvik", "proposal": 2}),
    );
    assert!(e.handle(t("2026-12-09T10:00:00+01:00"), wrong).is_err());
    e.handle(
        t("2026-12-09T10:00:00+01:00"),
        ev(
            "directory.verify",
            serde_json::json!({"org": "malvik", "proposal": 1}),
        ),
    )
    .unwrap();
    assert_eq!(
        addresses(&e, "malvik"),
        ["postmottak@malvik.kommune.example"]
    );
    // Each event's changes, for its audit entry.
    let changes = e.take_directory_news().changed;
    assert_eq!(changes.len(), 1);
    assert_eq!(
        changes[0].1.meldingsansvarlig,
        "meldingsansvarlig@malvik.kommune.example"
    );
    assert_eq!(
        changes[0].2.meldingsansvarlig,
        "postmottak@malvik.kommune.example"
    );
    let again = ev(
        "directory.verify",
        serde_json::json!({"org": "malvik", "proposal": 1}),
    );
    assert!(e.handle(t("2026-12-09T11:00:00+01:00"), again).is_err());
    assert!(e.take_directory_news().changed.is_empty());
}

#[test]
fn a_proposal_lapses_with_its_link() {
    let mut e = engine();
    e.handle(
        t("2026-12-08T10:00:00+01:00"),
        ev(
            "directory.propose",
            serde_json::json!({"org": "malvik", "meldingsansvarlig": "ny@malvik.kommune.example"}),
        ),
    )
    .unwrap();
    drain(&mut e, "2027-01-08T00:00:00+01:00");
    assert!(e.directory()["malvik"].pending.is_none());
    let late = ev("directory.verify", serde_json::json!({"org": "malvik"}));
    assert!(e.handle(t("2027-01-08T10:00:00+01:00"), late).is_err());
    assert_eq!(
        addresses(&e, "malvik"),
        ["meldingsansvarlig@malvik.kommune.example"]
    );
}

#[test]
fn the_door_refuses_what_is_not_an_address_a_phone_or_a_service() {
    let mut e = engine();
    let at = t("2026-12-08T10:00:00+01:00");
    for v in [
        serde_json::json!({"org": "malvik", "meldingsansvarlig": "ikke en adresse"}),
        serde_json::json!({"org": "malvik", "phone": "ring meg"}),
        serde_json::json!({"org": "malvik", "services": ["nope"]}),
        serde_json::json!({"org": "nowhere", "phone": "+47 72 00 00 00"}),
        serde_json::json!({"org": "malvik", "round": 1}),
    ] {
        assert!(
            e.handle(at, ev("directory.propose", v.clone())).is_err(),
            "{v}"
        );
    }
    assert_eq!(
        e.directory()["malvik"].held,
        Contacts::of(e.config().org("malvik").unwrap())
    );
    assert!(drain(&mut e, "2026-12-08T10:00:01+01:00").is_empty());
    // The event API's door refuses the directory's events outright.
    let api = crate::engine::events::Input::parse(
        "directory.set",
        &serde_json::json!({"org": "malvik", "who": "x", "contacts": {"meldingsansvarlig": "a@b.example"}}),
    );
    assert!(api.is_err());
}

#[test]
fn a_bounce_asks_the_other_addresses_and_tells_ops_once() {
    let mut e = engine();
    let mut c = e.directory()["malvik"].held.clone();
    c.extra = vec!["postmottak@malvik.kommune.example".into()];
    e.handle(
        t("2026-12-08T09:00:00+01:00"),
        ev(
            "directory.set",
            serde_json::json!({"org": "malvik", "who": "Kari", "contacts": c}),
        ),
    )
    .unwrap();
    drain(&mut e, "2026-12-08T09:00:01+01:00");
    e.handle(
        t("2026-12-08T10:00:00+01:00"),
        ev(
            "directory.bounce",
            serde_json::json!({"org": "malvik", "address": "MELDINGSANSVARLIG@malvik.kommune.example"}),
        ),
    )
    .unwrap();
    let out = drain(&mut e, "2026-12-08T10:00:01+01:00");
    let got: Vec<(&str, Vec<String>)> = out
        .iter()
        .map(|a| (a.body.message(), a.body.recipients()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "directory.bounce",
                vec!["driftssenter@hemit.example".to_string()]
            ),
            (
                "directory.confirm",
                vec!["postmottak@malvik.kommune.example".to_string()]
            ),
        ]
    );
    // A bounce of an address it no longer has is history: nothing.
    e.handle(
        t("2026-12-08T11:00:00+01:00"),
        ev(
            "directory.bounce",
            serde_json::json!({"org": "malvik", "address": "old@malvik.kommune.example"}),
        ),
    )
    .unwrap();
    assert!(drain(&mut e, "2026-12-08T11:00:01+01:00").is_empty());
}

#[test]
fn a_round_answered_once_refuses_its_link_again_and_a_snapshot_keeps_the_directory() {
    let mut e = engine();
    // The first round of malvik falls in June 2027 (6 months, spread over 10 days).
    let out = drain(&mut e, "2027-06-30T00:00:00+02:00");
    let ask = out
        .iter()
        .find(|a| a.body.message() == "directory.confirm" && a.key.contains("/malvik/"))
        .expect("malvik asked");
    let local = ask.at.with_timezone(&chrono_tz::Europe::Oslo);
    assert_eq!(local.format("%H:%M").to_string(), "08:00");
    let s = e.snapshot();
    let mut r = Engine::restore(Arc::new(crate::testutil::example_config()), s);
    for x in [&mut e, &mut r] {
        let c = ev(
            "directory.confirm",
            serde_json::json!({"org": "malvik", "round": 1}),
        );
        x.handle(t("2027-06-30T09:00:00+02:00"), c).unwrap();
        let again = ev(
            "directory.confirm",
            serde_json::json!({"org": "malvik", "round": 1}),
        );
        assert!(x.handle(t("2027-06-30T09:05:00+02:00"), again).is_err());
    }
    let a: Vec<String> = drain(&mut e, "2028-06-30T00:00:00+02:00")
        .into_iter()
        .map(|a| a.key)
        .collect();
    let b: Vec<String> = drain(&mut r, "2028-06-30T00:00:00+02:00")
        .into_iter()
        .map(|a| a.key)
        .collect();
    assert_eq!(a, b, "the restored engine decides the same");
    assert!(a.iter().any(|k| k == "directory/malvik/confirm/2"));
    assert!(
        !a.iter().any(|k| k == "directory/malvik/reminder/1"),
        "answered rounds are not chased"
    );
}

#[test]
fn a_configured_change_can_be_undone_by_an_admin() {
    let mut e = engine();
    let mut c = e.directory()["malvik"].held.clone();
    c.meldingsansvarlig = "post@malvik.kommune.example".into();
    e.handle(
        t("2026-12-08T09:00:00+01:00"),
        ev(
            "directory.config",
            serde_json::json!({"orgs": [{"org": "malvik", "contacts": c}]}),
        ),
    )
    .unwrap();
    drain(&mut e, "2026-12-08T09:00:01+01:00");
    let d = &e.directory()["malvik"];
    let n = d.recent.last().expect("the change noted").n;
    let back = crate::console::directory::undo(d, n).expect("undoable");
    assert_eq!(
        back.meldingsansvarlig,
        "meldingsansvarlig@malvik.kommune.example"
    );
}

#[test]
fn an_organization_no_longer_configured_is_asked_nothing_more() {
    let mut e = engine();
    let mut cfg = crate::testutil::example_config();
    for o in cfg.orgs.iter_mut().filter(|o| o.id == "malvik") {
        o.retired_at = Some(t("2026-12-08T00:00:00+01:00"));
    }
    e.reconfigure(Arc::new(cfg));
    let out = drain(&mut e, "2027-12-31T00:00:00+01:00");
    assert!(out
        .iter()
        .any(|a| a.key.starts_with("directory/trondheim/confirm/")));
    assert!(
        !out.iter().any(|a| a.key.starts_with("directory/malvik/")),
        "a removed organization got a request"
    );
}
