//! `[statuspage]`: Atlassian Statuspage pages per environment and the API key.

use crate::config::raw::RawStatuspage;
use crate::config::validate::Validator;
use crate::config::{Secret, Service};
use crate::tpath;
use chrono::Duration;

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
