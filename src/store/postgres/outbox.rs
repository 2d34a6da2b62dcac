//! The outbox of the PostgreSQL store.

use super::*;

impl Outbox for PgStore {
    fn problems(&self, since: Time) -> Result<Vec<TimelineEntry>, StoreError> {
        self.action_entries(
            "(first_failure_at IS NOT NULL AND status != 'done')
                OR (bounced_at IS NOT NULL AND bounced_at >= $1) ORDER BY at, id",
            &[&time_text(since)],
        )
    }

    fn mark_bounced(&mut self, key: &str, at: Time) -> Result<bool, StoreError> {
        self.write(|tx, _| {
            Ok(tx.execute(
                "UPDATE outbox SET bounced_at = COALESCE(bounced_at, $2) WHERE key = $1",
                &[&key, &time_text(at)],
            )? > 0)
        })
    }

    fn claim(
        &mut self,
        now: Time,
        limit: usize,
        lease: &dyn Fn(i64) -> chrono::Duration,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        self.write(|tx, epoch| {
            let rows = tx.query(
                "SELECT key, payload, attempts, first_failure_at, last_error, kind FROM outbox
                 WHERE status = 'pending' AND next_attempt_at <= $1
                 ORDER BY next_attempt_at, at, id LIMIT $2 FOR UPDATE SKIP LOCKED",
                &[&time_text(now), &(limit as i64)],
            )?;
            let mut v = Vec::new();
            for r in &rows {
                let key: String = r.get(0);
                let action: Action = serde_json::from_str(r.get(1))
                    .map_err(|e| StoreError::Corrupt(format!("outbox {key}: {e}")))?;
                v.push(OutboxRow {
                    first_failure_at: r.get::<_, Option<&str>>(3).map(parse_text).transpose()?,
                    last_error: r.get(4),
                    kind: r.get(5),
                    attempts: r.get(2),
                    key,
                    action,
                });
            }
            if !v.is_empty() {
                let upd = tx.prepare(
                    "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $2, epoch = $3 WHERE key = $1",
                )?;
                for r in &v {
                    tx.execute(&upd, &[&r.key, &time_text(now + lease(r.attempts)), &epoch])?;
                }
            }
            Ok(v)
        })
    }

    fn next_due(&self) -> Result<Option<Time>, StoreError> {
        let t: Option<String> = self.with(|c| {
            Ok(c.query_one(
                "SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending'",
                &[],
            )?
            .get(0))
        })?;
        t.as_deref().map(parse_text).transpose()
    }

    fn mark_many(&mut self, now: Time, results: &[SendResult]) -> Result<(), StoreError> {
        if results.is_empty() {
            return Ok(());
        }
        self.write(|tx, _| {
            let done = tx.prepare(
                "UPDATE outbox SET status = 'done', done_at = $2, last_error = NULL WHERE key = $1 AND status = 'pending'",
            )?;
            let failed = tx.prepare(
                "UPDATE outbox SET last_error = $3, next_attempt_at = $4,
                    first_failure_at = COALESCE(first_failure_at, $2)
                 WHERE key = $1 AND status = 'pending'",
            )?;
            let at = time_text(now);
            for (key, r) in results {
                match r {
                    Ok(()) => tx.execute(&done, &[key, &at])?,
                    Err((e, next)) => tx.execute(&failed, &[key, &at, e, &time_text(*next)])?,
                };
            }
            Ok(())
        })
    }

    fn stats(&self, now: Time, warn_after: chrono::Duration) -> Result<OutboxStats, StoreError> {
        self.with(|c| {
            let r = c.query_one(
                "SELECT COUNT(*), COUNT(first_failure_at), MIN(at),
                        COUNT(CASE WHEN first_failure_at <= $1 THEN 1 END)
                 FROM outbox WHERE status = 'pending'",
                &[&time_text(now - warn_after)],
            )?;
            let done: i64 = c
                .query_one("SELECT COUNT(*) FROM outbox WHERE status = 'done'", &[])?
                .get(0);
            Ok(OutboxStats {
                pending: r.get(0),
                failing: r.get(1),
                failing_long: r.get(3),
                oldest_pending: r.get::<_, Option<&str>>(2).map(parse_text).transpose()?,
                done,
            })
        })
    }

    fn outbox_status(&self, key: &str) -> Result<Option<(String, i64)>, StoreError> {
        self.with(|c| {
            Ok(c.query_opt(
                "SELECT status, attempts FROM outbox WHERE key = $1",
                &[&key],
            )?
            .map(|r| (r.get(0), r.get(1))))
        })
    }

    fn statuspage_actions(&self) -> Result<Vec<Action>, StoreError> {
        Ok(self.statuspage_after(0)?.1)
    }

    fn statuspage_after(&self, after: i64) -> Result<(i64, Vec<Action>), StoreError> {
        let rows = self.with(|c| {
            Ok(c.query(
                "SELECT id, key, payload FROM outbox WHERE kind = 'statuspage' AND id > $1 ORDER BY at, id",
                &[&after],
            )?)
        })?;
        let mut mark = after;
        let mut v = Vec::new();
        for r in rows {
            mark = mark.max(r.get(0));
            let key: &str = r.get(1);
            v.push(
                serde_json::from_str(r.get(2))
                    .map_err(|e| StoreError::Corrupt(format!("outbox {key}: {e}")))?,
            );
        }
        Ok((mark, v))
    }
}
