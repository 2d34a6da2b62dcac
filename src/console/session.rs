//! Console sessions (SPEC §5.6): a signed cookie, no server-side table, so a restart or a
//! second host (SPEC §5.7) keeps operators signed in as long as the operator token is the
//! same. The key is derived from the operator token: rotating the token ends every session.
//!
//! Cookie value: `{expires}.{nonce}.{role}.{user}.{mac}` — expiry in Unix seconds, 16 random
//! bytes, the role (`audit::Role`), the user name's UTF-8 in hex, and HMAC-SHA256 over the
//! first four. The CSRF token of a
//! session is HMAC("csrf" + nonce): a form from another site cannot know it, and it changes
//! with every sign-in.

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

/// The session cookie's name.
pub(crate) const COOKIE: &str = "mv_ops";

/// The signing key of console sessions.
#[derive(Clone)]
pub(crate) struct Keys {
    key: hmac::Key,
}

/// A signed-in operator.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Session {
    pub user: String,
    /// The role the person signed in with (SPEC §5.10).
    pub role: crate::audit::Role,
    pub expires: i64,
    nonce: String,
}

/// `s`'s UTF-8 in hex (a value that may hold any character, inside a dotted cookie).
pub(crate) fn hex_text(s: &str) -> String {
    hex(s.as_bytes())
}

/// The text `hex_text` wrote.
pub(crate) fn unhex_text(h: &str) -> Option<String> {
    String::from_utf8(unhex(h)?).ok()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

impl Keys {
    /// Keys derived from the operator token in force.
    pub(crate) fn new(operator_token: &str) -> Keys {
        let root = hmac::Key::new(hmac::HMAC_SHA256, operator_token.as_bytes());
        let derived = hmac::sign(&root, b"meldingsvakt console session v1");
        Keys {
            key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
        }
    }

    /// A new session for `user`, valid until `expires` (Unix seconds); `None` without
    /// randomness.
    pub(crate) fn mint(
        &self,
        user: &str,
        role: crate::audit::Role,
        expires: i64,
    ) -> Option<(Session, String)> {
        let mut nonce = [0u8; 16];
        SystemRandom::new().fill(&mut nonce).ok()?;
        let s = Session {
            user: user.to_string(),
            role,
            expires,
            nonce: hex(&nonce),
        };
        let body = format!(
            "{expires}.{}.{}.{}",
            s.nonce,
            role.as_str(),
            hex(user.as_bytes())
        );
        let mac = hex(hmac::sign(&self.key, body.as_bytes()).as_ref());
        Some((s, format!("{body}.{mac}")))
    }

    /// The session a cookie value holds, if its signature holds and it has not expired.
    pub(crate) fn open(&self, cookie: &str, now: i64) -> Option<Session> {
        let (body, mac) = cookie.rsplit_once('.')?;
        hmac::verify(&self.key, body.as_bytes(), &unhex(mac)?).ok()?;
        let mut parts = body.splitn(4, '.');
        let expires: i64 = parts.next()?.parse().ok()?;
        let nonce = parts.next()?.to_string();
        let role = crate::audit::Role::parse(parts.next()?)?;
        let user = String::from_utf8(unhex(parts.next()?)?).ok()?;
        (now < expires).then_some(Session {
            user,
            role,
            expires,
            nonce,
        })
    }

    /// The session's CSRF token (what every form carries).
    pub(crate) fn csrf(&self, s: &Session) -> String {
        let tag = hmac::sign(&self.key, format!("csrf.{}", s.nonce).as_bytes());
        hex(&tag.as_ref()[..16])
    }

    /// Whether `token` is the session's CSRF token (constant time).
    pub(crate) fn csrf_ok(&self, s: &Session, token: &str) -> bool {
        let want = self.csrf(s);
        want.len() == token.len()
            && want
                .bytes()
                .zip(token.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

impl Keys {
    /// `body` signed for `purpose` (another purpose's seal does not open here).
    pub(crate) fn seal(&self, purpose: &str, body: &str) -> String {
        let mac = hmac::sign(&self.key, format!("{purpose}\n{body}").as_bytes());
        format!("{body}.{}", hex(mac.as_ref()))
    }

    /// The body of a seal made for `purpose`, if its signature holds.
    pub(crate) fn unseal<'a>(&self, purpose: &str, sealed: &'a str) -> Option<&'a str> {
        let (body, mac) = sealed.rsplit_once('.')?;
        hmac::verify(
            &self.key,
            format!("{purpose}\n{body}").as_bytes(),
            &unhex(mac)?,
        )
        .ok()?;
        Some(body)
    }
}

/// The cookie that carries a sign-in with OpenID Connect from its start to the provider's
/// answer: `state`, `nonce` and the PKCE verifier, sealed, for 10 minutes. SameSite=Lax: it
/// must come back on the provider's top-level redirect, which Strict would withhold.
pub(crate) const FLOW_COOKIE: &str = "mv_oidc";

/// The `Set-Cookie` value of the sign-in flow cookie.
pub(crate) fn set_flow_cookie(value: &str, max_age: i64, secure: bool) -> String {
    format!(
        "{FLOW_COOKIE}={value}; Path=/ops/login; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The value of cookie `name` in a `Cookie` header.
pub(crate) fn named_cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The `Set-Cookie` value for a session (HttpOnly, SameSite=Strict, path `/ops`).
pub(crate) fn set_cookie(value: &str, max_age: i64, secure: bool) -> String {
    format!(
        "{COOKIE}={value}; Path=/ops; Max-Age={max_age}; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The value of our cookie in a `Cookie` header.
pub(crate) fn cookie_value(header: &str) -> Option<&str> {
    named_cookie(header, COOKIE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_signed_expire_and_carry_their_own_csrf_token() {
        let k = Keys::new("operator-token-0123456789");
        let (s, c) = k
            .mint("Kari Nordmann", crate::audit::Role::Operator, 1_000)
            .unwrap();
        assert_eq!(k.open(&c, 999), Some(s.clone()));
        assert_eq!(k.open(&c, 1_000), None, "expired");
        // A changed user name, expiry or signature is refused.
        let forged = c.replacen("1000.", "9999.", 1);
        assert_eq!(k.open(&forged, 0), None);
        let (body, _) = c.rsplit_once('.').unwrap();
        let other_user = format!(
            "{}.{}",
            body.rsplit_once('.').unwrap().0,
            hex("admin".as_bytes())
        );
        assert_eq!(
            k.open(&format!("{other_user}.{}", "00".repeat(32)), 0),
            None
        );
        // Another operator token (rotated): every session ends.
        assert_eq!(Keys::new("another-token-0123456789").open(&c, 0), None);
        // CSRF: per session, checked exactly.
        let (s2, _) = k
            .mint("Kari Nordmann", crate::audit::Role::Operator, 1_000)
            .unwrap();
        let t = k.csrf(&s);
        assert!(k.csrf_ok(&s, &t));
        assert!(!k.csrf_ok(&s2, &t), "another sign-in has another token");
        assert!(!k.csrf_ok(&s, ""));
        assert_eq!(
            cookie_value(&format!("a=b; {COOKIE}={c}")),
            Some(c.as_str())
        );
        assert!(set_cookie("x", 60, false).contains("HttpOnly; SameSite=Strict"));
        // Seals: bound to their purpose and their key.
        let sealed = k.seal("oidc", "600.state.nonce");
        assert_eq!(k.unseal("oidc", &sealed), Some("600.state.nonce"));
        assert_eq!(k.unseal("other", &sealed), None);
        assert_eq!(k.unseal("oidc", &sealed.replacen("600", "601", 1)), None);
        assert_eq!(
            Keys::new("another-token-0123456789").unseal("oidc", &sealed),
            None
        );
    }
}
