//! The small state of the embedded store.

use super::*;

impl SmallState for SqliteStore {
    fn declared(&self) -> Result<BTreeMap<String, String>, StoreError> {
        let mut st = self.conn.prepare("SELECT id, fields FROM declared")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut m = BTreeMap::new();
        for row in rows {
            let (k, v) = row?;
            m.insert(k, v);
        }
        Ok(m)
    }

    fn set_declared(&mut self, all: &[(String, String)]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM declared", [])?;
        {
            let mut ins = tx.prepare_cached("INSERT INTO declared (id, fields) VALUES (?1, ?2)")?;
            for (id, f) in all {
                ins.execute(params![id, f])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn sink_get(&self, sink: &str, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM sink_state WHERE sink = ?1 AND key = ?2",
                [sink, key],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn sink_put(&self, sink: &str, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO sink_state (sink, key, value) VALUES (?1, ?2, ?3)",
            [sink, key, value],
        )?;
        Ok(())
    }

    fn sink_list(&self, sink: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT key, value FROM sink_state WHERE sink = ?1 ORDER BY key")?;
        let rows = st.query_map([sink], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn imap_get(&self, folder: &str) -> Option<(u32, u32)> {
        self.conn
            .query_row(
                "SELECT uidvalidity, last_uid FROM imap_state WHERE folder = ?1",
                [folder],
                |r| Ok((r.get::<_, i64>(0)? as u32, r.get::<_, i64>(1)? as u32)),
            )
            .optional()
            .ok()
            .flatten()
    }

    fn imap_put(&self, folder: &str, uidvalidity: u32, last_uid: u32) {
        let r = self.conn.execute(
            "INSERT OR REPLACE INTO imap_state (folder, uidvalidity, last_uid) VALUES (?1, ?2, ?3)",
            params![folder, uidvalidity as i64, last_uid as i64],
        );
        if let Err(e) = r {
            tracing::error!(error = %e, "cannot record the mailbox position; messages may be looked at again (harmless: events are idempotent)");
        }
    }

    fn retained_orgs(&self) -> Result<Vec<Organization>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT id, org FROM retained_org ORDER BY id")?;
        decode_json_rows(&mut st, "retained organization")
    }

    fn set_retained_orgs(&mut self, orgs: &[&Organization]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM retained_org", [])?;
        {
            let mut ins =
                tx.prepare_cached("INSERT INTO retained_org (id, org) VALUES (?1, ?2)")?;
            for o in orgs {
                let json =
                    serde_json::to_string(o).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                ins.execute(params![o.id, json])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}
