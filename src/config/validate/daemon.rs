//! `[http]`, `[storage]`, `[maintenance]` and `[imap]`: how the daemon runs and what it
//! watches. (The sinks' tables — `[smtp]`, `[statuspage]`, `[alertmanager]`, `[webhook]` —
//! are validated in their folders.)

use super::super::*;
use super::Validator;
use crate::config::raw::*;
use crate::tpath;

/// Whether `host` is this machine (plain-text protocols are allowed only to it).
pub(crate) fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Validator<'_> {
    /// `[audit] retention`: at least a year (default 5 years, SPEC §5.10).
    pub(super) fn audit_retention(&mut self, audit: crate::config::raw::RawAudit) -> Duration {
        let d = audit.retention.map_or(Duration::days(1826), |d| d.0);
        if d < Duration::days(365) {
            self.err(
                0,
                tpath!["audit", "retention"],
                "audit retention must be at least a year (5 years, the default, covers the SLA's audit right)",
            );
        }
        d
    }

    pub(super) fn daemon_settings(
        &mut self,
        http: RawHttp,
        storage: RawStorage,
        maintenance: RawMaintenanceFiles,
        imap: RawImap,
    ) -> DaemonSettings {
        let base = self.base;
        // Explicit paths are relative to this file; the default state directory is systemd's
        // StateDirectory when set, else ./var.
        let state_dir = match storage.dir {
            Some(d) => base.join(d),
            None => std::env::var_os("STATE_DIRECTORY")
                .map(|s| {
                    PathBuf::from(
                        s.to_string_lossy()
                            .split(':')
                            .next()
                            .unwrap_or("var")
                            .to_string(),
                    )
                })
                .unwrap_or_else(|| PathBuf::from("var")),
        };
        let retention = storage.retention.map_or(Duration::days(400), |d| d.0);
        if retention < Duration::days(31) {
            self.err(
                0,
                tpath!["storage", "retention"],
                "retention must be at least 31 days (400, the default, covers the 12-month report)",
            );
        } else if retention < Duration::days(400) {
            self.warn(
                0,
                tpath!["storage", "retention"],
                "retention under 400 days shortens the 12-month availability figure (SPEC §4.13)",
            );
        }
        let listen_s = http.listen.unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen = listen_s.parse().unwrap_or_else(|_| {
            self.err(
                0,
                tpath!["http", "listen"],
                format!(
                    "invalid listen address {listen_s:?}: write host:port, e.g. \"127.0.0.1:8080\""
                ),
            );
            std::net::SocketAddr::from(([127, 0, 0, 1], 8080))
        });
        let public_url = match http.public_url {
            Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                u.trim_end_matches('/').to_string()
            }
            Some(_) => {
                self.err(
                    0,
                    tpath!["http", "public_url"],
                    "public_url must start with http:// or https://, e.g. \"https://meldingsvakt.hemit.example\"",
                );
                String::new()
            }
            None => format!("http://{listen}"),
        };
        let max_connections = http.max_connections.unwrap_or(512);
        if !(8..=65536).contains(&max_connections) {
            self.err(
                0,
                tpath!["http", "max_connections"],
                "max_connections must be between 8 and 65536 (and below the open-file limit)",
            );
        }
        let max_body = http.max_body.unwrap_or(1 << 20);
        if max_body < 1024 {
            self.err(
                0,
                tpath!["http", "max_body"],
                "max_body below 1024 bytes cannot hold an Alertmanager webhook",
            );
        }
        DaemonSettings {
            state_dir,
            retention,
            audit_retention: Duration::days(1826),
            listen,
            public_url,
            alert_token_file: http.alert_token_file.map(|p| base.join(p)),
            operator_token_file: http.operator_token_file.map(|p| base.join(p)),
            max_body,
            max_connections,
            maintenance_dir: base.join(maintenance.dir.unwrap_or_else(|| "maintenance.d".into())),
            maintenance_horizon: maintenance
                .horizon
                .map(|d| d.0)
                .unwrap_or(Duration::days(14)),
            imap: self.imap(imap),
            console: ConsoleSettings {
                enabled: true,
                trusted_user_header: None,
                trusted_proxies: Vec::new(),
                session_lifetime: Duration::hours(12),
                secure_cookie: false,
                trusted_groups_header: None,
                token_lifetime: Duration::days(90),
                roles: crate::config::Roles::default(),
                oidc: None,
            },
        }
    }

    /// `[console]`: sign-in by token, or by an SSO proxy's header from the proxy's addresses.
    pub(super) fn console(&mut self, raw: RawConsole) -> ConsoleSettings {
        let header = self.proxy_header("trusted_user_header", raw.trusted_user_header);
        let mut trusted_proxies = Vec::new();
        for (i, a) in raw
            .trusted_proxies
            .unwrap_or_else(|| vec!["127.0.0.1".into(), "::1".into()])
            .iter()
            .enumerate()
        {
            match a.trim().parse::<std::net::IpAddr>() {
                Ok(ip) => trusted_proxies.push(ip),
                Err(_) => self.err(
                    0,
                    tpath!["console", "trusted_proxies", i],
                    format!(
                        "{a:?} is not an IP address (write each proxy address, e.g. \"10.0.0.5\")"
                    ),
                ),
            }
        }
        let session_lifetime = raw.session_lifetime.map_or(Duration::hours(12), |d| d.0);
        if session_lifetime < Duration::minutes(5) || session_lifetime > Duration::days(7) {
            self.err(
                0,
                tpath!["console", "session_lifetime"],
                "session_lifetime must be between 5 minutes and 7 days (default 12h: one shift)",
            );
        }
        let groups_header = self.proxy_header("trusted_groups_header", raw.trusted_groups_header);
        if groups_header.is_some() && header.is_none() {
            self.err(
                0,
                tpath!["console", "trusted_groups_header"],
                "trusted_groups_header needs trusted_user_header (the proxy's user header)",
            );
        }
        let token_lifetime = raw.token_lifetime.map_or(Duration::days(90), |d| d.0);
        if token_lifetime < Duration::days(1) || token_lifetime > Duration::days(366) {
            self.err(
                0,
                tpath!["console", "token_lifetime"],
                "token_lifetime must be between 1 day and 1 year (default 90days)",
            );
        }
        let roles = self.roles(raw.roles);
        let oidc = raw.oidc.and_then(|o| self.oidc(o));
        if oidc.is_some() && roles.groups.is_empty() {
            self.err(
                0,
                tpath!["console", "roles"],
                "[console.oidc] needs [console.roles]: name the groups that give viewer, operator or admin, e.g. operator = [\"hemit-drift\"]",
            );
        }
        ConsoleSettings {
            enabled: raw.enabled.unwrap_or(true),
            trusted_user_header: header,
            trusted_proxies,
            session_lifetime,
            secure_cookie: raw.secure_cookie.unwrap_or(false),
            trusted_groups_header: groups_header,
            token_lifetime,
            roles,
            oidc,
        }
    }

    /// A header an SSO proxy sets (`[console] key`), lower case: an HTTP header name, and not
    /// one a browser or the transport sets.
    fn proxy_header(&mut self, key: &'static str, raw: Option<String>) -> Option<String> {
        let h = raw.map(|h| h.trim().to_ascii_lowercase())?;
        if axum::http::HeaderName::from_bytes(h.as_bytes()).is_err() || h.is_empty() {
            self.err(
                0,
                tpath!["console", key],
                format!("{h:?} is not an HTTP header name"),
            );
        } else if matches!(h.as_str(), "cookie" | "authorization" | "host") {
            self.err(
                0,
                tpath!["console", key],
                format!("{h:?} cannot carry what the proxy vouches for; use the header your proxy sets, e.g. \"X-Remote-User\""),
            );
        }
        Some(h)
    }

    /// `[console.roles]`: groups to roles; a group named twice is an error (which role?).
    fn roles(&mut self, raw: crate::config::raw::RawRoles) -> crate::config::Roles {
        use crate::audit::Role;
        let mut groups: Vec<(String, Role)> = Vec::new();
        for (key, role, list) in [
            ("viewer", Role::Viewer, raw.viewer),
            ("operator", Role::Operator, raw.operator),
            ("admin", Role::Admin, raw.admin),
        ] {
            for (i, g) in list.unwrap_or_default().into_iter().enumerate() {
                let g = g.trim().to_string();
                if g.is_empty() || g.chars().any(char::is_control) {
                    self.err(
                        0,
                        tpath!["console", "roles", key, i],
                        "a group name must not be empty",
                    );
                } else if let Some((_, other)) = groups.iter().find(|(c, _)| *c == g) {
                    self.err(
                        0,
                        tpath!["console", "roles", key, i],
                        format!("group {g:?} already gives the role {}", other.as_str()),
                    );
                } else {
                    groups.push((g, role));
                }
            }
        }
        crate::config::Roles { groups }
    }

    /// `[console.oidc]`: an issuer URL (https, or http to a loopback host), a client id, and
    /// the client secret from a file or the environment.
    fn oidc(&mut self, raw: crate::config::raw::RawOidc) -> Option<crate::config::OidcSettings> {
        let Some(issuer) = raw.issuer else {
            self.err(
                0,
                tpath!["console", "oidc"],
                "[console.oidc] needs issuer, e.g. \"https://login.microsoftonline.com/TENANT/v2.0\"",
            );
            return None;
        };
        let issuer = issuer.trim().to_string();
        self.endpoint(
            tpath!["console", "oidc", "issuer"],
            &issuer,
            "https://login.microsoftonline.com/TENANT/v2.0",
            "sign-in codes and the client secret",
        );
        let client_id = raw.client_id.unwrap_or_default().trim().to_string();
        if client_id.is_empty() {
            self.err(
                0,
                tpath!["console", "oidc", "client_id"],
                "[console.oidc] needs client_id: this daemon's client at the provider",
            );
        }
        let Some(secret) = self.secret(
            "console",
            raw.client_secret_file,
            raw.client_secret_env,
            None,
        ) else {
            self.err(
                0,
                tpath!["console", "oidc"],
                "[console.oidc] needs client_secret_file (e.g. a systemd credential) or client_secret_env; secrets never live in this file",
            );
            return None;
        };
        let groups_claim = raw.groups_claim.unwrap_or_else(|| "groups".into());
        let scopes = raw
            .scopes
            .unwrap_or_else(|| vec!["profile".into(), "email".into()]);
        for (i, sc) in scopes.iter().enumerate() {
            if sc.is_empty() || sc.contains(char::is_whitespace) {
                self.err(
                    0,
                    tpath!["console", "oidc", "scopes", i],
                    format!("{sc:?} is not a scope (one word each)"),
                );
            }
        }
        Some(crate::config::OidcSettings {
            issuer,
            client_id,
            client_secret: secret,
            groups_claim,
            scopes: scopes.into_iter().filter(|s| s != "openid").collect(),
            label: raw.label.unwrap_or_else(|| "Single sign-on".into()),
        })
    }

    fn imap(&mut self, imap: RawImap) -> Option<ImapSettings> {
        let host = imap.host?;
        let security = imap.security.unwrap_or_else(|| "tls".into());
        let tls = match security.as_str() {
            "tls" => true,
            "none" if is_loopback(&host) => false,
            "none" => {
                self.err(
                    0,
                    tpath!["imap", "security"],
                    format!("security = \"none\" is allowed only to a loopback host, not {host:?}"),
                );
                false
            }
            other => {
                self.err(
                    0,
                    tpath!["imap", "security"],
                    format!("unknown security {other:?}: expected \"tls\" or \"none\""),
                );
                true
            }
        };
        let username = imap.username.unwrap_or_default();
        if username.is_empty() {
            self.err(
                0,
                tpath!["imap"],
                "missing required key `username` in [imap]",
            );
        }
        let password = self.secret(
            "imap",
            imap.password_file,
            imap.password_env,
            Some("[imap] needs `password_file` (e.g. a systemd credential) or `password_env`; passwords never live in this file"),
        )?;
        Some(ImapSettings {
            port: imap.port.unwrap_or(if tls { 993 } else { 143 }),
            tls,
            host,
            username,
            password,
            inbox: imap.inbox.unwrap_or_else(|| "INBOX".into()),
            sent: imap.sent.unwrap_or_else(|| "Sent".into()),
            poll: imap.poll.map(|d| d.0).unwrap_or(Duration::seconds(30)),
        })
    }
}
