//! The audit log outside the daemon: `meldingsvakt audit verify` reads the chain from the
//! configured store (SQLite or PostgreSQL) and checks it (`crate::audit::verify`).

use crate::config::Config;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;

/// The configured store, opened for reading the audit log (a PostgreSQL store with no epoch:
/// it reads, and any write it tried would be fenced).
fn open(cfg: &Config) -> Result<Box<dyn crate::store::Store>, Box<dyn std::error::Error>> {
    Ok(
        match cfg.sections.get::<crate::store::postgres::Settings>() {
            Some(pg) => Box::new(crate::store::postgres::PgStore::open(
                pg,
                Arc::new(AtomicI64::new(0)),
            )?),
            None => {
                let db = cfg.daemon.state_dir.join("meldingsvakt.db");
                if !db.is_file() {
                    return Err(super::replay::NoState(db.display().to_string()).into());
                }
                crate::store::open(&db)?
            }
        },
    )
}

/// Check the audit chain in the configured store; with `head`, also that it ends there (a
/// head the daemon logged earlier, as a witness outside the database).
pub fn verify(
    cfg: &Config,
    head: Option<&str>,
) -> Result<crate::audit::Report, Box<dyn std::error::Error>> {
    let store = open(cfg)?;
    let (anchor, entries) = store.audit_chain()?;
    let mut r = crate::audit::verify(anchor.as_ref(), &entries);
    if let Some(h) = head {
        let logged_is_kept =
            entries.iter().any(|e| e.hash == h) || anchor.as_ref().is_some_and(|a| a.hash == h);
        if !logged_is_kept {
            r.problems.push(crate::audit::Problem::Head {
                expected: h.to_string(),
                found: r.head.clone(),
            });
        }
    }
    Ok(r)
}
