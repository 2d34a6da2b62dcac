//! `[subscribers]`: the public subscription (SPEC §4.17). On by default.
//!
//! ```toml
//! [subscribers]
//! enabled = true          # false: no /abonner, and no subscriber mail
//! confirmations_per_hour = 200
//! ```

use crate::config::section::prelude::*;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawSubscribers {
    pub enabled: Option<bool>,
    pub confirmations_per_hour: Option<u32>,
}

/// Its keys, for `meldingsvakt.toml(5)`.
#[rustfmt::skip]
pub(crate) const KEYS: &[Key] = &[
    k("subscribers", "enabled", Some("true"), "Whether anyone may subscribe to the status page's posts by e-mail at /abonner (double opt-in)."),
    k("subscribers", "confirmations_per_hour", Some("200"), "The most confirmation mails /abonner sends in an hour, over all addresses and clients (each address and client: one per 10 minutes)."),
];

/// `[subscribers]` as validated.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Settings {
    pub enabled: bool,
    pub per_hour: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: true,
            per_hour: 200,
        }
    }
}

crate::section! {
    name: "subscribers",
    doc: "The public e-mail subscription to the status page's posts (SPEC §4.17).",
    keys: KEYS,
    raw: RawSubscribers,
    validate: |v: &mut Validator<'_>, raw: RawSubscribers, _: &Config| {
        let per_hour = raw.confirmations_per_hour.unwrap_or(200);
        if per_hour == 0 {
            v.err(0, tpath!["subscribers", "confirmations_per_hour"], "must be at least 1 (turn the subscription off with enabled = false)");
        }
        Some(Settings { enabled: raw.enabled.unwrap_or(true), per_hour })
    },
}

/// The settings in force (the defaults when the table is absent or was not loaded).
pub(crate) fn settings(cfg: &Config) -> Settings {
    cfg.sections.get::<Settings>().cloned().unwrap_or_default()
}
