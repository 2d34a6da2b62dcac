//! One way to name a secret (SPEC §5.3: secrets come from files or the environment, never
//! from the main file), resolved in one place.
//!
//! The configuration holds a [`Secret`] — where the value is, checked when the file is loaded
//! — and a sink reads it with [`Secret::read`] when it builds its client, so a rotated
//! credential file is picked up at the next start or reload. The value is a [`SecretValue`],
//! whose `Debug` never shows it.

use std::path::PathBuf;

/// Where a secret lives: `*_file` (e.g. a systemd credential) or `*_env`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    File(PathBuf),
    Env(String),
}

/// A secret's value. `Debug` prints `***`; use [`SecretValue::expose`] where it is sent.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl SecretValue {
    /// The secret itself; never log it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

/// Why a secret could not be read (never its value).
#[derive(Debug, thiserror::Error)]
pub(crate) enum SecretError {
    #[error("{what}: cannot read {}: {err}", path.display())]
    File {
        what: &'static str,
        path: PathBuf,
        err: std::io::Error,
    },
    #[error("{what}: environment variable {var} is not set")]
    Env { what: &'static str, var: String },
    #[error("{what}: {} is empty", .source_name)]
    Empty {
        what: &'static str,
        source_name: String,
    },
}

impl Secret {
    /// The secret named by a `*_file` / `*_env` pair (the file wins when both are given).
    pub(crate) fn from_keys(file: Option<PathBuf>, env: Option<String>) -> Option<Secret> {
        match (file, env) {
            (Some(f), _) => Some(Secret::File(f)),
            (None, Some(v)) => Some(Secret::Env(v)),
            (None, None) => None,
        }
    }

    /// Read the value (surrounding whitespace trimmed, so a trailing newline does not count);
    /// `what` names the secret in the error ("SMTP password", "webhook secret").
    pub(crate) fn read(&self, what: &'static str) -> Result<SecretValue, SecretError> {
        let (value, source_name) = match self {
            Secret::File(p) => (
                std::fs::read_to_string(p).map_err(|err| SecretError::File {
                    what,
                    path: p.clone(),
                    err,
                })?,
                p.display().to_string(),
            ),
            Secret::Env(v) => (
                std::env::var(v).map_err(|_| SecretError::Env {
                    what,
                    var: v.clone(),
                })?,
                format!("${v}"),
            ),
        };
        let value = value.trim();
        if value.is_empty() {
            return Err(SecretError::Empty { what, source_name });
        }
        Ok(SecretValue(value.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_trimmed_never_printed_and_its_errors_say_where() {
        let tmp = crate::testutil::temp_dir();
        let dir = tmp.path();
        let f = dir.join("s");
        std::fs::write(&f, "hunter2\n").unwrap();
        let v = Secret::File(f.clone()).read("test secret").unwrap();
        assert_eq!(v.expose(), "hunter2");
        assert_eq!(format!("{v:?}"), "***");
        let e = Secret::File(dir.join("missing"))
            .read("webhook secret")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("webhook secret: cannot read ") && e.contains("missing"),
            "{e}"
        );
        let e = Secret::Env("MV_SURELY_UNSET_VAR".into())
            .read("SMTP password")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "SMTP password: environment variable MV_SURELY_UNSET_VAR is not set"
        );
        std::fs::write(&f, " \n").unwrap();
        assert!(Secret::File(f)
            .read("x")
            .unwrap_err()
            .to_string()
            .contains("is empty"));
    }
}
