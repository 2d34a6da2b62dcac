//! `[smtp]`: how e-mail leaves the daemon (SPEC §5.5): `.eml` files under the state
//! directory (the embedded default) or SMTP with STARTTLS, implicit TLS, or plain text to a
//! loopback relay only.

use crate::config::section::prelude::*;
use crate::config::Secret;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawSmtp {
    /// "file" (default: .eml files under the state directory) or "smtp".
    pub transport: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    /// "starttls" (default), "tls" or "none" (loopback only).
    pub security: Option<String>,
    pub username: Option<String>,
    /// Secrets never live in this file: a file (e.g. systemd credential) or an environment variable.
    pub password_file: Option<String>,
    pub password_env: Option<String>,
    pub timeout: Option<Dur>,
    /// A message failing this long is an error in the log and /metrics, and ops gets a mail
    /// when it finally goes out (default 10 minutes).
    pub warn_after: Option<Dur>,
}

/// Its keys, for `meldingsvakt.toml(5)`.
#[rustfmt::skip]
pub(crate) const KEYS: &[Key] = &[
    k("smtp", "transport", Some("\"file\""), "file (.eml files under the state directory) or smtp."),
    k("smtp", "host", None, "The SMTP relay."),
    k("smtp", "port", Some("587 (starttls), 465 (tls), 25 (none)"), "Its port."),
    k("smtp", "security", Some("\"starttls\""), "starttls, tls, or none (loopback only)."),
    k("smtp", "username", None, "Login name, when the relay needs one."),
    k("smtp", "password_file", None, "A file holding the password, e.g. /run/credentials/meldingsvakt.service/smtp-password."),
    k("smtp", "password_env", None, "Or an environment variable holding it."),
    k("smtp", "timeout", Some("\"30s\""), "Per SMTP exchange."),
    k("smtp", "warn_after", Some("\"10m\""), "A message failing this long is logged as an error and ops are told when it goes out."),
];

// The room's table, read and validated by the room itself.
crate::section! {
    name: "smtp",
    doc: "How e-mail is sent.",
    keys: KEYS,
    raw: RawSmtp,
    validate: |v: &mut Validator<'_>, raw, _: &Config| Some(settings(v, raw)),
}

/// `[smtp]` as validated: the transport, and when a failing message is late.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub transport: MailTransport,
    /// A message failing this long is an error in the log and `/metrics`, and ops are told
    /// when it finally goes out.
    pub warn_after: Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            transport: MailTransport::Files,
            warn_after: Duration::minutes(10),
        }
    }
}

/// How e-mail leaves the daemon.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum MailTransport {
    /// `.eml` files in `{state_dir}/mail` (the embedded default).
    Files,
    Smtp(SmtpSettings),
}

/// How the SMTP session is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SmtpSecurity {
    StartTls,
    Tls,
    /// Plain text: allowed only to a loopback host.
    None,
}

/// An SMTP relay as configured.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub timeout: Duration,
}

/// Validate `[smtp]`.
fn settings(v: &mut Validator<'_>, smtp: RawSmtp) -> Settings {
    let warn_after = smtp.warn_after.map_or(Duration::minutes(10), |d| d.0);
    Settings {
        transport: transport(v, smtp),
        warn_after,
    }
}

fn transport(v: &mut Validator<'_>, smtp: RawSmtp) -> MailTransport {
    match smtp.transport.as_deref() {
        None | Some("file") => MailTransport::Files,
        Some("smtp") => {
            let host = match smtp.host {
                Some(h) => h,
                None => {
                    v.err(
                        0,
                        tpath!["smtp"],
                        "missing required key `host` for transport = \"smtp\"",
                    );
                    String::new()
                }
            };
            let loopback = crate::config::validate::is_loopback(&host);
            let security = match smtp.security.as_deref().unwrap_or("starttls") {
                "starttls" => SmtpSecurity::StartTls,
                "tls" => SmtpSecurity::Tls,
                "none" => {
                    if !(loopback || host.is_empty()) {
                        v.err(0, tpath!["smtp", "security"], format!("security = \"none\" sends mail unencrypted; it is allowed only to a loopback host, not {host:?}"));
                    }
                    SmtpSecurity::None
                }
                other => {
                    v.err(0, tpath!["smtp", "security"], format!("unknown security {other:?}: expected \"starttls\", \"tls\" or \"none\""));
                    SmtpSecurity::StartTls
                }
            };
            let default_port = match security {
                SmtpSecurity::Tls => 465,
                SmtpSecurity::None => 25,
                SmtpSecurity::StartTls => 587,
            };
            let password = v.secret("smtp", smtp.password_file, smtp.password_env, None);
            if smtp.username.is_some() && password.is_none() {
                v.err(0, tpath!["smtp", "username"], "a username needs `password_file` (e.g. a systemd credential) or `password_env`; passwords never live in this file");
            }
            MailTransport::Smtp(SmtpSettings {
                host,
                port: smtp.port.unwrap_or(default_port),
                security,
                username: smtp.username,
                password,
                timeout: smtp.timeout.map(|d| d.0).unwrap_or(Duration::seconds(30)),
            })
        }
        Some(other) => {
            v.err(
                0,
                tpath!["smtp", "transport"],
                format!("unknown transport {other:?}: expected \"file\" or \"smtp\""),
            );
            MailTransport::Files
        }
    }
}
