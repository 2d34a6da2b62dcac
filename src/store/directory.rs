//! The directory (SPEC §4.16, first part): each organization's contacts as the daemon holds
//! them — the meldingsansvarlig address, extra addresses, the patient phone, the services and
//! the HF on copy — seeded from the configuration the first time an organization is seen.
//!
//! The configuration and the directory may both change an organization's contacts; the later
//! change wins. So each entry also keeps what the configuration said when it was last read
//! (`config`): a start or a reload changes the directory only where the configuration itself
//! changed since, and each such change is audited with the contacts before and after.

use crate::audit::{Actor, NewEntry, Origin, Role};
use crate::config::{Config, Organization};
use crate::engine::model::Time;
use crate::store::StoreError;
use serde::{Deserialize, Serialize};

/// An organization's contacts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contacts {
    /// The meldingsansvarlig address every notice goes to.
    pub meldingsansvarlig: String,
    /// Further addresses that get the notices too.
    #[serde(default)]
    pub extra: Vec<String>,
    /// The patient phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// The services it exchanges.
    #[serde(default)]
    pub services: Vec<String>,
    /// The health trust on copy.
    #[serde(default)]
    pub hf: Option<String>,
}

impl Contacts {
    /// What the configuration says of `o`.
    pub fn of(o: &Organization) -> Contacts {
        Contacts {
            meldingsansvarlig: o.meldingsansvarlig.clone(),
            extra: o.extra_addresses.clone(),
            phone: o.phone.clone(),
            services: o.services.clone(),
            hf: o.hf.clone(),
        }
    }

    /// As the audit log and the store write it.
    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// One organization in the directory.
#[derive(Debug, Clone, PartialEq)]
pub struct DirEntry {
    /// The organization's id.
    pub org: String,
    /// Its contacts as held (what notices use).
    pub contacts: Contacts,
    /// What the configuration said of it when last read.
    pub config: Contacts,
    /// When the contacts last changed.
    pub changed_at: Time,
    /// What changed them: `config`, `directory` (the organization's own page) or `console`.
    pub origin: String,
    /// Who: the configuration, the address that confirmed, or the operator.
    pub by: String,
}

/// Who changes the directory when the configuration does.
const BY_CONFIG: &str = "konfigurasjonen";

/// What reading `cfg` at `now` does to the directory `held`: the entries to write, and their
/// audit entries. New organizations are seeded (one audit entry names them all); an
/// organization whose configured contacts changed since the last reading takes them, audited
/// with before and after; one whose configuration did not change keeps what it holds.
pub fn sync(cfg: &Config, held: &[DirEntry], now: Time) -> (Vec<DirEntry>, Vec<NewEntry>) {
    let actor = Actor::new(BY_CONFIG, Role::System, Origin::System);
    let mut write = Vec::new();
    let mut audit = Vec::new();
    let mut seeded = Vec::new();
    for o in &cfg.orgs {
        let now_says = Contacts::of(o);
        match held.iter().find(|e| e.org == o.id) {
            None => {
                seeded.push(o.id.clone());
                write.push(DirEntry {
                    org: o.id.clone(),
                    contacts: now_says.clone(),
                    config: now_says,
                    changed_at: now,
                    origin: "config".into(),
                    by: BY_CONFIG.into(),
                });
            }
            Some(e) if e.config == now_says => {}
            Some(e) => {
                let mut next = e.clone();
                next.config = now_says.clone();
                if e.contacts != now_says {
                    audit.push(
                        actor
                            .did(now, "directory.change")
                            .on(format!("directory/{}", o.id))
                            .changed(Some(e.contacts.json()), Some(now_says.json())),
                    );
                    next.contacts = now_says;
                    next.changed_at = now;
                    next.origin = "config".into();
                    next.by = BY_CONFIG.into();
                }
                write.push(next);
            }
        }
    }
    if !seeded.is_empty() {
        audit.insert(
            0,
            actor.did(now, "directory.seed").on("directory").changed(
                None,
                Some(serde_json::json!({ "organizations": seeded }).to_string()),
            ),
        );
    }
    (write, audit)
}

/// The directory (SPEC §4.16): each organization's contacts, written with their audit entries
/// in one transaction.
pub trait DirectoryStore: Send {
    /// Every organization the directory holds.
    fn directory(&self) -> Result<Vec<DirEntry>, StoreError>;
    /// Write `entries` (each replaces its organization's) and append `audit`.
    fn directory_write(
        &mut self,
        entries: &[DirEntry],
        audit: &[NewEntry],
    ) -> Result<(), StoreError>;
}

/// A directory entry as both stores keep it: contacts as JSON, the time as the audit log
/// writes it.
pub(crate) struct DirRow {
    pub org: String,
    pub contacts: String,
    pub config: String,
    pub changed_at: String,
    pub origin: String,
    pub by: String,
}

impl DirRow {
    /// The row of `e`.
    pub(crate) fn of(e: &DirEntry) -> DirRow {
        DirRow {
            org: e.org.clone(),
            contacts: e.contacts.json(),
            config: e.config.json(),
            changed_at: crate::audit::at_text(e.changed_at),
            origin: e.origin.clone(),
            by: e.by.clone(),
        }
    }

    /// The entry this row holds.
    pub(crate) fn read(self) -> Result<DirEntry, StoreError> {
        let bad = |what: &str| StoreError::Corrupt(format!("directory {}: {what}", self.org));
        let contacts =
            |s: &str| serde_json::from_str(s).map_err(|_| bad("contacts that cannot be read"));
        Ok(DirEntry {
            contacts: contacts(&self.contacts)?,
            config: contacts(&self.config)?,
            changed_at: chrono::DateTime::parse_from_rfc3339(&self.changed_at)
                .map_err(|_| bad("a time that cannot be read"))?
                .to_utc(),
            org: self.org,
            origin: self.origin,
            by: self.by,
        })
    }
}

/// The directory's columns, in the order both stores read them.
pub(crate) const DIR_COLUMNS: &str = "org, contacts, config, changed_at, origin, changed_by";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_once_then_the_later_change_wins() {
        let cfg = crate::testutil::example_config();
        let t0 = chrono::Utc::now();
        let (first, audit) = sync(&cfg, &[], t0);
        assert_eq!(first.len(), cfg.orgs.len());
        assert_eq!(audit.len(), 1, "one entry names every seeded organization");
        assert_eq!(audit[0].what, "directory.seed");
        // Read again, unchanged: nothing to write.
        let (again, audit) = sync(&cfg, &first, t0);
        assert!(again.is_empty() && audit.is_empty());
        // The directory changed Malvik's address since (its own page, say): a reading of the
        // same configuration keeps it.
        let mut held = first.clone();
        let m = held.iter_mut().find(|e| e.org == "malvik").unwrap();
        m.contacts.meldingsansvarlig = "ny@malvik.kommune.example".into();
        m.origin = "directory".into();
        let (w, a) = sync(&cfg, &held, t0);
        assert!(
            w.is_empty() && a.is_empty(),
            "the directory's later change stands"
        );
        // Then the configuration changes Malvik's phone: the configuration is later, it wins.
        let mut cfg2 = cfg.clone();
        let o = cfg2.orgs.iter_mut().find(|o| o.id == "malvik").unwrap();
        o.phone = Some("+47 72 00 00 00".into());
        let t1 = t0 + chrono::Duration::hours(1);
        let (w, a) = sync(&cfg2, &held, t1);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].contacts.phone.as_deref(), Some("+47 72 00 00 00"));
        assert_eq!(
            w[0].contacts.meldingsansvarlig,
            cfg.org("malvik").unwrap().meldingsansvarlig
        );
        assert_eq!((w[0].origin.as_str(), w[0].changed_at), ("config", t1));
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].what, "directory.change");
        assert_eq!(a[0].object.as_deref(), Some("directory/malvik"));
        assert!(a[0]
            .before
            .as_deref()
            .unwrap()
            .contains("ny@malvik.kommune.example"));
        assert!(a[0].after.as_deref().unwrap().contains("+47 72 00 00 00"));
    }
}
