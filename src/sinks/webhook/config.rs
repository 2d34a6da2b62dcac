//! `[webhook]`: an outbound webhook for ticket systems — each decided action as signed JSON.
//!
//! ```toml
//! [webhook]
//! url = "https://tickets.example/hooks/meldingsvakt"
//! secret_file = "webhook-secret"      # or secret_env; the HMAC-SHA256 key
//! actions = ["email", "statuspage"]   # default: every kind (email, ops, statuspage, silence)
//! timeout = "10s"
//! ```

use crate::config::section::prelude::*;
use crate::config::Secret;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawWebhook {
    /// Where each action is POSTed; `https://`, or `http://` to a loopback host.
    pub url: Option<String>,
    /// The signing key: a file (e.g. a systemd credential) or an environment variable.
    pub secret_file: Option<String>,
    pub secret_env: Option<String>,
    /// Which action kinds to send (default all).
    pub actions: Option<Vec<String>>,
    /// Per request (default 10 s).
    pub timeout: Option<Dur>,
}

/// Its keys, for `meldingsvakt.toml(5)`.
#[rustfmt::skip]
pub(crate) const KEYS: &[Key] = &[
    k("webhook", "url", None, "Where each action is POSTed: https://, or http:// to a loopback host."),
    k("webhook", "secret_file", None, "A file holding the signing key."),
    k("webhook", "secret_env", None, "Or an environment variable holding it."),
    k("webhook", "actions", Some("all"), "Which action kinds to send: email, statuspage, silence, ops, report."),
    k("webhook", "timeout", Some("\"10s\""), "Per request."),
];

// The room's table, read and validated by the room itself.
crate::section! {
    name: "webhook",
    doc: "An outbound webhook that receives every action, signed (optional).",
    keys: KEYS,
    raw: RawWebhook,
    validate: |v: &mut Validator<'_>, raw, _: &Config| settings(v, raw),
}

/// The action kinds a webhook can receive.
pub(crate) const KINDS: &[&str] = &["email", "ops", "statuspage", "silence"];

/// A validated `[webhook]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub url: String,
    pub secret: Secret,
    pub kinds: Vec<String>,
    pub timeout: Duration,
}

pub(crate) fn settings(v: &mut Validator<'_>, raw: RawWebhook) -> Option<Settings> {
    let url = raw.url?;
    v.endpoint(
        tpath!["webhook", "url"],
        &url,
        "https://tickets.example/hooks/meldingsvakt",
        "names and addresses",
    );
    let secret = v.secret(
        "webhook",
        raw.secret_file,
        raw.secret_env,
        Some("[webhook] needs `secret_file` (e.g. a systemd credential) or `secret_env`: the receiver checks each request's HMAC-SHA256 signature with it"),
    );
    let kinds = match raw.actions {
        None => KINDS.iter().map(|k| k.to_string()).collect(),
        Some(list) => {
            for (i, k) in list.iter().enumerate() {
                if !KINDS.contains(&k.as_str()) {
                    v.err(
                        0,
                        tpath!["webhook", "actions", i],
                        format!(
                            "unknown action kind {k:?}: expected one of {}",
                            KINDS.join(", ")
                        ),
                    );
                }
            }
            list
        }
    };
    let timeout = raw.timeout.map(|d| d.0).unwrap_or(Duration::seconds(10));
    if timeout < Duration::seconds(1) || timeout > Duration::minutes(5) {
        v.err(
            0,
            tpath!["webhook", "timeout"],
            "timeout must be between 1 second and 5 minutes",
        );
    }
    Some(Settings {
        url,
        secret: secret?,
        kinds,
        timeout,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn check(extra: &str) -> Result<Config, Vec<crate::config::locate::ConfigError>> {
        let root = crate::testutil::example_config_path();
        let text = std::fs::read_to_string(&root).unwrap() + extra;
        Config::from_str_with(&root, text, Some(&[&super::SECTION]))
    }

    /// Every problem, one per line.
    fn errors(extra: &str) -> String {
        match check(extra) {
            Ok(_) => panic!("accepted: {extra}"),
            Err(es) => es.iter().map(|e| format!("{e}\n")).collect(),
        }
    }

    #[test]
    fn webhook_table_is_checked_where_it_is_written() {
        let c =
            check("\n[webhook]\nurl = \"https://tickets.example/h\"\nsecret_env = \"MV_HOOK\"\n")
                .unwrap();
        let w = c.sections.get::<super::Settings>().unwrap();
        assert_eq!(w.kinds, super::KINDS);
        assert_eq!(w.timeout, chrono::Duration::seconds(10));

        let e = errors("\n[webhook]\nurl = \"http://tickets.example/h\"\nsecret_env = \"X\"\n");
        assert!(e.contains("webhook.url") || e.contains("http://"), "{e}");
        assert!(e.contains("loopback"), "{e}");

        let e = errors("\n[webhook]\nurl = \"https://tickets.example/h\"\n");
        assert!(e.contains("needs `secret_file`"), "{e}");

        let e = errors(
            "\n[webhook]\nurl = \"https://t.example/h\"\nsecret_env = \"X\"\nactions = [\"email\", \"sms\"]\n",
        );
        assert!(e.contains("unknown action kind \"sms\""), "{e}");
        // The place is named: line and column of the offending value.
        assert!(e.contains("meldingsvakt.toml:"), "{e}");
    }
}
