//! Durable state in SQLite (WAL): the log of accepted events and the outbox of decided actions.
//!
//! Architecture invariant: an event and the actions it caused are committed in **one**
//! transaction, before anything is sent (SPEC §6). State is not stored as a snapshot: on start
//! the accepted events are replayed through the deterministic engine, which recomputes every
//! deadline from the facts; re-decided actions hit the outbox's unique key and are ignored,
//! while deadlines that passed while the daemon was down produce new rows that run at once.

use crate::engine::model::{Action, Time};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;

const MIGRATIONS: &[&str] = &[
    // 1: event log and outbox.
    "CREATE TABLE event (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        type TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE TABLE outbox (
        key TEXT PRIMARY KEY,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        first_failure_at TEXT,
        last_error TEXT,
        done_at TEXT
    );
    CREATE INDEX outbox_due ON outbox(status, next_attempt_at);",
    // 2: what maintenance files declared last (id → maintenance.add fields).
    "CREATE TABLE declared (id TEXT PRIMARY KEY, fields TEXT NOT NULL);",
    // 3: our incident/maintenance id → Atlassian Statuspage incident id, per environment.
    "CREATE TABLE statuspage_map (our_id TEXT NOT NULL, env TEXT NOT NULL, sp_id TEXT NOT NULL, PRIMARY KEY (our_id, env));",
    // 4: Alertmanager silences per incident (empty id: a create in flight).
    "CREATE TABLE silences (incident TEXT PRIMARY KEY, id TEXT NOT NULL, matchers TEXT NOT NULL, ends_at TEXT NOT NULL, expired INTEGER NOT NULL DEFAULT 0);",
    // 5: the watched mailbox: last handled UID per folder and UIDVALIDITY.
    "CREATE TABLE imap_state (folder TEXT PRIMARY KEY, uidvalidity INTEGER NOT NULL, last_uid INTEGER NOT NULL);",
    // 6: organizations removed from the configuration but still named by open cases.
    "CREATE TABLE retained_org (id TEXT PRIMARY KEY, org TEXT NOT NULL);",
    // 7: maintenance and inquiry keys get their namespace (`About::key_prefix`, SPEC §4.14), so
    // that replay after the upgrade finds the rows it decided before and sends nothing again.
    "UPDATE statuspage_map SET our_id = 'maintenance/' || our_id WHERE our_id IN
        (SELECT json_extract(payload, '$.about.id') FROM outbox
         WHERE json_extract(payload, '$.about.type') = 'maintenance');
     UPDATE outbox SET
        payload = CASE WHEN json_extract(payload, '$.body.thread') IS NOT NULL
            THEN json_set(payload, '$.key', 'maintenance/' || key,
                          '$.body.thread', 'maintenance/' || json_extract(payload, '$.body.thread'))
            ELSE json_set(payload, '$.key', 'maintenance/' || key) END,
        key = 'maintenance/' || key
     WHERE json_extract(payload, '$.about.type') = 'maintenance';
     UPDATE outbox SET
        payload = json_set(payload, '$.key', 'inquiry/' || key),
        key = 'inquiry/' || key
     WHERE json_extract(payload, '$.about.type') = 'inquiry';",
    // 8: one table for the sinks' own state (`sinks::SinkState`), each sink under its name;
    // the Statuspage map and the silences move into it.
    "CREATE TABLE sink_state (sink TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (sink, key));
     INSERT INTO sink_state (sink, key, value)
        SELECT 'statuspage', env || ' ' || our_id, json_quote(sp_id) FROM statuspage_map;
     INSERT INTO sink_state (sink, key, value)
        SELECT 'silence', incident, json_object('incident', incident, 'id', id, 'matchers', matchers,
            'ends_at', ends_at, 'expired', json(CASE WHEN expired THEN 'true' ELSE 'false' END))
        FROM silences;
     DROP TABLE statuspage_map;
     DROP TABLE silences;",
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database {path} has schema version {found}, newer than this meldingsvakt ({known}); upgrade meldingsvakt")]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
}

/// Times are stored as fixed-width UTC text, so text order is time order.
pub fn time_text(t: Time) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

fn parse_text(s: &str) -> Result<Time, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("time {s:?}: {e}")))
}

pub struct StoredEvent {
    pub seq: i64,
    pub at: Time,
    pub ty: String,
    pub body: String,
}

/// A row to insert into the outbox: an action's own row, or a sink's copy of it.
#[derive(Debug, Clone)]
pub struct NewRow {
    pub key: String,
    /// The sink kind that delivers it: `ActionBody::kind` for an own row, the sink's name
    /// for a copy.
    pub kind: String,
    pub action: Action,
}

impl NewRow {
    pub fn own(action: Action) -> NewRow {
        NewRow {
            key: action.key.clone(),
            kind: action.body.kind().to_string(),
            action,
        }
    }

    pub fn copy(action: Action, sink: &str) -> NewRow {
        NewRow {
            key: format!("{}#{sink}", action.key),
            kind: sink.to_string(),
            action,
        }
    }

    /// Own rows for actions (no copies): the store's tests and tools.
    pub fn own_all(actions: &[Action]) -> Vec<NewRow> {
        actions.iter().cloned().map(NewRow::own).collect()
    }
}

#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub key: String,
    /// Which sink delivers it (see `NewRow::kind`).
    pub kind: String,
    pub action: Action,
    pub attempts: i64,
    pub first_failure_at: Option<Time>,
    pub last_error: Option<String>,
}

/// The outcome of one claimed send: done, or failed with the error and the next attempt.
pub type SendResult = (String, Result<(), (String, Time)>);

#[derive(Debug, Clone, Default)]
pub struct OutboxStats {
    pub pending: i64,
    pub failing: i64,
    /// Failing for longer than `smtp.warn_after`.
    pub failing_long: i64,
    pub oldest_pending: Option<Time>,
    pub done: i64,
}

pub struct Store {
    conn: Connection,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: a committed notice survives power loss, not only a process crash.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut s = Store { conn };
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

    pub fn events(&self) -> Result<Vec<StoredEvent>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT seq, at, type, body FROM event ORDER BY seq")?;
        let rows = st.query_map([], |r| {
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

    /// In one transaction: the events (type, JSON body) accepted at `at`, and the actions they
    /// and any deadlines caused. Actions already in the outbox (same key) are left as they are.
    pub fn commit(
        &mut self,
        events: &[(Time, &str, String)],
        actions: &[NewRow],
    ) -> Result<usize, StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut ins_ev =
                tx.prepare_cached("INSERT INTO event (at, type, body) VALUES (?1, ?2, ?3)")?;
            for (at, ty, body) in events {
                ins_ev.execute(params![time_text(*at), ty, body])?;
            }
        }
        let new = insert_actions(&tx, actions)?;
        tx.commit()?;
        Ok(new)
    }

    /// Claim the pending rows whose next attempt is due, oldest first, **before** sending them
    /// (SPEC §6 "Fail safe"). In one transaction each claimed row gets its attempt counted and
    /// its next attempt pushed back by `lease(attempts before this one)`. So when the result of
    /// a send cannot be recorded (store locked, disk full, crash), the row is still backed off:
    /// it is never sent again sooner than its backoff, and a store that cannot be written makes
    /// the claim itself fail, so nothing is sent at all.
    pub fn claim(
        &mut self,
        now: Time,
        limit: usize,
        lease: impl Fn(i64) -> chrono::Duration,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let tx = self.conn.transaction()?;
        let mut v = Vec::new();
        {
            let mut st = tx.prepare_cached(
                "SELECT key, payload, attempts, first_failure_at, last_error, kind FROM outbox
                 WHERE status = 'pending' AND next_attempt_at <= ?1
                 ORDER BY next_attempt_at, at, rowid LIMIT ?2",
            )?;
            let rows = st.query_map(params![time_text(now), limit as i64], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })?;
            for row in rows {
                let (key, payload, attempts, ff, last_error, kind) = row?;
                let action: Action = serde_json::from_str(&payload)
                    .map_err(|e| StoreError::Corrupt(format!("outbox {key}: {e}")))?;
                let first_failure_at = ff.as_deref().map(parse_text).transpose()?;
                v.push(OutboxRow {
                    key,
                    kind,
                    action,
                    attempts,
                    first_failure_at,
                    last_error,
                });
            }
            let mut upd = tx.prepare_cached(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2 WHERE key = ?1",
            )?;
            for r in &v {
                upd.execute(params![r.key, time_text(now + lease(r.attempts))])?;
            }
        }
        tx.commit()?;
        Ok(v)
    }

    /// When the next pending row becomes due, if any.
    pub fn next_due(&self) -> Result<Option<Time>, StoreError> {
        let t: Option<String> = self
            .conn
            .query_row(
                "SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending'",
                [],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        t.as_deref().map(parse_text).transpose()
    }

    /// Record a wave of claimed results in one transaction: `Ok` done, `Err((error, next
    /// attempt))`. The attempt was counted by `claim`.
    pub fn mark_many(&mut self, now: Time, results: &[SendResult]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut done = tx.prepare_cached(
                "UPDATE outbox SET status = 'done', done_at = ?2, last_error = NULL WHERE key = ?1 AND status = 'pending'",
            )?;
            let mut failed = tx.prepare_cached(
                "UPDATE outbox SET last_error = ?3, next_attempt_at = ?4,
                    first_failure_at = COALESCE(first_failure_at, ?2)
                 WHERE key = ?1 AND status = 'pending'",
            )?;
            for (key, r) in results {
                match r {
                    Ok(()) => done.execute(params![key, time_text(now)])?,
                    Err((e, next)) => {
                        failed.execute(params![key, time_text(now), e, time_text(*next)])?
                    }
                };
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Outbox gauges; `failing_long` counts rows failing since before `now - warn_after`.
    pub fn stats(
        &self,
        now: Time,
        warn_after: chrono::Duration,
    ) -> Result<OutboxStats, StoreError> {
        let (pending, failing, oldest, failing_long): (i64, i64, Option<String>, i64) =
            self.conn.query_row(
                "SELECT COUNT(*), COUNT(first_failure_at), MIN(at),
                        COUNT(CASE WHEN first_failure_at <= ?1 THEN 1 END)
                 FROM outbox WHERE status = 'pending'",
                [time_text(now - warn_after)],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
        let done: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM outbox WHERE status = 'done'",
            [],
            |r| r.get(0),
        )?;
        Ok(OutboxStats {
            pending,
            failing,
            failing_long,
            oldest_pending: oldest.as_deref().map(parse_text).transpose()?,
            done,
        })
    }

    pub fn declared(&self) -> Result<std::collections::BTreeMap<String, String>, StoreError> {
        let mut st = self.conn.prepare("SELECT id, fields FROM declared")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut m = std::collections::BTreeMap::new();
        for row in rows {
            let (k, v) = row?;
            m.insert(k, v);
        }
        Ok(m)
    }

    pub fn set_declared(&mut self, all: &[(String, String)]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM declared", [])?;
        {
            let mut ins = tx.prepare_cached("INSERT INTO declared (id, fields) VALUES (?1, ?2)")?;
            for (id, f) in all {
                ins.execute(params![id, f])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Every status-page action ever decided, in order (rebuilds the built-in page at start).
    pub fn statuspage_actions(&self) -> Result<Vec<Action>, StoreError> {
        let mut st = self.conn.prepare(
            "SELECT key, payload FROM outbox WHERE kind = 'statuspage' ORDER BY at, rowid",
        )?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut v = Vec::new();
        for row in rows {
            let (key, payload) = row?;
            v.push(
                serde_json::from_str(&payload)
                    .map_err(|e| StoreError::Corrupt(format!("outbox {key}: {e}")))?,
            );
        }
        Ok(v)
    }

    /// A sink's state value (`sinks::SinkState`).
    pub fn sink_get(&self, sink: &str, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM sink_state WHERE sink = ?1 AND key = ?2",
                [sink, key],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn sink_put(&self, sink: &str, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO sink_state (sink, key, value) VALUES (?1, ?2, ?3)",
            [sink, key, value],
        )?;
        Ok(())
    }

    pub fn sink_list(&self, sink: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT key, value FROM sink_state WHERE sink = ?1 ORDER BY key")?;
        let rows = st.query_map([sink], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// (UIDVALIDITY, last handled UID) of a folder.
    pub fn imap_get(&self, folder: &str) -> Option<(u32, u32)> {
        self.conn
            .query_row(
                "SELECT uidvalidity, last_uid FROM imap_state WHERE folder = ?1",
                [folder],
                |r| Ok((r.get::<_, i64>(0)? as u32, r.get::<_, i64>(1)? as u32)),
            )
            .optional()
            .ok()
            .flatten()
    }

    pub fn imap_put(&self, folder: &str, uidvalidity: u32, last_uid: u32) {
        let r = self.conn.execute(
            "INSERT OR REPLACE INTO imap_state (folder, uidvalidity, last_uid) VALUES (?1, ?2, ?3)",
            params![folder, uidvalidity as i64, last_uid as i64],
        );
        if let Err(e) = r {
            tracing::error!(error = %e, "cannot record the mailbox position; messages may be looked at again (harmless: events are idempotent)");
        }
    }

    /// Organizations kept for open cases after they were removed from the configuration.
    pub fn retained_orgs(&self) -> Result<Vec<crate::config::Organization>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT id, org FROM retained_org ORDER BY id")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut v = Vec::new();
        for row in rows {
            let (id, json) = row?;
            v.push(
                serde_json::from_str(&json)
                    .map_err(|e| StoreError::Corrupt(format!("retained organization {id}: {e}")))?,
            );
        }
        Ok(v)
    }

    pub fn set_retained_orgs(
        &mut self,
        orgs: &[&crate::config::Organization],
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM retained_org", [])?;
        {
            let mut ins =
                tx.prepare_cached("INSERT INTO retained_org (id, org) VALUES (?1, ?2)")?;
            for o in orgs {
                let json =
                    serde_json::to_string(o).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                ins.execute(params![o.id, json])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn outbox_status(&self, key: &str) -> Result<Option<(String, i64)>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT status, attempts FROM outbox WHERE key = ?1",
                [key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }
}

fn insert_actions(tx: &rusqlite::Transaction<'_>, rows: &[NewRow]) -> Result<usize, StoreError> {
    let mut ins = tx.prepare_cached(
        "INSERT OR IGNORE INTO outbox (key, at, kind, payload, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?2)",
    )?;
    let mut new = 0;
    for r in rows {
        let payload =
            serde_json::to_string(&r.action).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        new += ins.execute(params![r.key, time_text(r.action.at), r.kind, payload])?;
    }
    Ok(new)
}

#[cfg(test)]
mod tests;
