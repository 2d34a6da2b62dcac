//! Personal API tokens in PostgreSQL (`store::PersonalTokens`, migration 3). Creating and
//! revoking are the leader's fenced writes, with their audit entries; "last used" is noted by
//! the leader only (a standby forwards every write, and reads change nothing).

use super::PgStore;
use crate::audit::token::PersonalToken;
use crate::audit::NewEntry;
use crate::engine::model::Time;
use crate::store::{PersonalTokens, StoreError, TokenRow, TOKEN_COLUMNS};
use postgres::Row;

fn token(r: &Row) -> Result<PersonalToken, StoreError> {
    TokenRow {
        id: r.get(0),
        hash: r.get(1),
        person: r.get(2),
        role: r.get(3),
        label: r.get(4),
        created_at: r.get(5),
        expires_at: r.get(6),
        revoked_at: r.get(7),
        last_used_at: r.get(8),
    }
    .read()
}

impl PersonalTokens for PgStore {
    fn token_create(&mut self, t: &PersonalToken, audit: &NewEntry) -> Result<(), StoreError> {
        let r = TokenRow::of(t);
        self.write(|tx, epoch| {
            tx.execute(
                &format!("INSERT INTO personal_token ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"),
                &[
                    &r.id, &r.hash, &r.person, &r.role, &r.label, &r.created_at, &r.expires_at,
                    &r.revoked_at, &r.last_used_at,
                ],
            )?;
            super::audit::append(tx, epoch, &[audit])
        })
    }

    fn token_find(&self, hash: &str) -> Result<Option<PersonalToken>, StoreError> {
        self.with(|c| {
            c.query_opt(
                &format!("SELECT {TOKEN_COLUMNS} FROM personal_token WHERE hash = $1"),
                &[&hash],
            )?
            .as_ref()
            .map(token)
            .transpose()
        })
    }

    fn tokens(&self, person: Option<&str>) -> Result<Vec<PersonalToken>, StoreError> {
        self.with(|c| {
            c.query(
                &format!("SELECT {TOKEN_COLUMNS} FROM personal_token WHERE $1::TEXT IS NULL OR person = $1 ORDER BY created_at DESC, id"),
                &[&person],
            )?
            .iter()
            .map(token)
            .collect()
        })
    }

    fn token_revoke(
        &mut self,
        id: &str,
        person: Option<&str>,
        at: Time,
        audit: &NewEntry,
    ) -> Result<bool, StoreError> {
        let at = crate::audit::at_text(at);
        self.write(|tx, epoch| {
            let n = tx.execute(
                "UPDATE personal_token SET revoked_at = $1 WHERE id = $2 AND ($3::TEXT IS NULL OR person = $3) AND revoked_at IS NULL",
                &[&at, &id, &person],
            )?;
            if n == 0 {
                return Ok(false);
            }
            super::audit::append(tx, epoch, &[audit])?;
            Ok(true)
        })
    }

    fn token_used(&mut self, id: &str, at: Time) -> Result<(), StoreError> {
        let at = crate::audit::at_text(at);
        self.write(|tx, _| {
            tx.execute(
                "UPDATE personal_token SET last_used_at = $1 WHERE id = $2",
                &[&at, &id],
            )?;
            Ok(())
        })
    }
}
