//! `[smtp]`: how e-mail leaves the daemon (SPEC §5.5): `.eml` files under the state
//! directory (the embedded default) or SMTP with STARTTLS, implicit TLS, or plain text to a
//! loopback relay only.

use crate::config::raw::RawSmtp;
use crate::config::validate::Validator;
use crate::config::Secret;
use crate::tpath;
use chrono::Duration;

/// How e-mail leaves the daemon.
#[derive(Debug, Clone, PartialEq)]
pub enum MailTransport {
    /// `.eml` files in `{state_dir}/mail` (the embedded default).
    Files,
    Smtp(SmtpSettings),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    StartTls,
    Tls,
    /// Plain text: allowed only to a loopback host.
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub timeout: Duration,
}

/// Validate `[smtp]` (`warn_after` is the dispatcher's and read by the caller).
pub(crate) fn settings(v: &mut Validator<'_>, smtp: RawSmtp) -> MailTransport {
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
