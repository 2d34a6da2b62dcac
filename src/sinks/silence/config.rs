//! `[alertmanager]`: where silences go on escalation, and how long each lasts.

use crate::config::raw::RawAlertmanager;
use crate::config::validate::Validator;
use crate::tpath;
use chrono::Duration;

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
