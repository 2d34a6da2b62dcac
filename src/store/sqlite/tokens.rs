//! Personal API tokens in SQLite (`store::PersonalTokens`, migration 13).

use super::SqliteStore;
use crate::audit::token::PersonalToken;
use crate::audit::NewEntry;
use crate::engine::model::Time;
use crate::store::{PersonalTokens, StoreError, TOKEN_COLUMNS};
use rusqlite::{params, OptionalExtension};

fn token(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<PersonalToken, StoreError>> {
    Ok(crate::store::TokenRow {
        id: r.get(0)?,
        hash: r.get(1)?,
        person: r.get(2)?,
        role: r.get(3)?,
        label: r.get(4)?,
        created_at: r.get(5)?,
        expires_at: r.get(6)?,
        revoked_at: r.get(7)?,
        last_used_at: r.get(8)?,
    }
    .read())
}

impl PersonalTokens for SqliteStore {
    fn token_create(&mut self, t: &PersonalToken, audit: &NewEntry) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let r = crate::store::TokenRow::of(t);
        tx.execute(
            &format!("INSERT INTO personal_token ({TOKEN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
            params![
                r.id, r.hash, r.person, r.role, r.label, r.created_at, r.expires_at, r.revoked_at,
                r.last_used_at
            ],
        )?;
        super::audit::append(&tx, &[audit])?;
        tx.commit()?;
        Ok(())
    }

    fn token_find(&self, hash: &str) -> Result<Option<PersonalToken>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {TOKEN_COLUMNS} FROM personal_token WHERE hash = ?1"),
                [hash],
                token,
            )
            .optional()?
            .transpose()
    }

    fn tokens(&self, person: Option<&str>) -> Result<Vec<PersonalToken>, StoreError> {
        let mut st = self.conn.prepare(&format!(
            "SELECT {TOKEN_COLUMNS} FROM personal_token WHERE ?1 IS NULL OR person = ?1 ORDER BY created_at DESC, id"
        ))?;
        let rows = st.query_map([person], token)?;
        rows.map(|r| r?).collect()
    }

    fn token_revoke(
        &mut self,
        id: &str,
        person: Option<&str>,
        at: Time,
        audit: &NewEntry,
    ) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        let n = tx.execute(
            "UPDATE personal_token SET revoked_at = ?1 WHERE id = ?2 AND (?3 IS NULL OR person = ?3) AND revoked_at IS NULL",
            params![crate::audit::at_text(at), id, person],
        )?;
        if n == 0 {
            return Ok(false);
        }
        super::audit::append(&tx, &[audit])?;
        tx.commit()?;
        Ok(true)
    }

    fn token_used(&mut self, id: &str, at: Time) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE personal_token SET last_used_at = ?1 WHERE id = ?2",
            params![crate::audit::at_text(at), id],
        )?;
        Ok(())
    }
}
