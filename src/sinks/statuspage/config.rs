//! `[statuspage]`: Atlassian Statuspage pages per environment and the API key.

use crate::config::section::prelude::*;
use crate::config::{Secret, Service};

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawStatuspage {
    /// Atlassian Statuspage page for the production environment (none: built-in page only).
    pub page_id: Option<String>,
    /// Page for the test environment.
    pub test_page_id: Option<String>,
    pub api_key_file: Option<String>,
    pub api_key_env: Option<String>,
    pub base_url: Option<String>,
    pub min_interval: Option<Dur>,
}

/// Its keys, for `meldingsvakt.toml(5)`.
#[rustfmt::skip]
pub(crate) const KEYS: &[Key] = &[
    k("statuspage", "page_id", None, "The Statuspage page for production (none: built-in page only)."),
    k("statuspage", "test_page_id", None, "The page for the test environment."),
    k("statuspage", "api_key_file", None, "A file holding the API key."),
    k("statuspage", "api_key_env", None, "Or an environment variable holding it."),
    k("statuspage", "base_url", Some("\"https://api.statuspage.io/v1\""), "The API's address."),
    k("statuspage", "min_interval", Some("\"1s\""), "Least time between two requests."),
];

// The room's table, read and validated by the room itself.
crate::section! {
    name: "statuspage",
    doc: "Atlassian Statuspage (optional; the built-in status page always runs).",
    keys: KEYS,
    raw: RawStatuspage,
    validate: |v: &mut Validator<'_>, raw, cfg: &Config| settings(v, raw, &cfg.services),
}

/// Atlassian Statuspage, when a page is configured.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub base_url: String,
    pub page_id: Option<String>,
    pub test_page_id: Option<String>,
    pub api_key: Secret,
    pub min_interval: Duration,
}

pub(crate) fn settings(
    v: &mut Validator<'_>,
    raw: RawStatuspage,
    services: &[Service],
) -> Option<Settings> {
    if raw.page_id.is_none() && raw.test_page_id.is_none() {
        return None;
    }
    let api_key = v.secret(
        "statuspage",
        raw.api_key_file,
        raw.api_key_env,
        Some("a Statuspage page needs `api_key_file` (e.g. a systemd credential) or `api_key_env`; keys never live in this file"),
    );
    let missing: Vec<&str> = services
        .iter()
        .filter(|s| s.component.is_none())
        .map(|s| s.id.as_str())
        .collect();
    if !missing.is_empty() {
        v.warn(
            0,
            tpath!["statuspage"],
            format!(
                "warning: services without `component` do not show on Statuspage: {}",
                missing.join(", ")
            ),
        );
    }
    let base_url = raw
        .base_url
        .unwrap_or_else(|| "https://api.statuspage.io/v1".into());
    v.url(
        tpath!["statuspage", "base_url"],
        &base_url,
        "https://api.statuspage.io/v1",
    );
    Some(Settings {
        base_url,
        page_id: raw.page_id,
        test_page_id: raw.test_page_id,
        api_key: api_key?,
        min_interval: raw
            .min_interval
            .map(|d| d.0)
            .unwrap_or(Duration::seconds(1)),
    })
}
