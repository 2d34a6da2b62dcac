//! A scenario as a report's history (`meldingsvakt report --scenario FILE`): run to its
//! `until`, which is the report's now.

use crate::config::Config;
use crate::engine::Engine;
use crate::report::{HistorySource, Loaded};
use std::path::PathBuf;
use std::sync::Arc;

/// The history a scenario leaves when simulated to its end.
pub struct ScenarioHistory(pub PathBuf);

/// Why a scenario gives no history.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{0}")]
    Scenario(super::ScenarioError),
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Config(Vec<crate::config::locate::ConfigError>),
    #[error("event {n}: {refusal}")]
    Refused {
        n: usize,
        refusal: crate::engine::model::Refusal,
    },
}

impl HistorySource for ScenarioHistory {
    fn load(&self) -> Result<Loaded, Box<dyn std::error::Error + Send + Sync>> {
        let sc = super::parse(&self.0).map_err(HistoryError::Scenario)?;
        let cfg = Arc::new(Config::load(&sc.config).map_err(HistoryError::Config)?);
        let mut engine = Engine::new(Arc::clone(&cfg));
        for (at, ev, n) in &sc.events {
            engine
                .handle(*at, ev.clone())
                .map_err(|refusal| HistoryError::Refused { n: *n, refusal })?;
        }
        engine.advance_to(sc.until + crate::engine::NEXT_INSTANT);
        Ok(Loaded {
            cfg: Config::clone(&cfg),
            history: engine.history().clone(),
            now: sc.until,
        })
    }
}
