//! Subscribers and their mail queue in PostgreSQL (`store::Subscribers`, migration 6). Every
//! write is the leader's, fenced by its epoch; a standby forwards the public pages' writes.

use super::PgStore;
use crate::audit::{at_text, NewEntry};
use crate::engine::model::Time;
use crate::store::subscribers::{columns_of_s, read, services_text, COLUMNS};
use crate::store::{StoreError, Subscriber, SubscriberMail, Subscribers};
use postgres::Row;

fn subscriber(r: &Row, at: usize) -> Result<Subscriber, StoreError> {
    read(
        r.get(at),
        r.get(at + 1),
        r.get::<_, &str>(at + 2),
        r.get::<_, i64>(at + 3) != 0,
        r.get::<_, &str>(at + 4),
        r.get::<_, Option<&str>>(at + 5),
    )
}

impl PgStore {
    /// `change` in one fenced transaction with `audit`, which is written only when the change
    /// touched a row; whether it did.
    fn audited(
        &self,
        audit: &NewEntry,
        change: impl FnOnce(&mut postgres::Transaction<'_>) -> Result<u64, postgres::Error>,
    ) -> Result<bool, StoreError> {
        self.write(|tx, epoch| {
            let n = change(tx)?;
            if n > 0 {
                super::audit::append(tx, epoch, &[audit])?;
            }
            Ok(n > 0)
        })
    }

    fn one_subscriber(&self, column: &str, value: &str) -> Result<Option<Subscriber>, StoreError> {
        self.with(|c| {
            c.query_opt(
                &format!("SELECT {COLUMNS} FROM subscriber WHERE {column} = $1"),
                &[&value],
            )?
            .as_ref()
            .map(|r| subscriber(r, 0))
            .transpose()
        })
    }
}

impl Subscribers for PgStore {
    fn sub_get(&self, id: &str) -> Result<Option<Subscriber>, StoreError> {
        self.one_subscriber("id", id)
    }

    fn sub_by_address(&self, address: &str) -> Result<Option<Subscriber>, StoreError> {
        self.one_subscriber("address", address)
    }

    fn sub_all(&self) -> Result<Vec<Subscriber>, StoreError> {
        self.with(|c| {
            c.query(
                &format!("SELECT {COLUMNS} FROM subscriber ORDER BY address"),
                &[],
            )?
            .iter()
            .map(|r| subscriber(r, 0))
            .collect()
        })
    }

    fn sub_request(
        &mut self,
        s: &Subscriber,
        job: &str,
        body: &str,
        now: Time,
    ) -> Result<(), StoreError> {
        self.write(|tx, _| {
            tx.execute(
                "DELETE FROM subscriber_mail WHERE subscriber IN (SELECT id FROM subscriber WHERE address = $1 AND confirmed_at IS NULL)",
                &[&s.address],
            )?;
            tx.execute(
                "DELETE FROM subscriber WHERE address = $1 AND confirmed_at IS NULL",
                &[&s.address],
            )?;
            tx.execute(
                &format!("INSERT INTO subscriber ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"),
                &[
                    &s.id,
                    &s.address,
                    &services_text(&s.services),
                    &(s.test as i64),
                    &at_text(s.created_at),
                    &s.confirmed_at.map(at_text),
                ],
            )?;
            tx.execute(
                "INSERT INTO subscriber_job (key, body) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&job, &body],
            )?;
            tx.execute(
                "INSERT INTO subscriber_mail (job, subscriber, next_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&job, &s.id, &at_text(now)],
            )?;
            Ok(())
        })
    }

    fn sub_confirm(&mut self, id: &str, now: Time, audit: &NewEntry) -> Result<bool, StoreError> {
        self.audited(audit, |tx| {
            tx.execute(
                "UPDATE subscriber SET confirmed_at = $2 WHERE id = $1 AND confirmed_at IS NULL",
                &[&id, &at_text(now)],
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
                "UPDATE subscriber SET services = $2, test = $3 WHERE id = $1",
                &[&id, &services_text(services), &(test as i64)],
            )
        })
    }

    fn sub_remove(&mut self, id: &str, audit: &NewEntry) -> Result<bool, StoreError> {
        self.audited(audit, |tx| {
            tx.execute("DELETE FROM subscriber_mail WHERE subscriber = $1", &[&id])?;
            tx.execute("DELETE FROM subscriber WHERE id = $1", &[&id])
        })
    }

    fn sub_enqueue(
        &mut self,
        job: &str,
        body: &str,
        ids: &[String],
        due: Time,
    ) -> Result<usize, StoreError> {
        self.write(|tx, _| {
            tx.execute(
                "INSERT INTO subscriber_job (key, body) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&job, &body],
            )?;
            let n = tx.execute(
                "INSERT INTO subscriber_mail (job, subscriber, next_at)
                 SELECT $1, id, $3 FROM unnest($2::TEXT[]) AS id ON CONFLICT DO NOTHING",
                &[&job, &ids, &at_text(due)],
            )?;
            Ok(n as usize)
        })
    }

    fn sub_drop(&mut self, job: &str) -> Result<(), StoreError> {
        self.write(|tx, _| {
            tx.execute("DELETE FROM subscriber_mail WHERE job = $1", &[&job])?;
            tx.execute("DELETE FROM subscriber_job WHERE key = $1", &[&job])?;
            Ok(())
        })
    }

    fn sub_claim(
        &mut self,
        now: Time,
        limit: usize,
        lease: chrono::Duration,
    ) -> Result<Vec<SubscriberMail>, StoreError> {
        let cols = columns_of_s();
        self.write(|tx, _| {
            let rows = tx.query(
                &format!(
                    "UPDATE subscriber_mail m SET attempts = m.attempts + 1, next_at = $3
                     FROM subscriber_job j, subscriber s
                     WHERE (m.job, m.subscriber) IN (
                         SELECT job, subscriber FROM subscriber_mail WHERE next_at <= $1
                         ORDER BY next_at, job, subscriber LIMIT $2 FOR UPDATE SKIP LOCKED)
                       AND j.key = m.job AND s.id = m.subscriber
                     RETURNING m.job, j.body, m.attempts, {cols}"
                ),
                &[&at_text(now), &(limit as i64), &at_text(now + lease)],
            )?;
            rows.iter()
                .map(|r| {
                    Ok(SubscriberMail {
                        job: r.get(0),
                        body: r.get(1),
                        attempts: r.get(2),
                        subscriber: subscriber(r, 3)?,
                    })
                })
                .collect()
        })
    }

    fn sub_sent(&mut self, done: &[(String, String)]) -> Result<(), StoreError> {
        let jobs: Vec<&String> = done.iter().map(|(j, _)| j).collect();
        let subs: Vec<&String> = done.iter().map(|(_, s)| s).collect();
        self.write(|tx, _| {
            tx.execute(
                "DELETE FROM subscriber_mail m USING unnest($1::TEXT[], $2::TEXT[]) AS d(job, subscriber)
                 WHERE m.job = d.job AND m.subscriber = d.subscriber",
                &[&jobs, &subs],
            )?;
            tx.execute(
                "DELETE FROM subscriber_job WHERE key = ANY($1) AND NOT EXISTS (SELECT 1 FROM subscriber_mail WHERE job = key)",
                &[&jobs],
            )?;
            Ok(())
        })
    }

    fn sub_failed(
        &mut self,
        job: &str,
        subscriber: &str,
        next: Time,
        error: &str,
    ) -> Result<(), StoreError> {
        self.write(|tx, _| {
            tx.execute(
                "UPDATE subscriber_mail SET next_at = $3, last_error = $4 WHERE job = $1 AND subscriber = $2",
                &[&job, &subscriber, &at_text(next), &error],
            )?;
            Ok(())
        })
    }

    fn sub_queued(&self) -> Result<i64, StoreError> {
        self.with(|c| {
            Ok(c.query_one("SELECT count(*) FROM subscriber_mail", &[])?
                .get(0))
        })
    }

    fn sub_expire(&mut self, before: Time) -> Result<usize, StoreError> {
        let cut = at_text(before);
        self.write(|tx, _| {
            tx.execute(
                "DELETE FROM subscriber_mail WHERE subscriber IN (SELECT id FROM subscriber WHERE confirmed_at IS NULL AND created_at < $1)",
                &[&cut],
            )?;
            let n = tx.execute(
                "DELETE FROM subscriber WHERE confirmed_at IS NULL AND created_at < $1",
                &[&cut],
            )?;
            tx.execute(
                "DELETE FROM subscriber_job WHERE NOT EXISTS (SELECT 1 FROM subscriber_mail WHERE job = key)",
                &[],
            )?;
            Ok(n as usize)
        })
    }
}
