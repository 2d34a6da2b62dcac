//! Subscribers in the daemon (SPEC §4.17): the queueing of posts for them (`FanOut`, called
//! by the subscriber sink's copy), the **subscriber lane** that sends their mail, and the
//! public pages (`pages.rs`).
//!
//! The lane has its own queue (`store::subscribers`) and its own SMTP session, and sends only
//! while the routine's dispatcher has nothing due: a commit that makes routine mail marks the
//! routine busy before the dispatcher is woken, the lane checks before every message, and
//! the dispatcher marks it idle when its claim comes back empty. So a notice to the
//! municipalities is never behind a subscriber mail, whatever is queued (at most the one
//! mail the lane was sending when the notice was decided).
//!
//! Subscriber addresses never reach the log in clear: `hash` (16 hex digits of SHA-256).

use super::limit::Limiter;
use super::shared::Shared;
use crate::engine::model::{Action, Environment};
use crate::render::subscriber::{post_of, Job, Links, Phase};
use crate::sinks::email::{send, subscriber_message, MailTransport, Transport};
use crate::sinks::Failure;
use crate::store::{Subscriber, SubscriberMail};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{watch, Notify};

/// Mails claimed at a time; their results are recorded together.
const BATCH: usize = 64;
/// The most SMTP sessions the lane opens at once (it starts with 2 and grows while the
/// server takes every batch).
const MAX_SESSIONS: usize = 16;
/// How long a claimed mail is the lane's: a batch goes out well within it at any server's
/// pace, and after a crash (or a change of leader) what was claimed goes again after it,
/// with the same Message-ID.
const LEASE: chrono::Duration = chrono::Duration::seconds(15);

/// How long a subscription request waits for its confirmation before it is deleted.
pub(crate) const REQUEST_LIFETIME: chrono::Duration = chrono::Duration::days(7);

/// `/abonner`'s limits (SPEC §4.17): one confirmation mail per address and per client in
/// `WINDOW`, and `[subscribers] confirmations_per_hour` in all; in memory, per host.
pub(crate) struct Limits {
    each: Limiter,
    hour: Limiter,
}

/// The window per address and per client.
pub(crate) const WINDOW: std::time::Duration = std::time::Duration::from_secs(600);

impl Default for Limits {
    fn default() -> Self {
        Limits {
            each: Limiter::new(WINDOW),
            hour: Limiter::new(std::time::Duration::from_secs(3600)),
        }
    }
}

impl Limits {
    /// Whether a confirmation mail may go to `address_hash` asked from `client`; counts it.
    pub(crate) fn allow(&self, address_hash: &str, client: &str, per_hour: u32) -> bool {
        self.each.allow(format!("a:{address_hash}"), 1)
            && self.each.allow(format!("c:{client}"), 1)
            && self.hour.allow("all".into(), per_hour)
    }
}

/// What the lane shares with the rest of the daemon.
pub(crate) struct Lane {
    /// The routine's dispatcher has (or is about to have) mail due.
    busy: AtomicBool,
    /// The routine became idle.
    idle: Notify,
    /// Subscriber mail was queued.
    pub wake: Notify,
    transport: Mutex<Option<(MailTransport, Arc<Transport>)>>,
    /// `/abonner`'s rate limits.
    pub limits: Limits,
    /// Mails in the queue, as the lane last counted (for `/metrics`, which never waits on
    /// the store).
    pub queued: std::sync::atomic::AtomicI64,
    /// Mails sent since the start.
    pub sent: std::sync::atomic::AtomicU64,
}

impl Default for Lane {
    fn default() -> Self {
        Lane {
            busy: AtomicBool::new(true),
            idle: Notify::new(),
            wake: Notify::new(),
            transport: Mutex::new(None),
            limits: Limits::default(),
            queued: std::sync::atomic::AtomicI64::new(0),
            sent: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl Lane {
    /// Routine mail is due or being sent: the lane waits.
    pub(crate) fn routine_busy(&self) {
        self.busy.store(true, Ordering::SeqCst);
    }
    /// The routine's dispatcher found nothing due.
    pub(crate) fn routine_idle(&self) {
        if self.busy.swap(false, Ordering::SeqCst) {
            self.idle.notify_waiters();
        }
    }
    fn is_busy(&self) -> bool {
        self.busy.load(Ordering::SeqCst)
    }
}

/// An address as the log may show it: 16 hex digits of its SHA-256.
pub(crate) fn hash(address: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, address.as_bytes());
    d.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether subscriber `s` hears of a post in `env` about `services`.
pub(crate) fn concerns(s: &Subscriber, env: Environment, services: &[String]) -> bool {
    s.confirmed_at.is_some()
        && (env == Environment::Produksjon || s.test)
        && (services.is_empty()
            || s.services.is_empty()
            || s.services.iter().any(|x| services.contains(x)))
}

impl crate::sinks::subscribers::FanOut for Shared {
    fn fan_out(&self, job: &str, action: &Action) -> Result<usize, Failure> {
        let Some((env, services)) = post_of(action) else {
            return Ok(0);
        };
        let transient = |e: crate::store::StoreError| Failure::Transient(e.to_string());
        let job_of = |phase| {
            serde_json::to_string(&Job::Post {
                action: Box::new(action.clone()),
                phase,
            })
            .map_err(|e| Failure::Permanent(e.to_string()))
        };
        let body = job_of(None)?;
        let mut store = self.store();
        let ids: Vec<String> = store
            .sub_all()
            .map_err(transient)?
            .into_iter()
            .filter(|s| concerns(s, env, services))
            .map(|s| s.id)
            .collect();
        let now = crate::clock::now();
        let n = store
            .sub_enqueue(job, &body, &ids, now)
            .map_err(transient)?;
        // A maintenance's start and end go when they come; a change moves them (the post
        // of the change queues them again), a cancellation drops them.
        if let crate::engine::model::ActionBody::Statuspage(p) = &action.body {
            if let Some(m) = &p.maintenance {
                let prefix = action.about.key_prefix();
                for (phase, name, at) in
                    [(Phase::Start, "start", m.from), (Phase::End, "end", m.to)]
                {
                    let key = format!("{prefix}/subscribers/{name}");
                    store.sub_drop(&key).map_err(transient)?;
                    if !m.cancelled && at > now {
                        store
                            .sub_enqueue(&key, &job_of(Some(phase))?, &ids, at)
                            .map_err(transient)?;
                    }
                }
            }
        }
        // One count per post (the lane follows by difference from here).
        if let Ok(q) = store.sub_queued() {
            self.subscribers.queued.store(q, Ordering::Relaxed);
        }
        drop(store);
        self.subscribers.wake.notify_one();
        Ok(n)
    }
}

/// A subscriber's links under `public_url`.
pub(crate) fn links(cfg: &crate::config::Config, key: &[u8], id: &str) -> Links {
    let base = cfg.daemon.public_url.trim_end_matches('/');
    let t = crate::render::link::subscriber_token(key, id);
    Links {
        confirm: format!("{base}/abonner/{t}"),
        manage: format!("{base}/abonner/{t}"),
        unsubscribe: format!("{base}/abonner/{t}/avmeld"),
    }
}

fn transport(shared: &Shared, cfg: &crate::config::Config) -> Result<Arc<Transport>, Failure> {
    let mut slot = shared
        .subscribers
        .transport
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let want = crate::sinks::email::settings(cfg).transport.clone();
    if let Some((for_cfg, t)) = slot.as_ref() {
        if *for_cfg == want {
            return Ok(Arc::clone(t));
        }
    }
    let t = Arc::new(Transport::new(cfg)?);
    *slot = Some((want, Arc::clone(&t)));
    Ok(t)
}

fn count_queued(shared: &Shared) {
    if let Ok(n) = shared.store().sub_queued() {
        shared.subscribers.queued.store(n, Ordering::Relaxed);
    }
}

fn maintenance_of(a: &Action) -> Option<&crate::engine::model::MaintenanceView> {
    match &a.body {
        crate::engine::model::ActionBody::Statuspage(s) => s.maintenance.as_ref(),
        _ => None,
    }
}

/// Send one subscriber mail.
async fn send_one(
    shared: &Shared,
    key: &[u8],
    m: &SubscriberMail,
    job: &Job,
) -> Result<(), Failure> {
    let cfg = shared.in_force();
    let s = &m.subscriber;
    let links = links(&cfg, key, &s.id);
    let rendered = shared
        .renderer()
        .subscriber(&cfg, job, &s.services, s.test, &links)
        .map_err(|e| Failure::Permanent(e.to_string()))?;
    let at = match job {
        Job::Post {
            action,
            phase: Some(Phase::Start),
        } => maintenance_of(action).map_or(action.at, |m| m.from),
        Job::Post {
            action,
            phase: Some(Phase::End),
        } => maintenance_of(action).map_or(action.at, |m| m.to),
        Job::Post { action, .. } => action.at,
        Job::Confirm => s.created_at,
    };
    let unsubscribe = matches!(job, Job::Post { .. }).then_some(links.unsubscribe.as_str());
    let id_key = format!("subscriber/{}/{}", m.job, s.id);
    let msg = subscriber_message(&cfg, rendered, &s.address, &id_key, at, unsubscribe)?;
    let t = transport(shared, &cfg)?;
    send(&t, &id_key, &msg).await?;
    Ok(())
}

/// Send a claimed batch on up to `sessions` sessions at once, starting nothing more once
/// routine mail is due (what was not started goes back, due at once). Returns what was sent,
/// and whether the server refused anything for the time being.
async fn send_batch(
    shared: &Arc<Shared>,
    key: &[u8],
    mails: Vec<SubscriberMail>,
    sessions: usize,
    stop: &watch::Receiver<bool>,
) -> (Vec<(String, String)>, bool) {
    let lane = &shared.subscribers;
    let now = crate::clock::now();
    let mut set = tokio::task::JoinSet::new();
    let mut rest = mails.into_iter();
    let (mut done, mut transient) = (Vec::new(), false);
    // A batch is mostly one post to many: its text is read once, not once a mail.
    let mut jobs: std::collections::HashMap<String, Result<Arc<Job>, Failure>> =
        std::collections::HashMap::new();
    loop {
        while set.len() < sessions {
            let Some(m) = rest.next() else { break };
            // Routine mail first: what is claimed and not started goes back, due at once.
            if lane.is_busy() || *stop.borrow() || !shared.role.leading() {
                if let Err(e) = shared.store().sub_failed(
                    &m.job,
                    &m.subscriber.id,
                    now,
                    "deferred: routine mail first",
                ) {
                    tracing::warn!(error = %e, "cannot put a subscriber mail back; it goes after its lease");
                }
                continue;
            }
            let job = jobs
                .entry(m.job.clone())
                .or_insert_with(|| {
                    serde_json::from_str::<Job>(&m.body)
                        .map(Arc::new)
                        .map_err(|e| Failure::Permanent(format!("subscriber job {}: {e}", m.job)))
                })
                .clone();
            let (shared, key) = (Arc::clone(shared), key.to_vec());
            set.spawn(async move {
                let r = match job {
                    Ok(job) => send_one(&shared, &key, &m, &job).await,
                    Err(f) => Err(f),
                };
                (m, r)
            });
        }
        let Some(joined) = set.join_next().await else {
            break;
        };
        let Ok((m, r)) = joined else { continue };
        match r {
            Ok(()) => {
                tracing::debug!(job = %m.job, to = %hash(&m.subscriber.address), "subscriber mail sent");
                done.push((m.job.clone(), m.subscriber.id.clone()));
                lane.sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(f) => {
                transient |= !f.is_permanent();
                // A server's refusal may quote the address: the log and the store get the
                // hash instead.
                let h = hash(&m.subscriber.address);
                let error = f.to_string().replace(&m.subscriber.address, &h);
                let next = crate::clock::now()
                    + if f.is_permanent() {
                        chrono::Duration::hours(1)
                    } else {
                        super::dispatch::backoff(m.attempts - 1)
                    };
                tracing::warn!(job = %m.job, to = %h, attempt = m.attempts, error = %error, "subscriber mail failed; will retry");
                if let Err(e) = shared
                    .store()
                    .sub_failed(&m.job, &m.subscriber.id, next, &error)
                {
                    tracing::warn!(error = %e, "cannot record a subscriber mail's failure; it goes after its lease");
                }
            }
        }
    }
    (done, transient)
}

async fn pause(stop: &watch::Receiver<bool>, wake: &Notify, d: std::time::Duration) {
    let mut stop = stop.clone();
    tokio::select! {
        _ = wake.notified() => {}
        _ = tokio::time::sleep(d) => {}
        _ = stop.changed() => {}
    }
}

/// The subscriber lane: while leading, and while the routine has nothing due, claims queued
/// subscriber mail, sends it one message at a time and records the results in batches.
pub(crate) async fn run(shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    let second = std::time::Duration::from_secs(1);
    let mut sessions = 2;
    let mut last_expire = std::time::Instant::now() - std::time::Duration::from_secs(3600);
    loop {
        if *stop.borrow() {
            break;
        }
        let lane = &shared.subscribers;
        if !shared.role.leading() {
            pause(&stop, &lane.wake, second).await;
            continue;
        }
        if lane.is_busy() {
            pause(&stop, &lane.idle, second).await;
            continue;
        }
        let now = crate::clock::now();
        if last_expire.elapsed() > std::time::Duration::from_secs(600) {
            last_expire = std::time::Instant::now();
            match shared.store().sub_expire(now - REQUEST_LIFETIME) {
                Ok(n) if n > 0 => tracing::info!(
                    requests = n,
                    "unconfirmed subscriptions expired and deleted"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot expire unconfirmed subscriptions"),
            }
        }
        let key = super::engine_task::link_key(shared.store().as_ref());
        let Some(key) = key else {
            pause(&stop, &lane.wake, second).await;
            continue;
        };
        let claimed = shared.store().sub_claim(now, BATCH, LEASE);
        let mails = match claimed {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim subscriber mail; trying again shortly");
                pause(&stop, &lane.wake, second).await;
                continue;
            }
        };
        if mails.is_empty() {
            count_queued(&shared);
            let wait = std::time::Duration::from_secs(30).min(crate::clock::max_sleep());
            pause(&stop, &lane.wake, wait).await;
            continue;
        }
        let (done, transient) = send_batch(&shared, &key, mails, sessions, &stop).await;
        // Sessions sized from the server's answers: one more after a batch it took whole,
        // half as many after a passing refusal (too many connections, a busy relay).
        sessions = if transient {
            (sessions / 2).max(1)
        } else if done.len() == BATCH {
            (sessions + 1).min(MAX_SESSIONS)
        } else {
            sessions
        };
        if !done.is_empty() {
            match shared.store().sub_sent(&done) {
                // The gauge follows by difference; it is counted afresh whenever the queue
                // has nothing due (a count is a scan of the queue).
                Ok(()) => {
                    lane.queued.fetch_sub(done.len() as i64, Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::warn!(error = %e, mails = done.len(), "cannot record sent subscriber mail; it is sent again after its lease, with the same Message-ID")
                }
            }
        }
    }
}
