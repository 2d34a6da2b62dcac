//! The directory in SQLite (`store::DirectoryStore`, migration 14).

use super::SqliteStore;
use crate::audit::NewEntry;
use crate::store::directory::DirEntry;
use crate::store::{DirRow, DirectoryStore, StoreError, DIR_COLUMNS};
use rusqlite::params;

impl DirectoryStore for SqliteStore {
    fn directory(&self) -> Result<Vec<DirEntry>, StoreError> {
        let mut st = self
            .conn
            .prepare(&format!("SELECT {DIR_COLUMNS} FROM directory ORDER BY org"))?;
        let rows = st.query_map([], |r| {
            Ok(DirRow {
                org: r.get(0)?,
                contacts: r.get(1)?,
                config: r.get(2)?,
                changed_at: r.get(3)?,
                origin: r.get(4)?,
                by: r.get(5)?,
            })
        })?;
        rows.map(|r| r?.read()).collect()
    }

    fn directory_write(
        &mut self,
        entries: &[DirEntry],
        audit: &[NewEntry],
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut put = tx.prepare_cached(&format!(
                "INSERT OR REPLACE INTO directory ({DIR_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            ))?;
            for e in entries {
                let r = DirRow::of(e);
                put.execute(params![
                    r.org,
                    r.contacts,
                    r.config,
                    r.changed_at,
                    r.origin,
                    r.by
                ])?;
            }
        }
        super::audit::append(&tx, &audit.iter().collect::<Vec<_>>())?;
        tx.commit()?;
        Ok(())
    }
}
