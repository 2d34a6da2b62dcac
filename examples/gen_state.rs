//! Generate the daemon's state after N simulated days of 10,000 incidents a year, written as the
//! daemon writes it (events, outbox rows delivered, a snapshot and compaction every 10 days),
//! for the restart benchmark (`scripts/bench-restart.sh`). Not a test.
//!
//! usage: cargo run --release --example gen_state -- CONFIG STATE_DIR DAYS

use chrono::{Duration, Utc};
use meldingsvakt::config::Config;
use meldingsvakt::engine::events::Input;
use meldingsvakt::engine::Engine;
use meldingsvakt::store::{EventLog, NewEvent, NewRow, Outbox, SqliteStore, Store};
use serde_json::json;
use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, config, state, days] = &args[..] else {
        return Err("usage: gen_state CONFIG STATE_DIR DAYS".into());
    };
    let days: i64 = days.parse()?;
    let cfg = Arc::new(Config::load(std::path::Path::new(config)).map_err(|e| format!("{e:?}"))?);
    std::fs::create_dir_all(state)?;
    let mut store = SqliteStore::open(&std::path::Path::new(state).join("meldingsvakt.db"))?;
    let mut engine = Engine::new(Arc::clone(&cfg));
    let end = Utc::now() - Duration::hours(1);
    let start = end - Duration::days(days);
    let kommuner: Vec<String> = cfg
        .orgs
        .iter()
        .filter(|o| o.kind == meldingsvakt::config::OrgKind::Kommune)
        .map(|o| o.id.clone())
        .collect();
    let services: Vec<String> = cfg.services.iter().map(|s| s.id.clone()).collect();
    // 10,000 incidents a year: 3 in 10 on our side (status page, notices), the rest missing
    // receipts at a municipality (inquiry, reply).
    let every = Duration::seconds(365 * 24 * 3600 / 10_000);
    let mut events: Vec<(chrono::DateTime<Utc>, &str, serde_json::Value)> = Vec::new();
    let mut t = start;
    let mut i = 0u64;
    while t < end - Duration::hours(6) {
        let id = format!("G{i}");
        let org = &kommuner[i as usize % kommuner.len()];
        let svc = &services[i as usize % services.len()];
        if i % 10 < 3 {
            let cat = if i.is_multiple_of(3) { "A" } else { "C" };
            events.push((
                t,
                "incident.open",
                json!({"id": id, "orgs": [org], "services": [svc], "category": cat}),
            ));
            let fix = Duration::minutes(30 + (i % 5) as i64 * 40);
            events.push((t + fix, "incident.resolve", json!({"id": id})));
        } else {
            events.push((t, "incident.open", json!({"id": id, "kind": "kvittering", "at_org": org, "services": [svc], "category": "C"})));
            events.push((t + Duration::hours(3), "reply", json!({"id": id})));
            events.push((
                t + Duration::hours(5),
                "incident.resolve",
                json!({"id": id}),
            ));
        }
        t += every;
        i += 1;
    }
    events.sort_by_key(|e| e.0);
    let deliver = |store: &mut SqliteStore| -> Result<(), Box<dyn std::error::Error>> {
        let lease = |_| Duration::seconds(5);
        loop {
            let rows = store.claim(end + Duration::days(1), 5000, &lease)?;
            if rows.is_empty() {
                return Ok(());
            }
            let done: Vec<_> = rows.into_iter().map(|r| (r.key, Ok(()))).collect();
            store.mark_many(end, &done)?;
        }
    };
    let snapshot = |engine: &mut Engine,
                    store: &mut SqliteStore,
                    at|
     -> Result<(), Box<dyn std::error::Error>> {
        let before = at - cfg.daemon.retention;
        engine.forget_before(before);
        let seq = store.last_seq()?;
        store.save_snapshot(seq, at, &serde_json::to_string(&engine.snapshot())?)?;
        store.compact(before, seq)?;
        Ok(())
    };
    let mut batch: Vec<NewEvent> = Vec::new();
    let mut actions = Vec::new();
    let mut next_snapshot = start + Duration::days(10);
    let n = events.len();
    for (at, ty, fields) in events {
        let Input { event, log } = Input::parse(ty, &fields)?;
        if engine.handle(at, event).is_ok() {
            batch.push(NewEvent {
                at,
                log,
                cases: engine.take_touched(),
                audit: Vec::new(),
            });
        }
        actions.extend(std::iter::from_fn(|| engine.poll_action()));
        if batch.len() >= 500 {
            store.commit(&batch, &NewRow::own_all(&actions))?;
            batch.clear();
            actions.clear();
            deliver(&mut store)?;
        }
        if at >= next_snapshot {
            store.commit(&batch, &NewRow::own_all(&actions))?;
            batch.clear();
            actions.clear();
            deliver(&mut store)?;
            snapshot(&mut engine, &mut store, at)?;
            next_snapshot = at + Duration::days(10);
        }
    }
    engine.advance_to(end);
    actions.extend(std::iter::from_fn(|| engine.poll_action()));
    store.commit(&batch, &NewRow::own_all(&actions))?;
    deliver(&mut store)?;
    snapshot(&mut engine, &mut store, end)?;
    eprintln!("{days} days: {i} incidents, {n} events");
    Ok(())
}
