//! The availability report as people read it (SPEC §4.13): the figures are the engine's
//! (`engine::availability`, re-exported here); this room writes them as CSV and HTML
//! (`format.rs`), says months and durations in bokmål, and reads a report's history through
//! [`HistorySource`], which the daemon (its state) and `simulate` (a scenario) implement,
//! so that this room imports neither.

mod format;

pub use crate::engine::availability::*;
pub use format::{csv, html};

use crate::config::Config;
use crate::engine::model::Time;

/// What a report is computed from: the configuration, the history and the report's now.
pub struct Loaded {
    pub cfg: Config,
    pub history: History,
    pub now: Time,
}

/// Where a report's history comes from.
pub trait HistorySource {
    /// The history, or why it cannot be had (said to the user as it is).
    fn load(&self) -> Result<Loaded, Box<dyn std::error::Error + Send + Sync>>;
}

/// `2026-11` → `november 2026` (bokmål); anything else as it is.
pub(crate) fn month_name(month: &str) -> String {
    const MONTHS: [&str; 12] = [
        "januar",
        "februar",
        "mars",
        "april",
        "mai",
        "juni",
        "juli",
        "august",
        "september",
        "oktober",
        "november",
        "desember",
    ];
    month
        .split_once('-')
        .and_then(|(y, m)| {
            Some(format!(
                "{} {y}",
                MONTHS.get(m.parse::<usize>().ok()?.checked_sub(1)?)?
            ))
        })
        .unwrap_or_else(|| month.to_string())
}

/// Minutes as people say them: "1 t 35 min", "35 min", "0 min"; a fraction of a minute
/// rounds to the nearest (a downtime under half a minute is "under 1 min", not "0 min").
pub(crate) fn duration_text(minutes: f64) -> String {
    if minutes > 0.0 && minutes < 0.5 {
        return "under 1 min".into();
    }
    let m = minutes.round() as i64;
    let (d, h, m) = (m / 1440, (m % 1440) / 60, m % 60);
    match (d, h) {
        (0, 0) => format!("{m} min"),
        (0, h) => format!("{h} t {m} min"),
        (d, h) => format!("{d} d {h} t {m} min"),
    }
}

#[cfg(test)]
mod tests;
