//! The embedded store: SQLite in WAL mode with `synchronous = FULL`, migrated forward by
//! `PRAGMA user_version`.

use super::{
    time_text, ActionEntry, EventLog, NewEvent, NewRow, Outbox, OutboxRow, OutboxStats, SendResult,
    SmallState, Store, StoreError, StoredEvent, TimelineEntry,
};
use crate::config::Organization;
use crate::engine::model::{Action, Time};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::BTreeMap;
use std::path::Path;

pub(crate) use schema::MIGRATIONS;

impl SqliteStore {
    /// Outbox rows matching `filter` (an SQL condition and order) as timeline entries, each
    /// with its delivery state: `bounced`, `sent`, `failing` (a failed attempt) or `due`.
    fn action_entries(
        &self,
        filter: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<TimelineEntry>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT key, kind, payload, status, attempts, done_at, first_failure_at, last_error, bounced_at
             FROM outbox WHERE {filter}"
        ))?;
        let rows = st.query_map(args, |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, Option<String>>(7)?,
                r.get::<_, Option<String>>(8)?,
            ))
        })?;
        let mut v = Vec::new();
        for row in rows {
            let (key, sink, payload, status, attempts, done, ff, last_error, bounced) = row?;
            let times = [done.as_deref(), ff.as_deref(), bounced.as_deref()];
            v.push(ActionEntry::read(
                key, sink, &payload, &status, attempts, last_error, times,
            )?);
        }
        Ok(v)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Backend(Box::new(e))
    }
}

pub(crate) fn parse_text(s: &str) -> Result<Time, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("time {s:?}: {e}")))
}

/// `meldingsvakt check --connect` with the embedded store: the state directory can be written.
pub fn probe(dir: &Path) -> Result<String, crate::store::ProbeError> {
    let fail = |e: std::io::Error| crate::store::ProbeError {
        place: format!("state directory {}", dir.display()),
        problem: format!("cannot write: {e}"),
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let f = dir.join(".meldingsvakt-check");
    std::fs::write(&f, b"ok").map_err(fail)?;
    let _ = std::fs::remove_file(&f);
    Ok(format!(
        "{}: the embedded SQLite store's directory can be written",
        dir.display()
    ))
}

/// The embedded store: one SQLite file in WAL mode.
pub struct SqliteStore {
    conn: Connection,
}

impl SqliteStore {
    /// Open (and migrate) the file at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: a committed notice survives power loss, not only a process crash.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // SQLite's own page cache at 512 KiB, not its 2 MiB default: the start reads the whole
        // state once (replay), and a full default cache then stays resident in the idle daemon
        // (issue #32: 1.8 MiB of the idle RSS with 20,000 subscribers). The hot pages of the
        // appends are few, and the file's pages stay in the kernel's cache either way.
        conn.pragma_update(None, "cache_size", -512)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut s = SqliteStore { conn };
        s.migrate(path)?;
        Ok(s)
    }

    fn migrate(&mut self, path: &Path) -> Result<(), StoreError> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew {
                path: path.display().to_string(),
                found: version,
                known,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
    }
}

impl EventLog for SqliteStore {
    fn events_after(&self, seq: i64) -> Result<Vec<StoredEvent>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT seq, at, type, body FROM event WHERE seq > ?1 ORDER BY seq")?;
        let rows = st.query_map([seq], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        let mut v = Vec::new();
        for row in rows {
            let (seq, at, ty, body) = row?;
            v.push(StoredEvent {
                seq,
                at: parse_text(&at)?,
                ty,
                body,
            });
        }
        Ok(v)
    }

    fn last_seq(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM event", [], |r| r.get(0))?)
    }

    fn load_snapshot(&self) -> Result<Option<(i64, String)>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT seq, state FROM snapshot WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?)
    }

    fn save_snapshot(&mut self, seq: i64, at: Time, state: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO snapshot (id, seq, at, state) VALUES (1, ?1, ?2, ?3)",
            params![seq, time_text(at), state],
        )?;
        Ok(())
    }
}

impl Store for SqliteStore {
    fn commit(&mut self, events: &[NewEvent], actions: &[NewRow]) -> Result<usize, StoreError> {
        self.commit_tx(events, actions, None).map(|(n, _)| n)
    }

    fn commit_claiming(
        &mut self,
        events: &[NewEvent],
        rows: &[NewRow],
        now: Time,
        lease: chrono::Duration,
    ) -> Result<(usize, Vec<OutboxRow>), StoreError> {
        self.commit_tx(events, rows, Some((now, lease)))
    }

    fn compact(&mut self, before: Time, upto: i64) -> Result<(usize, usize), StoreError> {
        let tx = self.conn.transaction()?;
        let cut = time_text(before);
        tx.execute(
            "DELETE FROM event_case WHERE seq IN (SELECT seq FROM event WHERE seq <= ?1 AND at < ?2)",
            params![upto, cut],
        )?;
        let events = tx.execute(
            "DELETE FROM event WHERE seq <= ?1 AND at < ?2",
            params![upto, cut],
        )?;
        let rows = tx.execute(
            "DELETE FROM outbox WHERE status = 'done' AND at < ?1",
            params![cut],
        )?;
        tx.commit()?;
        Ok((events, rows))
    }

    fn timeline(&self, case: &str) -> Result<Vec<TimelineEntry>, StoreError> {
        let mut v = Vec::new();
        let mut st = self.conn.prepare_cached(
            "SELECT e.at, e.type, e.origin, e.by_whom FROM event_case c JOIN event e ON e.seq = c.seq
             WHERE c.case_key = ?1 ORDER BY e.seq",
        )?;
        let rows = st.query_map([case], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })?;
        for row in rows {
            let (at, ty, origin, by) = row?;
            v.push(TimelineEntry::Event {
                at: parse_text(&at)?,
                ty,
                origin,
                by,
            });
        }
        // The case's rows: keys from `{case}/` up to (not including) `{case}0` ('0' follows
        // '/'), so the primary key's index serves the range.
        v.extend(self.action_entries(
            "key >= ?1 AND key < ?2 ORDER BY at, rowid",
            params![format!("{case}/"), format!("{case}0")],
        )?);
        v.sort_by_key(|e| e.at());
        Ok(v)
    }
}

/// Rows of (key, JSON) decoded; a row that does not decode is `Corrupt`, named by its key.
fn decode_json_rows<T: serde::de::DeserializeOwned>(
    st: &mut rusqlite::Statement<'_>,
    what: &str,
) -> Result<Vec<T>, StoreError> {
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut v = Vec::new();
    for row in rows {
        let (key, json) = row?;
        v.push(
            serde_json::from_str(&json)
                .map_err(|e| StoreError::Corrupt(format!("{what} {key}: {e}")))?,
        );
    }
    Ok(v)
}

/// Insert the rows not yet in the outbox. With `claim = (now, lease)`, a new row already due
/// is inserted claimed — attempt counted, next attempt at `now + lease` — and returned.
fn insert_actions(
    tx: &rusqlite::Transaction<'_>,
    rows: &[NewRow],
    claim: Option<(Time, chrono::Duration)>,
) -> Result<(usize, Vec<OutboxRow>), StoreError> {
    let mut ins = tx.prepare_cached(
        "INSERT OR IGNORE INTO outbox (key, at, kind, payload, next_attempt_at, attempts) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut new = 0;
    let mut claimed = Vec::new();
    for r in rows {
        let payload =
            serde_json::to_string(&r.action).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let at = time_text(r.action.at);
        new += match claim {
            Some((now, lease)) if r.action.at <= now => {
                let n = ins.execute(params![
                    r.key,
                    at,
                    r.kind,
                    payload,
                    time_text(now + lease),
                    1
                ])?;
                if n == 1 {
                    claimed.push(OutboxRow {
                        key: r.key.clone(),
                        kind: r.kind.clone(),
                        action: r.action.clone(),
                        attempts: 0,
                        first_failure_at: None,
                        last_error: None,
                    });
                }
                n
            }
            _ => ins.execute(params![r.key, at, r.kind, payload, at, 0])?,
        };
    }
    Ok((new, claimed))
}

impl SqliteStore {
    /// One transaction: the events, then the rows; with `claim`, the new rows already due at
    /// its instant are claimed as they are inserted (see `Store::commit_claiming`).
    fn commit_tx(
        &mut self,
        events: &[NewEvent],
        actions: &[NewRow],
        claim: Option<(Time, chrono::Duration)>,
    ) -> Result<(usize, Vec<OutboxRow>), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut ins_ev = tx.prepare_cached(
                "INSERT INTO event (at, type, body, origin, by_whom) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut ins_case = tx.prepare_cached(
                "INSERT OR IGNORE INTO event_case (case_key, seq) VALUES (?1, ?2)",
            )?;
            for e in events {
                let l = &e.log;
                ins_ev.execute(params![
                    time_text(e.at),
                    l.ty,
                    l.body,
                    l.origin.as_str(),
                    l.by
                ])?;
                let seq = tx.last_insert_rowid();
                for c in &e.cases {
                    ins_case.execute(params![c, seq])?;
                }
            }
        }
        let audited: Vec<_> = events.iter().flat_map(|e| e.audit.iter()).collect();
        audit::append(&tx, &audited)?;
        let new = insert_actions(&tx, actions, claim)?;
        tx.commit()?;
        Ok(new)
    }
}

mod audit;
mod outbox;
mod schema;
mod state;
mod subscribers;
#[cfg(test)]
mod tests;
mod tokens;
