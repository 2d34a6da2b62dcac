//! What the rules decide: an [`Action`] — its instant, its deterministic key, what it is
//! about and its body (an e-mail, a status-page post, a silence, a note to ops, the monthly
//! report, an on-call text) — each a self-contained snapshot, so delivering it needs nothing
//! else of the engine.

use super::terms::{About, Category, Environment, Impact, Kind, Time};
use serde::{Deserialize, Serialize};

/// Which e-mail of the routine a message is (SPEC §5.2 `message`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EmailKind {
    #[serde(rename = "planned")]
    Planned,
    #[serde(rename = "planned.reminder")]
    PlannedReminder,
    #[serde(rename = "planned.change")]
    PlannedChange,
    #[serde(rename = "planned.cancel")]
    PlannedCancel,
    #[serde(rename = "unplanned")]
    Unplanned,
    #[serde(rename = "update")]
    Update,
    #[serde(rename = "resolved")]
    Resolved,
    #[serde(rename = "followup")]
    Followup,
    #[serde(rename = "escalation")]
    Escalation,
    /// SPEC §4.16: «Bekreft kontaktinformasjon for meldingsutveksling».
    #[serde(rename = "directory.confirm")]
    DirectoryConfirm,
    #[serde(rename = "directory.reminder")]
    DirectoryReminder,
    /// A proposed new address is asked to confirm itself.
    #[serde(rename = "directory.verify")]
    DirectoryVerify,
}

impl EmailKind {
    /// Every e-mail kind, in the order the templates list them.
    pub const ALL: [EmailKind; 12] = [
        EmailKind::Planned,
        EmailKind::PlannedReminder,
        EmailKind::PlannedChange,
        EmailKind::PlannedCancel,
        EmailKind::Unplanned,
        EmailKind::Update,
        EmailKind::Resolved,
        EmailKind::Followup,
        EmailKind::Escalation,
        EmailKind::DirectoryConfirm,
        EmailKind::DirectoryReminder,
        EmailKind::DirectoryVerify,
    ];
    /// The SPEC §5.2 `message` value.
    pub fn as_str(self) -> &'static str {
        match self {
            EmailKind::Planned => "planned",
            EmailKind::PlannedReminder => "planned.reminder",
            EmailKind::PlannedChange => "planned.change",
            EmailKind::PlannedCancel => "planned.cancel",
            EmailKind::Unplanned => "unplanned",
            EmailKind::Update => "update",
            EmailKind::Resolved => "resolved",
            EmailKind::Followup => "followup",
            EmailKind::Escalation => "escalation",
            EmailKind::DirectoryConfirm => "directory.confirm",
            EmailKind::DirectoryReminder => "directory.reminder",
            EmailKind::DirectoryVerify => "directory.verify",
        }
    }
}

/// Which status-page post an action is (SPEC §5.2 `message`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatusKind {
    #[serde(rename = "incident.create")]
    IncidentCreate,
    #[serde(rename = "incident.update")]
    IncidentUpdate,
    #[serde(rename = "incident.resolve")]
    IncidentResolve,
    #[serde(rename = "maintenance.create")]
    MaintenanceCreate,
    #[serde(rename = "maintenance.update")]
    MaintenanceUpdate,
    #[serde(rename = "maintenance.cancel")]
    MaintenanceCancel,
}

impl StatusKind {
    /// The SPEC §5.2 `message` value.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusKind::IncidentCreate => "incident.create",
            StatusKind::IncidentUpdate => "incident.update",
            StatusKind::IncidentResolve => "incident.resolve",
            StatusKind::MaintenanceCreate => "maintenance.create",
            StatusKind::MaintenanceUpdate => "maintenance.update",
            StatusKind::MaintenanceCancel => "maintenance.cancel",
        }
    }
}

/// What a note to ops is: a reminder, a warning, something overdue, or the directory's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpsKind {
    Reminder,
    Warning,
    Overdue,
    /// SPEC §4.16: an organization did not answer its round.
    #[serde(rename = "directory.unconfirmed")]
    DirectoryUnconfirmed,
    /// An organization's contacts changed.
    #[serde(rename = "directory.change")]
    DirectoryChange,
    /// A mail to an organization's address bounced for good.
    #[serde(rename = "directory.bounce")]
    DirectoryBounce,
}

impl OpsKind {
    /// The SPEC §5.2 `message` value.
    pub fn as_str(self) -> &'static str {
        match self {
            OpsKind::Reminder => "reminder",
            OpsKind::Warning => "warning",
            OpsKind::Overdue => "overdue",
            OpsKind::DirectoryUnconfirmed => "directory.unconfirmed",
            OpsKind::DirectoryChange => "directory.change",
            OpsKind::DirectoryBounce => "directory.bounce",
        }
    }
}

/// Why ops is told something; selects the ops template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpsReason {
    /// Priority 1/2 incident not acknowledged in time (SPEC §4.10).
    Unacknowledged,
    /// Maintenance registered less than `notice_lead` before it starts (SPEC §4.5).
    LateNotice,
    /// Maintenance outside Sunday 23:00 – Monday 08:00 (seeds/003 §6.3.2.2).
    OutsideWindow,
    /// Maintenance inside a freeze period.
    Freeze,
    /// Maintenance still alerting after its window: an incident was opened.
    Overrun,
    /// Inbound inquiry due today (SPEC §4.8).
    InquiryDue,
    /// Inbound inquiry not answered by the end of its day.
    InquiryOverdue,
    /// A message reached its recipients only after failing for `smtp.warn_after` (the
    /// dispatcher, not the rules, raises this one).
    DeliveryDelayed,
    /// A notice of ours bounced (seen in our mailbox by the IMAP watcher).
    Bounce,
    /// An alert arrived with a personal number in a shown field; it was removed and the alert
    /// applied (SPEC §4.12; the webhook, not the rules, raises this one).
    AlertRedacted,
    /// An alert could not be used (unknown organization, a time out of range …); the rest of
    /// its batch was applied (SPEC §4.12; raised by the webhook).
    AlertUnusable,
    /// The shared operator token (break-glass) was used: the first use of each day (SPEC
    /// §5.10; raised by the HTTP layer).
    BreakGlass,
    /// An organization did not answer its confirmation round (SPEC §4.16).
    Unconfirmed,
    /// An organization's contacts changed (SPEC §4.16).
    ContactChange,
    /// A mail to an organization's address bounced; its other addresses were asked.
    ContactBounce,
}

impl OpsReason {
    /// The name of the ops template that says it (`ops/{reason}.hbs`).
    pub fn as_str(self) -> &'static str {
        match self {
            OpsReason::Unacknowledged => "unacknowledged",
            OpsReason::LateNotice => "late_notice",
            OpsReason::OutsideWindow => "outside_window",
            OpsReason::Freeze => "freeze",
            OpsReason::Overrun => "overrun",
            OpsReason::InquiryDue => "inquiry_due",
            OpsReason::InquiryOverdue => "inquiry_overdue",
            OpsReason::DeliveryDelayed => "delivery_delayed",
            OpsReason::Bounce => "bounce",
            OpsReason::AlertRedacted => "alert_redacted",
            OpsReason::AlertUnusable => "alert_unusable",
            OpsReason::BreakGlass => "break_glass",
            OpsReason::Unconfirmed => "unconfirmed",
            OpsReason::ContactChange => "contact_change",
            OpsReason::ContactBounce => "contact_bounce",
        }
    }
}

/// Snapshot of an incident for rendering (times in UTC; render formats them).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IncidentView {
    pub id: String,
    pub kind: Kind,
    pub category: Category,
    pub impact: Impact,
    pub priority: u8,
    /// `None` when the fault is on our side.
    pub at_org: Option<String>,
    /// The incident's own shared list: a view (every status-page post makes one) copies a
    /// pointer, not 375 names.
    pub orgs: super::org_list::OrgList,
    pub services: Vec<String>,
    pub started_at: Time,
    pub detected_at: Time,
    pub expected_end: Option<Time>,
    pub measures: Option<String>,
    pub text: Option<String>,
    pub note: Option<String>,
    pub environment: Environment,
    pub resolved_at: Option<Time>,
}

/// Snapshot of a maintenance for rendering (times in UTC).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MaintenanceView {
    pub id: String,
    /// `None` when the maintenance is our own.
    pub source: Option<String>,
    pub orgs: Vec<String>,
    pub services: Vec<String>,
    pub from: Time,
    pub to: Time,
    pub measures: Option<String>,
    pub phone: Option<String>,
    /// Raised on every change and on the cancellation: the calendar event's `SEQUENCE`
    /// (SPEC §5.9).
    #[serde(default)]
    pub sequence: u32,
    #[serde(default)]
    pub cancelled: bool,
    /// When it was registered and last changed (the event's `DTSTAMP`/`LAST-MODIFIED`).
    #[serde(default)]
    pub registered_at: Option<Time>,
    #[serde(default)]
    pub modified_at: Option<Time>,
}

pub use super::views::InquiryView;

/// An e-mail to one organization (or the region), with its recipients decided by the rules.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Email {
    pub message: EmailKind,
    /// Recipient organization id (`"region"` for the region's shared address).
    pub org: String,
    /// Shared with the case's `Book`: the organization's addresses are one list however many
    /// of its e-mails carry them.
    pub to: std::sync::Arc<[String]>,
    pub cc: Vec<String>,
    /// Outbox key of the message this one answers (In-Reply-To/References).
    pub thread: Option<String>,
    /// Shared by every recipient of one fan-out (`Arc`: one snapshot, not one per copy).
    pub incident: Option<std::sync::Arc<IncidentView>>,
    /// Shared by every recipient of one fan-out, as `incident` is. The views live behind
    /// pointers so that an e-mail action is small (1,048 → 152 bytes): a fan-out allocates
    /// one per recipient.
    pub maintenance: Option<std::sync::Arc<MaintenanceView>>,
    /// For `planned.change`: the window as it was before.
    pub previous: Option<std::sync::Arc<MaintenanceView>>,
    /// For `escalation`: when the inquiry went out, and the reply deadline that passed.
    pub inquiry_sent_at: Option<Time>,
    pub reply_due: Option<Time>,
    /// The directory's mails (SPEC §4.16): whose contacts, and the round or proposal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<Box<DirectoryView>>,
}

pub use super::directory::DirectoryView;

impl Email {
    /// An e-mail of `message` to `org`'s `to`, with no copy, thread or case attached yet (set
    /// what applies with struct update syntax).
    pub fn new(message: EmailKind, org: String, to: impl Into<std::sync::Arc<[String]>>) -> Email {
        Email {
            message,
            org,
            to: to.into(),
            cc: Vec::new(),
            thread: None,
            incident: None,
            maintenance: None,
            previous: None,
            inquiry_sent_at: None,
            reply_due: None,
            directory: None,
        }
    }
}

/// A post to the status page of one environment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StatusPost {
    pub message: StatusKind,
    pub environment: Environment,
    /// Statuspage incident status: investigating, identified, monitoring, resolved; or
    /// scheduled / cancelled for maintenance.
    pub status: String,
    /// Periodic "still working on it" post (SPEC §4.3) rather than a change.
    pub periodic: bool,
    pub next_update: Option<Time>,
    pub incident: Option<IncidentView>,
    pub maintenance: Option<MaintenanceView>,
}

/// An Alertmanager silence to create or expire (SPEC §4.7).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Silence {
    /// `create` or `expire`.
    pub message: String,
    pub org: String,
    pub services: Vec<String>,
    /// The incident's environment: the silence matches it too, so a test case never mutes
    /// production monitoring (SPEC §4.11).
    #[serde(default)]
    pub environment: Environment,
}

/// A note to the operations centre (`self.ops`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Ops {
    pub message: OpsKind,
    pub reason: OpsReason,
    pub to: Vec<String>,
    pub incident: Option<IncidentView>,
    pub maintenance: Option<MaintenanceView>,
    pub inquiry: Option<InquiryView>,
    #[serde(default)]
    pub delivery: Option<DeliveryView>,
    /// The alert of `AlertRedacted` / `AlertUnusable`.
    #[serde(default)]
    pub alert: Option<AlertIssueView>,
    /// The first use of the day of `BreakGlass`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<AccessView>,
    /// The directory's notes (SPEC §4.16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<DirectoryView>,
}

impl Ops {
    /// A note of `message` for `reason` to `to`, about nothing yet (set what it is about with
    /// struct update syntax).
    pub fn new(message: OpsKind, reason: OpsReason, to: Vec<String>) -> Ops {
        Ops {
            message,
            reason,
            to,
            incident: None,
            maintenance: None,
            inquiry: None,
            delivery: None,
            alert: None,
            access: None,
            directory: None,
        }
    }
}

/// A use of the break-glass key (SPEC §5.10): who said they were, from where, when.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessView {
    /// The name the user gave (the key names nobody).
    pub who: String,
    /// "konsollet", "API-et" or "kommandolinjen".
    pub origin: String,
    pub at: Time,
}

/// What ops are told about an alert the webhook changed or could not use: never a removed
/// value, only where it was.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AlertIssueView {
    /// `labels.alertname` (as applied, so already without any number).
    pub name: String,
    /// `labels.org`, when it names one.
    pub org: Option<String>,
    /// The fields a number was removed from (`annotations.summary`).
    #[serde(default)]
    pub fields: Vec<String>,
    /// Why it could not be used.
    #[serde(default)]
    pub reason: Option<String>,
}

/// What an on-call text is about (SPEC §4.18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsKind {
    /// A new priority-1 incident.
    New,
    /// The unacknowledged reminder (§4.10).
    Reminder,
    /// Messages went out late (the dispatcher's late-delivery warning).
    Warning,
}

impl SmsKind {
    /// The SPEC §5.2 `message` value.
    pub fn as_str(self) -> &'static str {
        match self {
            SmsKind::New => "new",
            SmsKind::Reminder => "reminder",
            SmsKind::Warning => "warning",
        }
    }
}

/// A short text to the on-call numbers (`self.oncall`), at most 160 GSM-7 characters,
/// decided whole by the rules (`engine::page`); the `[sms]` sink only delivers it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Sms {
    pub message: SmsKind,
    /// Numbers as `+` and digits.
    pub to: Vec<String>,
    pub text: String,
}

/// A delayed delivery, for `OpsReason::DeliveryDelayed`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeliveryView {
    pub key: String,
    pub to: Vec<String>,
    pub failing_since: Time,
    pub delivered_at: Time,
    pub last_error: Option<String>,
    /// Other messages of the same case that went out late together with this one.
    #[serde(default)]
    pub also: Vec<LateItem>,
}

/// One more message that went out late with the first.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LateItem {
    pub key: String,
    pub to: Vec<String>,
}

/// What an action does; its kind names the sink that delivers it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum ActionBody {
    Email(Box<Email>),
    Statuspage(Box<StatusPost>),
    Silence(Silence),
    Ops(Box<Ops>),
    /// The monthly availability report e-mail (SPEC §4.13, message `monthly`).
    Report(Box<ReportMail>),
    /// A text to the on-call numbers (SPEC §4.18).
    Sms(Box<Sms>),
}

pub use super::availability::ReportMail;

impl ActionBody {
    /// The outbox kind (the sink that carries it out is the one that delivers this kind).
    pub fn kind(&self) -> &'static str {
        match self {
            ActionBody::Email(_) => "email",
            ActionBody::Statuspage(_) => "statuspage",
            ActionBody::Silence(_) => "silence",
            ActionBody::Ops(_) => "ops",
            ActionBody::Report(_) => "report",
            ActionBody::Sms(_) => "sms",
        }
    }

    /// The SPEC §5.2 `message` value (`followup`, `incident.create`, `reminder` …).
    pub fn message(&self) -> &str {
        match self {
            ActionBody::Email(e) => e.message.as_str(),
            ActionBody::Statuspage(s) => s.message.as_str(),
            ActionBody::Silence(s) => &s.message,
            ActionBody::Ops(o) => o.message.as_str(),
            ActionBody::Report(_) => "monthly",
            ActionBody::Sms(s) => s.message.as_str(),
        }
    }

    /// Who receives it: addresses (`to`, then `cc`) or numbers; empty for the status page
    /// and silences, which go to a service, not a person.
    pub fn recipients(&self) -> Vec<String> {
        match self {
            ActionBody::Email(e) => e.to.iter().chain(e.cc.iter()).cloned().collect(),
            ActionBody::Ops(o) => o.to.clone(),
            ActionBody::Report(r) => r.to.clone(),
            ActionBody::Sms(s) => s.to.clone(),
            ActionBody::Statuspage(_) | ActionBody::Silence(_) => Vec::new(),
        }
    }

    /// Whether it is itself a warning that messages went out late (ops' mail or on-call's
    /// text): such a warning is never warned about in turn.
    pub fn is_late_warning(&self) -> bool {
        match self {
            ActionBody::Ops(o) => o.reason == OpsReason::DeliveryDelayed,
            ActionBody::Sms(s) => s.message == SmsKind::Warning,
            _ => false,
        }
    }

    /// The metrics label of its own outbox row: `followup`, `ops.reminder`, `sms.new` …
    /// (e-mails to organizations by their message alone, as they always were).
    pub fn metric_label(&self) -> String {
        match self {
            ActionBody::Email(e) => e.message.as_str().to_string(),
            other => format!("{}.{}", other.kind(), other.message()),
        }
    }
}

/// One decided action. `key` is deterministic (entity, message kind, recipient, sequence):
/// it is the outbox key and the seed of the e-mail Message-ID.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Action {
    pub at: Time,
    pub key: String,
    pub about: About,
    pub body: ActionBody,
}
