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
    // From the latest snapshot when there is one: then only the events after it replay.
    let (mut engine, after) = match store.load_snapshot()? {
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
    let mut actions = Vec::new();
    for ev in store.events_after(after)? {
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
    Ok((engine, actions))
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
