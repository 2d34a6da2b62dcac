//! The shared store for two or more hosts (SPEC §5.7): PostgreSQL through the `postgres`
//! crate (the blocking client over tokio-postgres), TLS by rustls as the URL's `sslmode` asks.
//!
//! **Fencing.** Only the leader writes. Every write transaction first reads the leader row
//! `FOR SHARE` and goes on only if its epoch is this host's ([`PgStore::epoch`], set by the
//! leadership session in `daemon::role`); events and outbox claims are stamped with it. A
//! new leader raises the epoch with an `UPDATE` of that row, which waits for writes in flight
//! and makes every later write of the old leader fail with [`StoreError::Fenced`]. So a
//! leader that was paused or cut off cannot record, claim or mark anything after a newer one
//! took over.
//!
//! The `Store` trait is synchronous (one call, one transaction). Called from the daemon's
//! multi-threaded runtime, each call runs under `tokio::task::block_in_place`, as SQLite's do
//! in effect; a lost connection is opened again at the next call.

mod audit;
mod connect;
mod outbox;
pub(crate) mod schema;
pub(crate) mod settings;
mod state;
mod subscribers;
mod tokens;

pub use connect::{blocking, connect, probe, tls};

pub use settings::Settings;

use super::sqlite::parse_text;
use super::{
    time_text, ActionEntry, EventLog, NewEvent, NewRow, Outbox, OutboxRow, OutboxStats, SendResult,
    SmallState, Store, StoreError, StoredEvent, TimelineEntry,
};
use crate::config::Organization;
use crate::engine::model::{Action, Time};
use postgres::types::ToSql;
use postgres::{Client, Transaction};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> StoreError {
        StoreError::Backend(Box::new(e))
    }
}

/// The store on PostgreSQL, every write fenced by this host's leader epoch.
pub struct PgStore {
    config: postgres::Config,
    client: RefCell<Option<Client>>,
    /// The leadership epoch this host holds (0: none). Every write checks it.
    epoch: Arc<AtomicI64>,
    /// Where the database is, for messages (no user or password).
    display: String,
    /// The leadership lease in milliseconds: a transaction left open longer (this process
    /// paused in the middle of a write) is ended by the server, so its `FOR SHARE` on the
    /// leader row cannot hold up the next leader's election.
    lease_ms: u128,
}

/// postgres' blocking `Client` closes its connection with `block_on` on a runtime of its own,
/// which panics on a thread that is inside the daemon's tokio runtime ("Cannot start a
/// runtime from within a runtime"): the last `Arc<Shared>` is dropped there at every stop, so
/// every SIGTERM ended with exit 101. The session is closed on a thread of its own instead.
impl Drop for PgStore {
    fn drop(&mut self) {
        if let Some(c) = self.client.get_mut().take() {
            let closed = std::thread::Builder::new()
                .name("pg-close".into())
                .spawn(move || drop(c))
                .map(|t| t.join());
            if !matches!(closed, Ok(Ok(()))) {
                tracing::warn!("the PostgreSQL session could not be closed cleanly");
            }
        }
    }
}

impl PgStore {
    /// Connect, migrate forward, and share `epoch` with the leadership session.
    pub fn open(s: &Settings, epoch: Arc<AtomicI64>) -> Result<PgStore, StoreError> {
        let config = s.connect_config()?;
        let store = PgStore {
            config,
            client: RefCell::new(None),
            epoch,
            display: s.display(),
            lease_ms: s.lease.to_std().unwrap_or_default().as_millis(),
        };
        store.with(|c| migrate(c, &store.display))?;
        Ok(store)
    }

    /// The epoch this store writes under.
    pub(crate) fn epoch(&self) -> i64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Run `f` on the session, opening it first when there is none or it was lost.
    fn with<R>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        blocking(|| {
            let mut slot = self.client.borrow_mut();
            if slot.as_ref().is_none_or(|c| c.is_closed()) {
                let mut c = connect(&self.config)?;
                c.batch_execute(&format!(
                    "SET statement_timeout = '10s'; SET lock_timeout = '10s'; SET idle_in_transaction_session_timeout = {}",
                    self.lease_ms.max(1000)
                ))?;
                *slot = Some(c);
            }
            let Some(c) = slot.as_mut() else {
                return Err(StoreError::Corrupt("no database session".into()));
            };
            let r = f(c);
            if c.is_closed() {
                *slot = None;
            }
            r
        })?
    }

    /// A write: one transaction that goes on only while this host holds the current epoch.
    fn write<R>(
        &self,
        f: impl FnOnce(&mut Transaction<'_>, i64) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mine = self.epoch();
        self.with(|c| {
            let mut tx = c.transaction()?;
            let current: i64 = tx
                .query_one("SELECT epoch FROM leader WHERE id = 1 FOR SHARE", &[])?
                .get(0);
            if mine == 0 || current != mine {
                return Err(StoreError::Fenced { mine, current });
            }
            let r = f(&mut tx, mine)?;
            tx.commit()?;
            Ok(r)
        })
    }

    /// Outbox rows matching `filter` as timeline entries (see `SqliteStore::action_entries`).
    fn action_entries(
        &self,
        filter: &str,
        args: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<TimelineEntry>, StoreError> {
        let rows = self.with(|c| {
            Ok(c.query(
                &format!(
                    "SELECT key, kind, payload, status, attempts, done_at, first_failure_at, last_error, bounced_at
                     FROM outbox WHERE {filter}"
                ),
                args,
            )?)
        })?;
        let mut v = Vec::new();
        for r in rows {
            let times = [r.get(5), r.get(6), r.get(8)];
            v.push(ActionEntry::read(
                r.get(0),
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(7),
                times,
            )?);
        }
        Ok(v)
    }
}

fn migrate(c: &mut Client, display: &str) -> Result<(), StoreError> {
    let mut tx = c.transaction()?;
    tx.batch_execute("SET LOCAL client_min_messages = warning")?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&schema::MIGRATE_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS meldingsvakt_schema (version INTEGER NOT NULL)")?;
    let version: i64 = match tx.query_opt("SELECT version FROM meldingsvakt_schema", &[])? {
        Some(r) => i64::from(r.get::<_, i32>(0)),
        None => {
            tx.execute("INSERT INTO meldingsvakt_schema (version) VALUES (0)", &[])?;
            0
        }
    };
    let known = schema::MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::TooNew {
            path: display.to_string(),
            found: version,
            known,
        });
    }
    for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.batch_execute(sql)?;
        tx.execute(
            "UPDATE meldingsvakt_schema SET version = $1",
            &[&((i + 1) as i32)],
        )?;
    }
    tx.commit()?;
    Ok(())
}

fn json_text<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn insert_rows(tx: &mut Transaction<'_>, rows: &[NewRow], epoch: i64) -> Result<usize, StoreError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let ins = tx.prepare(
        "INSERT INTO outbox (key, at, kind, payload, next_attempt_at, epoch) VALUES ($1, $2, $3, $4, $2, $5)
         ON CONFLICT (key) DO NOTHING",
    )?;
    let mut new = 0;
    for r in rows {
        let payload = json_text(&r.action)?;
        new += tx.execute(
            &ins,
            &[&r.key, &time_text(r.action.at), &r.kind, &payload, &epoch],
        )? as usize;
    }
    Ok(new)
}

impl EventLog for PgStore {
    fn events_after(&self, seq: i64) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = self.with(|c| {
            Ok(c.query(
                "SELECT seq, at, type, body FROM event WHERE seq > $1 ORDER BY seq",
                &[&seq],
            )?)
        })?;
        rows.iter()
            .map(|r| {
                Ok(StoredEvent {
                    seq: r.get(0),
                    at: parse_text(r.get(1))?,
                    ty: r.get(2),
                    body: r.get(3),
                })
            })
            .collect()
    }

    fn last_seq(&self) -> Result<i64, StoreError> {
        self.with(|c| {
            Ok(
                c.query_one("SELECT COALESCE(MAX(seq), 0)::BIGINT FROM event", &[])?
                    .get(0),
            )
        })
    }

    fn load_snapshot(&self) -> Result<Option<(i64, String)>, StoreError> {
        self.with(|c| {
            Ok(
                c.query_opt("SELECT seq, state FROM snapshot WHERE id = 1", &[])?
                    .map(|r| (r.get(0), r.get(1))),
            )
        })
    }

    fn save_snapshot(&mut self, seq: i64, at: Time, state: &str) -> Result<(), StoreError> {
        self.write(|tx, _| {
            tx.execute(
                "INSERT INTO snapshot (id, seq, at, state) VALUES (1, $1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, at = EXCLUDED.at, state = EXCLUDED.state",
                &[&seq, &time_text(at), &state],
            )?;
            Ok(())
        })
    }
}

impl Store for PgStore {
    fn compact(&mut self, before: Time, upto: i64) -> Result<(usize, usize), StoreError> {
        let cut = time_text(before);
        self.write(|tx, _| {
            tx.execute(
                "DELETE FROM event_case WHERE seq IN (SELECT seq FROM event WHERE seq <= $1 AND at < $2)",
                &[&upto, &cut],
            )?;
            let events = tx.execute(
                "DELETE FROM event WHERE seq <= $1 AND at < $2",
                &[&upto, &cut],
            )?;
            let rows = tx.execute(
                "DELETE FROM outbox WHERE status = 'done' AND at < $1",
                &[&cut],
            )?;
            Ok((events as usize, rows as usize))
        })
    }

    fn commit(&mut self, events: &[NewEvent], rows: &[NewRow]) -> Result<usize, StoreError> {
        self.write(|tx, epoch| {
            if !events.is_empty() {
                let ins_ev = tx.prepare(
                    "INSERT INTO event (at, type, body, origin, by_whom, epoch) VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
                )?;
                let ins_case = tx.prepare(
                    "INSERT INTO event_case (case_key, seq) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                )?;
                for e in events {
                    let l = &e.log;
                    let seq: i64 = tx
                        .query_one(
                            &ins_ev,
                            &[
                                &time_text(e.at),
                                &l.ty,
                                &l.body,
                                &l.origin.as_str(),
                                &l.by,
                                &epoch,
                            ],
                        )?
                        .get(0);
                    for c in &e.cases {
                        tx.execute(&ins_case, &[c, &seq])?;
                    }
                }
            }
            let audited: Vec<_> = events.iter().flat_map(|e| e.audit.iter()).collect();
            audit::append(tx, epoch, &audited)?;
            insert_rows(tx, rows, epoch)
        })
    }

    fn timeline(&self, case: &str) -> Result<Vec<TimelineEntry>, StoreError> {
        let rows = self.with(|c| {
            Ok(c.query(
                "SELECT e.at, e.type, e.origin, e.by_whom FROM event_case c JOIN event e ON e.seq = c.seq
                 WHERE c.case_key = $1 ORDER BY e.seq",
                &[&case],
            )?)
        })?;
        let mut v = Vec::new();
        for r in rows {
            v.push(TimelineEntry::Event {
                at: parse_text(r.get(0))?,
                ty: r.get(1),
                origin: r.get(2),
                by: r.get(3),
            });
        }
        v.extend(self.action_entries(
            "key >= $1 AND key < $2 ORDER BY at, id",
            &[&format!("{case}/"), &format!("{case}0")],
        )?);
        v.sort_by_key(|e| e.at());
        Ok(v)
    }
}
