//! The directory in PostgreSQL (`store::DirectoryStore`, migration 4): the leader's fenced
//! write, with its audit entries.

use super::PgStore;
use crate::audit::NewEntry;
use crate::store::directory::DirEntry;
use crate::store::{DirRow, DirectoryStore, StoreError, DIR_COLUMNS};

impl DirectoryStore for PgStore {
    fn directory(&self) -> Result<Vec<DirEntry>, StoreError> {
        self.with(|c| {
            c.query(
                &format!("SELECT {DIR_COLUMNS} FROM directory ORDER BY org"),
                &[],
            )?
            .iter()
            .map(|r| {
                DirRow {
                    org: r.get(0),
                    contacts: r.get(1),
                    config: r.get(2),
                    changed_at: r.get(3),
                    origin: r.get(4),
                    by: r.get(5),
                }
                .read()
            })
            .collect()
        })
    }

    fn directory_write(
        &mut self,
        entries: &[DirEntry],
        audit: &[NewEntry],
    ) -> Result<(), StoreError> {
        let rows: Vec<DirRow> = entries.iter().map(DirRow::of).collect();
        self.write(|tx, epoch| {
            let put = tx.prepare(&format!(
                "INSERT INTO directory ({DIR_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (org) DO UPDATE SET contacts = $2, config = $3, changed_at = $4,
                    origin = $5, changed_by = $6"
            ))?;
            for r in &rows {
                tx.execute(
                    &put,
                    &[
                        &r.org,
                        &r.contacts,
                        &r.config,
                        &r.changed_at,
                        &r.origin,
                        &r.by,
                    ],
                )?;
            }
            super::audit::append(tx, epoch, &audit.iter().collect::<Vec<_>>())
        })
    }
}
