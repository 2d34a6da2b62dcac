use super::*;
use chrono::TimeZone;

fn chain(n: i64) -> Vec<Entry> {
    let mut prev = GENESIS.to_string();
    (1..=n)
        .map(|seq| {
            let at = Utc
                .with_ymd_and_hms(2026, 12, 5, 3, 12, seq as u32)
                .unwrap();
            let e = NewEntry::new(
                at,
                "Kari Nordmann",
                Role::Operator,
                Origin::Console,
                "incident.update",
            )
            .on(format!("INC-{seq}"))
            .changed(
                Some(r#"{"expected_end":null}"#.into()),
                Some(r#"{"expected_end":"2026-12-05T05:00:00Z"}"#.into()),
            )
            .chain(seq, &prev);
            prev = e.hash.clone();
            e
        })
        .collect()
}

#[test]
fn an_untouched_chain_verifies_and_ends_at_its_last_digest() {
    let c = chain(5);
    let r = verify(None, &c);
    assert_eq!(r.problems, vec![]);
    assert_eq!(r.head, c[4].hash);
    assert_eq!(r.entries, 5);
    assert_eq!(c[0].prev, GENESIS);
    assert_eq!(c[0].hash.len(), 64);
}

#[test]
fn a_changed_value_is_named() {
    let mut c = chain(5);
    c[2].who = "Ola Nordmann".into();
    assert_eq!(verify(None, &c).problems, vec![Problem::Changed(3)]);
}

#[test]
fn a_change_with_its_digest_recomputed_is_named_by_the_next_link() {
    let mut c = chain(5);
    c[1].after = Some(r#"{"expected_end":"2026-12-05T09:00:00Z"}"#.into());
    c[1].hash = c[1].digest();
    assert_eq!(verify(None, &c).problems, vec![Problem::Changed(2)]);
}

#[test]
fn a_removed_entry_is_named_once() {
    let mut c = chain(6);
    c.remove(3);
    assert_eq!(
        verify(None, &c).problems,
        vec![Problem::Removed { from: 4, to: 4 }]
    );
    c.remove(1);
    c.remove(1);
    assert_eq!(
        verify(None, &c).problems,
        vec![Problem::Removed { from: 2, to: 4 }]
    );
}

#[test]
fn an_inserted_entry_is_named_whatever_number_it_takes() {
    let c = chain(5);
    let at = Utc.with_ymd_and_hms(2026, 12, 5, 3, 0, 0).unwrap();
    let forged = NewEntry::new(
        at,
        "Kari Nordmann",
        Role::Admin,
        Origin::Api,
        "incident.resolve",
    )
    .chain(3, &c[1].hash);
    // With the number of the entry it pretends to be, before or after it.
    for at in [2, 3] {
        let mut d = c.clone();
        d.insert(at, forged.clone());
        assert_eq!(
            verify(None, &d).problems,
            vec![Problem::Inserted(3)],
            "at {at}"
        );
    }
}

#[test]
fn three_breaks_are_all_named_in_order() {
    let mut c = chain(10);
    c[1].what = "incident.ack".into();
    c.remove(5);
    let at = Utc.with_ymd_and_hms(2026, 12, 5, 4, 0, 0).unwrap();
    let forged = NewEntry::new(at, "x", Role::Admin, Origin::Api, "token.create").chain(8, "feil");
    c.insert(7, forged);
    assert_eq!(
        verify(None, &c).problems,
        vec![
            Problem::Changed(2),
            Problem::Removed { from: 6, to: 6 },
            Problem::Inserted(8)
        ]
    );
}

#[test]
fn a_chain_after_retention_verifies_from_its_anchor() {
    let mut c = chain(8);
    let anchor = Anchor {
        through: 3,
        hash: c[2].hash.clone(),
        removed: 3,
    };
    // The compaction seals its anchor into the chain, then removes 1..=3.
    let at = Utc.with_ymd_and_hms(2031, 12, 5, 4, 0, 0).unwrap();
    let sealed = compaction(at, &anchor).chain(9, &c[7].hash);
    c.push(sealed);
    assert_eq!(verify(Some(&anchor), &c[3..]).problems, vec![]);
    // Without the anchor the kept entries do not link to the beginning, and the compaction
    // entry names an anchor that is gone.
    assert_eq!(
        verify(None, &c[3..]).problems,
        vec![Problem::Removed { from: 1, to: 3 }, Problem::Anchor]
    );
    let wrong = Anchor {
        hash: c[1].hash.clone(),
        ..anchor.clone()
    };
    assert_eq!(
        verify(Some(&wrong), &c[3..]).problems,
        vec![Problem::Changed(4), Problem::Anchor]
    );
    // Entries 4 and 5 deleted by hand behind a forged anchor that links: the chain holds,
    // but the anchor is not the one the compaction recorded.
    let forged = Anchor {
        through: 5,
        hash: c[4].hash.clone(),
        removed: 5,
    };
    assert_eq!(
        verify(Some(&forged), &c[5..]).problems,
        vec![Problem::Anchor]
    );
    // An anchor and no compaction entry at all: forged as well.
    assert_eq!(
        verify(Some(&anchor), &c[3..8]).problems,
        vec![Problem::Anchor]
    );
}

#[test]
fn roles_rank_viewer_operator_admin() {
    assert!(Role::Admin.allows(Role::Operator));
    assert!(Role::Operator.allows(Role::Viewer));
    assert!(!Role::Viewer.allows(Role::Operator));
    assert!(!Role::Operator.allows(Role::Admin));
    assert!(Role::BreakGlass.allows(Role::Admin));
    assert_eq!(Role::of_person("admin"), Some(Role::Admin));
    assert_eq!(Role::of_person("break-glass"), None);
}
