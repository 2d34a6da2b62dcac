//! Properties of the engine over random event streams on the example configuration.

use chrono::{DateTime, Duration, Utc};
use meldingsvakt::config::Config;
use meldingsvakt::engine::model::*;
use meldingsvakt::engine::Engine;
use proptest::prelude::*;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::{Arc, OnceLock};

fn cfg() -> Arc<Config> {
    static C: OnceLock<Arc<Config>> = OnceLock::new();
    C.get_or_init(|| {
        Arc::new(
            Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/meldingsvakt.toml"))
                .unwrap(),
        )
    })
    .clone()
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-20T06:00:00+01:00")
        .unwrap()
        .with_timezone(&Utc)
}

#[derive(Debug, Clone)]
enum Op {
    Open {
        n: u8,
        org: Option<u8>,
        kind: u8,
        cat: u8,
        started_back: u16,
        exp: Option<u16>,
    },
    Update {
        n: u8,
        exp: Option<u16>,
        cat: Option<u8>,
    },
    Resolve(u8),
    Ack(u8),
    Reply(u8),
    Alert {
        org: Option<u8>,
        svc: u8,
        firing: bool,
    },
    MAdd {
        n: u8,
        from_h: u16,
        len_m: u16,
    },
    MChange {
        n: u8,
        from_h: u16,
        len_m: u16,
    },
    MCancel(u8),
    Inq(u8),
    InqAns(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (
            0u8..6,
            proptest::option::of(0u8..8),
            0u8..3,
            0u8..4,
            0u16..300,
            proptest::option::of(0u16..600)
        )
            .prop_map(|(n, org, kind, cat, started_back, exp)| Op::Open {
                n,
                org,
                kind,
                cat,
                started_back,
                exp
            }),
        (
            0u8..6,
            proptest::option::of(0u16..600),
            proptest::option::of(0u8..4)
        )
            .prop_map(|(n, exp, cat)| Op::Update { n, exp, cat }),
        (0u8..6).prop_map(Op::Resolve),
        (0u8..6).prop_map(Op::Ack),
        (0u8..6).prop_map(Op::Reply),
        (proptest::option::of(0u8..8), 0u8..3, any::<bool>())
            .prop_map(|(org, svc, firing)| Op::Alert { org, svc, firing }),
        (0u8..3, 0u16..400, 10u16..600).prop_map(|(n, from_h, len_m)| Op::MAdd {
            n,
            from_h,
            len_m
        }),
        (0u8..3, 0u16..400, 10u16..600).prop_map(|(n, from_h, len_m)| Op::MChange {
            n,
            from_h,
            len_m
        }),
        (0u8..3).prop_map(Op::MCancel),
        (0u8..4).prop_map(Op::Inq),
        (0u8..4).prop_map(Op::InqAns),
    ]
}

const ORGS: [&str; 8] = [
    "malvik",
    "trondheim",
    "roros",
    "levanger",
    "alesund",
    "molde",
    "frosta",
    "st-olavs",
];
const SVCS: [&str; 3] = ["PLO", "lab", "epikrise"];

fn ts(t: DateTime<Utc>) -> Ts {
    Ts(t)
}

fn event(o: &Op, now: DateTime<Utc>) -> Event {
    let cat = |c: u8| [Category::A, Category::B, Category::C, Category::D][c as usize % 4];
    match o.clone() {
        Op::Open {
            n,
            org,
            kind,
            cat: c,
            started_back,
            exp,
        } => Event::IncidentOpen(IncidentOpen {
            id: format!("I{n}"),
            kind: [Kind::Feil, Kind::Kvittering, Kind::Info][kind as usize % 3],
            at_org: org
                .map(|o| ORGS[o as usize].to_string())
                .unwrap_or_else(|| "self".into()),
            orgs: vec![],
            services: vec!["PLO".into()],
            category: cat(c),
            impact: None,
            started_at: Some(ts(now - Duration::minutes(started_back as i64))),
            detected_at: None,
            expected_end: exp.map(|m| ts(now + Duration::minutes(m as i64))),
            measures: Some("Kontaktet leverandør".into()),
            text: None,
            environment: Environment::Produksjon,
        }),
        Op::Update { n, exp, cat: c } => Event::IncidentUpdate(IncidentUpdate {
            id: format!("I{n}"),
            measures: None,
            expected_end: exp.map(|m| ts(now + Duration::minutes(m as i64))),
            text: Some("Status".into()),
            category: c.map(cat),
            impact: None,
            status: c.map(|_| PublicStatus::Identified),
        }),
        Op::Resolve(n) => Event::IncidentResolve(Resolve {
            id: format!("I{n}"),
            resolved_at: None,
        }),
        Op::Ack(n) => Event::IncidentAck(IdOnly {
            id: format!("I{n}"),
        }),
        Op::Reply(n) => Event::Reply(Reply {
            id: format!("I{n}"),
            org: None,
        }),
        Op::Alert { org, svc, firing } => {
            let mut labels = BTreeMap::new();
            if let Some(o) = org {
                labels.insert("org".to_string(), ORGS[o as usize].to_string());
            }
            labels.insert("service".into(), SVCS[svc as usize].into());
            labels.insert("kind".into(), "kvittering".into());
            Event::Alert(Alert {
                status: if firing {
                    AlertStatus::Firing
                } else {
                    AlertStatus::Resolved
                },
                labels,
                annotations: BTreeMap::new(),
                started_at: None,
                ended_at: None,
                fingerprint: None,
                source_link: None,
            })
        }
        Op::MAdd { n, from_h, len_m } => Event::MaintenanceAdd(MaintenanceAdd {
            id: format!("M{n}"),
            source: "self".into(),
            orgs: vec!["malvik".into(), "roros".into()],
            services: vec!["PLO".into()],
            from: ts(now + Duration::hours(from_h as i64)),
            to: ts(now + Duration::hours(from_h as i64) + Duration::minutes(len_m as i64)),
            measures: None,
            phone: None,
        }),
        Op::MChange { n, from_h, len_m } => Event::MaintenanceChange(MaintenanceChange {
            id: format!("M{n}"),
            orgs: None,
            services: None,
            from: Some(ts(now + Duration::hours(from_h as i64))),
            to: Some(ts(now
                + Duration::hours(from_h as i64)
                + Duration::minutes(len_m as i64))),
            measures: None,
            phone: None,
            ..Default::default()
        }),
        Op::MCancel(n) => Event::MaintenanceCancel(MaintenanceChange {
            id: format!("M{n}"),
            ..Default::default()
        }),
        Op::Inq(n) => Event::InquiryReceived(InquiryReceived {
            id: format!("Q{n}"),
            org: "melhus".into(),
            subject: Some("Feil?".into()),
        }),
        Op::InqAns(n) => Event::InquiryAnswered(IdOnly {
            id: format!("Q{n}"),
        }),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// A snapshot taken at any point, written out as JSON and restored (what a restart after
    /// compaction does), decides from then on exactly what the engine that took it decides:
    /// the same actions with the same keys, the same next wake-up, the same report history.
    #[test]
    fn a_restored_snapshot_decides_what_the_original_would(
        ops in proptest::collection::vec((0u32..6 * 60, op()), 1..40),
        split in any::<proptest::sample::Index>(),
    ) {
        let mut ops = ops;
        ops.sort_by_key(|(m, _)| *m);
        let k = split.index(ops.len() + 1);
        let at = |m: u32| t0() + Duration::minutes(m as i64 * 40);
        let mut a = Engine::new(cfg());
        for (m, o) in &ops[..k] {
            let _ = a.handle(at(*m), event(o, at(*m)));
        }
        while a.poll_action().is_some() {}
        let json = serde_json::to_string(&a.snapshot()).unwrap();
        let mut b = Engine::restore(cfg(), serde_json::from_str(&json).unwrap());
        prop_assert_eq!(a.poll_timeout(), b.poll_timeout());
        let (mut got_a, mut got_b) = (Vec::new(), Vec::new());
        for (m, o) in &ops[k..] {
            let ra = a.handle(at(*m), event(o, at(*m)));
            let rb = b.handle(at(*m), event(o, at(*m)));
            prop_assert_eq!(ra, rb);
            got_a.extend(std::iter::from_fn(|| a.poll_action()));
            got_b.extend(std::iter::from_fn(|| b.poll_action()));
        }
        let end = t0() + Duration::days(45);
        a.advance_to(end);
        b.advance_to(end);
        got_a.extend(std::iter::from_fn(|| a.poll_action()));
        got_b.extend(std::iter::from_fn(|| b.poll_action()));
        prop_assert_eq!(&got_a, &got_b);
        prop_assert_eq!(a.history(), b.history());
        prop_assert_eq!(a.poll_timeout(), b.poll_timeout());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn engine_invariants(ops in proptest::collection::vec((0u32..6 * 60, op()), 1..40)) {
        let mut e = Engine::new(cfg());
        let mut ops = ops;
        ops.sort_by_key(|(m, _)| *m);
        let mut actions: Vec<Action> = Vec::new();
        for (minute, o) in &ops {
            // Spread events over ~10 days, so weekends, business hours and Easter 2026 show up.
            let at = t0() + Duration::minutes(*minute as i64 * 40);
            let _ = e.handle(at, event(o, at)); // refusals are fine; panics are not
            actions.extend(std::iter::from_fn(|| e.poll_action()));
        }
        let end = t0() + Duration::days(15);
        let mut steps = 0;
        while let Some(t) = e.poll_timeout().filter(|t| *t <= end) {
            e.advance_to(t + meldingsvakt::sim::NEXT_INSTANT);
            actions.extend(std::iter::from_fn(|| e.poll_action()));
            steps += 1;
            prop_assert!(steps < 100_000, "timer loop does not terminate");
        }
        // Time order.
        prop_assert!(actions.windows(2).all(|w| w[0].at <= w[1].at), "actions out of order");
        // Unique keys: the outbox key and Message-ID must never repeat.
        let mut keys = HashSet::new();
        for a in &actions {
            prop_assert!(keys.insert(a.key.clone()), "duplicate key {}", a.key);
        }
        // Follow-ups only after their original, to the same organization.
        let mut told: HashSet<(String, String)> = HashSet::new();
        let mut silenced: HashSet<String> = HashSet::new();
        for a in &actions {
            match &a.body {
                ActionBody::Email(m) => {
                    prop_assert!(!m.to.is_empty(), "e-mail without recipient: {}", a.key);
                    let id = a.about.id().to_string();
                    match m.message {
                        EmailKind::Unplanned | EmailKind::Followup | EmailKind::Planned => { told.insert((id, m.org.clone())); }
                        EmailKind::Update | EmailKind::Resolved | EmailKind::Escalation | EmailKind::PlannedChange | EmailKind::PlannedCancel | EmailKind::PlannedReminder => {
                            prop_assert!(told.contains(&(id.clone(), m.org.clone())), "{} before any notice to {}", a.key, m.org);
                        }
                        // The directory's own requests are about no case.
                        EmailKind::DirectoryConfirm | EmailKind::DirectoryReminder | EmailKind::DirectoryVerify => {}
                    }
                }
                ActionBody::Silence(s) => {
                    if s.message == "create" { silenced.insert(a.key.split('/').next().unwrap().to_string()); }
                    else { prop_assert!(silenced.contains(a.key.split('/').next().unwrap()), "expire without create"); }
                }
                _ => {}
            }
        }
    }
}

#[test]
fn refused_event_changes_nothing() {
    let mut a = Engine::new(cfg());
    let mut b = Engine::new(cfg());
    let now = t0();
    let open = |id: &str| {
        Event::IncidentOpen(IncidentOpen {
            id: id.into(),
            kind: Kind::Kvittering,
            at_org: "malvik".into(),
            orgs: vec![],
            services: vec!["PLO".into()],
            category: Category::C,
            impact: None,
            started_at: None,
            detected_at: None,
            expected_end: None,
            measures: None,
            text: None,
            environment: Environment::Produksjon,
        })
    };
    a.handle(now, open("X")).unwrap();
    b.handle(now, open("X")).unwrap();
    // Refused: personal data in `text`, though `expected_end` in the same event is valid.
    let bad = Event::IncidentUpdate(IncidentUpdate {
        id: "X".into(),
        measures: None,
        expected_end: Some(Ts(now + Duration::hours(5))),
        text: Some("pasient 150765 00565".into()),
        category: Some(Category::A),
        impact: None,
        status: None,
    });
    let err = a.handle(now + Duration::minutes(1), bad).unwrap_err();
    assert_eq!(
        err,
        Refusal::PersonalData {
            field: "text".into()
        }
    );
    assert_eq!(a.poll_timeout(), b.poll_timeout());
    assert_eq!(a.incident("X").unwrap().category, Category::C);
    // Unknown ids and duplicates are refused with their names.
    assert!(matches!(
        a.handle(now, open("X")),
        Err(Refusal::Duplicate { .. })
    ));
    assert!(matches!(
        a.handle(
            now,
            Event::IncidentResolve(Resolve {
                id: "nope".into(),
                resolved_at: None
            })
        ),
        Err(Refusal::Unknown { .. })
    ));
    // A backdated resolution may not precede the start nor lie ahead; refused, it changes
    // nothing, and a valid one records the stop's real end.
    let resolve = |t: DateTime<Utc>| {
        Event::IncidentResolve(Resolve {
            id: "X".into(),
            resolved_at: Some(Ts(t)),
        })
    };
    let later = now + Duration::hours(2);
    for (t, why) in [
        (now - Duration::minutes(1), Why::BeforeStart),
        (later + Duration::minutes(1), Why::InFuture),
    ] {
        assert_eq!(
            a.handle(later, resolve(t)),
            Err(Refusal::invalid("resolved_at", why))
        );
        assert!(a.incident("X").unwrap().resolved_at.is_none());
    }
    a.handle(later, resolve(now + Duration::minutes(30)))
        .unwrap();
    assert_eq!(
        a.history().incidents["X"].resolved_at,
        Some(now + Duration::minutes(30))
    );
}

#[test]
fn next_wakeup_is_the_earliest_deadline_without_scanning() {
    // 2,000 open counterpart incidents: poll_timeout is the minimum of their deadlines. One a
    // minute from 06:00, the rest at 09:59 (before the first deadline, so none has fired).
    let mut e = Engine::new(cfg());
    let now = t0();
    for i in 0..2000 {
        let at = now + Duration::minutes(i.min(239));
        e.handle(
            at,
            Event::IncidentOpen(IncidentOpen {
                id: format!("N{i}"),
                kind: Kind::Kvittering,
                at_org: ORGS[(i % 7) as usize].into(),
                orgs: vec![],
                services: vec![],
                category: Category::D,
                impact: None,
                started_at: None,
                detected_at: None,
                expected_end: None,
                measures: None,
                text: None,
                environment: Environment::Produksjon,
            }),
        )
        .unwrap();
    }
    // First: N0 detected Friday 20.03.2026 06:00 → followup 10:00 the same day.
    let want = DateTime::parse_from_rfc3339("2026-03-20T10:00:00+01:00")
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(e.poll_timeout(), Some(want));
    e.advance_to(want + meldingsvakt::sim::NEXT_INSTANT);
    let first: Vec<Action> = std::iter::from_fn(|| e.poll_action()).collect();
    // Everything detected 06:00–08:00 counts its 2 business hours from 08:00: 121 inquiries
    // fall due together at 10:00, and nothing else.
    assert_eq!(first.len(), 121);
    assert_eq!(first[0].key, "N0/followup/malvik");
    assert!(first
        .iter()
        .all(|a| a.key.contains("/followup/") && a.at == want));
    let next = e.poll_timeout().unwrap();
    assert_eq!(
        next,
        want + Duration::minutes(1),
        "N121, detected 08:01, is due 10:01"
    );
}

/// An incident alerts opened leaves its alert group when it ends, found by the key it keeps;
/// one kept before it kept the key (a snapshot of an older version) leaves it too.
#[test]
fn an_ended_alert_incident_leaves_its_group_with_or_without_its_kept_key() {
    let alert = |firing| {
        event(
            &Op::Alert {
                org: Some(0),
                svc: 0,
                firing,
            },
            t0(),
        )
    };
    let groups = |e: &Engine| serde_json::to_value(e.snapshot()).unwrap()["groups"].clone();
    let mut e = Engine::new(cfg());
    e.handle(t0(), alert(true)).unwrap();
    assert_eq!(groups(&e).as_array().map(Vec::len), Some(1));
    let mut snap = serde_json::to_value(e.snapshot()).unwrap();
    assert!(snap["incidents"][0]["group"].is_array(), "{snap}");

    let t1 = t0() + Duration::minutes(5);
    e.handle(t1, alert(false)).unwrap();
    assert_eq!(groups(&e), serde_json::json!([]));

    // The same, restored from a snapshot without the key.
    snap["incidents"][0]
        .as_object_mut()
        .unwrap()
        .remove("group");
    let mut old = Engine::restore(cfg(), serde_json::from_value(snap).unwrap());
    assert_eq!(groups(&old).as_array().map(Vec::len), Some(1));
    old.handle(t1, alert(false)).unwrap();
    assert_eq!(groups(&old), serde_json::json!([]));
}
