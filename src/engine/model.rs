//! Engine inputs (events), outputs (actions) and the vocabulary they share (SPEC §2, §5.2).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use super::refusal::{Refusal, Why};
pub use super::terms::*;
pub use super::time::{parse_time, TimeError, Ts};
pub use crate::text::id::{valid_id, ID_RULE};

fn default_self() -> String {
    "self".into()
}

/// `incident.open`: an operator registers an incident (SPEC §5.2).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentOpen {
    pub id: String,
    #[serde(default)]
    pub kind: Kind,
    #[serde(default = "default_self")]
    pub at_org: String,
    #[serde(default)]
    pub orgs: Vec<String>,
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub category: Category,
    pub impact: Option<Impact>,
    pub started_at: Option<Ts>,
    pub detected_at: Option<Ts>,
    pub expected_end: Option<Ts>,
    pub measures: Option<String>,
    pub text: Option<String>,
    #[serde(default)]
    pub environment: Environment,
}

/// `incident.update`: new facts of an open incident; what is absent stays as it was.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentUpdate {
    pub id: String,
    pub measures: Option<String>,
    pub expected_end: Option<Ts>,
    pub text: Option<String>,
    pub category: Option<Category>,
    pub impact: Option<Impact>,
    /// The status-page status the operator chose (SPEC §4.15); `None` leaves it as it is.
    pub status: Option<PublicStatus>,
}

/// An open incident's public status (Statuspage's `investigating | identified | monitoring`),
/// chosen by the operator (SPEC §4.15). A new incident is `Investigating`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PublicStatus {
    #[default]
    Investigating,
    Identified,
    Monitoring,
}

impl PublicStatus {
    /// The Statuspage status value.
    pub fn as_str(self) -> &'static str {
        match self {
            PublicStatus::Investigating => "investigating",
            PublicStatus::Identified => "identified",
            PublicStatus::Monitoring => "monitoring",
        }
    }
    /// The bokmål name the status page and the console use.
    pub fn norsk(self) -> &'static str {
        match self {
            PublicStatus::Investigating => "Undersøker",
            PublicStatus::Identified => "Årsak funnet",
            PublicStatus::Monitoring => "Overvåker",
        }
    }
    /// From the API's word (`investigating`, `identified`, `monitoring`).
    pub fn parse(s: &str) -> Option<PublicStatus> {
        match s {
            "investigating" => Some(PublicStatus::Investigating),
            "identified" => Some(PublicStatus::Identified),
            "monitoring" => Some(PublicStatus::Monitoring),
            _ => None,
        }
    }
    /// The statuses an operator may choose.
    pub const ALL: [PublicStatus; 3] = [
        PublicStatus::Investigating,
        PublicStatus::Identified,
        PublicStatus::Monitoring,
    ];
}

/// An event that names only its case (`incident.ack`, `inquiry.answered`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdOnly {
    pub id: String,
}

/// `incident.resolve`: the id, and when the stop really ended if that was earlier (a
/// backdated resolution; at most a year back, never in the future, never before the start).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    pub id: String,
    pub resolved_at: Option<Ts>,
}

/// `reply`: an organization answered (optionally which one).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    pub id: String,
    pub org: Option<String>,
}

/// Whether a monitoring alert fires or has resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

/// An alert from monitoring, as the rules read it: the engine's own names and types. A
/// source maps its wire format to it (`sources/alertmanager.rs`) and hands it in with
/// `Input::monitoring`; the event log keeps it in these names. Alertmanager's names
/// (`startsAt`, `endsAt`, `generatorURL`) are read too, as aliases: scenario `alert` events
/// are written in them (SPEC §5.2), and so are alerts logged by earlier versions.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Alert {
    pub status: AlertStatus,
    /// What the alert is about; the rules read the configured label names
    /// (`[alerts.labels]`).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// What people are shown: `summary`, `description`.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// When the trouble began (none: when the alert arrives).
    #[serde(default, alias = "startsAt")]
    pub started_at: Option<Ts>,
    #[serde(default, alias = "endsAt")]
    pub ended_at: Option<Ts>,
    /// The alert's identity at its source (a hash of its labels), never shown.
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// The link back to the monitoring source, shown to operators.
    #[serde(default, alias = "generatorURL")]
    pub source_link: Option<String>,
}

/// `maintenance.add`: a planned stop, ours or a counterpart's.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceAdd {
    pub id: String,
    #[serde(default = "default_self")]
    pub source: String,
    #[serde(default)]
    pub orgs: Vec<String>,
    #[serde(default)]
    pub services: Vec<String>,
    pub from: Ts,
    pub to: Ts,
    pub measures: Option<String>,
    pub phone: Option<String>,
}

/// `maintenance.change` and `maintenance.cancel` (SPEC §5.2): the id, and any or all of the
/// record as `maintenance.add` takes it — a scheduler that re-sends the whole record is
/// normal. A change uses what differs from the stored maintenance; a cancel uses the id.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceChange {
    pub id: String,
    /// Must name the maintenance's own source: who carries it out does not change (cancel it
    /// and add a new one instead).
    pub source: Option<String>,
    pub orgs: Option<Vec<String>>,
    pub services: Option<Vec<String>>,
    pub from: Option<Ts>,
    pub to: Option<Ts>,
    pub measures: Option<String>,
    pub phone: Option<String>,
}

/// `inquiry.received`: an organization asked us about a missing receipt.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InquiryReceived {
    pub id: String,
    pub org: String,
    pub subject: Option<String>,
}

/// An input the rules act on (SPEC §5.2 `type`).
#[derive(Debug, Clone)]
pub enum Event {
    IncidentOpen(IncidentOpen),
    IncidentUpdate(IncidentUpdate),
    IncidentResolve(Resolve),
    IncidentAck(IdOnly),
    Reply(Reply),
    Alert(Alert),
    MaintenanceAdd(MaintenanceAdd),
    MaintenanceChange(MaintenanceChange),
    MaintenanceCancel(MaintenanceChange),
    InquiryReceived(InquiryReceived),
    InquiryAnswered(IdOnly),
    /// SPEC §4.16: the configuration's contacts as read at a start or reload.
    DirectoryConfig(DirectoryConfig),
    /// An organization confirms the contacts we hold.
    DirectoryConfirm(DirectoryConfirm),
    /// An organization corrects its contacts (a new address waits for its own confirmation).
    DirectoryPropose(DirectoryPropose),
    /// A proposed address confirms itself.
    DirectoryVerify(DirectoryVerify),
    /// A mail to an organization's address bounced for good.
    DirectoryBounce(DirectoryBounce),
    /// An admin sets an organization's contacts (approve or undo, in the console).
    DirectorySet(DirectorySet),
    /// An admin asks an organization to confirm now (a new round).
    DirectoryAsk(DirectoryAsk),
}

/// `directory.ask`: a round now, outside the schedule (e.g. after ops corrected an address
/// by phone); the organization's earlier link stops applying.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryAsk {
    pub org: String,
    /// Who asked (the console's user).
    pub who: String,
}

/// `directory.config`: the configuration's contacts of the organizations whose configured
/// contacts are new or changed since the last reading (SPEC §4.16: the later change wins).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryConfig {
    pub orgs: Vec<ConfiguredContacts>,
}

/// One organization's contacts as the configuration says them.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfiguredContacts {
    pub org: String,
    pub contacts: super::directory::Contacts,
}

/// `directory.confirm`: the organization says what we hold is right (by the link of round
/// `round`, the latest when absent).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryConfirm {
    pub org: String,
    pub round: Option<u32>,
}

/// `directory.propose`: corrections from the organization's page. A new patient phone and
/// services take effect at once; a new address only once it confirms itself.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryPropose {
    pub org: String,
    pub round: Option<u32>,
    pub meldingsansvarlig: Option<String>,
    pub phone: Option<String>,
    pub services: Option<Vec<String>>,
}

/// `directory.verify`: the proposed address (proposal `proposal`, the pending one when
/// absent) followed its own link.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryVerify {
    pub org: String,
    pub proposal: Option<u32>,
}

/// `directory.bounce`: a permanent bounce of a mail to `address`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryBounce {
    pub org: String,
    pub address: String,
}

/// `directory.set`: an admin's change (approving a proposal, undoing a change).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DirectorySet {
    pub org: String,
    pub contacts: super::directory::Contacts,
    /// Who made it (the console's user).
    pub who: String,
}

/// Event type names as written in scenarios and the API (SPEC §5.2).
pub const EVENT_TYPES: &[&str] = &[
    "incident.open",
    "incident.update",
    "incident.resolve",
    "incident.ack",
    "reply",
    "alert",
    "maintenance.add",
    "maintenance.change",
    "maintenance.cancel",
    "inquiry.received",
    "inquiry.answered",
    "directory.config",
    "directory.confirm",
    "directory.propose",
    "directory.verify",
    "directory.bounce",
    "directory.set",
    "directory.ask",
];

// ---------------------------------------------------------------- actions

pub use super::action::*;
