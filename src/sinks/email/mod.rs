//! E-mail delivery with lettre (SPEC §3, §5.5). Plain text, UTF-8; one message per recipient
//! organization; a Message-ID derived from the outbox key, so a retry after an ambiguous crash
//! reuses it; In-Reply-To/References for follow-ups; `Auto-Submitted: auto-generated`.
//! Transports: SMTP (STARTTLS, implicit TLS, or plain — refused except on loopback), or `.eml`
//! files under the state directory (the embedded default).

use crate::config::{mailbox_address, Config};
use crate::engine::model::{Action, ActionBody};
use crate::render::{Rendered, Renderer};
use lettre::message::header::ContentTransferEncoding;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Attachment, Body, Mailbox, MultiPart, SinglePart};
use lettre::Message;

mod smtp;
mod staged;
pub(crate) use smtp::SmtpPool;
use std::path::PathBuf;

mod config;
mod sink;
pub(crate) use config::SECTION;
pub(crate) use config::{MailTransport, Settings, SmtpSecurity, SmtpSettings};
pub(crate) use sink::build;

/// A header of ours whose value is given: `Auto-Submitted`, and RFC 8058's two and
/// `List-Id` for subscriber mail.
macro_rules! text_header {
    ($t:ident, $name:literal) => {
        #[derive(Clone)]
        struct $t(String);
        impl Header for $t {
            fn name() -> HeaderName {
                HeaderName::new_from_ascii_str($name)
            }
            fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
                Ok($t(s.to_string()))
            }
            fn display(&self) -> HeaderValue {
                HeaderValue::new(Self::name(), self.0.clone())
            }
        }
    };
}
text_header!(AutoSubmitted, "Auto-Submitted");
text_header!(ListUnsubscribe, "List-Unsubscribe");
text_header!(ListUnsubscribePost, "List-Unsubscribe-Post");
text_header!(ListId, "List-Id");

/// A subscriber's mail (SPEC §4.17): to one address, the Message-ID of `key` (so a retry
/// reuses it), and one-click unsubscribe as RFC 8058 asks — `List-Unsubscribe` with the
/// https link and `List-Unsubscribe-Post: List-Unsubscribe=One-Click` —, plus `List-Id`.
pub(crate) fn subscriber_message(
    cfg: &Config,
    rendered: Rendered,
    to: &str,
    key: &str,
    at: crate::engine::model::Time,
    unsubscribe: Option<&str>,
) -> Result<Message, SendError> {
    let mut b = builder(cfg, rendered.subject, key, at)?
        .to(mailbox(to)?)
        .header(ListId(format!(
            "Driftsmeldinger fra {} <driftsmeldinger.{}.meldingsvakt>",
            cfg.self_.id, cfg.self_.id
        )))
        .header(ContentType::TEXT_PLAIN);
    if let Some(u) = unsubscribe {
        b = b
            .header(ListUnsubscribe(format!("<{u}>")))
            .header(ListUnsubscribePost("List-Unsubscribe=One-Click".into()));
    }
    b.body(rendered.body)
        .map_err(|e| SendError::Build(e.to_string()))
}

/// `<mv.{self}.{key}@{domain}>`, the key with every character outside `[A-Za-z0-9-]` escaped.
pub(crate) fn message_id(cfg: &Config, key: &str) -> String {
    let domain = cfg
        .self_
        .meldingsansvarlig
        .rsplit('@')
        .next()
        .unwrap_or("meldingsvakt.invalid");
    let mut local = format!("mv.{}.", cfg.self_.id);
    for c in key.chars() {
        if c.is_ascii_alphanumeric() || c == '-' {
            local.push(c);
        } else if c == '/' {
            local.push('.');
        } else {
            for b in c.to_string().bytes() {
                local.push_str(&format!("={b:02X}"));
            }
        }
    }
    format!("<{local}@{domain}>")
}

/// `[smtp]` as configured, or the embedded default (`.eml` files) when the table is absent
/// or the configuration was loaded without the sinks' tables.
pub(crate) fn settings(cfg: &Config) -> std::borrow::Cow<'_, Settings> {
    match cfg.sections.get::<Settings>() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(Settings::default()),
    }
}

/// Where mail goes: `.eml` files in a folder, or an SMTP relay.
pub(crate) enum Transport {
    Files(PathBuf),
    Smtp(Box<SmtpPool>),
}

impl Transport {
    /// The transport of a configuration; SMTP passwords are read here.
    pub(crate) fn new(cfg: &Config) -> Result<Transport, SendError> {
        let settings = settings(cfg);
        let s = match &settings.transport {
            MailTransport::Files => return Ok(Transport::Files(cfg.daemon.state_dir.join("mail"))),
            MailTransport::Smtp(s) => s,
        };
        let password = match &s.password {
            Some(p) if s.username.is_some() => Some(
                p.read("SMTP password")
                    .map_err(|e| SendError::Transport(e.to_string()))?
                    .expose()
                    .to_string(),
            ),
            _ => None,
        };
        Ok(Transport::Smtp(Box::new(SmtpPool::new(s, password)?)))
    }
}

/// Why a message was not sent; `permanent` tells a refusal from a passing failure.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    #[error("cannot build message: {0}")]
    Build(String),
    #[error("{0}")]
    Transport(String),
}

impl SendError {
    /// A message that can never be built will not succeed on retry.
    pub(crate) fn permanent(&self) -> bool {
        matches!(self, SendError::Build(_))
    }
}

fn mailbox(s: &str) -> Result<Mailbox, SendError> {
    s.parse::<Mailbox>()
        .map_err(|e| SendError::Build(format!("address {s:?}: {e}")))
}

/// The e-mail for an action (`email` and `ops` actions), or `None` for other kinds.
pub(crate) fn message(
    cfg: &std::sync::Arc<Config>,
    r: &Renderer,
    a: &Action,
    key: Option<&[u8]>,
) -> Result<Option<Message>, SendError> {
    // SPEC §5.9: a planned-maintenance e-mail carries its calendar event.
    let calendar = match &a.body {
        ActionBody::Email(e) => e
            .maintenance
            .as_ref()
            .and_then(|m| crate::render::ics::attachment(cfg, r, e.message, m, a.at)),
        _ => None,
    };
    let (to, cc, thread, rendered): (Vec<String>, Vec<String>, Option<String>, Rendered) =
        match &a.body {
            ActionBody::Email(e) => (
                e.to.to_vec(),
                e.cc.clone(),
                e.thread.clone(),
                r.email_shared(cfg, e, a.at, key)
                    .map_err(|e| SendError::Build(e.to_string()))?,
            ),
            ActionBody::Ops(o) => (
                o.to.clone(),
                vec![],
                None,
                r.ops(cfg, o).map_err(|e| SendError::Build(e.to_string()))?,
            ),
            ActionBody::Report(rep) => (
                rep.to.clone(),
                vec![],
                None,
                r.action(cfg, a)
                    .map_err(|e| SendError::Build(e.to_string()))?
                    .ok_or_else(|| SendError::Build("the report rendered nothing".into()))?,
            ),
            _ => return Ok(None),
        };
    let reply_to = mailbox(
        mailbox_address(&cfg.self_.from)
            .map(|_| cfg.self_.meldingsansvarlig.as_str())
            .unwrap_or(&cfg.self_.meldingsansvarlig),
    )?;
    let mut b = builder(cfg, rendered.subject, &a.key, a.at)?.reply_to(reply_to);
    for t in &to {
        b = b.to(mailbox(t)?);
    }
    for c in &cc {
        b = b.cc(mailbox(c)?);
    }
    if let Some(t) = thread {
        let id = message_id(cfg, &t);
        b = b.in_reply_to(id.clone()).references(id);
    }
    let built = match calendar {
        None => b.header(ContentType::TEXT_PLAIN).body(rendered.body),
        // The text first and unchanged; the event after it, as a file the reader's calendar
        // opens (`method` in the content type as RFC 6047 §2.4 asks).
        Some((method, ics)) => {
            let kind =
                ContentType::parse(&format!("text/calendar; charset=utf-8; method={method}"))
                    .map_err(|e| SendError::Build(e.to_string()))?;
            // Base64, so the CRLF line ends RFC 5545 asks for reach the reader as written
            // (a text part's line ends are the mail system's to change).
            let ics = Body::new_with_encoding(ics.into_bytes(), ContentTransferEncoding::Base64)
                .map_err(|_| {
                    SendError::Build("the calendar attachment cannot be encoded".into())
                })?;
            b.multipart(
                MultiPart::mixed()
                    .singlepart(SinglePart::plain(rendered.body))
                    .singlepart(Attachment::new("vedlikehold.ics".into()).body(ics, kind)),
            )
        }
    };
    built.map(Some).map_err(|e| SendError::Build(e.to_string()))
}

/// What every message of ours has: our sender, the subject, the Message-ID of `key` (so a
/// retry reuses it), the date, and `Auto-Submitted: auto-generated`.
fn builder(
    cfg: &Config,
    subject: String,
    key: &str,
    at: crate::engine::model::Time,
) -> Result<lettre::message::MessageBuilder, SendError> {
    Ok(Message::builder()
        .from(mailbox(&cfg.self_.from)?)
        .subject(subject)
        .message_id(Some(message_id(cfg, key)))
        .date(at.into())
        .header(AutoSubmitted("auto-generated".into())))
}

/// A file name for a key: the same key always writes the same file (a retry overwrites).
/// The `.eml` file of an outbox key: `/` becomes `_`, letters, digits and `-` stay, anything
/// else is `=XX`. One key, one file name (`INC.7` and `INC_7` differ), and keys are bounded
/// by the id rule, so the name fits any filesystem.
fn file_name(key: &str) -> String {
    let mut safe = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        match c {
            '/' => safe.push('_'),
            c if c.is_ascii_alphanumeric() || c == '-' => safe.push(c),
            c => {
                let mut b = [0u8; 4];
                for byte in c.encode_utf8(&mut b).bytes() {
                    safe.push_str(&format!("={byte:02X}"));
                }
            }
        }
    }
    format!("{safe}.eml")
}

/// Send one message, keyed by its outbox row.
pub(crate) async fn send(t: &Transport, key: &str, m: &Message) -> Result<(), SendError> {
    match t {
        Transport::Files(dir) => {
            tokio::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .await
                .map_err(|e| SendError::Transport(format!("{}: {e}", dir.display())))?;
            let path = dir.join(file_name(key));
            let tmp = dir.join(format!(".{}.tmp", file_name(key)));
            // Mail holds names and addresses: readable by the daemon's user only.
            let write = async {
                use tokio::io::AsyncWriteExt;
                let mut f = tokio::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&tmp)
                    .await?;
                f.write_all(&m.formatted()).await?;
                f.sync_all().await
            };
            write
                .await
                .map_err(|e| SendError::Transport(format!("{}: {e}", tmp.display())))?;
            tokio::fs::rename(&tmp, &path)
                .await
                .map_err(|e| SendError::Transport(format!("{}: {e}", path.display())))?;
            Ok(())
        }
        Transport::Smtp(s) => s.send(m.envelope(), &m.formatted()).await,
    }
}

/// The outbox key a Message-ID of ours was made from (inverse of `message_id`), or `None` for
/// any other Message-ID. Accepts the id with or without angle brackets.
pub fn key_of_message_id(cfg: &Config, id: &str) -> Option<String> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, _domain) = id.rsplit_once('@')?;
    let rest = local.strip_prefix(&format!("mv.{}.", cfg.self_.id))?;
    let mut bytes = Vec::new();
    let mut it = rest.bytes().peekable();
    while let Some(b) = it.next() {
        match b {
            b'.' => bytes.push(b'/'),
            b'=' => {
                let h: Vec<u8> = it.by_ref().take(2).collect();
                let s = std::str::from_utf8(&h).ok()?;
                bytes.push(u8::from_str_radix(s, 16).ok()?);
            }
            b => bytes.push(b),
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use crate::testutil::example_config as cfg;

    #[test]
    fn message_ids_are_stable_and_reversible() {
        let c = cfg();
        let id = message_id(&c, "INC-1/followup/malvik");
        assert_eq!(id, "<mv.hemit.INC-1.followup.malvik@helse-midt.example>");
        assert_eq!(
            key_of_message_id(&c, &id).as_deref(),
            Some("INC-1/followup/malvik")
        );
        assert_eq!(key_of_message_id(&c, "<CAF=abc@mail.gmail.com>"), None);
        assert_eq!(
            key_of_message_id(&c, "mv.other.INC-1.followup.malvik@x.example"),
            None
        );
    }

    proptest! {
        #[test]
        fn message_id_round_trip(parts in proptest::collection::vec("[a-zA-Z0-9æøå._ -]{1,12}", 1..4)) {
            let c = cfg();
            let key = parts.join("/");
            let id = message_id(&c, &key);
            prop_assert!(id.is_ascii() && !id.contains(' '), "{}", id);
            prop_assert_eq!(key_of_message_id(&c, &id), Some(key));
        }
    }
}
