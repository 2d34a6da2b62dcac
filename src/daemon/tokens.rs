//! The bearer tokens of the HTTP API: read from a file, a systemd credential, or created.

use super::DaemonError;
use std::path::{Path, PathBuf};

pub(super) fn same_secret(a: &str, b: &str) -> bool {
    a == b
}

/// Read a token from a file (trimmed); or, when none is configured, from
/// `$CREDENTIALS_DIRECTORY/{name}`; or create a random one in the state directory (0600).
pub(super) fn token(
    configured: Option<&Path>,
    state_dir: &Path,
    name: &str,
) -> Result<String, DaemonError> {
    let cred = std::env::var_os("CREDENTIALS_DIRECTORY").map(|d| PathBuf::from(d).join(name));
    let path = match (configured, cred) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some(c)) if c.is_file() => c,
        _ => state_dir.join(name),
    };
    if path.is_file() {
        let t = std::fs::read_to_string(&path)
            .map_err(|e| DaemonError::Token(path.clone(), e.to_string()))?;
        let t = t.trim().to_string();
        if t.len() < 16 {
            return Err(DaemonError::Token(
                path,
                "token is shorter than 16 characters".into(),
            ));
        }
        return Ok(t);
    }
    if configured.is_some() {
        return Err(DaemonError::Token(path, "file does not exist".into()));
    }
    let mut bytes = [0u8; 24];
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| DaemonError::Token(path.clone(), format!("no randomness: {e}")))?;
    let t: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| DaemonError::Token(path.clone(), e.to_string()))?;
        writeln!(f, "{t}").map_err(|e| DaemonError::Token(path.clone(), e.to_string()))?;
    }
    tracing::info!(path = %path.display(), "created a new {name}");
    Ok(t)
}
