//! Why an input is refused: one enum for the door and the rules.

use super::model::ID_RULE;

/// Why an input is refused — at the door (parsing, the id rule, the personal-data guard) or
/// by the engine (unknown or closed cases, unknown organizations). Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not an event of its type: the field and what is wrong (never the value).
    #[error("{0}")]
    Malformed(String),
    /// An id outside the id rule (SPEC §4.14); the message does not echo it.
    #[error("`id`: {ID_RULE}")]
    BadId,
    #[error("`{field}`: unknown organization {id:?}")]
    UnknownOrg { field: &'static str, id: String },
    #[error("`{field}`: unknown service {id:?}")]
    UnknownService { field: &'static str, id: String },
    #[error("unknown {what} {id:?}")]
    Unknown { what: &'static str, id: String },
    #[error("{what} {id:?} already exists")]
    Duplicate { what: &'static str, id: String },
    #[error("{what} {id:?} is already {state}")]
    Closed {
        what: &'static str,
        id: String,
        state: &'static str,
    },
    #[error("`{field}` contains what looks like a Norwegian national identity number or D-number; personal data may not leave meldingsvakt (seeds/001 §2.1)")]
    PersonalData { field: String },
    #[error("`{field}`: {message}")]
    Invalid { field: String, message: String },
}
