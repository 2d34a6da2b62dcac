//! Where a report's history comes from: the daemon's state (its event log replayed through the
//! engine, read only) or a simulated scenario (run to its `until`).

use super::History;
use crate::config::Config;
use crate::engine::model::Time;
use crate::engine::Engine;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{0}")]
    Scenario(crate::sim::ScenarioError),
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Config(Vec<crate::config::locate::ConfigError>),
    #[error("no daemon state at {0} (is `[storage] dir` right, and has the daemon run?)")]
    NoState(String),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Replay(#[from] crate::daemon::DaemonError),
    #[error("event {n}: {refusal}")]
    Refused {
        n: usize,
        refusal: crate::engine::model::Refusal,
    },
}

/// Run a scenario to its end: its configuration, the history, and `until` (the report's now).
pub fn scenario(path: &Path) -> Result<(Config, History, Time), SourceError> {
    let sc = crate::sim::parse(path).map_err(SourceError::Scenario)?;
    let cfg = Arc::new(Config::load(&sc.config).map_err(SourceError::Config)?);
    let mut engine = Engine::new(Arc::clone(&cfg));
    for (at, ev, n) in &sc.events {
        engine
            .handle(*at, ev.clone())
            .map_err(|refusal| SourceError::Refused { n: *n, refusal })?;
    }
    engine.advance_to(sc.until + crate::engine::NEXT_INSTANT);
    Ok((Config::clone(&cfg), engine.history().clone(), sc.until))
}

/// The daemon's state under `cfg`'s state directory, as of `now`. Opening it alongside a
/// running daemon is safe (SQLite WAL: a reader does not block the writer).
pub fn state(cfg: &Config, now: Time) -> Result<History, SourceError> {
    let db = cfg.daemon.state_dir.join("meldingsvakt.db");
    if !db.is_file() {
        return Err(SourceError::NoState(db.display().to_string()));
    }
    let store = crate::store::SqliteStore::open(&db)?;
    let mut cfg = cfg.clone();
    let kept = crate::store::Store::retained_orgs(&store)?;
    cfg.retain_orgs(&kept);
    let (engine, _) = crate::daemon::replay(Arc::new(cfg), &store, now)?;
    Ok(engine.history().clone())
}
