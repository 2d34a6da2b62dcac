//! The id rule (SPEC §4.14).

/// SPEC §4.14: what an id may be. Ids go into e-mail headers (Message-ID), file names, the
/// public status page and feed, so anything else is refused at the door.
pub const ID_RULE: &str =
    "must be 1–64 characters, each a letter A–Z or a–z, a digit, '.', '_', ':' or '-'";

/// Whether `s` passes the id rule ([`ID_RULE`]).
pub fn valid_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".:_-".contains(&b))
}
