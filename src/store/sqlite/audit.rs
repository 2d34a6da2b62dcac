//! The audit log in SQLite (`store::AuditLog`, migration 12).

use super::SqliteStore;
use crate::audit::{Anchor, Entry, NewEntry, GENESIS};
use crate::engine::model::Time;
use crate::store::{AuditLog, AuditQuery, StoreError};
use rusqlite::{params, params_from_iter, OptionalExtension, Transaction};

const COLUMNS: &str = "seq, at, who, role, origin, what, object, before, after, prev, hash";

fn entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        seq: r.get(0)?,
        at: r.get(1)?,
        who: r.get(2)?,
        role: r.get(3)?,
        origin: r.get(4)?,
        what: r.get(5)?,
        object: r.get(6)?,
        before: r.get(7)?,
        after: r.get(8)?,
        prev: r.get(9)?,
        hash: r.get(10)?,
    })
}

fn anchor(tx: &rusqlite::Connection) -> rusqlite::Result<Option<Anchor>> {
    tx.query_row(
        "SELECT through, hash, removed FROM audit_anchor WHERE id = 1",
        [],
        |r| {
            Ok(Anchor {
                through: r.get(0)?,
                hash: r.get(1)?,
                removed: r.get(2)?,
            })
        },
    )
    .optional()
}

/// Append `entries` to the chain inside `tx` (the event commit's transaction, or its own).
pub(super) fn append(tx: &Transaction<'_>, entries: &[&NewEntry]) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let last: Option<(i64, String)> = tx
        .query_row(
            "SELECT seq, hash FROM audit ORDER BY seq DESC, rowid DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (mut seq, mut prev) = match last {
        Some(l) => l,
        None => anchor(tx)?
            .map(|a| (a.through, a.hash))
            .unwrap_or((0, GENESIS.to_string())),
    };
    let mut ins = tx.prepare_cached(&format!(
        "INSERT INTO audit ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))?;
    for n in entries {
        seq += 1;
        let e = n.chain(seq, &prev);
        ins.execute(params![
            e.seq, e.at, e.who, e.role, e.origin, e.what, e.object, e.before, e.after, e.prev,
            e.hash
        ])?;
        prev = e.hash;
    }
    Ok(())
}

impl AuditLog for SqliteStore {
    fn audit_append(&mut self, entries: &[NewEntry]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        append(&tx, &entries.iter().collect::<Vec<_>>())?;
        tx.commit()?;
        Ok(())
    }

    fn audit_chain(&self) -> Result<(Option<Anchor>, Vec<Entry>), StoreError> {
        let a = anchor(&self.conn)?;
        let mut st = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM audit ORDER BY seq, rowid"))?;
        let v = st.query_map([], entry)?.collect::<Result<Vec<_>, _>>()?;
        Ok((a, v))
    }

    fn audit_find(&self, q: &AuditQuery) -> Result<Vec<Entry>, StoreError> {
        let (cond, args) = q.condition(|n| format!("?{n}"));
        let limit = if q.limit == 0 { -1 } else { q.limit as i64 };
        let mut st = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM audit WHERE {cond} ORDER BY seq DESC, rowid DESC LIMIT {limit}"
        ))?;
        let v = st
            .query_map(params_from_iter(args), entry)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(v)
    }

    fn audit_compact(&mut self, before: Time, now: Time) -> Result<usize, StoreError> {
        let tx = self.conn.transaction()?;
        let cut: Option<(i64, String)> = tx
            .query_row(
                "SELECT seq, hash FROM audit WHERE at < ?1 ORDER BY seq DESC, rowid DESC LIMIT 1",
                [crate::audit::at_text(before)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((through, hash)) = cut else {
            return Ok(0);
        };
        let n: i64 = tx.query_row(
            "SELECT count(*) FROM audit WHERE seq <= ?1",
            [through],
            |r| r.get(0),
        )?;
        let before_total: i64 = anchor(&tx)?.map_or(0, |a| a.removed);
        let left = Anchor {
            through,
            hash,
            removed: before_total + n,
        };
        append(&tx, &[&crate::audit::compaction(now, &left)])?;
        tx.execute(
            "INSERT INTO audit_anchor (id, through, hash, removed) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET through = ?1, hash = ?2, removed = ?3",
            params![left.through, left.hash, left.removed],
        )?;
        tx.execute("DELETE FROM audit WHERE seq <= ?1", [through])?;
        tx.commit()?;
        Ok(n as usize)
    }
}
