//! `[storage] url = "postgresql://…"`: the state in PostgreSQL, shared by two or more hosts
//! (SPEC §5.7). Validated here, once, into [`Settings`].
//!
//! ```toml
//! [storage]
//! url = "postgresql://meldingsvakt@db.example/meldingsvakt?sslmode=require"
//! password_file = "/run/credentials/meldingsvakt.service/pg-password"   # or password_env
//! advertise = "http://10.0.0.11:8080"   # how the other host reaches this one (default: listen)
//! lease = "5s"                           # a leader that cannot confirm its lock for this long is out
//! ```

use crate::config::section::prelude::*;
use crate::config::Secret;

/// The PostgreSQL keys of `[storage]` (the core reads `dir` and `retention`).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawPostgres {
    /// `postgresql://user@host/db`: the state in PostgreSQL, shared by two hosts (SPEC §5.7).
    pub url: Option<String>,
    pub password_file: Option<String>,
    pub password_env: Option<String>,
    /// How the other hosts reach this one's HTTP listener (writes are forwarded to the leader).
    pub advertise: Option<String>,
    /// How long a leader that cannot confirm its lock keeps it (default 5 s).
    pub lease: Option<Dur>,
}

/// Its keys of `[storage]`, for `meldingsvakt.toml(5)`.
#[rustfmt::skip]
pub(crate) const KEYS: &[Key] = &[
    k("storage", "url", None, "postgresql://user@host/db: the state in PostgreSQL, shared by two hosts."),
    k("storage", "password_file", None, "The PostgreSQL password, from a file."),
    k("storage", "password_env", None, "Or from an environment variable."),
    k("storage", "advertise", None, "How the other hosts reach this one's listener (with url)."),
    k("storage", "lease", Some("\"5s\""), "How long a leader that cannot confirm its lock keeps it."),
];

// The room's table, read and validated by the room itself.
crate::section! {
    name: "storage",
    keys: KEYS,
    raw: RawPostgres,
    validate: |v: &mut Validator<'_>, mut raw, cfg: &Config| settings(v, &mut raw, cfg.daemon.listen),
}

/// A validated PostgreSQL store setting.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The URL as written (no password: refused at the door).
    pub url: String,
    pub password: Option<Secret>,
    /// This host's HTTP base URL as the other hosts reach it (`http://host:port`).
    pub advertise: String,
    /// How long a leader may go without confirming its lock before it stops sending and the
    /// database ends its session (so another host can lead).
    pub lease: Duration,
}

impl Settings {
    /// The connection settings with the password read from its file or variable.
    pub(crate) fn connect_config(&self) -> Result<postgres::Config, crate::store::StoreError> {
        use crate::store::StoreError::Unusable;
        let mut c: postgres::Config = self
            .url
            .parse()
            .map_err(|e| Unusable(format!("[storage] url: {e}")))?;
        if let Some(s) = &self.password {
            let v = s
                .read("PostgreSQL password")
                .map_err(|e| Unusable(e.to_string()))?;
            c.password(v.expose());
        }
        c.application_name("meldingsvakt");
        c.connect_timeout(std::time::Duration::from_secs(5));
        // A dead peer (host gone without a FIN) is noticed within ~15 s.
        c.keepalives(true);
        c.keepalives_idle(std::time::Duration::from_secs(5));
        c.keepalives_interval(std::time::Duration::from_secs(2));
        c.keepalives_retries(3);
        Ok(c)
    }

    /// The URL without user details, for logs and errors.
    pub(crate) fn display(&self) -> String {
        match self.url.parse::<postgres::Config>() {
            Ok(c) => {
                let hosts: Vec<String> = c
                    .get_hosts()
                    .iter()
                    .map(|h| match h {
                        postgres::config::Host::Tcp(h) => h.clone(),
                        postgres::config::Host::Unix(p) => p.display().to_string(),
                    })
                    .collect();
                format!(
                    "postgresql://{}/{}",
                    hosts.join(","),
                    c.get_dbname().unwrap_or("")
                )
            }
            Err(_) => "postgresql://?".into(),
        }
    }
}

/// The PostgreSQL settings of `[storage]`, when `url` is set. `listen` is the HTTP listener
/// (the default `advertise`).
pub(crate) fn settings(
    v: &mut Validator<'_>,
    raw: &mut RawPostgres,
    listen: std::net::SocketAddr,
) -> Option<Settings> {
    let password_keys = raw.password_file.is_some() || raw.password_env.is_some();
    let Some(url) = raw.url.take() else {
        for (set, key) in [
            (password_keys, "password_file"),
            (raw.advertise.is_some(), "advertise"),
            (raw.lease.is_some(), "lease"),
        ] {
            if set {
                v.err(
                    0,
                    tpath!["storage", key],
                    "only used with a PostgreSQL `url`; the embedded SQLite store needs no such setting",
                );
            }
        }
        return None;
    };
    let example = "postgresql://meldingsvakt@db.example/meldingsvakt";
    if !(url.starts_with("postgresql://") || url.starts_with("postgres://")) {
        v.err(
            0,
            tpath!["storage", "url"],
            format!("invalid URL {url:?}: only PostgreSQL is supported, write e.g. \"{example}\" (leave `url` out for the embedded SQLite file)"),
        );
        return None;
    }
    match url.parse::<postgres::Config>() {
        Err(e) => {
            v.err(
                0,
                tpath!["storage", "url"],
                format!("invalid URL {url:?}: {e}; write e.g. \"{example}\""),
            );
            return None;
        }
        Ok(c) => {
            if c.get_password().is_some() {
                // Do not echo it.
                v.err(
                    0,
                    tpath!["storage", "url"],
                    "the URL holds a password; passwords never live in this file: put it in `password_file` (e.g. a systemd credential) or `password_env`",
                );
            }
            if c.get_hosts().is_empty() {
                v.err(
                    0,
                    tpath!["storage", "url"],
                    format!("the URL names no host: write e.g. \"{example}\""),
                );
            }
            if c.get_user().is_none() {
                v.err(
                    0,
                    tpath!["storage", "url"],
                    format!("the URL names no user: write e.g. \"{example}\""),
                );
            }
        }
    }
    let password = v.secret(
        "storage",
        raw.password_file.take(),
        raw.password_env.take(),
        None,
    );
    let advertise = match raw.advertise.take() {
        Some(a) => {
            if v.url(tpath!["storage", "advertise"], &a, "http://10.0.0.11:8080") {
                a.trim_end_matches('/').to_string()
            } else {
                String::new()
            }
        }
        None => {
            if listen.ip().is_unspecified() {
                v.err(
                    0,
                    tpath!["storage", "advertise"],
                    format!("[http] listen is {listen}, which the other host cannot connect to: set `advertise` to this host's address, e.g. \"http://10.0.0.11:{}\"", listen.port()),
                );
            }
            format!("http://{listen}")
        }
    };
    let lease = raw
        .lease
        .take()
        .map(|d| d.0)
        .unwrap_or(Duration::seconds(5));
    if lease < Duration::seconds(2) || lease > Duration::seconds(10) {
        v.err(
            0,
            tpath!["storage", "lease"],
            "lease must be between 2 and 10 seconds (failover takes about lease + lease/5; SPEC §5.7 asks for 15 s at most)",
        );
    }
    Some(Settings {
        url,
        password,
        advertise,
        lease,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_key_of_the_table_is_documented() {
        crate::config::keys::assert_documented(
            include_str!("settings.rs"),
            &[("RawPostgres", "storage")],
            super::KEYS,
            4,
        );
    }
}
