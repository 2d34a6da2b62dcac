//! The outbox of the embedded store.

use super::*;

impl Outbox for SqliteStore {
    fn problems(&self, since: Time) -> Result<Vec<TimelineEntry>, StoreError> {
        self.action_entries(
            "(first_failure_at IS NOT NULL AND status != 'done')
                OR (bounced_at IS NOT NULL AND bounced_at >= ?1) ORDER BY at, rowid",
            params![time_text(since)],
        )
    }

    fn mark_bounced(&mut self, key: &str, at: Time) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE outbox SET bounced_at = COALESCE(bounced_at, ?2) WHERE key = ?1",
            params![key, time_text(at)],
        )?;
        Ok(n > 0)
    }

    fn claim(
        &mut self,
        now: Time,
        limit: usize,
        lease: &dyn Fn(i64) -> chrono::Duration,
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

    fn next_due(&self) -> Result<Option<Time>, StoreError> {
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

    fn mark_many(&mut self, now: Time, results: &[SendResult]) -> Result<(), StoreError> {
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

    fn stats(&self, now: Time, warn_after: chrono::Duration) -> Result<OutboxStats, StoreError> {
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

    fn statuspage_actions(&self) -> Result<Vec<Action>, StoreError> {
        let mut st = self.conn.prepare(
            "SELECT key, payload FROM outbox WHERE kind = 'statuspage' ORDER BY at, rowid",
        )?;
        decode_json_rows(&mut st, "outbox")
    }

    fn statuspage_after(&self, after: i64) -> Result<(i64, Vec<Action>), StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT rowid, payload FROM outbox WHERE kind = 'statuspage' AND rowid > ?1 ORDER BY at, rowid",
        )?;
        let rows = st.query_map([after], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?;
        let (mut mark, mut v) = (after, Vec::new());
        for row in rows {
            let (id, json) = row?;
            mark = mark.max(id);
            v.push(
                serde_json::from_str(&json)
                    .map_err(|e| StoreError::Corrupt(format!("outbox row {id}: {e}")))?,
            );
        }
        Ok((mark, v))
    }

    fn outbox_status(&self, key: &str) -> Result<Option<(String, i64)>, StoreError> {
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
