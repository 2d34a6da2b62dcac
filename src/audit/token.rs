//! Personal API tokens (SPEC §5.10): a person's own bearer token, shown once, stored as its
//! SHA-256 only, with an expiry, revocable. The token text is `mvt_` and 40 hex digits (160
//! random bits); its first 8 hex digits are its public id, shown in lists and the audit log.
//! A hash of a 160-bit random secret needs no slow KDF: there is nothing to guess.

use super::Role;
use chrono::{DateTime, Utc};
use ring::digest::{digest, SHA256};

/// The prefix every personal token starts with (a secret scanner can find leaked ones).
pub const PREFIX: &str = "mvt_";

/// A personal token as the store keeps it (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonalToken {
    /// Its public id: the token's first 8 hex digits.
    pub id: String,
    /// SHA-256 of the token text, hex.
    pub hash: String,
    /// Whose it is (the name the person signed in with).
    pub person: String,
    /// The role it acts in: the person's role when it was made.
    pub role: Role,
    /// What the person called it ("laptop", "skript for vaktbytte").
    pub label: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it was last used (on the leading host).
    pub last_used_at: Option<DateTime<Utc>>,
}

impl PersonalToken {
    /// A new token from 20 random bytes: the text to show once, and what to keep.
    pub fn mint(
        random: [u8; 20],
        person: &str,
        role: Role,
        label: &str,
        now: DateTime<Utc>,
        life: chrono::Duration,
    ) -> (String, PersonalToken) {
        use chrono::SubsecRound;
        // Times as the store keeps them (milliseconds, as the audit log writes them).
        let now = now.trunc_subsecs(3);
        let hexed: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let text = format!("{PREFIX}{hexed}");
        let t = PersonalToken {
            id: hexed[..8].to_string(),
            hash: hash(&text),
            person: person.to_string(),
            role,
            label: label.to_string(),
            created_at: now,
            expires_at: now + life,
            revoked_at: None,
            last_used_at: None,
        };
        (text, t)
    }

    /// Whether it may be used at `now`: not revoked, not expired.
    pub fn usable(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// Whether `text` has the shape of a personal token (before it is looked up).
pub fn looks_personal(text: &str) -> bool {
    text.strip_prefix(PREFIX)
        .is_some_and(|h| h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The stored form of a token text.
pub fn hash(text: &str) -> String {
    super::hex(digest(&SHA256, text.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_token_is_found_by_its_hash_only_and_ends() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-05T10:00:00Z")
            .unwrap()
            .to_utc();
        let (text, t) = PersonalToken::mint(
            [0xab; 20],
            "Kari",
            Role::Operator,
            "laptop",
            now,
            chrono::Duration::days(90),
        );
        assert!(looks_personal(&text));
        assert_eq!(t.id, "abababab");
        assert_eq!(t.hash, hash(&text));
        assert!(
            !t.hash.contains(&text[4..]),
            "the store never holds the secret"
        );
        assert!(t.usable(now + chrono::Duration::days(89)));
        assert!(!t.usable(now + chrono::Duration::days(90)));
        let revoked = PersonalToken {
            revoked_at: Some(now),
            ..t
        };
        assert!(!revoked.usable(now));
        assert!(!looks_personal("mvt_short"));
        assert!(!looks_personal(&text.replace("mvt_", "xyz_")));
    }
}
