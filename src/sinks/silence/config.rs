//! `[alertmanager]`: where silences go on escalation, and how long each lasts.

use crate::config::keys::{k, Key, Table};
use crate::config::raw::Dur;
use crate::config::section::{self, Section};
use crate::config::validate::Validator;
use crate::config::Config;
use crate::tpath;
use chrono::Duration;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawAlertmanager {
    /// Alertmanager's base URL (API v2), for silences on escalation.
    pub url: Option<String>,
    /// How long each silence lasts; it is extended while the incident stays escalated.
    pub silence_duration: Option<Dur>,
}

/// `[alertmanager]` in the manual.
pub(crate) const TABLE: Table = Table {
    table: "alertmanager",
    header: "[alertmanager]",
    doc: "Alertmanager, for silences on escalation (optional).",
};

/// Its keys, for `meldingsvakt.toml(5)`.
#[rustfmt::skip]
pub(crate) const KEYS: &[Key] = &[
    k("alertmanager", "url", None, "Alertmanager's base URL (API v2), for silences on escalation."),
    k("alertmanager", "silence_duration", Some("\"24h\""), "How long each silence lasts; extended while the incident stays escalated."),
];

/// The sink's table, read and validated by its own room.
pub(crate) static SECTION: Section = Section {
    table: Some(TABLE),
    keys: KEYS,
    load,
};

fn load(v: &mut Validator<'_>, _cfg: &Config) -> Option<section::Settings> {
    let raw: RawAlertmanager = v.table("alertmanager");
    settings(v, raw).map(|s| Arc::new(s) as section::Settings)
}

/// Alertmanager silences, when `url` is set.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub url: String,
    pub duration: Duration,
}

pub(crate) fn settings(v: &mut Validator<'_>, raw: RawAlertmanager) -> Option<Settings> {
    let url = raw.url?;
    v.url(tpath!["alertmanager", "url"], &url, "http://127.0.0.1:9093");
    let duration = raw
        .silence_duration
        .map(|d| d.0)
        .unwrap_or(Duration::hours(24));
    if duration < Duration::minutes(10) {
        v.err(
            0,
            tpath!["alertmanager", "silence_duration"],
            "silence_duration must be at least 10 minutes",
        );
    }
    Some(Settings { url, duration })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_key_of_the_table_is_documented() {
        crate::config::keys::assert_documented(
            include_str!("config.rs"),
            &[("RawAlertmanager", "alertmanager")],
            super::KEYS,
            1,
        );
    }
}
