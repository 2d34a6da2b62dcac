//! The directory in the engine task (SPEC §4.16): the configuration's contacts read into the
//! directory as a logged event, the audit entries of the directory's events, and the key the
//! links are signed with.

use super::Task;
use crate::audit::{Actor, NewEntry, Origin, Role};
use crate::engine::directory::BY_CONFIG;
use crate::engine::events::{Input, Logged};
use crate::engine::model::Time;

use crate::render::link::KEY_PLACE;

impl Task {
    /// Read the configuration into the directory: the organizations it has not seen and those
    /// whose configured contacts changed since the last reading, as one `directory.config`
    /// event, logged and audited like any other (so a replay reads what was read). The
    /// leader's work, at start, on reload and on promotion; a failure is logged and the next
    /// start or reload reads again.
    pub(super) fn read_directory(&mut self) {
        self.ensure_link_key();
        let Some(reading) = self.engine.config_reading() else {
            return;
        };
        let n = reading.orgs.len();
        let input = serde_json::to_value(&reading)
            .map_err(|e| e.to_string())
            .and_then(|v| Input::internal("directory.config", &v).map_err(|e| e.to_string()))
            .map(|i| {
                i.from(Origin::Config)
                    .by(Actor::new(BY_CONFIG, Role::System, Origin::Config))
            });
        match input.map(|i| self.apply(vec![i])) {
            Ok(Ok(_)) => tracing::info!(
                organizations = n,
                "directory: the configuration's contacts read"
            ),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "directory: the configuration's contacts could not be read; the next start or reload tries again")
            }
            Err(e) => {
                tracing::error!(error = %e, "directory: the configuration's contacts could not be read; the next start or reload tries again")
            }
        }
    }

    /// What messages are rendered with carries the directory's contacts: the engine's
    /// configuration, published when it changed (`Shared::in_force`).
    pub(super) fn publish_contacts(&mut self) {
        let generation = self.engine.directory_generation();
        if generation != self.dir_generation {
            self.dir_generation = generation;
            let d = self.engine.directory();
            let unanswered = d
                .values()
                .filter(|e| e.open_round().is_some_and(|r| r.reported))
                .count();
            let pending = d.values().filter(|e| e.pending.is_some()).count();
            use std::sync::atomic::Ordering::Relaxed;
            let m = &self.shared.metrics;
            m.directory_unanswered.store(unanswered as i64, Relaxed);
            m.directory_pending.store(pending as i64, Relaxed);
        }
        // Every turn of the loop: a read and a pointer compare; the write only on a change.
        let now = self.engine.config_arc();
        let same = |slot: &Option<std::sync::Arc<crate::config::Config>>| {
            slot.as_ref()
                .is_some_and(|c| std::sync::Arc::ptr_eq(c, &now))
        };
        if !same(
            &self
                .shared
                .contacts
                .read()
                .unwrap_or_else(|p| p.into_inner()),
        ) {
            *self
                .shared
                .contacts
                .write()
                .unwrap_or_else(|p| p.into_inner()) = Some(now);
        }
    }

    /// The key the directory's links are signed with: 256 random bits, made once by the
    /// leader and kept in the store, so both hosts and every restart sign and check alike.
    fn ensure_link_key(&self) {
        let store = self.shared.store();
        match store.sink_get(KEY_PLACE.0, KEY_PLACE.1) {
            Ok(Some(_)) => {}
            Ok(None) => {
                let mut key = [0u8; 32];
                if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
                    .is_err()
                {
                    tracing::error!("directory: no randomness for the link key");
                    return;
                }
                let v = crate::render::link::encode_key(&key);
                match store.sink_put(KEY_PLACE.0, KEY_PLACE.1, &v) {
                    Ok(()) => {
                        tracing::info!("directory: the key for the organizations' links was made")
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "directory: the link key could not be stored; links wait for it")
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "directory: the link key could not be read"),
        }
    }
}

/// The key the directory's links are signed with, as stored (`None` until the leader made it).
pub(crate) fn link_key(store: &dyn crate::store::Store) -> Option<Vec<u8>> {
    let v = store.sink_get(KEY_PLACE.0, KEY_PLACE.1).ok().flatten()?;
    crate::render::link::decode_key(&v)
}

/// The audit entries of a directory event (SPEC §5.10, §4.16): one `directory.change` per
/// organization whose contacts changed, with before and after; `directory.seed` naming the
/// organizations a reading saw first; an answer that changed nothing as itself
/// (`directory.confirm`, a bounce).
pub(super) fn audit_entries(
    now: Time,
    log: &Logged,
    org: Option<String>,
    news: crate::engine::directory::News,
) -> Vec<NewEntry> {
    let (seeded, changes) = (news.seeded, news.changed);
    let actor = log.actor.clone().unwrap_or_else(|| {
        let who = match log.origin {
            Origin::Mailbox => "postkasse",
            _ => log.by.as_deref().unwrap_or("ukjent"),
        };
        Actor::new(who, Role::System, log.origin)
    });
    let mut v = Vec::new();
    if !seeded.is_empty() {
        v.push(actor.did(now, "directory.seed").on("directory").changed(
            None,
            Some(serde_json::json!({ "organizations": seeded }).to_string()),
        ));
    }
    for (o, before, after) in &changes {
        v.push(
            actor
                .did(now, "directory.change")
                .on(format!("directory/{o}"))
                .changed(Some(before.json()), Some(after.json())),
        );
    }
    if changes.is_empty() {
        if let Some(o) = org {
            v.push(actor.did(now, log.ty).on(format!("directory/{o}")));
        }
    }
    v
}
