//! The roles people act in (SPEC §5.10) and where an audited act came from.

use serde::{Deserialize, Serialize};

/// A role: what a person may do. `viewer` reads everything; `operator` also acts on cases
/// and maintenance; `admin` also manages tokens, the directory, subscribers and the audit
/// export. `break-glass` is the shared operator token (every use flagged) and may do what
/// an admin may; `system` is the daemon itself and its inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Viewer,
    Operator,
    Admin,
    BreakGlass,
    System,
}

impl Role {
    /// Its name, as configured and audited.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
            Role::BreakGlass => "break-glass",
            Role::System => "system",
        }
    }

    /// The role named `s` among those a person can be given (`viewer`, `operator`, `admin`).
    pub fn of_person(s: &str) -> Option<Role> {
        Role::parse(s).filter(|r| matches!(r, Role::Viewer | Role::Operator | Role::Admin))
    }

    /// The role named `s` (any, as [`Role::as_str`] writes it).
    pub fn parse(s: &str) -> Option<Role> {
        const ALL: [Role; 5] = [
            Role::Viewer,
            Role::Operator,
            Role::Admin,
            Role::BreakGlass,
            Role::System,
        ];
        ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether this role may do what `need` may.
    pub fn allows(self, need: Role) -> bool {
        let rank = |r: Role| match r {
            Role::Viewer => 0,
            Role::Operator => 1,
            Role::Admin | Role::BreakGlass | Role::System => 2,
        };
        rank(self) >= rank(need)
    }

    /// Its name in the console (bokmål).
    pub fn norsk(self) -> &'static str {
        match self {
            Role::Viewer => "lesetilgang",
            Role::Operator => "operatør",
            Role::Admin => "administrator",
            Role::BreakGlass => "nødnøkkel",
            Role::System => "system",
        }
    }
}

/// Where an audited act came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Console,
    Api,
    Cli,
    Mailbox,
    File,
    Alert,
    System,
    /// An organization's own link page (SPEC §4.16).
    Directory,
    /// The configuration, read at a start or reload (SPEC §4.16).
    Config,
    /// A subscriber's own page or one-click unsubscribe (SPEC §4.17).
    Subscription,
}

impl Origin {
    /// Its name, as audited.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Console => "console",
            Origin::Api => "api",
            Origin::Cli => "cli",
            Origin::Mailbox => "mailbox",
            Origin::File => "file",
            Origin::Alert => "alert",
            Origin::System => "system",
            Origin::Directory => "directory",
            Origin::Config => "config",
            Origin::Subscription => "subscription",
        }
    }
}
