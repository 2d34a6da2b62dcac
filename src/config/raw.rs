//! The configuration file as written (SPEC §5.3). Required keys are `Option` here so that a
//! missing key is reported with its place, together with every other problem, by `validate`.

use serde::{Deserialize, Deserializer};

/// A duration written as `"15m"`, `"2h"`, `"7d"`, `"1h 30m"` (humantime syntax).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dur(pub chrono::Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let std = humantime::parse_duration(&s).map_err(|e| {
            serde::de::Error::custom(format!(
                "invalid duration {s:?}: {e} (write e.g. \"15m\", \"2h\", \"7d\")"
            ))
        })?;
        chrono::Duration::from_std(std)
            .map(Dur)
            .map_err(|_| serde::de::Error::custom(format!("duration {s:?} is too large")))
    }
}

/// The main file as written.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(rename = "self")]
    pub self_: Option<RawSelf>,
    #[serde(default)]
    pub organization: Vec<RawOrg>,
    #[serde(default)]
    pub service: Vec<RawService>,
    #[serde(default)]
    pub ks_ekomp: Vec<RawKs>,
    #[serde(default)]
    pub policy: RawPolicy,
    #[serde(default)]
    pub calendar: RawCalendar,
    #[serde(default)]
    pub alerts: RawAlerts,
    #[serde(default)]
    pub templates: RawTemplates,
    // The daemon's own tables. The tables of sinks and the store's PostgreSQL keys are read
    // by their rooms (`config::section`).
    #[serde(default)]
    pub http: RawHttp,
    #[serde(default)]
    pub storage: RawStorage,
    #[serde(default)]
    pub maintenance: RawMaintenanceFiles,
    #[serde(default)]
    pub imap: RawImap,
    #[serde(default)]
    pub report: RawReport,
    #[serde(default)]
    pub console: RawConsole,
    #[serde(default)]
    pub audit: RawAudit,
    #[serde(default)]
    pub directory: RawDirectory,
}

/// `[directory]` as written (SPEC §4.16), validated in `config/directory.rs`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawDirectory {
    /// Whether confirmation rounds run.
    pub rounds: Option<bool>,
    /// The span after an organization's last confirmation ("6 months", "180d").
    pub confirm_every: Option<String>,
    /// Working days without an answer before the reminder.
    pub reminder_after: Option<i64>,
    /// Working days without an answer before ops are told.
    pub unconfirmed_after: Option<i64>,
    /// The working days a first round is spread over.
    pub spread: Option<i64>,
    /// How long a link in a request stays valid.
    pub link_lifetime: Option<Dur>,
}

/// `[audit]` as written (SPEC §5.10).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawAudit {
    /// How long audit entries are kept before they are compacted behind the anchor.
    pub retention: Option<Dur>,
}

/// An included file holds organizations only.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawInclude {
    #[serde(default)]
    pub organization: Vec<RawOrg>,
}

/// `[self]` as written.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawSelf {
    pub id: Option<String>,
    pub name: Option<String>,
    pub from: Option<String>,
    pub meldingsansvarlig: Option<String>,
    pub phone: Option<String>,
    #[serde(default)]
    pub ops: Vec<String>,
    /// The region's shared address that also gets planned notices (SPEC §4.5), e.g.
    /// meldingsansvarlig@helse-midt.no in seeds/004 §1.
    pub region: Option<String>,
    /// On-call numbers paged by SMS (SPEC §4.18).
    #[serde(default)]
    pub oncall: Vec<String>,
}

/// An `[[organization]]` as written.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawOrg {
    pub id: Option<String>,
    pub name: Option<String>,
    pub kind: Option<String>,
    pub meldingsansvarlig: Option<String>,
    #[serde(default)]
    pub extra_addresses: Vec<String>,
    pub phone: Option<String>,
    pub area: Option<String>,
    pub hf: Option<String>,
    #[serde(default)]
    pub services: Vec<String>,
}

/// A `[[service]]` as written.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawService {
    pub id: Option<String>,
    pub name: Option<String>,
    /// Status-page component this service maps to (used by the status-page sinks).
    pub component: Option<String>,
}

/// A `[[ks_ekomp]]` as written.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawKs {
    pub area: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
}

/// `[policy]` as written.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawPolicy {
    pub publish_delay: Option<Dur>,
    pub publish_priorities: Option<Vec<i64>>,
    pub statuspage_update_interval: Option<Dur>,
    pub unplanned_notice_after: Option<Dur>,
    pub planned_notice_threshold: Option<Dur>,
    pub notice_lead: Option<Dur>,
    pub followup_after: Option<Dur>,
    pub maintenance_grace: Option<Dur>,
    pub ack_priority1: Option<Dur>,
    pub ack_priority2: Option<Dur>,
    pub test_environment_mail: Option<bool>,
}

/// A `[[calendar.freeze]]` as written.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawFreeze {
    pub name: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// `[calendar]` as written.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawCalendar {
    pub timezone: Option<String>,
    pub business_start: Option<String>,
    pub business_end: Option<String>,
    pub half_day_end: Option<String>,
    #[serde(default)]
    pub closed_days: Vec<String>,
    #[serde(default)]
    pub half_days: Vec<String>,
    #[serde(default)]
    pub freeze: Vec<RawFreeze>,
}

/// `[alerts]` as written.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawAlerts {
    #[serde(default)]
    pub labels: RawLabels,
}

/// `[alerts.labels]` as written.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawLabels {
    pub org: Option<String>,
    pub service: Option<String>,
    pub kind: Option<String>,
    pub severity: Option<String>,
    pub impact: Option<String>,
    pub environment: Option<String>,
}

/// `[templates]` as written.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawTemplates {
    /// A folder whose `*.hbs` files override the built-in templates of the same name.
    pub dir: Option<String>,
}

/// `[http]` as written.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawHttp {
    pub listen: Option<String>,
    pub alert_token_file: Option<String>,
    pub operator_token_file: Option<String>,
    pub max_body: Option<usize>,
    pub max_connections: Option<usize>,
    /// The address people reach this daemon at (through a proxy, say
    /// "https://meldingsvakt.hemit.example"), for the console links in ops e-mails.
    /// Default: `http://` + `listen`.
    pub public_url: Option<String>,
}

/// `[maintenance]` as written.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawMaintenanceFiles {
    /// Folder of maintenance files (default `maintenance.d` beside this file).
    pub dir: Option<String>,
    /// How far ahead recurring windows are declared (default 14 days).
    pub horizon: Option<Dur>,
}

/// `[storage]` as written (the core's keys).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawStorage {
    pub dir: Option<String>,
    /// How long closed cases' history is kept (default 400 days: the 12-month report).
    pub retention: Option<Dur>,
    // `url`, `password_*`, `advertise` and `lease` are the PostgreSQL store's
    // (`store/postgres/settings.rs`).
}

/// `[imap]` as written.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawImap {
    /// Our meldingsansvarlig mailbox, watched for replies and inbound inquiries.
    pub host: Option<String>,
    pub port: Option<u16>,
    /// "tls" (default, implicit TLS) or "none" (loopback hosts only).
    pub security: Option<String>,
    pub username: Option<String>,
    pub password_file: Option<String>,
    pub password_env: Option<String>,
    pub inbox: Option<String>,
    pub sent: Option<String>,
    pub poll: Option<Dur>,
}

/// `[report]`: the monthly availability report (SPEC §4.13), validated in `config/validate`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawReport {
    /// Monthly availability target in percent (default 99.7, seeds/003).
    pub target_month: Option<f64>,
    /// Target over the 12 months ending with the month (default 99.9, seeds/002).
    pub target_12m: Option<f64>,
    /// Who gets the report e-mail (default: `self.ops`).
    pub recipients: Option<Vec<String>>,
}

/// `[console]`: the operator console at `/ops/` (SPEC §5.6), validated in `config/validate`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawConsole {
    /// Serve the console (default true).
    pub enabled: Option<bool>,
    /// The header an SSO reverse proxy puts the signed-in user's name in (none: token sign-in
    /// only).
    pub trusted_user_header: Option<String>,
    /// The addresses that proxy may connect from (default: loopback only).
    pub trusted_proxies: Option<Vec<String>>,
    /// How long a sign-in lasts (default 12 h).
    pub session_lifetime: Option<Dur>,
    /// Mark the session cookie `Secure` (set it when the console is reached over HTTPS; a
    /// proxy's `X-Forwarded-Proto: https` does the same per request).
    pub secure_cookie: Option<bool>,
    /// The header the SSO proxy puts the user's groups in (comma-separated), mapped to a role
    /// by `[console.roles]` (none: a proxy's user is an operator).
    pub trusted_groups_header: Option<String>,
    /// How long a personal API token lasts (default 90 days).
    pub token_lifetime: Option<Dur>,
    #[serde(default)]
    pub roles: RawRoles,
    pub oidc: Option<RawOidc>,
}

/// `[console.roles]`: which groups (the ID token's groups claim, or the proxy's groups
/// header) give which role (SPEC §5.10). A person in several gets the highest.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawRoles {
    pub viewer: Option<Vec<String>>,
    pub operator: Option<Vec<String>>,
    pub admin: Option<Vec<String>>,
}

/// `[console.oidc]`: sign-in with OpenID Connect (SPEC §5.10).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawOidc {
    /// The provider's issuer URL (its discovery document is under
    /// `/.well-known/openid-configuration`).
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret_file: Option<String>,
    pub client_secret_env: Option<String>,
    /// The claim that lists the person's groups (default "groups").
    pub groups_claim: Option<String>,
    /// Scopes asked for besides `openid` (default ["profile", "email"]).
    pub scopes: Option<Vec<String>>,
    /// The provider's name on the sign-in button (default "Single sign-on").
    pub label: Option<String>,
}
