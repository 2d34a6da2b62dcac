//! The small state of the PostgreSQL store.

use super::*;

impl SmallState for PgStore {
    fn declared(&self) -> Result<BTreeMap<String, String>, StoreError> {
        let rows = self.with(|c| Ok(c.query("SELECT id, fields FROM declared", &[])?))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn set_declared(&mut self, all: &[(String, String)]) -> Result<(), StoreError> {
        self.write(|tx, _| {
            tx.execute("DELETE FROM declared", &[])?;
            let ins = tx.prepare("INSERT INTO declared (id, fields) VALUES ($1, $2)")?;
            for (id, f) in all {
                tx.execute(&ins, &[id, f])?;
            }
            Ok(())
        })
    }

    fn sink_get(&self, sink: &str, key: &str) -> Result<Option<String>, StoreError> {
        self.with(|c| {
            Ok(c.query_opt(
                "SELECT value FROM sink_state WHERE sink = $1 AND key = $2",
                &[&sink, &key],
            )?
            .map(|r| r.get(0)))
        })
    }

    fn sink_put(&self, sink: &str, key: &str, value: &str) -> Result<(), StoreError> {
        self.write(|tx, _| {
            tx.execute(
                "INSERT INTO sink_state (sink, key, value) VALUES ($1, $2, $3)
                 ON CONFLICT (sink, key) DO UPDATE SET value = EXCLUDED.value",
                &[&sink, &key, &value],
            )?;
            Ok(())
        })
    }

    fn sink_list(&self, sink: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rows = self.with(|c| {
            Ok(c.query(
                "SELECT key, value FROM sink_state WHERE sink = $1 ORDER BY key",
                &[&sink],
            )?)
        })?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn imap_get(&self, folder: &str) -> Option<(u32, u32)> {
        self.with(|c| {
            Ok(c.query_opt(
                "SELECT uidvalidity, last_uid FROM imap_state WHERE folder = $1",
                &[&folder],
            )?
            .map(|r| (r.get::<_, i64>(0) as u32, r.get::<_, i64>(1) as u32)))
        })
        .ok()
        .flatten()
    }

    fn imap_put(&self, folder: &str, uidvalidity: u32, last_uid: u32) {
        let r = self.write(|tx, _| {
            tx.execute(
                "INSERT INTO imap_state (folder, uidvalidity, last_uid) VALUES ($1, $2, $3)
                 ON CONFLICT (folder) DO UPDATE SET uidvalidity = EXCLUDED.uidvalidity, last_uid = EXCLUDED.last_uid",
                &[&folder, &i64::from(uidvalidity), &i64::from(last_uid)],
            )?;
            Ok(())
        });
        if let Err(e) = r {
            tracing::error!(error = %e, "cannot record the mailbox position; messages may be looked at again (harmless: events are idempotent)");
        }
    }

    fn retained_orgs(&self) -> Result<Vec<Organization>, StoreError> {
        let rows =
            self.with(|c| Ok(c.query("SELECT id, org FROM retained_org ORDER BY id", &[])?))?;
        rows.iter()
            .map(|r| {
                let id: &str = r.get(0);
                serde_json::from_str(r.get(1))
                    .map_err(|e| StoreError::Corrupt(format!("retained organization {id}: {e}")))
            })
            .collect()
    }

    fn set_retained_orgs(&mut self, orgs: &[&Organization]) -> Result<(), StoreError> {
        self.write(|tx, _| {
            tx.execute("DELETE FROM retained_org", &[])?;
            let ins = tx.prepare("INSERT INTO retained_org (id, org) VALUES ($1, $2)")?;
            for o in orgs {
                tx.execute(&ins, &[&o.id, &json_text(o)?])?;
            }
            Ok(())
        })
    }
}
