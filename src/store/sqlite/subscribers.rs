//! Subscribers and their mail queue in SQLite (`store::Subscribers`, migration 16).

use super::SqliteStore;
use crate::audit::{at_text, NewEntry};
use crate::engine::model::Time;
use crate::store::subscribers::{columns_of_s, read, services_text, COLUMNS};
use crate::store::{StoreError, Subscriber, SubscriberMail, Subscribers};
use rusqlite::{params, OptionalExtension};

fn subscriber(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Subscriber, StoreError>> {
    Ok(read(
        r.get(0)?,
        r.get(1)?,
        &r.get::<_, String>(2)?,
        r.get::<_, i64>(3)? != 0,
        &r.get::<_, String>(4)?,
        r.get::<_, Option<String>>(5)?.as_deref(),
    ))
}

impl SqliteStore {
    /// `change` in one transaction with `audit`, which is written only when the change
    /// touched a row; whether it did.
    fn audited(
        &mut self,
        audit: &NewEntry,
        change: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<usize>,
    ) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        let n = change(&tx)?;
        if n > 0 {
            super::audit::append(&tx, &[audit])?;
        }
        tx.commit()?;
        Ok(n > 0)
    }
}

impl Subscribers for SqliteStore {
    fn sub_get(&self, id: &str) -> Result<Option<Subscriber>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM subscriber WHERE id = ?1"),
                [id],
                subscriber,
            )
            .optional()?
            .transpose()
    }

    fn sub_by_address(&self, address: &str) -> Result<Option<Subscriber>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM subscriber WHERE address = ?1"),
                [address],
                subscriber,
            )
            .optional()?
            .transpose()
    }

    fn sub_all(&self) -> Result<Vec<Subscriber>, StoreError> {
        let mut st = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM subscriber ORDER BY address"
        ))?;
        let rows = st.query_map([], subscriber)?;
        rows.map(|r| r?).collect()
    }

    fn sub_request(
        &mut self,
        s: &Subscriber,
        job: &str,
        body: &str,
        now: Time,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        // An unconfirmed request for the same address is replaced, with its queued mail.
        tx.execute(
            "DELETE FROM subscriber_mail WHERE subscriber IN (SELECT id FROM subscriber WHERE address = ?1 AND confirmed_at IS NULL)",
            [&s.address],
        )?;
        tx.execute(
            "DELETE FROM subscriber WHERE address = ?1 AND confirmed_at IS NULL",
            [&s.address],
        )?;
        tx.execute(
            &format!("INSERT INTO subscriber ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
            params![
                s.id,
                s.address,
                services_text(&s.services),
                s.test as i64,
                at_text(s.created_at),
                s.confirmed_at.map(at_text)
            ],
        )?;
        tx.execute(
            "INSERT OR IGNORE INTO subscriber_job (key, body) VALUES (?1, ?2)",
            params![job, body],
        )?;
        tx.execute(
            "INSERT OR IGNORE INTO subscriber_mail (job, subscriber, next_at) VALUES (?1, ?2, ?3)",
            params![job, s.id, at_text(now)],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn sub_confirm(&mut self, id: &str, now: Time, audit: &NewEntry) -> Result<bool, StoreError> {
        self.audited(audit, |tx| {
            tx.execute(
                "UPDATE subscriber SET confirmed_at = ?2 WHERE id = ?1 AND confirmed_at IS NULL",
                params![id, at_text(now)],
            )
        })
    }

    fn sub_change(
        &mut self,
        id: &str,
        services: &[String],
        test: bool,
        audit: &NewEntry,
    ) -> Result<bool, StoreError> {
        self.audited(audit, |tx| {
            tx.execute(
                "UPDATE subscriber SET services = ?2, test = ?3 WHERE id = ?1",
                params![id, services_text(services), test as i64],
            )
        })
    }

    fn sub_remove(&mut self, id: &str, audit: &NewEntry) -> Result<bool, StoreError> {
        self.audited(audit, |tx| {
            tx.execute("DELETE FROM subscriber_mail WHERE subscriber = ?1", [id])?;
            tx.execute("DELETE FROM subscriber WHERE id = ?1", [id])
        })
    }

    fn sub_enqueue(
        &mut self,
        job: &str,
        body: &str,
        ids: &[String],
        due: Time,
    ) -> Result<usize, StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT OR IGNORE INTO subscriber_job (key, body) VALUES (?1, ?2)",
            params![job, body],
        )?;
        let mut n = 0;
        {
            let mut st = tx.prepare(
                "INSERT OR IGNORE INTO subscriber_mail (job, subscriber, next_at) VALUES (?1, ?2, ?3)",
            )?;
            let due = at_text(due);
            for id in ids {
                n += st.execute(params![job, id, due])?;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    fn sub_drop(&mut self, job: &str) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM subscriber_mail WHERE job = ?1", [job])?;
        tx.execute("DELETE FROM subscriber_job WHERE key = ?1", [job])?;
        tx.commit()?;
        Ok(())
    }

    fn sub_claim(
        &mut self,
        now: Time,
        limit: usize,
        lease: chrono::Duration,
    ) -> Result<Vec<SubscriberMail>, StoreError> {
        let tx = self.conn.transaction()?;
        let mut out = Vec::new();
        {
            let mut st = tx.prepare(&format!(
                "SELECT m.job, j.body, m.attempts, {} FROM subscriber_mail m
                 JOIN subscriber_job j ON j.key = m.job JOIN subscriber s ON s.id = m.subscriber
                 WHERE m.next_at <= ?1 ORDER BY m.next_at, m.job, m.subscriber LIMIT ?2",
                columns_of_s()
            ))?;
            let rows = st.query_map(params![at_text(now), limit as i64], |r| {
                let s = read(
                    r.get(3)?,
                    r.get(4)?,
                    &r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)? != 0,
                    &r.get::<_, String>(7)?,
                    r.get::<_, Option<String>>(8)?.as_deref(),
                );
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    s,
                ))
            })?;
            for r in rows {
                let (job, body, attempts, s) = r?;
                out.push(SubscriberMail {
                    job,
                    body,
                    subscriber: s?,
                    attempts: attempts + 1,
                });
            }
            let mut up = tx.prepare(
                "UPDATE subscriber_mail SET attempts = attempts + 1, next_at = ?3 WHERE job = ?1 AND subscriber = ?2",
            )?;
            let next = at_text(now + lease);
            for m in &out {
                up.execute(params![m.job, m.subscriber.id, next])?;
            }
        }
        tx.commit()?;
        Ok(out)
    }

    fn sub_sent(&mut self, done: &[(String, String)]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut del =
                tx.prepare("DELETE FROM subscriber_mail WHERE job = ?1 AND subscriber = ?2")?;
            for (job, sub) in done {
                del.execute(params![job, sub])?;
            }
            let mut jobs: Vec<&String> = done.iter().map(|(j, _)| j).collect();
            jobs.dedup();
            let mut gone = tx.prepare(
                "DELETE FROM subscriber_job WHERE key = ?1 AND NOT EXISTS (SELECT 1 FROM subscriber_mail WHERE job = ?1)",
            )?;
            for job in jobs {
                gone.execute([job])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn sub_failed(
        &mut self,
        job: &str,
        subscriber: &str,
        next: Time,
        error: &str,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE subscriber_mail SET next_at = ?3, last_error = ?4 WHERE job = ?1 AND subscriber = ?2",
            params![job, subscriber, at_text(next), error],
        )?;
        Ok(())
    }

    fn sub_queued(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM subscriber_mail", [], |r| r.get(0))?)
    }

    fn sub_expire(&mut self, before: Time) -> Result<usize, StoreError> {
        let tx = self.conn.transaction()?;
        let cut = at_text(before);
        tx.execute(
            "DELETE FROM subscriber_mail WHERE subscriber IN (SELECT id FROM subscriber WHERE confirmed_at IS NULL AND created_at < ?1)",
            [&cut],
        )?;
        let n = tx.execute(
            "DELETE FROM subscriber WHERE confirmed_at IS NULL AND created_at < ?1",
            [&cut],
        )?;
        tx.execute(
            "DELETE FROM subscriber_job WHERE NOT EXISTS (SELECT 1 FROM subscriber_mail WHERE job = key)",
            [],
        )?;
        tx.commit()?;
        Ok(n)
    }
}
