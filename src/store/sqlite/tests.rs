//! The store against a real SQLite file: idempotent commits, claims and migrations.
use super::*;
use crate::engine::model::*;
use crate::store::*;

fn action(key: &str, at: Time) -> Action {
    Action {
        at,
        key: key.into(),
        about: About::Incident("I".into()),
        body: ActionBody::Silence(Silence {
            message: "create".into(),
            org: "malvik".into(),
            services: vec![],
            environment: Environment::Produksjon,
        }),
    }
}

#[test]
fn commit_is_idempotent_and_outbox_retries() {
    let tmp = crate::testutil::temp_dir();
    let path = tmp.path().join("t.db");
    let t = Utc::now();
    let mut s = SqliteStore::open(&path).unwrap();
    assert_eq!(
        s.commit(
            &[NewEvent::api(t, "incident.ack", "{\"id\":\"I\"}").unwrap()],
            &NewRow::own_all(&[action("a", t), action("b", t)])
        )
        .unwrap(),
        2
    );
    // The same decisions again (replay): nothing new.
    assert_eq!(
        s.commit(&[], &NewRow::own_all(&[action("a", t), action("b", t)]))
            .unwrap(),
        0
    );
    let lease = |_| chrono::Duration::seconds(5);
    let claimed: Vec<String> = s
        .claim(t, 10, &lease)
        .unwrap()
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(claimed, ["a", "b"]);
    // Claimed rows are backed off even if their results are never recorded.
    assert!(s.claim(t, 10, &lease).unwrap().is_empty());
    assert_eq!(
        s.claim(t + chrono::Duration::seconds(5), 10, &lease)
            .unwrap()
            .len(),
        2
    );
    let later = t + chrono::Duration::seconds(5);
    s.mark_many(
        later,
        &[
            (
                "a".into(),
                Err((
                    "connection refused".into(),
                    later + chrono::Duration::seconds(30),
                )),
            ),
            ("b".into(), Ok(())),
        ],
    )
    .unwrap();
    assert!(s
        .claim(later + chrono::Duration::seconds(29), 10, &lease)
        .unwrap()
        .is_empty());
    assert_eq!(
        s.next_due().unwrap(),
        Some(later + chrono::Duration::seconds(30))
    );
    drop(s);
    // Reopen: nothing lost, migrations not rerun.
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.events().unwrap().len(), 1);
    assert_eq!(s.outbox_status("a").unwrap(), Some(("pending".into(), 2)));
    assert_eq!(s.outbox_status("b").unwrap(), Some(("done".into(), 2)));
}

#[test]
fn migrations_7_and_8_keep_keys_and_sink_state_so_nothing_is_sent_again() {
    let tmp = crate::testutil::temp_dir();
    let path = tmp.path().join("t.db");
    let t = Utc::now();
    {
        let c = Connection::open(&path).unwrap();
        for sql in &MIGRATIONS[..6] {
            c.execute_batch(sql).unwrap();
        }
        c.pragma_update(None, "user_version", 6).unwrap();
        let mut a = action("M1/statuspage/1", t);
        a.about = About::Maintenance("M1".into());
        let payload = serde_json::to_string(&a).unwrap();
        c.execute(
            "INSERT INTO outbox (key, at, kind, payload, next_attempt_at, status) VALUES (?1, ?2, 'statuspage', ?3, ?2, 'done')",
            params![a.key, time_text(t), payload],
        )
        .unwrap();
        c.execute(
            "INSERT INTO statuspage_map VALUES ('M1', 'produksjon', 'sp1')",
            [],
        )
        .unwrap();
        c.execute(
            "INSERT INTO silences VALUES ('INC-1', 'sil-1', '[]', '2026-11-24T10:00:00.000000000Z', 0)",
            [],
        )
        .unwrap();
    }
    let mut s = SqliteStore::open(&path).unwrap();
    let mut a = action("maintenance/M1/statuspage/1", t);
    a.about = About::Maintenance("M1".into());
    assert_eq!(
        s.commit(&[], &NewRow::own_all(&[a.clone()])).unwrap(),
        0,
        "the old row is found under its new key"
    );
    assert_eq!(s.statuspage_actions().unwrap(), vec![a]);
    assert_eq!(
        s.sink_get("statuspage", "produksjon maintenance/M1")
            .unwrap()
            .as_deref(),
        Some("\"sp1\"")
    );
    // Migration 8: a live silence keeps its id, so it is extended and expired, not
    // created twice.
    let sil: serde_json::Value =
        serde_json::from_str(&s.sink_get("silence", "INC-1").unwrap().unwrap()).unwrap();
    assert_eq!(
        sil,
        serde_json::json!({"incident": "INC-1", "id": "sil-1", "matchers": "[]",
            "ends_at": "2026-11-24T10:00:00.000000000Z", "expired": false})
    );
}

/// Migration 9 places old events in their cases by `id`; new events carry origin, who and
/// cases; a timeline lists a case's events and its outbox rows (not another case's whose id
/// merely starts alike), with delivery states, and a bounce marks its row.
#[test]
fn timelines_from_the_log_and_the_outbox() {
    let tmp = crate::testutil::temp_dir();
    let path = tmp.path().join("t.db");
    let t = Utc::now();
    {
        // A database at version 8 with one old event.
        let conn = rusqlite::Connection::open(&path).unwrap();
        for sql in &super::MIGRATIONS[..8] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 8).unwrap();
        conn.execute(
            "INSERT INTO event (at, type, body) VALUES (?1, 'incident.open', '{\"id\":\"I\"}')",
            [time_text(t)],
        )
        .unwrap();
    }
    let mut s = SqliteStore::open(&path).unwrap();
    let mut ev = NewEvent::api(t, "incident.ack", "{\"id\":\"I\"}").unwrap();
    ev.log.by = Some("Kari Nordmann".into());
    ev.cases = vec!["I".into()];
    let rows = NewRow::own_all(&[
        action("I/unplanned/malvik", t),
        action("I2/unplanned/malvik", t),
    ]);
    s.commit(&[ev], &rows).unwrap();
    let tl = s.timeline("I").unwrap();
    let kinds: Vec<String> = tl
        .iter()
        .map(|e| match e {
            TimelineEntry::Event { ty, origin, by, .. } => format!("{ty} {origin:?} {by:?}"),
            TimelineEntry::Action(ActionEntry { key, state, .. }) => {
                format!("{key} {}", state.as_str())
            }
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            "incident.open None None".to_string(),
            "incident.ack Some(\"api\") Some(\"Kari Nordmann\")".to_string(),
            "I/unplanned/malvik due".to_string(),
        ]
    );
    let lease = |_| chrono::Duration::seconds(5);
    let claimed = s.claim(t, 10, &lease).unwrap();
    s.mark_many(t, &[(claimed[0].key.clone(), Ok(()))]).unwrap();
    assert!(s.mark_bounced("I/unplanned/malvik", t).unwrap());
    assert!(!s.mark_bounced("no/such/row", t).unwrap());
    let state = s.timeline("I").unwrap().into_iter().find_map(|e| match e {
        TimelineEntry::Action(ActionEntry { state, sent_at, .. }) => {
            Some((state, sent_at.is_some()))
        }
        _ => None,
    });
    assert_eq!(state, Some((crate::store::Delivery::Bounced, true)));
    // The console's delivery problems: the bounce (since a day ago), and the other row once
    // an attempt failed; a bounce older than `since` is no longer a problem.
    let problems = |s: &SqliteStore, since| -> Vec<(String, String)> {
        s.problems(since)
            .unwrap()
            .into_iter()
            .filter_map(|e| match e {
                TimelineEntry::Action(ActionEntry { key, state, .. }) => {
                    Some((key, state.as_str().to_string()))
                }
                _ => None,
            })
            .collect()
    };
    let day = chrono::Duration::days(1);
    assert_eq!(
        problems(&s, t - day),
        vec![("I/unplanned/malvik".to_string(), "bounced".to_string())]
    );
    // The first claim leased it for 5 s; after that it is due again.
    let claimed = s
        .claim(t + chrono::Duration::seconds(10), 10, &lease)
        .unwrap();
    assert_eq!(claimed[0].key, "I2/unplanned/malvik");
    s.mark_many(
        t,
        &[(
            claimed[0].key.clone(),
            Err((
                "connection refused".to_string(),
                t + chrono::Duration::minutes(1),
            )),
        )],
    )
    .unwrap();
    assert_eq!(
        problems(&s, t + day),
        vec![("I2/unplanned/malvik".to_string(), "failing".to_string())]
    );
}

/// The snapshot replaces itself; compaction removes only events the snapshot holds and that
/// are older than the cut, with their case links, and only done rows older than the cut.
#[test]
fn snapshot_and_compaction_keep_what_a_restart_needs() {
    let tmp = crate::testutil::temp_dir();
    let mut s = SqliteStore::open(&tmp.path().join("t.db")).unwrap();
    let old = Utc::now() - chrono::Duration::days(500);
    let new = Utc::now();
    let mut e1 = NewEvent::api(old, "incident.ack", "{\"id\":\"A\"}").unwrap();
    e1.cases = vec!["A".into()];
    let e2 = NewEvent::api(old, "incident.ack", "{\"id\":\"B\"}").unwrap();
    let e3 = NewEvent::api(new, "incident.ack", "{\"id\":\"C\"}").unwrap();
    s.commit(
        &[e1, e2],
        &NewRow::own_all(&[action("A/x/y", old), action("B/x/y", old)]),
    )
    .unwrap();
    s.commit(&[e3], &NewRow::own_all(&[action("C/x/y", new)]))
        .unwrap();
    // A is done, B still pending (a row not yet sent is never compacted).
    let lease = |_| chrono::Duration::seconds(5);
    let claimed = s.claim(new, 10, &lease).unwrap();
    let a = claimed
        .iter()
        .find(|r| r.key == "A/x/y")
        .unwrap()
        .key
        .clone();
    s.mark_many(new, &[(a, Ok(()))]).unwrap();
    assert_eq!(s.last_seq().unwrap(), 3);
    assert!(s.load_snapshot().unwrap().is_none());
    s.save_snapshot(1, new, "{\"v\":1}").unwrap();
    s.save_snapshot(2, new, "{\"v\":2}").unwrap();
    assert_eq!(
        s.load_snapshot().unwrap(),
        Some((2, "{\"v\":2}".to_string()))
    );
    let cut = new - chrono::Duration::days(400);
    assert_eq!(
        s.compact(cut, 2).unwrap(),
        (2, 1),
        "events 1–2 and the done row A"
    );
    let left: Vec<i64> = s.events().unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(left, vec![3]);
    assert_eq!(s.events_after(2).unwrap().len(), 1);
    assert!(
        s.timeline("A").unwrap().is_empty(),
        "A is gone from the timelines too"
    );
    assert_eq!(
        s.outbox_status("B/x/y").unwrap().map(|x| x.0),
        Some("pending".into())
    );
    // Nothing newer than the cut, and nothing the snapshot does not hold, is removed.
    assert_eq!(s.compact(cut, 3).unwrap(), (0, 0));
}

/// The leader's commit claims the new rows due now as it inserts them: they come back to be
/// sent, are counted as attempted and backed off in the file (a crash after the commit sends
/// them after their backoff, not at once), and the dispatcher's own claim does not take them
/// again before that. Rows due later and rows already known are not claimed.
#[test]
fn commit_claiming_claims_only_new_rows_that_are_due() {
    let tmp = crate::testutil::temp_dir();
    let path = tmp.path().join("t.db");
    let t = Utc::now();
    let mut s = SqliteStore::open(&path).unwrap();
    s.commit(&[], &NewRow::own_all(&[action("known", t)]))
        .unwrap();
    let lease = chrono::Duration::seconds(5);
    let (new, claimed) = s
        .commit_claiming(
            &[NewEvent::api(t, "incident.ack", "{\"id\":\"I\"}").unwrap()],
            &NewRow::own_all(&[
                action("known", t),
                action("now", t),
                action("past", t - chrono::Duration::minutes(3)),
                action("later", t + chrono::Duration::hours(1)),
            ]),
            t,
            lease,
        )
        .unwrap();
    assert_eq!(new, 3, "known was already there");
    let keys: Vec<&str> = claimed.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["now", "past"]);
    assert!(claimed
        .iter()
        .all(|r| r.attempts == 0 && r.last_error.is_none()));
    // The dispatcher's claim at `t` takes only the known row; the claimed ones are leased.
    let by = |_| chrono::Duration::seconds(5);
    let again: Vec<String> = s
        .claim(t, 10, &by)
        .unwrap()
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(again, ["known"]);
    // After the lease, a row whose result was never recorded is due again, as after any claim.
    let mut after: Vec<(String, i64)> = s
        .claim(t + lease, 10, &by)
        .unwrap()
        .into_iter()
        .map(|r| (r.key, r.attempts))
        .collect();
    after.sort();
    let want = [("known", 1), ("now", 1), ("past", 1)].map(|(k, a)| (k.to_string(), a));
    assert_eq!(after, want, "each counted once, by its first claim");
    // Reopened from the file: the claim was in the same commit as the event.
    drop(s);
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.last_seq().unwrap(), 1);
}

/// Audit retention (SPEC §5.10): old entries go behind an anchor that the compaction first
/// seals into the chain; the kept chain verifies. Entries deleted by hand behind a forged
/// anchor are found, though the kept entries still link; personal tokens are kept as hashes
/// and revoked with their audit entry.
#[test]
fn audit_retention_seals_its_anchor_and_a_forged_one_is_found() {
    use crate::audit::{verify, Actor, Origin, Problem, Role};
    let tmp = crate::testutil::temp_dir();
    let mut s = SqliteStore::open(&tmp.path().join("t.db")).unwrap();
    let old = Utc::now() - chrono::Duration::days(2200);
    let kari = Actor::new("Kari", Role::Operator, Origin::Console);
    for i in 0..6 {
        let at = old + chrono::Duration::days(i * 100);
        s.audit_append(&[kari.did(at, "incident.update").on(format!("INC-{i}"))])
            .unwrap();
    }
    let now = Utc::now();
    // Entries older than 5 years (the first four) go.
    let removed = s
        .audit_compact(now - chrono::Duration::days(1826), now)
        .unwrap();
    assert_eq!(removed, 4);
    let (anchor, kept) = s.audit_chain().unwrap();
    let anchor = anchor.unwrap();
    assert_eq!((anchor.through, anchor.removed), (4, 4));
    assert_eq!(kept.len(), 3, "two kept and the compaction's own entry");
    assert_eq!(kept[2].what, crate::audit::COMPACT);
    assert_eq!(verify(Some(&anchor), &kept).problems, vec![]);
    // An intruder deletes entry 5 behind an anchor moved to it.
    s.conn
        .execute_batch(&format!(
            "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = 5;
             UPDATE audit_anchor SET through = 5, hash = '{}', removed = 5;",
            kept[0].hash
        ))
        .unwrap();
    let (forged, kept) = s.audit_chain().unwrap();
    assert_eq!(
        verify(forged.as_ref(), &kept).problems,
        vec![Problem::Anchor]
    );

    // Personal tokens: found by hash, listed, revoked once, with their audit entries.
    let (text, t) = crate::audit::token::PersonalToken::mint(
        [7; 20],
        "Kari",
        Role::Operator,
        "bærbar",
        now,
        chrono::Duration::days(90),
    );
    s.token_create(&t, &kari.did(now, "token.create")).unwrap();
    let found = s.token_find(&crate::audit::token::hash(&text)).unwrap();
    assert_eq!(found.as_ref(), Some(&t));
    assert_eq!(s.tokens(Some("Ola")).unwrap(), vec![]);
    assert_eq!(s.tokens(None).unwrap().len(), 1);
    let revoke = kari.did(now, "token.revoke");
    assert!(
        !s.token_revoke(&t.id, Some("Ola"), now, &revoke).unwrap(),
        "not Ola's"
    );
    assert!(s.token_revoke(&t.id, Some("Kari"), now, &revoke).unwrap());
    assert!(
        !s.token_revoke(&t.id, None, now, &revoke).unwrap(),
        "already revoked"
    );
    let t2 = s.token_find(&t.hash).unwrap().unwrap();
    assert!(!t2.usable(now));
    let whats: Vec<String> = s
        .audit_chain()
        .unwrap()
        .1
        .into_iter()
        .map(|e| e.what)
        .collect();
    assert_eq!(whats.iter().filter(|w| *w == "token.revoke").count(), 1);
}
