//! Start-up: rebuild the engine from the stored events (SPEC §6 "restart recomputes every
//! deadline from stored state").

use super::DaemonError;
use crate::config::Config;
use crate::engine::model::{Event, Time};
use crate::engine::Engine;
use crate::store::Store;
use std::sync::Arc;

/// Rebuild the engine from the latest snapshot and the stored events after it (or every
/// stored event), running deadlines up to `now`. Returns the engine and every action it
/// decided (the caller inserts them; known keys are ignored).
pub fn replay(
    cfg: Arc<Config>,
    store: &dyn Store,
    now: Time,
) -> Result<(Engine, Vec<crate::engine::model::Action>), DaemonError> {
    let r = rebuild(cfg, store, now)?;
    Ok((r.engine, r.actions))
}

/// What `rebuild` gives: the engine, what it decided, and the last event it holds.
pub(crate) struct Rebuilt {
    pub engine: Engine,
    pub actions: Vec<crate::engine::model::Action>,
    pub seq: i64,
}

/// `replay`, also telling up to which stored event the engine holds (a standby follows the
/// log from there).
pub(crate) fn rebuild(
    cfg: Arc<Config>,
    store: &dyn Store,
    now: Time,
) -> Result<Rebuilt, DaemonError> {
    let (mut engine, after) = restored(cfg, store)?;
    let mut actions = Vec::new();
    let seq = follow(&mut engine, store, after, now, &mut actions)?;
    Ok(Rebuilt {
        engine,
        actions,
        seq,
    })
}

/// A standby's engine: as `rebuild`, but deadlines only up to `now - FOLLOW_LAG` and nothing
/// decided is kept (the leader decides). Returns the engine and the last event it holds.
pub(crate) fn standby(
    cfg: Arc<Config>,
    store: &dyn Store,
    now: Time,
) -> Result<(Engine, i64), DaemonError> {
    let (mut engine, after) = restored(cfg, store)?;
    let seq = follow_log(&mut engine, store, after, now)?;
    Ok((engine, seq))
}

/// The engine of the latest snapshot (or a new one) and the event seq it holds.
fn restored(cfg: Arc<Config>, store: &dyn Store) -> Result<(Engine, i64), DaemonError> {
    // From the latest snapshot when there is one: then only the events after it replay.
    let (engine, after) = match store.load_snapshot()? {
        Some((seq, json)) => match serde_json::from_str::<crate::engine::snapshot::Snapshot>(&json)
        {
            Ok(s) if s.version == crate::engine::snapshot::VERSION => {
                (Engine::restore(Arc::clone(&cfg), s), seq)
            }
            result => {
                let why = match result {
                    Ok(s) => format!(
                        "version {} (this build reads {})",
                        s.version,
                        crate::engine::snapshot::VERSION
                    ),
                    Err(e) => e.to_string(),
                };
                // Without it, a compacted log cannot be replayed from its start: refuse
                // rather than rebuild a partial history that could send notices again.
                if store.events_after(0)?.first().is_some_and(|e| e.seq > 1) {
                    return Err(DaemonError::Config(format!(
                        "the stored engine snapshot cannot be read ({why}) and older events were compacted away; restore the database from backup or run the meldingsvakt version that wrote it"
                    )));
                }
                tracing::warn!(reason = %why, "engine snapshot not used; replaying every stored event");
                (Engine::new(Arc::clone(&cfg)), 0)
            }
        },
        None => (Engine::new(Arc::clone(&cfg)), 0),
    };
    Ok((engine, after))
}

/// Apply the stored events after `after` at their own instants, then run deadlines up to
/// `now`; what the engine decides goes into `actions`. Returns the last event's seq. A
/// standby calls this every tick with the actions thrown away: its engine is the leader's.
pub(crate) fn follow(
    engine: &mut Engine,
    store: &dyn Store,
    after: i64,
    now: Time,
    actions: &mut Vec<crate::engine::model::Action>,
) -> Result<i64, DaemonError> {
    let mut seq = after;
    for ev in store.events_after(after)? {
        seq = ev.seq;
        let value: serde_json::Value = match serde_json::from_str(&ev.body) {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(seq = ev.seq, error = %e, "stored event is not JSON; skipped");
                continue;
            }
        };
        match Event::from_parts(&ev.ty, value)
            .map_err(|e| e.to_string())
            .and_then(|e| engine.handle(ev.at, e).map_err(|e| e.to_string()))
        {
            Ok(()) => {}
            // Possible after a configuration change (e.g. an organization removed).
            Err(e) => {
                tracing::warn!(seq = ev.seq, r#type = %ev.ty, error = %e, "stored event refused on replay under the current configuration")
            }
        }
        actions.extend(std::iter::from_fn(|| engine.poll_action()));
    }
    // Stored history replays at its own instants (`handle` → `advance_to`); what fell due
    // while the daemon was down goes out now, dated now.
    engine.catch_up(now + crate::engine::NEXT_INSTANT);
    actions.extend(std::iter::from_fn(|| engine.poll_action()));
    Ok(seq)
}

/// How far behind the wall clock a standby runs its engine's deadlines. An event is stored
/// with the instant the leader applied it, a moment before its commit; a standby whose engine
/// ran ahead of that instant would apply the event later than the leader did. The lag covers
/// the commit (bounded by the store's 10 s statement and lock timeouts), so both engines see
/// every event at the same instant. Deadlines show on a standby this much later.
pub(crate) const FOLLOW_LAG: chrono::Duration = chrono::Duration::seconds(15);

/// A standby's tick: apply the events after `after` at their own instants and the deadlines
/// up to `now - FOLLOW_LAG` (dated when they fell due), deciding nothing it keeps. Returns
/// the last event's seq.
pub(crate) fn follow_log(
    engine: &mut Engine,
    store: &dyn Store,
    after: i64,
    now: Time,
) -> Result<i64, DaemonError> {
    let mut seq = after;
    for ev in store.events_after(after)? {
        seq = ev.seq;
        let applied = serde_json::from_str::<serde_json::Value>(&ev.body)
            .map_err(|e| e.to_string())
            .and_then(|v| Event::from_parts(&ev.ty, v).map_err(|e| e.to_string()))
            .and_then(|e| engine.handle(ev.at, e).map_err(|e| e.to_string()));
        if let Err(e) = applied {
            tracing::debug!(seq = ev.seq, error = %e, "stored event not applied on the standby");
        }
        while engine.poll_action().is_some() {}
    }
    engine.advance_to(now - FOLLOW_LAG);
    while engine.poll_action().is_some() {}
    Ok(seq)
}

/// The retired organizations that live cases still name (the rest can be forgotten).
pub fn retained<'a>(cfg: &'a Config, engine: &Engine) -> Vec<&'a crate::config::Organization> {
    let named = engine.referenced_orgs();
    cfg.orgs
        .iter()
        .filter(|o| o.retired_at.is_some() && named.contains(&o.id))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Events stored before SPEC §4.14 (e.g. `MAIL-…@…` inquiry ids) still replay: an upgrade
    /// drops no case, while the door refuses such ids for new input.
    #[test]
    fn replay_keeps_cases_whose_ids_predate_the_id_rule() {
        let cfg = Arc::new(crate::testutil::example_config());
        let tmp = crate::testutil::temp_dir();
        let path = tmp.path().join("t.db");
        let mut store = crate::store::SqliteStore::open(&path).unwrap();
        let t = chrono::Utc::now();
        let body =
            r#"{"id":"MAIL-c1@melhus.kommune.example","org":"melhus","subject":"Mangler svar"}"#;
        store
            .commit(
                &[crate::store::NewEvent::api(t, "inquiry.received", body).unwrap()],
                &[],
            )
            .unwrap();
        let (engine, _) = replay(cfg, &store, t).unwrap();
        let ev = Event::from_parts(
            "inquiry.received",
            serde_json::from_str::<serde_json::Value>(body).unwrap(),
        )
        .unwrap();
        assert!(ev.check_id().is_err(), "the door refuses it");
        assert!(
            engine.referenced_orgs().contains("melhus"),
            "the stored inquiry is live after replay"
        );
    }
}

/// The daemon's state as a report's history (`meldingsvakt report`): the event log under the
/// configuration's state directory, replayed read-only as of `now`. Opening it alongside a
/// running daemon is safe (SQLite WAL: a reader does not block the writer).
pub struct StateHistory {
    pub cfg: Config,
    pub now: crate::engine::model::Time,
}

/// There is no state to read.
#[derive(Debug, thiserror::Error)]
#[error("no daemon state at {0} (is `[storage] dir` right, and has the daemon run?)")]
pub(crate) struct NoState(pub(crate) String);

impl crate::report::HistorySource for StateHistory {
    fn load(&self) -> Result<crate::report::Loaded, Box<dyn std::error::Error + Send + Sync>> {
        let db = self.cfg.daemon.state_dir.join("meldingsvakt.db");
        if !db.is_file() {
            return Err(NoState(db.display().to_string()).into());
        }
        let store = crate::store::SqliteStore::open(&db)?;
        let mut cfg = self.cfg.clone();
        let kept = crate::store::SmallState::retained_orgs(&store)?;
        cfg.retain_orgs(&kept);
        let (engine, _) = replay(Arc::new(cfg), &store, self.now)?;
        Ok(crate::report::Loaded {
            cfg: self.cfg.clone(),
            history: engine.history().clone(),
            now: self.now,
        })
    }
}
