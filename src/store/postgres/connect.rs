//! Opening sessions: TLS by rustls, blocking calls from the async runtime, and the probe of
//! `meldingsvakt check --connect`.

use super::{schema, Settings};
use crate::store::StoreError;
use postgres::Client;

/// Run blocking database work from wherever the store is called: inside the daemon's
/// multi-threaded runtime (the worker hands its other tasks to another thread meanwhile), or
/// outside any runtime (the command line).
pub fn blocking<R>(f: impl FnOnce() -> R) -> Result<R, StoreError> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
            Ok(tokio::task::block_in_place(f))
        }
        Ok(_) => Err(StoreError::Corrupt(
            "the PostgreSQL store cannot be used from a single-threaded runtime".into(),
        )),
        Err(_) => Ok(f()),
    }
}

/// TLS for PostgreSQL connections: the system's root certificates (used when the URL's
/// `sslmode` is `prefer`, the default, or `require`).
pub fn tls() -> tokio_postgres_rustls::MakeRustlsConnect {
    tokio_postgres_rustls::MakeRustlsConnect::new(crate::tls::client_config())
}

/// Open a session (blocking; call through [`blocking`]).
pub fn connect(c: &postgres::Config) -> Result<Client, StoreError> {
    Ok(c.connect(tls())?)
}

/// `meldingsvakt check --connect`: log in and say what the database holds, changing nothing.
pub fn probe(s: &Settings) -> Result<String, crate::store::ProbeError> {
    let at = s.display();
    let fail = |e: StoreError| crate::store::ProbeError {
        place: at.clone(),
        problem: format!("cannot connect: {e}"),
    };
    let cfg = s.connect_config().map_err(fail)?;
    let mut c = connect(&cfg).map_err(fail)?;
    let version: String = c
        .query_one("SHOW server_version", &[])
        .map_err(|e| fail(e.into()))?
        .get(0);
    let schema: Option<i32> = c
        .query_opt("SELECT version FROM meldingsvakt_schema", &[])
        .ok()
        .flatten()
        .map(|r| r.get(0));
    let known = schema::MIGRATIONS.len();
    let mut line = format!("{at}: connected (PostgreSQL {version}); ");
    match schema {
        None => line += &format!("no meldingsvakt tables yet (the daemon creates schema {known} at start)"),
        Some(v) if v as usize > known => {
            return Err(crate::store::ProbeError {
                place: at.clone(),
                problem: format!("schema version {v} is newer than this meldingsvakt ({known}); upgrade meldingsvakt"),
            })
        }
        Some(v) => {
            line += &format!("schema version {v} (this build: {known})");
            if let Ok(r) = c.query_one("SELECT epoch, holder, url FROM leader WHERE id = 1", &[]) {
                let (epoch, holder, url): (i64, String, String) = (r.get(0), r.get(1), r.get(2));
                line += &if epoch == 0 {
                    "; no host has led yet".to_string()
                } else {
                    format!("; leader epoch {epoch}: {holder} at {url}")
                };
            }
        }
    }
    Ok(line)
}
