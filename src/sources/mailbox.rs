//! What a message in our meldingsansvarlig mailbox is (issue #5, SPEC §4.7–4.8). Pure: raw
//! message in, decision out; the IMAP watcher turns decisions into engine events.
//!
//! Rules, in order:
//! 1. Our own mail (the Sent folder, or from our address) that answers an inbound inquiry
//!    (In-Reply-To/References name it) marks that inquiry answered.
//! 2. Auto-replies (`Auto-Submitted` other than `no`, `X-Autoreply`, `X-Autorespond`,
//!    `Precedence: auto_reply|bulk|junk`, or an out-of-office subject) are ignored.
//! 3. Bounces (a `multipart/report` delivery-status report, or from MAILER-DAEMON/postmaster)
//!    name the addresses that failed (`Final-Recipient`), for an ops warning.
//! 4. A message whose In-Reply-To or References names one of our follow-up inquiries,
//!    escalations or resolutions (`<mv.{self}.{incident}.followup.{org}@…>`) is that
//!    organization's **reply** to the incident.
//! 5. Without such headers: a message from an organization that has an open inquiry, whose
//!    subject contains that inquiry's subject (e.g. "SV: Manglende kvittering"), is its reply.
//! 6. Any other message from a configured organization is a new **inbound inquiry**, with the
//!    id `MAIL-{its Message-ID}` (so our answer to it can be matched).
//! 7. Everything else is not ours to track.
//!
//! Limits: a reply sent as a *new* message from an address the configuration does not list,
//! or with a subject that does not contain ours, becomes an inbound inquiry instead; a reply
//! from one organization about another's inquiry is matched by headers only.

use crate::config::Config;
use crate::sinks::email::key_of_message_id;
use mail_parser::{HeaderValue, MessageParser};

/// What a message in our mailbox is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Classified {
    Reply {
        incident: String,
        org: String,
    },
    Inquiry {
        id: String,
        org: String,
        subject: String,
    },
    Answer {
        inquiry: String,
    },
    AutoReply,
    Bounce {
        addresses: Vec<String>,
        /// Outbox keys of our messages the bounce returned (it quotes their Message-ID).
        returned: Vec<String>,
    },
    NotOurs,
    Unparseable,
}

/// Which folder a message was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Folder {
    Inbox,
    Sent,
}

/// An inquiry we sent that is still waiting for its reply.
#[derive(Debug, Clone)]
pub(crate) struct OpenFollowup {
    pub incident: String,
    pub org: String,
    pub subject: String,
}

impl OpenFollowup {
    /// An inquiry sent and waiting for its reply; `subject` is the one it was sent with.
    pub(crate) fn new(incident: &str, org: &str, kind: crate::engine::model::Kind) -> OpenFollowup {
        use crate::engine::model::Kind;
        OpenFollowup {
            incident: incident.to_string(),
            org: org.to_string(),
            subject: match kind {
                Kind::Kvittering => "Manglende kvittering",
                Kind::Info => "Viktig informasjon vedrørende meldingsutveksling",
                Kind::Feil => "Feil i meldingsutveksling",
            }
            .to_string(),
        }
    }
}

fn ids(v: &HeaderValue<'_>) -> Vec<String> {
    match v {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => vec![],
    }
}

/// The inquiry id for an inbound message's Message-ID, valid by SPEC §4.14 (1–64 characters
/// of `A–Z a–z 0–9 . _ : -`). Deterministic, so our answer's In-Reply-To finds it again: the
/// Message-ID itself when it fits as it is, else a readable part of it plus an FNV-1a hash of
/// the whole (stable across versions, unlike std's hasher).
pub(crate) fn inquiry_id(message_id: &str) -> String {
    let raw = message_id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    let plain = format!("MAIL-{raw}");
    if crate::engine::model::valid_id(&plain) {
        return plain;
    }
    let hash = raw.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    });
    let readable: String = raw
        .chars()
        .map(|c| match c {
            '@' => '.',
            c if c.is_ascii_alphanumeric() || ".-_".contains(c) => c,
            _ => '_',
        })
        .take(42)
        .collect();
    format!("MAIL-{readable}-{hash:016x}")
}

/// The organization an address belongs to (meldingsansvarlig or an extra address).
pub(crate) fn org_of(cfg: &Config, address: &str) -> Option<String> {
    let a = address.trim().to_ascii_lowercase();
    cfg.orgs
        .iter()
        .find(|o| {
            o.meldingsansvarlig.eq_ignore_ascii_case(&a)
                || o.extra_addresses.iter().any(|x| x.eq_ignore_ascii_case(&a))
        })
        .map(|o| o.id.clone())
}

fn is_auto_reply(m: &mail_parser::Message<'_>) -> bool {
    let raw = |h: &str| m.header_raw(h).map(|v| v.trim().to_ascii_lowercase());
    if raw("Auto-Submitted").is_some_and(|v| !v.starts_with("no")) {
        return true;
    }
    if raw("X-Autoreply").is_some() || raw("X-Autorespond").is_some() {
        return true;
    }
    if raw("Precedence").is_some_and(|v| ["auto_reply", "bulk", "junk"].contains(&v.as_str())) {
        return true;
    }
    let s = m.subject().unwrap_or("").to_lowercase();
    [
        "automatisk svar",
        "autosvar",
        "out of office",
        "fravær",
        "auto:",
        "automatic reply",
        "autoreply",
    ]
    .iter()
    .any(|p| s.starts_with(p))
}

/// Our messages a bounce quotes: every `<…>` in it that is one of our Message-IDs (the
/// returned message's headers are attached to a delivery-status report).
fn returned_keys(cfg: &Config, raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    let mut keys: Vec<String> = Vec::new();
    let mut rest = text.as_ref();
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let Some(j) = rest.find('>').filter(|j| *j <= 300) else {
            continue;
        };
        if let Some(k) = key_of_message_id(cfg, &rest[..j]) {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        rest = &rest[j..];
    }
    keys
}

fn bounce_addresses(m: &mail_parser::Message<'_>, raw: &[u8]) -> Option<Vec<String>> {
    let from = m
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap_or("")
        .to_ascii_lowercase();
    let ctype = m
        .header_raw("Content-Type")
        .unwrap_or("")
        .to_ascii_lowercase();
    let report = ctype.contains("multipart/report") && ctype.contains("delivery-status");
    if !(report || from.starts_with("mailer-daemon@") || from.starts_with("postmaster@")) {
        return None;
    }
    let text = String::from_utf8_lossy(raw);
    let mut found: Vec<String> = text
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let lower = l.to_ascii_lowercase();
            lower
                .strip_prefix("final-recipient:")
                .map(|_| l["final-recipient:".len()..].trim())
        })
        .map(|v| {
            v.rsplit(';')
                .next()
                .unwrap_or(v)
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
        .filter(|a| a.contains('@'))
        .collect();
    found.sort();
    found.dedup();
    Some(found)
}

/// What a raw message is, given the follow-ups still waiting for a reply.
pub(crate) fn classify(
    cfg: &Config,
    raw: &[u8],
    folder: Folder,
    open: &[OpenFollowup],
) -> Classified {
    let Some(m) = MessageParser::default().parse(raw) else {
        return Classified::Unparseable;
    };
    let from = m
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap_or("")
        .to_string();
    let refs: Vec<String> = ids(m.in_reply_to())
        .into_iter()
        .chain(ids(m.references()))
        .collect();

    // 1. Our own answers.
    if folder == Folder::Sent || from.eq_ignore_ascii_case(&cfg.self_.meldingsansvarlig) {
        return match refs.iter().find(|r| key_of_message_id(cfg, r).is_none()) {
            Some(r) => Classified::Answer {
                inquiry: inquiry_id(r),
            },
            None => Classified::NotOurs,
        };
    }
    // 2, 3.
    if is_auto_reply(&m) {
        return Classified::AutoReply;
    }
    if let Some(addresses) = bounce_addresses(&m, raw) {
        return Classified::Bounce {
            addresses,
            returned: returned_keys(cfg, raw),
        };
    }
    // 4. Replies by header.
    for r in &refs {
        if let Some(key) = key_of_message_id(cfg, r) {
            let parts: Vec<&str> = key.split('/').collect();
            if let [incident, kind, org] = parts[..] {
                if ["followup", "escalation", "resolved"].contains(&kind) {
                    return Classified::Reply {
                        incident: incident.to_string(),
                        org: org.to_string(),
                    };
                }
            }
        }
    }
    let Some(org) = org_of(cfg, &from) else {
        return Classified::NotOurs;
    };
    let subject = m.subject().unwrap_or("").to_string();
    // 5. Replies by sender and subject.
    if let Some(f) = open
        .iter()
        .find(|f| f.org == org && subject.to_lowercase().contains(&f.subject.to_lowercase()))
    {
        return Classified::Reply {
            incident: f.incident.clone(),
            org,
        };
    }
    // 6. A new inbound inquiry.
    match m.message_id() {
        Some(id) => Classified::Inquiry {
            id: inquiry_id(id),
            org,
            subject,
        },
        None => Classified::NotOurs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testutil::example_config as cfg;

    fn mail(headers: &str, body: &str) -> Vec<u8> {
        format!(
            "{}\r\n\r\n{}\r\n",
            headers.trim().replace('\n', "\r\n"),
            body
        )
        .into_bytes()
    }

    fn open() -> Vec<OpenFollowup> {
        vec![OpenFollowup {
            incident: "INC-1".into(),
            org: "malvik".into(),
            subject: "Manglende kvittering".into(),
        }]
    }

    #[test]
    fn reply_by_headers() {
        let c = cfg();
        let m = mail(
            "From: Malvik <meldingsansvarlig@malvik.kommune.example>\nTo: meldingsansvarlig@helse-midt.example\nSubject: SV: Manglende kvittering\nMessage-ID: <a1@malvik.kommune.example>\nIn-Reply-To: <mv.hemit.INC-7.followup.malvik@helse-midt.example>",
            "Vi ser på det.",
        );
        assert_eq!(
            classify(&c, &m, Folder::Inbox, &[]),
            Classified::Reply {
                incident: "INC-7".into(),
                org: "malvik".into()
            }
        );
        // Only References (some clients drop In-Reply-To).
        let m = mail("From: x@elsewhere.example\nSubject: Re: sak\nMessage-ID: <a2@x>\nReferences: <other@x> <mv.hemit.AM-malvik-kvittering-1.escalation.malvik@helse-midt.example>", "ok");
        assert_eq!(
            classify(&c, &m, Folder::Inbox, &[]),
            Classified::Reply {
                incident: "AM-malvik-kvittering-1".into(),
                org: "malvik".into()
            }
        );
    }

    #[test]
    fn reply_by_sender_and_subject_and_otherwise_an_inquiry() {
        let c = cfg();
        let m = mail("From: meldingsansvarlig@malvik.kommune.example\nSubject: =?utf-8?q?SV=3A_Manglende_kvittering_=E2=80=93_sjekket_hos_oss?=\nMessage-ID: <b1@malvik>", "Hei");
        assert_eq!(
            classify(&c, &m, Folder::Inbox, &open()),
            Classified::Reply {
                incident: "INC-1".into(),
                org: "malvik".into()
            }
        );
        // No open inquiry to Malvik: a new inbound inquiry, subject decoded.
        let m = mail("From: meldingsansvarlig@melhus.kommune.example\nSubject: =?utf-8?b?RmVpbCB2ZWQgc2VuZGluZyBhdiBlcGlrcmlzZSBww6UgZsO4ZGVhdmRlbGluZw==?=\nMessage-ID: <c1@melhus.kommune.example>", "Hei");
        assert_eq!(
            classify(&c, &m, Folder::Inbox, &open()),
            Classified::Inquiry {
                id: inquiry_id("c1@melhus.kommune.example"),
                org: "melhus".into(),
                subject: "Feil ved sending av epikrise på fødeavdeling".into()
            }
        );
    }

    #[test]
    fn auto_replies_and_bounces_are_not_replies() {
        let c = cfg();
        let m = mail("From: meldingsansvarlig@malvik.kommune.example\nAuto-Submitted: auto-replied\nSubject: SV: Manglende kvittering\nIn-Reply-To: <mv.hemit.INC-1.followup.malvik@helse-midt.example>\nMessage-ID: <d1@m>", "Jeg er på ferie");
        assert_eq!(
            classify(&c, &m, Folder::Inbox, &open()),
            Classified::AutoReply
        );
        let m = mail("From: meldingsansvarlig@malvik.kommune.example\nSubject: Fravær: Manglende kvittering\nMessage-ID: <d2@m>", "Borte til mandag");
        assert_eq!(
            classify(&c, &m, Folder::Inbox, &open()),
            Classified::AutoReply
        );
        let m = mail(
            "From: Mail Delivery System <MAILER-DAEMON@mx.example>\nSubject: Undelivered Mail Returned to Sender\nMessage-ID: <e1@mx>\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"",
            "--b\r\nContent-Type: text/plain\r\n\r\nCould not deliver.\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: rfc822; meldingsansvarlig@tydal.kommune.example\r\nAction: failed\r\nStatus: 5.1.1\r\n--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <mv.hemit.INC-1.unplanned.tydal@helse-midt.example>\r\nSubject: Feil i meldingsutveksling\r\n--b--",
        );
        assert_eq!(
            classify(&c, &m, Folder::Inbox, &[]),
            Classified::Bounce {
                addresses: vec!["meldingsansvarlig@tydal.kommune.example".into()],
                returned: vec!["INC-1/unplanned/tydal".into()],
            }
        );
    }

    #[test]
    fn our_answers_and_strangers() {
        let c = cfg();
        let m = mail("From: meldingsansvarlig@helse-midt.example\nTo: meldingsansvarlig@melhus.kommune.example\nSubject: SV: Feil ved sending\nIn-Reply-To: <c1@melhus.kommune.example>\nMessage-ID: <f1@h>", "Svar");
        assert_eq!(
            classify(&c, &m, Folder::Sent, &[]),
            Classified::Answer {
                inquiry: inquiry_id("c1@melhus.kommune.example")
            }
        );
        // Our own notices in Sent answer nothing.
        let m = mail("From: meldingsansvarlig@helse-midt.example\nSubject: Oppdatering: Feil\nIn-Reply-To: <mv.hemit.INC-1.unplanned.malvik@helse-midt.example>\nMessage-ID: <mv.hemit.INC-1.update1.malvik@helse-midt.example>", "x");
        assert_eq!(classify(&c, &m, Folder::Sent, &[]), Classified::NotOurs);
        let m = mail(
            "From: someone@nowhere.example\nSubject: Tilbud på kaffemaskin\nMessage-ID: <g1@n>",
            "Kjøp",
        );
        assert_eq!(
            classify(&c, &m, Folder::Inbox, &open()),
            Classified::NotOurs
        );
        // Garbage is never a reply or an inquiry (mail-parser is lenient; either answer is fine).
        for junk in [&b"\xff\xfe"[..], b"", b"no headers at all"] {
            let r = classify(&c, junk, Folder::Inbox, &open());
            assert!(
                matches!(r, Classified::Unparseable | Classified::NotOurs),
                "{r:?}"
            );
        }
    }
}
