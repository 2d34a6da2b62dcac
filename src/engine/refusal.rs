//! Why an input is refused: one enum for the door and the rules.
//!
//! Every refusal has two texts: `Display` (English, for the API, the CLI and the log) and
//! `norsk()` (bokmål, for the operator console). Both are written here, per variant, so a
//! new reason cannot reach the console in English: `norsk` is an exhaustive match, and
//! `tests::every_refusal_has_bokmaal` walks `Refusal::samples()`.

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
    #[error("`{field}`: {why}")]
    Invalid { field: String, why: Why },
}

/// What is wrong with a well-formed field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// A stop's start (or detection) more than a year ago or more than a day ahead.
    StopStartRange,
    /// An expected restoration more than a year away.
    ExpectedEndRange,
    /// A maintenance outside a year back and two years ahead.
    WindowRange,
    /// A maintenance longer than 31 days.
    WindowTooLong,
    /// `to` not after `from`.
    ToNotAfterFrom,
    /// A time before the stop began (expected restoration, resolution).
    BeforeStart,
    /// A resolution time in the future.
    InFuture,
    /// A resolution time more than a year back.
    ResolvedRange,
    /// An organization removed from the configuration, kept only for the cases naming it.
    OrgRemoved(String),
    /// An empty value where one is needed.
    Empty,
    /// `by`: not a name of 1–100 characters.
    ByName,
    /// A reply naming an organization the incident does not concern.
    NotOfIncident { org: String, incident: String },
    /// A maintenance by a counterpart that names neither organizations nor services.
    NameAffected,
    /// A maintenance's source cannot change.
    SourceFixed,
    /// An alert label naming an unknown organization.
    LabelOrg(String),
    /// An alert label naming an unknown service.
    LabelService(String),
    /// An alert label with a value outside its set (`want` lists the set).
    LabelValue { value: String, want: &'static str },
    /// A directory link for a round that is not the organization's latest.
    NotLatestRound,
    /// A round already answered.
    Answered,
    /// No proposed address waits for confirmation (or not this one).
    NoProposal,
    /// Not an e-mail address.
    Address,
    /// Not a phone number.
    Phone,
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::StopStartRange => {
                f.write_str("out of range: a stop began at most a year ago and at most a day ahead")
            }
            Why::ExpectedEndRange => f.write_str("out of range: within a year"),
            Why::WindowRange => f.write_str(
                "out of range: a maintenance lies between a year ago and two years ahead",
            ),
            Why::WindowTooLong => f.write_str("a maintenance window lasts at most 31 days"),
            Why::ToNotAfterFrom => f.write_str("must be after `from`"),
            Why::BeforeStart => f.write_str("is before `started_at`"),
            Why::InFuture => f.write_str("is in the future"),
            Why::ResolvedRange => f.write_str("out of range: at most a year ago"),
            Why::OrgRemoved(id) => write!(
                f,
                "organization {id:?} was removed from the configuration; it is kept only for the cases that already name it"
            ),
            Why::Empty => f.write_str("must not be empty"),
            Why::ByName => f.write_str("who did it: a name of 1–100 characters"),
            Why::NotOfIncident { org, incident } => {
                write!(f, "{org:?} is not an organization of incident {incident:?}")
            }
            Why::NameAffected => f.write_str("name the affected organizations or services"),
            Why::SourceFixed => f.write_str(
                "who carries out a maintenance cannot change; cancel it and add a new one",
            ),
            Why::LabelOrg(o) => write!(f, "unknown organization {o:?}"),
            Why::LabelService(s) => write!(f, "unknown service {s:?}"),
            Why::LabelValue { value, want } => write!(f, "{value:?} is not {want}"),
            Why::NotLatestRound => f.write_str("not the organization's latest round"),
            Why::Answered => f.write_str("this round is already answered"),
            Why::NoProposal => f.write_str("no proposed address waits for this confirmation"),
            Why::Address => f.write_str("not an e-mail address"),
            Why::Phone => f.write_str("not a phone number (5–15 digits, spaces, + and -)"),
        }
    }
}

impl Why {
    /// The same, in bokmål, for the console.
    pub fn norsk(&self) -> String {
        match self {
            Why::StopStartRange => {
                "Tidspunktet må være innen det siste året og høyst ett døgn fram.".into()
            }
            Why::ExpectedEndRange => "Tidspunktet må være innen ett år.".into(),
            Why::WindowRange => {
                "Et vedlikehold må ligge mellom ett år tilbake og to år fram.".into()
            }
            Why::WindowTooLong => "Et vedlikeholdsvindu kan vare høyst 31 dager.".into(),
            Why::ToNotAfterFrom => "Slutt må være etter start.".into(),
            Why::BeforeStart => "Tidspunktet er før stansen begynte.".into(),
            Why::InFuture => "Tidspunktet kan ikke være fram i tid.".into(),
            Why::ResolvedRange => "Tidspunktet må være innen det siste året.".into(),
            Why::OrgRemoved(id) => format!(
                "Organisasjonen «{id}» er fjernet fra konfigurasjonen; den beholdes bare i saker som allerede nevner den."
            ),
            Why::Empty => "Feltet kan ikke være tomt.".into(),
            Why::ByName => "Navnet må ha 1–100 tegn.".into(),
            Why::NotOfIncident { org, incident } => {
                format!("«{org}» er ikke en av organisasjonene i hendelse «{incident}».")
            }
            Why::NameAffected => "Velg berørte organisasjoner eller tjenester.".into(),
            Why::SourceFixed => {
                "Hvem som utfører vedlikeholdet kan ikke endres; avlys det og registrer et nytt."
                    .into()
            }
            Why::LabelOrg(o) => format!("Ukjent organisasjon «{o}»."),
            Why::LabelService(s) => format!("Ukjent tjeneste «{s}»."),
            Why::LabelValue { value, .. } => format!("Ugyldig verdi «{value}»."),
            Why::NotLatestRound => "Lenken gjelder en eldre forespørsel.".into(),
            Why::Answered => "Denne forespørselen er allerede besvart.".into(),
            Why::NoProposal => "Ingen ny adresse venter på bekreftelse.".into(),
            Why::Address => "Skriv en gyldig e-postadresse.".into(),
            Why::Phone => "Skriv et telefonnummer (5–15 sifre).".into(),
        }
    }
}

impl Refusal {
    /// Shorthand for `Invalid`.
    pub fn invalid(field: impl Into<String>, why: Why) -> Refusal {
        Refusal::Invalid {
            field: field.into(),
            why,
        }
    }

    /// The field a refusal concerns, as a form names it: "`orgs[2]`: …" → "orgs".
    pub fn field(&self) -> String {
        let lead = |s: &str| -> String {
            s.strip_prefix('`')
                .and_then(|s| s.split('`').next())
                .map(|f| f.split(['[', '.']).next().unwrap_or("").to_string())
                .unwrap_or_default()
        };
        match self {
            Refusal::Malformed(m) => {
                let f = lead(m);
                if f.is_empty() {
                    // serde's "missing field `x`" / "unknown field `x`, expected …"
                    m.split('`').nth(1).unwrap_or("").to_string()
                } else {
                    f
                }
            }
            Refusal::BadId | Refusal::Duplicate { .. } => "id".into(),
            Refusal::UnknownOrg { field, .. } | Refusal::UnknownService { field, .. } => {
                lead(&format!("`{field}`"))
            }
            Refusal::PersonalData { field } | Refusal::Invalid { field, .. } => {
                lead(&format!("`{field}`"))
            }
            Refusal::Unknown { .. } | Refusal::Closed { .. } => String::new(),
        }
    }

    /// What to tell an operator in the console, in bokmål.
    pub fn norsk(&self) -> String {
        match self {
            Refusal::PersonalData { .. } => "Feltet ser ut til å inneholde et fødselsnummer eller D-nummer. Personopplysninger kan ikke sendes ut av meldingsvakt; skriv det uten.".into(),
            Refusal::BadId => "Saksnummeret kan bare ha 1–64 tegn av A–Z, a–z, 0–9, punktum, understrek, kolon og bindestrek.".into(),
            Refusal::UnknownOrg { id, .. } => format!("Ukjent organisasjon «{id}»."),
            Refusal::UnknownService { id, .. } => format!("Ukjent tjeneste «{id}»."),
            Refusal::Duplicate { id, .. } => {
                format!("Saksnummeret «{id}» er allerede i bruk; velg et annet.")
            }
            Refusal::Closed { id, state, .. } => format!(
                "Saken «{id}» er allerede {}; den kan ikke endres.",
                match *state {
                    "resolved" => "løst",
                    "cancelled" => "avlyst",
                    "answered" => "besvart",
                    _ => "avsluttet",
                }
            ),
            Refusal::Unknown { id, .. } => format!("Ukjent sak «{id}»."),
            Refusal::Malformed(m) => {
                let f = self.field();
                if m.starts_with("missing field") {
                    "Et påkrevd felt mangler.".into()
                } else if f.is_empty() {
                    "Skjemaet kunne ikke leses; sjekk feltene og prøv igjen.".into()
                } else if m.contains("time") || m.contains("date") {
                    "Ugyldig tidspunkt; skriv dato og klokkeslett som 2026-12-04 14:30.".into()
                } else {
                    "Ugyldig verdi; sjekk feltet og prøv igjen.".into()
                }
            }
            Refusal::Invalid { why, .. } => why.norsk(),
        }
    }

    /// One refusal of every kind (and every `Why`), for tests that check every text.
    pub fn samples() -> Vec<Refusal> {
        let s = |x: &str| x.to_string();
        let whys = vec![
            Why::StopStartRange,
            Why::ExpectedEndRange,
            Why::WindowRange,
            Why::WindowTooLong,
            Why::ToNotAfterFrom,
            Why::BeforeStart,
            Why::InFuture,
            Why::ResolvedRange,
            Why::OrgRemoved(s("malvik")),
            Why::Empty,
            Why::ByName,
            Why::NotOfIncident {
                org: s("malvik"),
                incident: s("I-1"),
            },
            Why::NameAffected,
            Why::SourceFixed,
            Why::LabelOrg(s("x")),
            Why::LabelService(s("x")),
            Why::NotLatestRound,
            Why::Answered,
            Why::NoProposal,
            Why::Address,
            Why::Phone,
            Why::LabelValue {
                value: s("x"),
                want: "a category A–D",
            },
        ];
        // Exhaustiveness: a new `Why` fails to compile here until it is listed above.
        for w in &whys {
            match w {
                Why::StopStartRange
                | Why::ExpectedEndRange
                | Why::WindowRange
                | Why::WindowTooLong
                | Why::ToNotAfterFrom
                | Why::BeforeStart
                | Why::InFuture
                | Why::ResolvedRange
                | Why::OrgRemoved(_)
                | Why::Empty
                | Why::ByName
                | Why::NotOfIncident { .. }
                | Why::NameAffected
                | Why::SourceFixed
                | Why::LabelOrg(_)
                | Why::LabelService(_)
                | Why::LabelValue { .. }
                | Why::NotLatestRound
                | Why::Answered
                | Why::NoProposal
                | Why::Address
                | Why::Phone => {}
            }
        }
        let mut v = vec![
            Refusal::Malformed(s("`expected_end`: invalid time \"x\"")),
            Refusal::Malformed(s("missing field `id`")),
            Refusal::Malformed(s("unknown field `x`, expected one of `id`")),
            Refusal::Malformed(s("`orgs`: invalid type: string, expected a sequence")),
            Refusal::BadId,
            Refusal::UnknownOrg {
                field: "orgs",
                id: s("x"),
            },
            Refusal::UnknownService {
                field: "services",
                id: s("x"),
            },
            Refusal::Unknown {
                what: "incident",
                id: s("I-1"),
            },
            Refusal::Duplicate {
                what: "incident",
                id: s("I-1"),
            },
            Refusal::Closed {
                what: "incident",
                id: s("I-1"),
                state: "resolved",
            },
            Refusal::Closed {
                what: "maintenance",
                id: s("V-1"),
                state: "cancelled",
            },
            Refusal::PersonalData {
                field: s("measures"),
            },
        ];
        v.extend(whys.into_iter().map(|w| Refusal::invalid("to", w)));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// English words that never belong in a bokmål sentence shown to an operator.
    pub const ENGLISH: &[&str] = &[
        " must ", " is ", " the ", " not ", " of ", " an ", " a ", "unknown", "invalid", "field",
        "expected", "already", "before", "after", "range", " or ", "name the", "cannot",
    ];

    #[test]
    fn every_refusal_has_bokmaal() {
        for r in Refusal::samples() {
            let n = format!(" {} ", r.norsk().to_lowercase());
            for w in ENGLISH {
                assert!(!n.contains(w), "{r:?}: {n:?} has English {w:?}");
            }
            assert!(
                n.trim_end().ends_with('.'),
                "{r:?}: a sentence ends with a full stop: {n:?}"
            );
        }
    }

    #[test]
    fn refusals_find_their_field() {
        assert_eq!(
            Refusal::Malformed("`expected_end`: invalid time \"x\"".into()).field(),
            "expected_end"
        );
        assert_eq!(
            Refusal::Malformed("missing field `id`".into()).field(),
            "id"
        );
        assert_eq!(
            Refusal::UnknownOrg {
                field: "orgs",
                id: "x".into()
            }
            .field(),
            "orgs"
        );
        assert_eq!(Refusal::invalid("labels.org", Why::Empty).field(), "labels");
    }
}
