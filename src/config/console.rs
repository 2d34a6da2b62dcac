//! The console's settings (SPEC §5.6, §5.10): sign-in, roles, OpenID Connect, tokens.
//! Validated in `validate/daemon.rs`.

use super::Secret;
use chrono::Duration;

/// `[console]` (SPEC §5.6).
#[derive(Debug, Clone)]
pub struct ConsoleSettings {
    pub enabled: bool,
    /// The SSO proxy's user header (lower case), when sign-in by proxy is on.
    pub trusted_user_header: Option<String>,
    /// Addresses the SSO proxy connects from; a user header from anywhere else is refused.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub session_lifetime: Duration,
    pub secure_cookie: bool,
    /// The SSO proxy's groups header (lower case), mapped by `roles`.
    pub trusted_groups_header: Option<String>,
    /// How long a personal API token lasts.
    pub token_lifetime: Duration,
    /// `[console.roles]`: groups to roles.
    pub roles: Roles,
    /// `[console.oidc]`, when sign-in with OpenID Connect is on.
    pub oidc: Option<OidcSettings>,
}

/// `[console.roles]`: which groups give which role (SPEC §5.10).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Roles {
    /// (group, role), as configured.
    pub groups: Vec<(String, crate::audit::Role)>,
}

impl Roles {
    /// The highest role any of `groups` gives; `None` when none gives one.
    pub fn of<'a>(&self, groups: impl IntoIterator<Item = &'a str>) -> Option<crate::audit::Role> {
        groups
            .into_iter()
            .flat_map(|g| self.groups.iter().filter(move |(c, _)| c == g))
            .map(|(_, r)| *r)
            .max()
    }
}

/// `[console.oidc]` (SPEC §5.10).
#[derive(Debug, Clone)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub groups_claim: String,
    /// Besides `openid`.
    pub scopes: Vec<String>,
    pub label: String,
}
