//! The audit log in PostgreSQL (`store::AuditLog`, migration 2): appends go through the
//! leader's fenced write, under `AUDIT_LOCK`, so only the leader chains entries and never two
//! transactions at once.

use super::schema::AUDIT_LOCK;
use super::PgStore;
use crate::audit::{Anchor, Entry, NewEntry, GENESIS};
use crate::engine::model::Time;
use crate::store::{AuditLog, AuditQuery, StoreError};
use postgres::types::ToSql;
use postgres::{GenericClient, Row, Transaction};

const COLUMNS: &str = "seq, at, who, role, origin, what, object, before, after, prev, hash";

fn entry(r: &Row) -> Entry {
    Entry {
        seq: r.get(0),
        at: r.get(1),
        who: r.get(2),
        role: r.get(3),
        origin: r.get(4),
        what: r.get(5),
        object: r.get(6),
        before: r.get(7),
        after: r.get(8),
        prev: r.get(9),
        hash: r.get(10),
    }
}

fn anchor(c: &mut impl GenericClient) -> Result<Option<Anchor>, StoreError> {
    Ok(c.query_opt(
        "SELECT through, hash, removed FROM audit_anchor WHERE id = 1",
        &[],
    )?
    .map(|r| Anchor {
        through: r.get(0),
        hash: r.get(1),
        removed: r.get(2),
    }))
}

/// Append `entries` to the chain inside the fenced transaction `tx` of leader `epoch`.
pub(super) fn append(
    tx: &mut Transaction<'_>,
    epoch: i64,
    entries: &[&NewEntry],
) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])?;
    let last = tx.query_opt(
        "SELECT seq, hash FROM audit ORDER BY seq DESC, id DESC LIMIT 1",
        &[],
    )?;
    let (mut seq, mut prev): (i64, String) = match last {
        Some(r) => (r.get(0), r.get(1)),
        None => anchor(tx)?
            .map(|a| (a.through, a.hash))
            .unwrap_or((0, GENESIS.to_string())),
    };
    let ins = tx.prepare(&format!(
        "INSERT INTO audit ({COLUMNS}, epoch) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    ))?;
    for n in entries {
        seq += 1;
        let e = n.chain(seq, &prev);
        tx.execute(
            &ins,
            &[
                &e.seq, &e.at, &e.who, &e.role, &e.origin, &e.what, &e.object, &e.before, &e.after,
                &e.prev, &e.hash, &epoch,
            ],
        )?;
        prev = e.hash;
    }
    Ok(())
}

impl AuditLog for PgStore {
    fn audit_append(&mut self, entries: &[NewEntry]) -> Result<(), StoreError> {
        let entries: Vec<&NewEntry> = entries.iter().collect();
        self.write(|tx, epoch| append(tx, epoch, &entries))
    }

    fn audit_chain(&self) -> Result<(Option<Anchor>, Vec<Entry>), StoreError> {
        self.with(|c| {
            let a = anchor(c)?;
            let rows = c.query(
                &format!("SELECT {COLUMNS} FROM audit ORDER BY seq, id"),
                &[],
            )?;
            Ok((a, rows.iter().map(entry).collect()))
        })
    }

    fn audit_find(&self, q: &AuditQuery) -> Result<Vec<Entry>, StoreError> {
        let (cond, args) = q.condition(|n| format!("${n}"));
        let limit = if q.limit == 0 {
            "ALL".to_string()
        } else {
            q.limit.to_string()
        };
        self.with(|c| {
            let params: Vec<&(dyn ToSql + Sync)> =
                args.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
            let rows = c.query(
                &format!(
                    "SELECT {COLUMNS} FROM audit WHERE {cond} ORDER BY seq DESC, id DESC LIMIT {limit}"
                ),
                &params,
            )?;
            Ok(rows.iter().map(entry).collect())
        })
    }

    fn audit_compact(&mut self, before: Time, now: Time) -> Result<usize, StoreError> {
        let before = crate::audit::at_text(before);
        self.write(|tx, epoch| {
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])?;
            let Some(cut) = tx.query_opt(
                "SELECT seq, hash FROM audit WHERE at < $1 ORDER BY seq DESC, id DESC LIMIT 1",
                &[&before],
            )?
            else {
                return Ok(0);
            };
            let (through, hash): (i64, String) = (cut.get(0), cut.get(1));
            let n: i64 = tx
                .query_one("SELECT count(*) FROM audit WHERE seq <= $1", &[&through])?
                .get(0);
            let before_total: i64 = anchor(tx)?.map_or(0, |a| a.removed);
            let left = Anchor {
                through,
                hash,
                removed: before_total + n,
            };
            append(tx, epoch, &[&crate::audit::compaction(now, &left)])?;
            tx.execute(
                "INSERT INTO audit_anchor (id, through, hash, removed) VALUES (1, $1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET through = $1, hash = $2, removed = $3",
                &[&left.through, &left.hash, &left.removed],
            )?;
            tx.execute("DELETE FROM audit WHERE seq <= $1", &[&through])?;
            Ok(n as usize)
        })
    }
}
