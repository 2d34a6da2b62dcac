//! What the daemon's tasks share: configuration and templates (swapped whole on reload), the
//! store, the sinks, metrics, and the health that `/healthz` reports.

use crate::config::Config;
use crate::engine::model::{Action, Time};
use crate::render::Renderer;
use crate::store::{Store, StoreError};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::{Arc, Mutex, RwLock};

/// Counters and gauges for `/metrics`.
#[derive(Default)]
pub(crate) struct Metrics {
    pub sent: Mutex<BTreeMap<String, u64>>,
    pub failed: Mutex<BTreeMap<String, u64>>,
    pub events: AtomicU64,
    pub refused: AtomicU64,
    /// Alerts applied with a personal number removed (SPEC §4.12).
    pub alerts_redacted: AtomicU64,
    /// Uses of the break-glass key (SPEC §5.10): every bearer request and console sign-in.
    pub break_glass: AtomicU64,
    /// Sign-ins refused: a wrong operator token, an OIDC answer that failed a check, no role,
    /// a revoked or expired personal token.
    pub sign_ins_refused: AtomicU64,
    /// Alerts of a webhook batch that could not be used; the rest of the batch was applied.
    pub alerts_unusable: AtomicU64,
    /// Milliseconds between a deadline and the moment the engine handled it (last one).
    pub deadline_lag_ms: AtomicI64,
    pub open_incidents: AtomicI64,
    /// Organizations that did not answer their round after the reminder (SPEC §4.16).
    pub directory_unanswered: AtomicI64,
    /// Proposed addresses waiting for their own confirmation.
    pub directory_pending: AtomicI64,
    /// Every deadline up to this instant (ms since the epoch; 0: not yet) has been decided and
    /// its actions committed to the outbox (the leader's engine task). `/healthz` serves it as
    /// `decided_through`: a wedged engine shows as an instant that stops moving, and a test can
    /// wait for "the engine has looked at time T" instead of sleeping and hoping.
    pub decided_through_ms: AtomicI64,
}

/// The tasks that write the store; `/healthz` is 503 while any of them cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Writer {
    Engine,
    Dispatcher,
}

/// What `/healthz` and `/metrics` report without touching the store (a locked store must not
/// make them hang).
#[derive(Default)]
pub(crate) struct Health {
    /// Writers that failed their last write: since when, and why.
    pub store_failing: BTreeMap<Writer, (Time, String)>,
    pub stats: crate::store::OutboxStats,
}

impl Metrics {
    /// Count one more under `kind`.
    pub(crate) fn count(map: &Mutex<BTreeMap<String, u64>>, kind: &str) {
        let mut m = map.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry(kind.to_string()).or_default() += 1;
    }
}

/// The API's bearer tokens.
pub(crate) struct Tokens {
    pub alert: String,
    pub operator: String,
}

/// What the tasks share. Config and renderer are swapped whole on a successful reload.
pub(crate) struct Shared {
    pub cfg: RwLock<Arc<Config>>,
    /// The configuration with the directory's contacts in place (SPEC §4.16), as the engine
    /// task last published it: what messages are rendered with. `cfg` stays the loaded one,
    /// which replay and the reading into the directory start from.
    pub contacts: RwLock<Option<Arc<Config>>>,
    pub renderer: RwLock<Arc<Renderer>>,
    pub store: Mutex<Box<dyn Store>>,
    pub metrics: Metrics,
    pub wake_dispatcher: tokio::sync::Notify,
    /// The bearer tokens in force; swapped whole by a reload (a rotated token revokes the old
    /// one, and the console's sessions signed with it).
    pub tokens: RwLock<Arc<Tokens>>,
    /// The built-in status pages, kept in memory.
    pub pages: crate::status::StatusPages,
    /// The sinks of the configuration in force (rebuilt on reload).
    pub sinks: RwLock<Arc<crate::sinks::Registry>>,
    pub health: Mutex<Health>,
    /// The database, for log lines: the SQLite file or the PostgreSQL host and name.
    pub db: String,
    /// Whether this host leads (always with SQLite; SPEC §5.7).
    pub role: Arc<super::role::Role>,
    /// Rows the engine task's commit claimed for the dispatcher (`Store::commit_claiming`),
    /// each with the end of its claim.
    pub handoff: Mutex<Vec<(crate::store::OutboxRow, Time)>>,
    /// The subscriber lane's shared state (SPEC §4.17).
    pub subscribers: super::subscribers::Lane,
    /// The last local day ops were mailed about a use of the break-glass key.
    pub break_glass_mailed: Mutex<Option<chrono::NaiveDate>>,
}

/// The sinks keep their state in the store, one short call at a time.
impl crate::sinks::SinkState for Shared {
    fn get(&self, sink: &str, key: &str) -> Option<String> {
        match self.store().sink_get(sink, key) {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(sink, key, error = %e, "cannot read the sink's state");
                None
            }
        }
    }
    fn put(&self, sink: &str, key: &str, value: &str) {
        if let Err(e) = self.store().sink_put(sink, key, value) {
            tracing::error!(sink, key, error = %e, "cannot record the sink's state; it will be looked up again");
        }
    }
    fn list(&self, sink: &str) -> Vec<(String, String)> {
        self.store().sink_list(sink).unwrap_or_else(|e| {
            tracing::error!(sink, error = %e, "cannot read the sink's state");
            Vec::new()
        })
    }
}

impl Shared {
    /// New routine rows were committed: the subscriber lane holds off until the dispatcher
    /// has sent them (SPEC §4.17), and the dispatcher is woken.
    pub(crate) fn wake_routine(&self) {
        self.subscribers.routine_busy();
        self.wake_dispatcher.notify_one();
    }

    /// The configuration in force.
    pub(crate) fn cfg(&self) -> Arc<Config> {
        self.cfg.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
    /// The configuration with the directory's contacts (rendering, the console's pages).
    pub(crate) fn in_force(&self) -> Arc<Config> {
        match self
            .contacts
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            Some(c) => Arc::clone(c),
            None => self.cfg(),
        }
    }
    /// The templates in force.
    pub(crate) fn renderer(&self) -> Arc<Renderer> {
        self.renderer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
    /// The sinks in force.
    pub(crate) fn sinks(&self) -> Arc<crate::sinks::Registry> {
        self.sinks.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
    /// The store, locked for one call.
    pub(crate) fn store(&self) -> std::sync::MutexGuard<'_, Box<dyn Store>> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }
    /// The bearer tokens in force.
    pub(crate) fn tokens(&self) -> Arc<Tokens> {
        Arc::clone(&self.tokens.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The break-glass key was used (SPEC §5.10): ops get one e-mail per local day it is used.
    /// The outbox key is the day's, so a restart or the other host does not mail again; a
    /// host that cannot write (a standby) leaves the mail to the leader's next use.
    pub(crate) fn break_glass_used(&self, who: &str, origin: crate::audit::Origin, now: Time) {
        self.metrics
            .break_glass
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        use crate::engine::model::{
            About, AccessView, Action, ActionBody, Ops, OpsKind, OpsReason,
        };
        let cfg = self.cfg();
        let day = now.with_timezone(&cfg.calendar.tz).date_naive();
        {
            let mut last = self
                .break_glass_mailed
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if *last == Some(day) {
                return;
            }
            *last = Some(day);
        }
        let origin = match origin {
            crate::audit::Origin::Console => "konsollet",
            crate::audit::Origin::Cli => "kommandolinjen",
            _ => "API-et",
        };
        let action = Action {
            at: now,
            key: format!("break-glass-{day}/ops/break_glass"),
            about: About::Incident(format!("break-glass-{day}")),
            body: ActionBody::Ops(Box::new(Ops {
                access: Some(AccessView {
                    who: who.to_string(),
                    origin: origin.to_string(),
                    at: now,
                }),
                ..Ops::new(
                    OpsKind::Warning,
                    OpsReason::BreakGlass,
                    cfg.self_.ops.clone(),
                )
            })),
        };
        match self.commit(&[], &[action]) {
            Ok(n) if n > 0 => self.wake_routine(),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot queue the mail to ops about the break-glass key; the next use tries again");
                *self
                    .break_glass_mailed
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = None;
            }
        }
    }

    /// What `/healthz` reports, locked.
    pub(crate) fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A write by `who` failed: log what to do (once per outage) and make `/healthz` 503.
    pub(crate) fn store_failed(&self, who: Writer, e: &StoreError) {
        if let StoreError::Fenced { .. } = e {
            // Not a broken database: another host leads now (`Role` steps down).
            tracing::warn!(writer = ?who, error = %e, "write refused by the epoch fence; this host no longer leads");
            return;
        }
        let mut h = self.health();
        let first = !h.store_failing.contains_key(&who);
        h.store_failing
            .entry(who)
            .or_insert_with(|| (crate::clock::now(), String::new()))
            .1 = e.to_string();
        drop(h);
        if first {
            tracing::error!(
                writer = ?who,
                error = %e,
                db = %self.db,
                "cannot write the state database; sending is paused so that nothing is sent twice. Check free space on its filesystem and whether another process holds a lock on it (e.g. an open sqlite3 shell); meldingsvakt retries by itself and resumes when it can write"
            );
        }
    }

    /// The store was written: a failure `who` reported is over.
    pub(crate) fn store_ok(&self, who: Writer) {
        let mut h = self.health();
        if let Some((since, _)) = h.store_failing.remove(&who) {
            drop(h);
            tracing::info!(writer = ?who, since = %since, "the state database can be written again; sending resumes");
        }
    }

    /// Refresh the outbox gauges that `/healthz` and `/metrics` serve.
    pub(crate) fn refresh_stats(&self) {
        let now = crate::clock::now();
        let warn_after = self.sinks().shortest_warn_after();
        let stats = self.store().stats(now, warn_after);
        if let Ok(st) = stats {
            self.health().stats = st;
        }
    }

    /// Commit accepted events and the actions decided with them, each action with the copies
    /// the sinks take, in one transaction.
    pub(crate) fn commit(
        &self,
        events: &[crate::store::NewEvent],
        actions: &[Action],
    ) -> Result<usize, StoreError> {
        let rows = self.sinks().rows(actions);
        self.store().commit(events, &rows)
    }

    /// `commit`, claiming the new rows that are due now for the dispatcher (the leader's
    /// engine task): the first message of a fan-out waits for one transaction, not two.
    ///
    /// While the transaction is written, the sink of the first due row stages what it can
    /// without delivering anything (`Sink::stage`: the SMTP envelope up to DATA). After the
    /// commit, and before the dispatcher can see the rows, `Sink::release` lets it go on for
    /// a row this commit claimed and drops it otherwise: nothing is ever sent that was not
    /// committed, and nothing the commit did not hand to the dispatcher.
    pub(crate) fn commit_claiming(
        &self,
        events: &[crate::store::NewEvent],
        actions: &[Action],
        now: Time,
    ) -> Result<usize, StoreError> {
        let sinks = self.sinks();
        let rows = sinks.rows(actions);
        let lease = super::dispatch::backoff(0);
        let commit = || self.store().commit_claiming(events, &rows, now, lease);
        let committed = match tokio::runtime::Handle::try_current() {
            Ok(rt) if rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                match sinks.stage(&self.in_force(), &self.renderer(), &rows, now) {
                    // Under `block_in_place` this thread is no worker: the staging task goes
                    // to the shared queue, where an idle worker takes it at once (spawned
                    // from a worker it would wait in that worker's own slot, behind the
                    // commit), and this worker's other tasks move to another thread.
                    Some(staging) => tokio::task::block_in_place(|| {
                        rt.spawn(staging);
                        commit()
                    }),
                    None => commit(),
                }
            }
            _ => commit(),
        };
        let claimed: &[crate::store::OutboxRow] = match &committed {
            Ok((_, claimed)) => claimed,
            Err(_) => &[],
        };
        // As before every send (dispatch::send): a host that no longer leads sends nothing.
        // Asked only for the few staged keys, so the claimed rows are scanned, not indexed.
        let leading = self.role.leading();
        let dropped = sinks.release(&|key| leading && claimed.iter().any(|r| r.key == key));
        if dropped > 0 {
            tracing::info!(
                dropped,
                "a message begun beside a commit was not claimed by it; its session was closed before the message, so nothing was sent"
            );
        }
        let (n, claimed) = committed?;
        if !claimed.is_empty() {
            self.handoff
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(claimed.into_iter().map(|r| (r, now + lease)));
        }
        Ok(n)
    }

    /// The handed-off rows whose claim still holds at `now`. A row whose claim ran out is
    /// left to the dispatcher's own claim, which takes it again as due: no row is ever both
    /// handed off and claimed.
    pub(crate) fn take_handoff(&self, now: Time) -> Vec<crate::store::OutboxRow> {
        let rows = std::mem::take(&mut *self.handoff.lock().unwrap_or_else(|p| p.into_inner()));
        // A second's margin: a row this close to the end of its claim goes the claim's way.
        let margin = chrono::Duration::seconds(1);
        let (live, stale): (Vec<_>, Vec<_>) = rows
            .into_iter()
            .partition(|(_, until)| now + margin < *until);
        if !stale.is_empty() {
            tracing::info!(
                rows = stale.len(),
                "handed-off messages waited past their claim; the dispatcher claims them again"
            );
        }
        live.into_iter().map(|(r, _)| r).collect()
    }
}
