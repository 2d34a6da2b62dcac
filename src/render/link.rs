//! The directory's personal links (SPEC §4.16): `/kontakt/{token}`, signed for one
//! organization and one round (or one proposed address), expiring with `link_lifetime`.
//!
//! A token is `base64url(payload) "." base64url(HMAC-SHA256(key, payload))`, the payload
//! `v1|{org}|{c or v}|{n}|{expiry as Unix seconds}`. Organization ids cannot hold `|` (SPEC
//! §4.14). The expiry is the action's instant plus the lifetime, so a retry of the same mail
//! carries the same link. The key is the store's (`directory_link_key`), shared by both
//! hosts; it never leaves the store and the process.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use ring::hmac;

/// What a link lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// See, confirm or correct the contacts (round `n`).
    Confirm,
    /// Confirm a proposed new address (proposal `n`).
    Verify,
}

/// One link's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub org: String,
    pub purpose: Purpose,
    pub n: u32,
    pub expires: DateTime<Utc>,
}

/// Why a token was refused (the page says neither: "Lenken er ugyldig eller utløpt").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not a token, or not signed with our key.
    Invalid,
    /// Signed, but past its expiry.
    Expired,
}

/// Where the key lives in the store's `sink_state` (sink, key): base64 of 32 random bytes.
pub const KEY_PLACE: (&str, &str) = ("directory", "link_key");

/// The stored key, decoded (`None` when it is not a key).
pub fn decode_key(stored: &str) -> Option<Vec<u8>> {
    B64_STD.decode(stored.trim()).ok().filter(|k| k.len() >= 32)
}

/// A new stored key.
pub fn encode_key(key: &[u8]) -> String {
    B64_STD.encode(key)
}

use base64::engine::general_purpose::STANDARD as B64_STD;

/// The longest token accepted (a real one is about 110 characters).
const MAX_TOKEN: usize = 400;

impl Link {
    /// The signed token.
    pub fn token(&self, key: &[u8]) -> String {
        let p = self.payload();
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), p.as_bytes());
        format!("{}.{}", B64.encode(p.as_bytes()), B64.encode(tag.as_ref()))
    }

    /// The whole link under `public_url`.
    pub fn url(&self, public_url: &str, key: &[u8]) -> String {
        format!(
            "{}/kontakt/{}",
            public_url.trim_end_matches('/'),
            self.token(key)
        )
    }

    fn payload(&self) -> String {
        let p = match self.purpose {
            Purpose::Confirm => 'c',
            Purpose::Verify => 'v',
        };
        format!(
            "v1|{}|{p}|{}|{}",
            self.org,
            self.n,
            self.expires.timestamp()
        )
    }

    /// Read a token: its signature checked in constant time, then its expiry against `now`.
    pub fn open(key: &[u8], token: &str, now: DateTime<Utc>) -> Result<Link, Refused> {
        if token.len() > MAX_TOKEN {
            return Err(Refused::Invalid);
        }
        let (p, tag) = token.split_once('.').ok_or(Refused::Invalid)?;
        let p = B64.decode(p).map_err(|_| Refused::Invalid)?;
        let tag = B64.decode(tag).map_err(|_| Refused::Invalid)?;
        hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, key), &p, &tag)
            .map_err(|_| Refused::Invalid)?;
        let p = String::from_utf8(p).map_err(|_| Refused::Invalid)?;
        let parts: Vec<&str> = p.split('|').collect();
        let [v, org, purpose, n, exp] = parts[..] else {
            return Err(Refused::Invalid);
        };
        let purpose = match purpose {
            "c" => Purpose::Confirm,
            "v" => Purpose::Verify,
            _ => return Err(Refused::Invalid),
        };
        let n = n.parse().map_err(|_| Refused::Invalid)?;
        let expires = exp
            .parse::<i64>()
            .ok()
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .ok_or(Refused::Invalid)?;
        if v != "v1" || org.is_empty() {
            return Err(Refused::Invalid);
        }
        if now >= expires {
            return Err(Refused::Expired);
        }
        Ok(Link {
            org: org.to_string(),
            purpose,
            n,
            expires,
        })
    }
}

/// A subscriber's token (SPEC §4.17): `{id}.{base64url(HMAC-SHA256(key, "subscriber|" id))}`.
/// It opens the subscriber's own page (confirm, change, unsubscribe) for as long as the
/// subscriber exists; the id is 128 random bits, and the signature keeps a leaked id from
/// being a link.
pub fn subscriber_token(key: &[u8], id: &str) -> String {
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, key),
        format!("subscriber|{id}").as_bytes(),
    );
    format!("{id}.{}", B64.encode(tag.as_ref()))
}

/// The subscriber id a token was signed for, checked in constant time; `None` otherwise.
pub fn subscriber_of(key: &[u8], token: &str) -> Option<String> {
    if token.len() > MAX_TOKEN {
        return None;
    }
    let (id, tag) = token.split_once('.')?;
    let tag = B64.decode(tag).ok()?;
    hmac::verify(
        &hmac::Key::new(hmac::HMAC_SHA256, key),
        format!("subscriber|{id}").as_bytes(),
        &tag,
    )
    .ok()?;
    Some(id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn link() -> Link {
        Link {
            org: "malvik".into(),
            purpose: Purpose::Confirm,
            n: 3,
            expires: t("2027-01-05T07:00:00Z"),
        }
    }

    #[test]
    fn a_link_opens_with_its_key_until_it_expires() {
        let key = b"k".repeat(32);
        let tok = link().token(&key);
        assert_eq!(
            Link::open(&key, &tok, t("2027-01-05T06:59:59Z")),
            Ok(link())
        );
        assert_eq!(
            Link::open(&key, &tok, t("2027-01-05T07:00:00Z")),
            Err(Refused::Expired)
        );
        assert_eq!(
            Link::open(b"another key", &tok, t("2026-12-05T07:00:00Z")),
            Err(Refused::Invalid)
        );
    }

    #[test]
    fn a_subscriber_token_opens_for_its_id_only() {
        let key = [7u8; 32];
        let t = subscriber_token(&key, "abc123");
        assert_eq!(subscriber_of(&key, &t).as_deref(), Some("abc123"));
        let (_, tag) = t.split_once('.').unwrap();
        assert_eq!(subscriber_of(&key, &format!("abc124.{tag}")), None);
        assert_eq!(subscriber_of(&[8u8; 32], &t), None);
        assert_eq!(subscriber_of(&key, "abc123"), None);
    }

    #[test]
    fn an_altered_token_is_invalid() {
        let key = b"k".repeat(32);
        let tok = link().token(&key);
        let now = t("2026-12-05T07:00:00Z");
        // Another organization or round in the payload, the same signature.
        for other in [
            "v1|trondheim|c|3|1798182000",
            "v1|malvik|c|4|1798182000",
            "v1|malvik|v|3|1798182000",
        ] {
            let forged = format!("{}.{}", B64.encode(other), tok.split_once('.').unwrap().1);
            assert_eq!(
                Link::open(&key, &forged, now),
                Err(Refused::Invalid),
                "{other}"
            );
        }
        for bad in [
            "",
            ".",
            "x",
            "a.b.c",
            &"a".repeat(500),
            &tok[..tok.len() - 1],
        ] {
            assert_eq!(Link::open(&key, bad, now), Err(Refused::Invalid), "{bad}");
        }
    }
}
