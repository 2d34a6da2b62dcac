//! `[alertmanager]`: where silences go on escalation, and how long each lasts.

use crate::config::section::prelude::*;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawAlertmanager {
    /// Alertmanager's base URL (API v2), for silences on escalation.
    pub url: Option<String>,
    /// How long each silence lasts; it is extended while the incident stays escalated.
    pub silence_duration: Option<Dur>,
}

/// Its keys, for `meldingsvakt.toml(5)`.
#[rustfmt::skip]
pub(crate) const KEYS: &[Key] = &[
    k("alertmanager", "url", None, "Alertmanager's base URL (API v2), for silences on escalation."),
    k("alertmanager", "silence_duration", Some("\"24h\""), "How long each silence lasts; extended while the incident stays escalated."),
];

// The room's table, read and validated by the room itself.
crate::section! {
    name: "alertmanager",
    doc: "Alertmanager, for silences on escalation (optional).",
    keys: KEYS,
    raw: RawAlertmanager,
    validate: |v: &mut Validator<'_>, raw, _: &Config| settings(v, raw),
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
