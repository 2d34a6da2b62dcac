//! Who leads (SPEC §5.7). With the embedded SQLite store this host always leads. With
//! PostgreSQL, one host at a time holds a session-level advisory lock on a session of its own;
//! that host leads with an epoch one higher than the last leader's, written in the `leader`
//! row with the host's `advertise` URL (where the others forward writes).
//!
//! The lock's session runs with `idle_session_timeout = lease`, and the leader confirms the
//! lock and its epoch every `lease / 5`. So:
//! - a leader that dies (`kill -9`, host down) loses its session at once (FIN) or after the
//!   lease (no FIN: the server ends the idle session), and a standby, trying every `lease / 5`,
//!   takes over within `lease + lease / 5` plus the replay;
//! - a leader that is paused (`SIGSTOP`, a long GC-like stall, a partition) counts itself out
//!   `0.6 × lease` after its last confirmation, on the monotonic clock, before the server can
//!   release its lock at `lease`: [`Role::leading`] turns false and the dispatcher sends no
//!   more. What it still tries to write is refused by the epoch fence (`store::postgres`).

use crate::store::postgres::{schema::LEADER_LOCK, Settings};
use crate::store::StoreError;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Whether this host leads, and since which epoch.
pub(crate) struct Role {
    /// `None`: a single host (SQLite), always leading.
    cluster: Option<Cluster>,
    /// This host's epoch while it leads (0: standby). Shared with the PostgreSQL store.
    epoch: Arc<AtomicI64>,
    /// Tells the engine task when this host starts or stops leading (the epoch, 0: standby).
    changes: tokio::sync::watch::Sender<i64>,
}

struct Cluster {
    /// When the lock and epoch were last confirmed.
    confirmed: Mutex<Option<Instant>>,
    /// How long a confirmation counts (0.6 × lease).
    valid_for: Duration,
    /// The leader's URL and epoch as last read (for forwarding writes).
    leader: Mutex<Option<(i64, String)>>,
}

impl Role {
    /// The only host (SQLite): always leading.
    pub(crate) fn single() -> Role {
        Role {
            cluster: None,
            epoch: Arc::new(AtomicI64::new(0)),
            changes: tokio::sync::watch::channel(0).0,
        }
    }

    /// One of several hosts sharing PostgreSQL, with this lease.
    pub(crate) fn cluster(lease: Duration) -> Role {
        Role {
            cluster: Some(Cluster {
                confirmed: Mutex::new(None),
                valid_for: lease.mul_f64(0.6),
                leader: Mutex::new(None),
            }),
            epoch: Arc::new(AtomicI64::new(0)),
            changes: tokio::sync::watch::channel(0).0,
        }
    }

    /// Whether hosts share the store.
    pub(crate) fn is_cluster(&self) -> bool {
        self.cluster.is_some()
    }

    /// The epoch cell the PostgreSQL store checks on every write.
    pub(crate) fn epoch_cell(&self) -> Arc<AtomicI64> {
        Arc::clone(&self.epoch)
    }

    /// The leader epoch this host holds (0: none).
    pub(crate) fn epoch(&self) -> i64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Whether this host may run the rules and send now: always with SQLite; with
    /// PostgreSQL while it holds an epoch confirmed within the last 0.6 × lease.
    pub(crate) fn leading(&self) -> bool {
        match &self.cluster {
            None => true,
            Some(c) => {
                self.epoch() > 0 && lock(&c.confirmed).is_some_and(|t| t.elapsed() < c.valid_for)
            }
        }
    }

    /// Resolves when this host stops leading: at once on a standby, when the lease runs out
    /// unconfirmed on a leader, never with a single host. A send races it, so a leader that
    /// was paused in the middle of an SMTP exchange drops the exchange when it wakes instead
    /// of finishing it (the row stays claimed; the new leader sends it with the same
    /// Message-ID).
    pub(crate) async fn lost(&self) {
        let Some(c) = &self.cluster else {
            return std::future::pending().await;
        };
        loop {
            let end = match *lock(&c.confirmed) {
                Some(t) if self.epoch() > 0 => t + c.valid_for,
                _ => return,
            };
            if Instant::now() >= end {
                return;
            }
            tokio::time::sleep_until(tokio::time::Instant::from_std(end)).await;
        }
    }

    /// `leader`, `standby` or `single`, for `/healthz` and logs.
    pub(crate) fn name(&self) -> &'static str {
        if self.leading() {
            "leader"
        } else {
            "standby"
        }
    }

    /// Where writes go when this host does not lead: the leader's advertised URL.
    pub(crate) fn leader_url(&self) -> Option<String> {
        let c = self.cluster.as_ref()?;
        lock(&c.leader).as_ref().map(|(_, u)| u.clone())
    }

    /// Told of every change of epoch.
    pub(crate) fn subscribe(&self) -> tokio::sync::watch::Receiver<i64> {
        self.changes.subscribe()
    }

    fn promote(&self, epoch: i64) {
        if let Some(c) = &self.cluster {
            *lock(&c.confirmed) = Some(Instant::now());
        }
        self.epoch.store(epoch, Ordering::SeqCst);
        self.changes.send_replace(epoch);
    }

    fn confirm(&self) {
        if let Some(c) = &self.cluster {
            *lock(&c.confirmed) = Some(Instant::now());
        }
    }

    fn step_down(&self, why: &str) {
        let was = self.epoch.swap(0, Ordering::SeqCst);
        if let Some(c) = &self.cluster {
            *lock(&c.confirmed) = None;
        }
        if was > 0 {
            tracing::error!(epoch = was, reason = why, "stepping down: this host no longer leads; it stops sending and forwards writes to the new leader");
            self.changes.send_replace(0);
        }
    }

    fn saw_leader(&self, epoch: i64, url: String) {
        if let Some(c) = &self.cluster {
            *lock(&c.leader) = (epoch > 0 && !url.is_empty()).then_some((epoch, url));
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Run the leadership session on a thread of its own until `stop` is set.
pub(crate) fn start(
    settings: Settings,
    role: Arc<Role>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("leadership".into())
        .spawn(move || run(settings, role, stop))
}

fn run(s: Settings, role: Arc<Role>, stop: Arc<std::sync::atomic::AtomicBool>) {
    let lease = s.lease.to_std().unwrap_or(Duration::from_secs(5));
    let tick = lease / 5;
    let holder = format!(
        "{} pid {}",
        std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "?".into()),
        std::process::id()
    );
    let mut session: Option<postgres::Client> = None;
    let mut warned = false;
    while !stop.load(Ordering::SeqCst) {
        let started = Instant::now();
        if session.as_ref().is_none_or(|c| c.is_closed()) {
            role.step_down("the session holding the lock was lost");
            session = match open(&s, lease) {
                Ok(c) => {
                    warned = false;
                    Some(c)
                }
                Err(e) => {
                    if !warned {
                        tracing::error!(db = %s.display(), error = %e, "cannot reach the database for leadership; retrying");
                        warned = true;
                    }
                    None
                }
            };
        }
        if let Some(c) = session.as_mut() {
            let r = if role.epoch() > 0 {
                keep(c, &role)
            } else {
                take(c, &role, &holder, &s.advertise)
            };
            if let Err(e) = r {
                role.step_down(&format!("the database did not confirm the lock: {e}"));
                session = None;
            }
        }
        std::thread::sleep(tick.saturating_sub(started.elapsed()));
    }
    // Stopping: the session (and with it the lock) ends when `session` is dropped.
    role.step_down("stopping");
}

fn open(s: &Settings, lease: Duration) -> Result<postgres::Client, StoreError> {
    let cfg = s.connect_config()?;
    let mut c = crate::store::postgres::connect(&cfg)?;
    // The server ends this session when the host stops talking for a lease: a paused or
    // cut-off leader's lock is released without it.
    c.batch_execute(&format!(
        "SET idle_session_timeout = {ms}; SET statement_timeout = {ms}; SET application_name = 'meldingsvakt leadership'",
        ms = lease.as_millis()
    ))?;
    Ok(c)
}

/// The leader: confirm that the epoch is still ours.
fn keep(c: &mut postgres::Client, role: &Role) -> Result<(), StoreError> {
    let current: i64 = c
        .query_one("SELECT epoch FROM leader WHERE id = 1", &[])?
        .get(0);
    if current == role.epoch() {
        role.confirm();
    } else {
        role.step_down(&format!("the database's epoch is {current}"));
        c.execute("SELECT pg_advisory_unlock($1)", &[&LEADER_LOCK])?;
    }
    Ok(())
}

/// A standby: try the lock; on success raise the epoch and lead. Else note who leads.
fn take(c: &mut postgres::Client, role: &Role, holder: &str, url: &str) -> Result<(), StoreError> {
    let got: bool = c
        .query_one("SELECT pg_try_advisory_lock($1)", &[&LEADER_LOCK])?
        .get(0);
    if got {
        // Waits for the old leader's writes in flight (they hold the row FOR SHARE) and
        // fences every later one.
        let epoch: i64 = c
            .query_one(
                "UPDATE leader SET epoch = epoch + 1, holder = $1, url = $2, since = now() WHERE id = 1 RETURNING epoch",
                &[&holder, &url],
            )?
            .get(0);
        tracing::info!(
            epoch,
            "leading: this host holds the lock and runs the rules and the sending"
        );
        role.saw_leader(epoch, url.to_string());
        role.promote(epoch);
    } else {
        let r = c.query_one("SELECT epoch, url FROM leader WHERE id = 1", &[])?;
        role.saw_leader(r.get(0), r.get(1));
    }
    Ok(())
}
