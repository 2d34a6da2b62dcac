//! The engine driven by the wall clock. Owns the `Engine`; every change goes through here, so
//! there are no locks around the rules.

use crate::config::Config;
use crate::daemon::{notify, replay, Shared};
use crate::engine::events::Input;
use crate::engine::model::{Event, IncidentView, MaintenanceView, Refusal, Time};
use crate::engine::{alerts, Engine};
use crate::sources::mailbox::OpenFollowup;
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};

mod directory;
pub(crate) use directory::link_key;
mod group;
mod query;
mod standby;

/// Why the engine task did not take a request.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Rejected {
    /// Refused by the door or by the rules; `index` names the alert of a batch.
    #[error("{}{refusal}", batch_prefix(*.index, .refusal))]
    Refused {
        index: Option<usize>,
        refusal: Refusal,
    },
    /// The state could not be saved, or the daemon is stopping: nothing changed, try again.
    #[error("{0}")]
    Unavailable(String),
}

/// `alerts[2]: ` before a parse error, `alerts[2].` before a field (`alerts[2].`labels.org`…`).
fn batch_prefix(index: Option<usize>, r: &Refusal) -> String {
    match (index, r) {
        (None, _) => String::new(),
        (Some(i), Refusal::Malformed(_) | Refusal::BadId) => format!("alerts[{i}]: "),
        (Some(i), _) => format!("alerts[{i}]."),
    }
}

impl Rejected {
    /// The HTTP status: 400 not an event, 404 unknown case, 409 the case's state does not
    /// allow it, 422 a field the rules refuse, 503 try again.
    pub(crate) fn status(&self) -> u16 {
        match self {
            Rejected::Refused { refusal, .. } => match refusal {
                Refusal::Malformed(_) | Refusal::BadId => 400,
                Refusal::Unknown { .. } => 404,
                Refusal::Duplicate { .. } | Refusal::Closed { .. } => 409,
                _ => 422,
            },
            Rejected::Unavailable(_) => 503,
        }
    }
}

impl From<Refusal> for Rejected {
    fn from(refusal: Refusal) -> Rejected {
        Rejected::Refused {
            index: None,
            refusal,
        }
    }
}

/// A read of the engine's state, each with its typed answer.
pub(crate) enum Query {
    /// Inquiries sent and still waiting for their reply (for the mailbox classifier).
    OpenFollowups(oneshot::Sender<Vec<OpenFollowup>>),
    Incidents(oneshot::Sender<Vec<IncidentView>>),
    /// A case as the API shows it (`Engine::case_json`), live or from history.
    Case(
        crate::engine::model::About,
        oneshot::Sender<Option<serde_json::Value>>,
    ),
    Maintenances(oneshot::Sender<Vec<MaintenanceView>>),
    /// The availability report of a month as of now (SPEC §4.13).
    Report(
        crate::report::Month,
        oneshot::Sender<Result<crate::report::Report, crate::report::FutureMonth>>,
    ),
    /// What an input would decide now, looking `Duration` ahead; nothing is applied.
    Preview(
        Box<Input>,
        chrono::Duration,
        oneshot::Sender<Result<crate::engine::preview::Preview, Refusal>>,
    ),
    /// The console's overview: what is open and what happens next.
    Overview(oneshot::Sender<crate::engine::views::Overview>),
    /// Every case, open and closed, newest first (the console's list and search).
    Cases(oneshot::Sender<Vec<crate::engine::views::CaseRow>>),
    /// An open incident with what is done and what is next.
    Detail(
        String,
        oneshot::Sender<Option<crate::engine::views::IncidentDetail>>,
    ),
    /// The directory as held (SPEC §4.16), every organization.
    Directory(oneshot::Sender<Vec<crate::engine::directory::Entry>>),
}

/// What the engine task is asked to do.
pub(crate) enum Cmd {
    /// Apply inputs that passed the door at the current time, all or nothing for alert
    /// batches.
    Events {
        events: Vec<Input>,
        reply: oneshot::Sender<Result<usize, Rejected>>,
    },
    Query(Query),
    /// A configuration, its renderer and its sinks, all built and validated.
    Reload(
        Box<Config>,
        Box<crate::render::Renderer>,
        crate::sinks::Registry,
    ),
    /// A standby: catch up with the log now (after a write forwarded to the leader, so that
    /// what the client reads next on this host includes it).
    Follow(oneshot::Sender<()>),
}

struct Task {
    engine: Engine,
    shared: Arc<Shared>,
    /// Events committed since the last snapshot (or `true` after start-up's replay).
    snapshot_due: bool,
    /// Decisions not yet committed because the store failed: the engine was rebuilt from the
    /// store (so memory never runs ahead of disk) and these are written with the next commit.
    carry: Vec<crate::engine::model::Action>,
    /// Whether this task runs the rules (SPEC §5.7); a standby only follows the log.
    leading: bool,
    /// A standby: the last stored event its engine holds.
    seq: i64,
    /// A standby: the last status-page row its built-in page holds.
    page_mark: i64,
    /// The engine's directory generation the gauges were last computed at.
    dir_generation: u64,
}

impl Task {
    /// Commit what the engine decided, with the events that caused it. On failure the engine
    /// is rebuilt from the store, so memory never runs ahead of disk.
    fn commit(&mut self, events: &[crate::store::NewEvent]) -> Result<usize, Rejected> {
        let mut actions = std::mem::take(&mut self.carry);
        actions.extend(std::iter::from_fn(|| self.engine.poll_action()));
        if events.is_empty() && actions.is_empty() {
            return Ok(0);
        }
        // The leader's commit claims the rows due now for the dispatcher, in the same
        // transaction (Store::commit_claiming): the first notice waits for one fsync, not two.
        let r = if self.leading && self.shared.role.leading() {
            self.shared
                .commit_claiming(events, &actions, crate::clock::now())
        } else {
            self.shared.commit(events, &actions)
        };
        match r {
            Ok(n) => {
                self.shared.store_ok(crate::daemon::Writer::Engine);
                // The dispatcher first: the status page below does not wait on the sends.
                if n > 0 {
                    self.shared.wake_routine();
                }
                self.shared
                    .pages
                    .apply(&self.shared.cfg(), &self.shared.renderer(), &actions);
                // A change that matters for the uptime rows (an our-side priority 1–2
                // incident, a maintenance) always comes with a status-page post.
                if actions
                    .iter()
                    .any(|a| matches!(a.body, crate::engine::model::ActionBody::Statuspage(_)))
                {
                    self.shared
                        .pages
                        .set_history(self.engine.history(), self.now());
                }
                Ok(n)
            }
            Err(e) => {
                self.shared.store_failed(crate::daemon::Writer::Engine, &e);
                tracing::error!(error = %e, "cannot commit to the store; the request is refused and state is rebuilt from the store");
                let cfg = self.shared.cfg();
                let rebuilt = {
                    let store = self.shared.store();
                    replay(cfg, store.as_ref(), crate::clock::now())
                };
                match rebuilt {
                    Ok((engine, decided)) => {
                        // Deadlines that passed are decided again by the rebuild; keep those
                        // decisions for the next commit (known keys are ignored there).
                        self.engine = engine;
                        self.carry = decided;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "rebuild failed; continuing with the last good state");
                        self.carry = actions;
                    }
                }
                Err(Rejected::Unavailable(format!(
                    "state could not be saved: {e}"
                )))
            }
        }
    }

    /// Swap in a validated configuration. Organizations it no longer has but that live cases
    /// still name are kept, retired from now on, so no case loses its recipients (SPEC §6).
    fn reload(
        &mut self,
        mut cfg: Config,
        renderer: crate::render::Renderer,
        sinks: crate::sinks::Registry,
    ) {
        let old = self.shared.cfg();
        let now = self.now();
        let named = self.engine.referenced_orgs();
        let kept: Vec<crate::config::Organization> = old
            .orgs
            .iter()
            .filter(|o| named.contains(&o.id) && cfg.org(&o.id).is_none())
            .map(|o| {
                let mut o = o.clone();
                o.retired_at.get_or_insert(now);
                o
            })
            .collect();
        for o in &kept {
            tracing::warn!(org = %o.id, "organization removed from the configuration while open cases name it; kept for those cases until they close, refused for new ones");
        }
        cfg.retain_orgs(&kept);
        // Audited (SPEC §5.10): which organizations and services came and went.
        let ids = |c: &Config| -> (Vec<String>, Vec<String>) {
            (
                c.orgs.iter().map(|o| o.id.clone()).collect(),
                c.services.iter().map(|s| s.id.clone()).collect(),
            )
        };
        let ((old_orgs, old_services), (new_orgs, new_services)) = (ids(&old), ids(&cfg));
        let gone = |a: &[String], b: &[String]| -> Vec<String> {
            a.iter().filter(|x| !b.contains(x)).cloned().collect()
        };
        let change = serde_json::json!({
            "organizations_added": gone(&new_orgs, &old_orgs),
            "organizations_removed": gone(&old_orgs, &new_orgs),
            "services_added": gone(&new_services, &old_services),
            "services_removed": gone(&old_services, &new_services),
        });
        let entry = crate::audit::Actor::new(
            "SIGHUP",
            crate::audit::Role::System,
            crate::audit::Origin::System,
        )
        .did(now, "reload")
        .changed(None, Some(change.to_string()));
        // Only the leader writes (SPEC §5.7); a standby's reload is its own host's affair.
        if self.leading {
            if let Err(e) = self.shared.store().audit_append(&[entry]) {
                tracing::error!(error = %e, "cannot write the reload to the audit log");
            }
        }
        let cfg = Arc::new(cfg);
        self.engine.reconfigure(Arc::clone(&cfg));
        let saved = self
            .shared
            .store()
            .set_retained_orgs(&crate::daemon::retained(&cfg, &self.engine));
        if let Err(e) = saved {
            tracing::error!(error = %e, "cannot record the organizations kept for open cases; they are lost at the next restart unless the configuration names them");
        }
        *self
            .shared
            .renderer
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(renderer);
        *self.shared.cfg.write().unwrap_or_else(|p| p.into_inner()) = cfg;
        let names: Vec<&str> = sinks.iter().map(|s| s.name()).collect();
        tracing::info!(sinks = ?names, "configuration reloaded");
        *self.shared.sinks.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(sinks);
        if self.leading {
            self.read_directory();
        }
        self.publish_contacts();
        self.shared.pages.invalidate();
    }

    fn now(&self) -> Time {
        let n = crate::clock::now();
        // The wall clock may go back; engine time never does.
        self.engine.clock().map_or(n, |c| c.max(n))
    }

    /// Save the engine's state, then forget what retention no longer keeps (SPEC §5.8). Only
    /// when memory equals disk: every decision committed, nothing carried.
    fn snapshot(&mut self) {
        if !self.leading || !self.snapshot_due || !self.carry.is_empty() {
            return;
        }
        let t0 = std::time::Instant::now();
        let now = self.now();
        let before = now - self.shared.cfg().daemon.retention;
        self.engine.forget_before(before);
        let json = match serde_json::to_string(&self.engine.snapshot()) {
            Ok(j) => j,
            Err(e) => {
                tracing::error!(error = %e, "engine snapshot could not be written as JSON");
                return;
            }
        };
        let mut store = self.shared.store();
        let saved = store.last_seq().and_then(|seq| {
            store.save_snapshot(seq, now, &json)?;
            store.compact(before, seq)
        });
        // The audit log keeps its own, longer retention; the chain is logged as it stands
        // (a witness outside the database: `audit verify --head`).
        let audit_before = now - self.shared.cfg().daemon.audit_retention;
        match store.audit_compact(audit_before, now) {
            Ok(n) if n > 0 => tracing::info!(
                removed = n,
                "audit log: old entries compacted behind the anchor"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "audit log: retention not applied"),
        }
        super::log_audit_head(&**store);
        match saved {
            Ok((events, rows)) => {
                self.snapshot_due = false;
                tracing::info!(
                    bytes = json.len(),
                    compacted_events = events,
                    compacted_rows = rows,
                    ms = t0.elapsed().as_millis() as u64,
                    "engine snapshot saved"
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "engine snapshot not saved; the next restart replays more")
            }
        }
    }

    /// One input from a maintenance file, through the same door as the API's.
    fn apply_fields(&mut self, ty: &str, fields: &Value) -> Result<usize, Rejected> {
        self.apply(vec![
            Input::parse(ty, fields)?.from(crate::engine::events::Origin::File)
        ])
    }

    /// Reconcile `maintenance.d` with the engine: add new, change changed, cancel removed
    /// (only those not yet started). Everything goes through `apply`, so it is logged and
    /// replayed like operator events.
    fn sync_files(&mut self) {
        if !self.leading {
            return;
        }
        let cfg = self.shared.cfg();
        let now = self.now();
        let declared = match crate::sources::maintenance_files::load(
            &cfg.daemon.maintenance_dir,
            cfg.calendar.tz,
            now,
            cfg.daemon.maintenance_horizon,
        ) {
            Ok(d) => d,
            Err(es) => {
                for e in &es {
                    tracing::error!("{e}");
                }
                tracing::error!("maintenance files not applied; fix them and reload (SIGHUP)");
                return;
            }
        };
        let before = match self.shared.store().declared() {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "cannot read declared maintenance");
                return;
            }
        };
        let mut now_declared = Vec::new();
        for d in &declared {
            let text = d.fields.to_string();
            let known = self
                .engine
                .maintenance(&d.id)
                .map(|m| (m.cancelled, m.from));
            let result = match (known, before.get(&d.id)) {
                (None, _) => self.apply_fields("maintenance.add", &d.fields),
                // The whole record, as SPEC §5.2 allows; the engine uses what differs.
                (Some((false, from)), Some(old)) if *old != text && from > now => {
                    self.apply_fields("maintenance.change", &d.fields)
                }
                _ => Ok(0),
            };
            match result {
                Ok(_) => {}
                // Completed or cancelled earlier: leave it.
                Err(Rejected::Refused {
                    refusal: Refusal::Closed { .. },
                    ..
                }) => {}
                Err(e) => {
                    tracing::error!(id = %d.id, error = %e, "declared maintenance refused")
                }
            }
            now_declared.push((d.id.clone(), text));
        }
        for id in before
            .keys()
            .filter(|id| !declared.iter().any(|d| &d.id == *id))
        {
            if let Some(m) = self.engine.maintenance(id) {
                if !m.cancelled && m.from > now {
                    if let Err(e) = self.apply_fields("maintenance.cancel", &json!({ "id": id })) {
                        tracing::error!(id = %id, error = %e, "cancelling removed maintenance failed");
                    }
                }
            }
        }
        let saved = self.shared.store().set_declared(&now_declared);
        if let Err(e) = saved {
            tracing::error!(error = %e, "cannot record declared maintenance");
        }
    }
}

/// Run the engine: `seq` is the last stored event `engine` holds; it leads from the start
/// with one host (SQLite), and when elected with several (`Role`).
pub(crate) async fn run(
    engine: Engine,
    seq: i64,
    mut rx: mpsc::Receiver<Cmd>,
    shared: Arc<Shared>,
    _stop: watch::Receiver<bool>,
) {
    let leading = !shared.role.is_cluster();
    let mut role = shared.role.subscribe();
    let cluster = shared.role.is_cluster();
    let mut task = Task {
        engine,
        shared,
        snapshot_due: leading,
        carry: Vec::new(),
        leading,
        seq,
        page_mark: 0,
        dir_generation: u64::MAX,
    };
    if cluster {
        task.sync_pages();
    }
    if leading {
        task.read_directory();
    }
    // A standby follows the log about once a second.
    let mut follow = tokio::time::interval(std::time::Duration::from_secs(1));
    follow.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut usec = 0u64;
    let watchdog = sd_notify::watchdog_enabled(false, &mut usec);
    let period = if watchdog {
        std::time::Duration::from_micros((usec / 2).max(1000))
    } else {
        std::time::Duration::from_secs(3600)
    };
    let mut wd = tokio::time::interval(period);
    // Maintenance files: at start, then hourly (recurring windows enter the horizon).
    let mut files = tokio::time::interval(std::time::Duration::from_secs(3600));
    // The engine's snapshot: at start (after replay), then every 10 minutes with news.
    let mut snap = tokio::time::interval(std::time::Duration::from_secs(600));
    // A command read while gathering a group commit, handled next.
    let mut pending: Option<Cmd> = None;
    loop {
        task.publish_contacts();
        task.shared.metrics.open_incidents.store(
            task.engine.open_incidents().count() as i64,
            std::sync::atomic::Ordering::Relaxed,
        );
        let wait = match task.engine.poll_timeout().filter(|_| task.leading) {
            Some(t) => (t - crate::clock::now()).to_std().unwrap_or_default(),
            None => crate::clock::max_sleep(),
        }
        .min(crate::clock::max_sleep());
        // Uncommitted decisions: retry the store every 2 s.
        let wait = if task.carry.is_empty() {
            wait
        } else {
            wait.min(std::time::Duration::from_secs(2))
        };
        tokio::select! {
            cmd = async { match pending.take() { Some(c) => Some(c), None => rx.recv().await } } => match cmd {
                None => break,
                Some(Cmd::Events { events, reply }) => {
                    // Group commit: the requests already waiting join this one's transaction.
                    let (batch, next) = group::gather(&mut rx, (events, reply));
                    task.apply_group(batch);
                    pending = next;
                }
                Some(Cmd::Query(q)) => task.query(q),
                Some(Cmd::Reload(cfg, renderer, sinks)) => {
                    task.reload(*cfg, *renderer, sinks);
                    let _ = task.commit(&[]);
                    task.sync_files();
                }
                Some(Cmd::Follow(reply)) => {
                    task.follow();
                    let _ = reply.send(());
                }
            },
            _ = role.changed(), if cluster => task.role_changed(),
            _ = follow.tick(), if cluster => {
                // Also where a failed promotion is tried again.
                task.role_changed();
                task.follow();
            }
            _ = tokio::time::sleep(wait), if task.leading => {
                if !task.carry.is_empty() {
                    let _ = task.commit(&[]);
                }
                let now = task.now();
                let mut decided = task.carry.is_empty();
                if let Some(t) = task.engine.poll_timeout().filter(|t| *t <= now) {
                    task.shared.metrics.deadline_lag_ms.store((now - t).num_milliseconds(), std::sync::atomic::Ordering::Relaxed);
                    task.engine.catch_up(now + crate::engine::NEXT_INSTANT);
                    match task.commit(&[]) {
                        Ok(_) => decided = task.carry.is_empty(),
                        Err(e) => {
                            decided = false;
                            tracing::error!(error = %e, "deadline actions not saved; retrying from the store");
                        }
                    }
                }
                if decided {
                    task.shared.metrics.decided_through_ms.store(now.timestamp_millis(), std::sync::atomic::Ordering::Relaxed);
                }
            }
            _ = wd.tick(), if watchdog => notify(&[sd_notify::NotifyState::Watchdog]),
            _ = files.tick() => task.sync_files(),
            _ = snap.tick() => task.snapshot(),
        }
    }
}
