//! Several hosts (SPEC §5.7): the engine task of a standby follows the log in the database;
//! elected, it rebuilds from the database and leads; replaced, it follows again.

use super::Task;

impl Task {
    /// This host was elected (or re-elected): rebuild from the database, as at start-up, and
    /// commit what fell due — the old leader's undelivered rows are in the outbox already.
    pub(super) fn promote(&mut self) {
        let t0 = std::time::Instant::now();
        let now = crate::clock::now();
        let rebuilt = {
            let store = self.shared.store();
            crate::daemon::replay::rebuild(self.shared.cfg(), store.as_ref(), now)
        };
        let r = match rebuilt {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "cannot rebuild the state from the database; trying again");
                return;
            }
        };
        self.engine = r.engine;
        self.leading = true;
        self.snapshot_due = true;
        let cfg = self.shared.cfg();
        let retained = crate::daemon::retained(&cfg, &self.engine);
        if let Err(e) = self.shared.store().set_retained_orgs(&retained) {
            tracing::warn!(error = %e, "cannot record the organizations kept for open cases");
        }
        match self.shared.commit(&[], &r.actions) {
            Ok(n) => {
                self.shared.store_ok(crate::daemon::Writer::Engine);
                if n > 0 {
                    self.shared.wake_routine();
                }
            }
            Err(e) => {
                self.shared.store_failed(crate::daemon::Writer::Engine, &e);
                self.carry = r.actions;
            }
        }
        self.sync_pages();
        self.shared
            .pages
            .set_history(self.engine.history(), self.now());
        tracing::info!(
            epoch = self.shared.role.epoch(),
            ms = t0.elapsed().as_millis() as u64,
            "state rebuilt from the database; sending what is due"
        );
        self.sync_files();
        self.read_directory();
    }

    /// This host lost the lead: forget what is not in the database and follow the log.
    pub(super) fn demote(&mut self) {
        self.leading = false;
        if !self.carry.is_empty() {
            tracing::warn!(
                actions = self.carry.len(),
                "decisions not committed before stepping down; the new leader decides them again"
            );
            self.carry.clear();
        }
        self.shared.store_ok(crate::daemon::Writer::Engine);
        let rebuilt = {
            let store = self.shared.store();
            crate::daemon::replay::standby(self.shared.cfg(), store.as_ref(), crate::clock::now())
        };
        match rebuilt {
            Ok((engine, seq)) => {
                self.engine = engine;
                self.seq = seq;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot rebuild the state from the database; following from the last state")
            }
        }
        self.shared.pages.clear();
        self.page_mark = 0;
        self.sync_pages();
    }

    /// Start or stop leading as the role says.
    pub(super) fn role_changed(&mut self) {
        match (self.leading, self.shared.role.leading()) {
            (false, true) => self.promote(),
            (true, false) => self.demote(),
            _ => {}
        }
    }

    /// A standby's tick: the leader's new events and status-page posts.
    pub(super) fn follow(&mut self) {
        if self.leading {
            return;
        }
        let followed = {
            let store = self.shared.store();
            crate::daemon::replay::follow_log(
                &mut self.engine,
                store.as_ref(),
                self.seq,
                crate::clock::now(),
            )
        };
        match followed {
            Ok(seq) => {
                if seq != self.seq {
                    self.seq = seq;
                    self.shared
                        .pages
                        .set_history(self.engine.history(), self.now());
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the log from the database"),
        }
        self.sync_pages();
    }

    /// The built-in status page from the status-page rows stored since the last look.
    pub(super) fn sync_pages(&mut self) {
        let got = self.shared.store().statuspage_after(self.page_mark);
        match got {
            Ok((mark, actions)) => {
                self.page_mark = mark;
                if !actions.is_empty() {
                    self.shared
                        .pages
                        .apply(&self.shared.cfg(), &self.shared.renderer(), &actions);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the status-page posts from the database")
            }
        }
    }
}
