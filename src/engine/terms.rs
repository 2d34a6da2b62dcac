//! The words the rules' inputs and outputs share: time, kind, category, impact,
//! environment, and what an action is about.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An instant (UTC; shown in Europe/Oslo).
pub type Time = DateTime<Utc>;

/// Incident kind; selects the unplanned subject (SPEC §3, seeds/004).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
/// What kind of trouble an incident is: `feil`, `kvittering` or `info` (SPEC §3).
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[default]
    Feil,
    Kvittering,
    Info,
}

impl Kind {
    /// The word the API and scenarios use.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Feil => "feil",
            Kind::Kvittering => "kvittering",
            Kind::Info => "info",
        }
    }
    /// From the API's word (`feil`, `kvittering`, `info`).
    pub fn parse(s: &str) -> Option<Kind> {
        match s.to_ascii_lowercase().as_str() {
            "feil" => Some(Kind::Feil),
            "kvittering" => Some(Kind::Kvittering),
            "info" => Some(Kind::Info),
            _ => None,
        }
    }
}

/// Fault category A–D (seeds/002 §6.1, seeds/003).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
/// Severity A–D (seeds/002 §6.2).
pub enum Category {
    A,
    #[default]
    B,
    C,
    D,
}

impl Category {
    /// A–D, or the usual Alertmanager severities (critical→A, major/error→B, warning/minor→C,
    /// info/low→D).
    pub fn parse(s: &str) -> Option<Category> {
        match s.trim().to_ascii_lowercase().as_str() {
            "a" | "critical" | "kritisk" => Some(Category::A),
            "b" | "major" | "error" | "high" | "alvorlig" => Some(Category::B),
            "c" | "warning" | "minor" | "medium" => Some(Category::C),
            "d" | "info" | "low" | "lav" | "none" => Some(Category::D),
            _ => None,
        }
    }
}

/// Impact (påvirkningsgrad, seeds/002 §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Impact {
    Alle,
    Hoy,
    Medium,
    Lav,
}

impl Impact {
    /// From the API's word (`alle`, `hoy`, `medium`, `lav`).
    pub fn parse(s: &str) -> Option<Impact> {
        match s.to_ascii_lowercase().as_str() {
            "alle" => Some(Impact::Alle),
            "hoy" | "høy" => Some(Impact::Hoy),
            "medium" => Some(Impact::Medium),
            "lav" => Some(Impact::Lav),
            _ => None,
        }
    }
    /// The word the API and scenarios use.
    pub fn as_str(self) -> &'static str {
        match self {
            Impact::Alle => "alle",
            Impact::Hoy => "hoy",
            Impact::Medium => "medium",
            Impact::Lav => "lav",
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
/// Which exchange a case is about: production or test (SPEC §4.11).
#[serde(rename_all = "lowercase")]
pub enum Environment {
    #[default]
    Produksjon,
    Test,
}

impl Environment {
    /// The word the API and labels use.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Produksjon => "produksjon",
            Environment::Test => "test",
        }
    }
}

// ---------------------------------------------------------------- events

/// What an action is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "type", content = "id")]
pub enum About {
    Incident(String),
    Maintenance(String),
    Inquiry(String),
    /// A month's availability report (`YYYY-MM`).
    Report(String),
    /// An organization's entry in the directory (SPEC §4.16).
    Directory(String),
}

impl About {
    /// The case's id (or the month).
    pub fn id(&self) -> &str {
        match self {
            About::Incident(i)
            | About::Maintenance(i)
            | About::Inquiry(i)
            | About::Report(i)
            | About::Directory(i) => i,
        }
    }

    /// The start of every outbox key (and so Message-ID and status-page entry) of this case
    /// (SPEC §4.14: an incident, a maintenance and an inquiry never share one, whatever their
    /// ids). Ids cannot contain `/`. Incident keys are `{id}/{what}/{recipient or n}`, exactly
    /// three segments (kept as they were, so Message-IDs of incident mail are unchanged);
    /// maintenance and inquiry keys start with the literal segment `maintenance` or `inquiry`
    /// followed by the id and at least two more, so they have four or more segments and can
    /// equal neither an incident key nor each other.
    pub fn key_prefix(&self) -> String {
        match self {
            About::Incident(i) => i.clone(),
            About::Maintenance(i) => format!("maintenance/{i}"),
            About::Inquiry(i) => format!("inquiry/{i}"),
            About::Report(m) => format!("report/{m}"),
            About::Directory(o) => format!("directory/{o}"),
        }
    }
}
