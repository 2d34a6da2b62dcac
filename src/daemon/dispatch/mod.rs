//! The outbox dispatcher: sends due actions, marks them done, retries failures with
//! exponential backoff (5 s doubling, at most 5 min). A message failing for `smtp.warn_after`
//! is logged as an error and counted in `/metrics` (`meldingsvakt_outbox_failing_10m`).
//!
//! Fail safe (SPEC §6): rows are **claimed** before they are sent — the claim counts the
//! attempt and backs the row off in the same transaction — so a result that cannot be
//! recorded never makes a message due again sooner than its backoff. While the store cannot
//! be written, results are held in memory, nothing new is claimed or sent, `/healthz` answers
//! 503, and the store is retried with backoff (1 s doubling to 30 s).

use super::{Shared, Writer};
use crate::engine::model::{
    Action, ActionBody, DeliveryView, LateItem, Ops, OpsKind, OpsReason, SmsKind, Time,
};
use crate::sinks::{Ctx, Failure};
use crate::store::OutboxRow;
use chrono::{Duration, Utc};
use std::sync::Arc;
use tokio::sync::watch;

mod window;
use window::{Window, IN_FLIGHT};

/// How long the dispatcher waits for more late deliveries of an outage before it queues the
/// one warning that names them all.
const LATE_QUIET: std::time::Duration = std::time::Duration::from_secs(2);

/// The ops warning for a message that went out only after failing for `warn_after`.
fn delayed_warning(shared: &Shared, row: &OutboxRow, now: chrono::DateTime<Utc>) -> Option<Action> {
    let since = row.first_failure_at?;
    let cfg = shared.cfg();
    if now - since < shared.sinks().warn_after(&row.kind) {
        return None;
    }
    // A late warning is not itself warned about (no loop).
    if row.action.body.is_late_warning() {
        return None;
    }
    let to = row.action.body.recipients();
    Some(Action {
        at: now,
        // One warning per entity and outage: the messages of one fan-out that failed together
        // share it (the outbox's unique key drops the rest).
        key: format!(
            "{}/delivery-delayed/{}",
            row.action.about.key_prefix(),
            since.format("%Y%m%dT%H%M")
        ),
        about: row.action.about.clone(),
        body: ActionBody::Ops(Box::new(Ops {
            delivery: Some(DeliveryView {
                key: row.key.clone(),
                to,
                failing_since: since,
                delivered_at: now,
                last_error: row.last_error.clone(),
                also: vec![],
            }),
            ..Ops::new(
                OpsKind::Warning,
                OpsReason::DeliveryDelayed,
                cfg.self_.ops.clone(),
            )
        })),
    })
}

/// How long after its `attempts`-th failure a row is tried again: 5 s doubling, at most 5 min.
pub(crate) fn backoff(attempts: i64) -> Duration {
    let secs = 5i64.saturating_mul(1i64 << attempts.clamp(0, 10)).min(300);
    Duration::seconds(secs)
}

/// The metrics label of a row: the message kind, or the copying sink's name.
fn kind_label(row: &OutboxRow) -> String {
    if row.kind == row.action.body.kind() {
        row.action.body.metric_label()
    } else {
        row.kind.clone()
    }
}

/// Hand a row to the sink that delivers its kind.
async fn deliver(shared: &Shared, row: &OutboxRow) -> Result<(), Failure> {
    let sinks = shared.sinks();
    let Some(sink) = sinks.for_kind(&row.kind) else {
        tracing::info!(key = %row.key, kind = %row.kind, "no sink configured for this kind; recorded as done");
        return Ok(());
    };
    let (cfg, renderer) = (shared.in_force(), shared.renderer());
    let ctx = Ctx {
        cfg: &cfg,
        renderer: &renderer,
        state: shared,
        fan_out: shared,
    };
    sink.deliver(&ctx, row).await
}

/// Results of sends that the store has not recorded yet, and late-delivery warnings not yet
/// queued. Kept in memory and written before anything new is claimed.
#[derive(Default)]
struct Unrecorded {
    results: Vec<crate::store::SendResult>,
    late: Vec<Action>,
}

impl Unrecorded {
    fn is_empty(&self) -> bool {
        self.results.is_empty() && self.late.is_empty()
    }

    /// Write what is held; on failure keep it and report the store as failing.
    fn flush(&mut self, shared: &Shared) -> bool {
        if self.is_empty() {
            return true;
        }
        let written = {
            let rows = shared.sinks().rows(&self.late);
            let mut store = shared.store();
            store
                .commit(&[], &rows)
                .and_then(|_| store.mark_many(crate::clock::now(), &self.results))
        };
        match written {
            Ok(()) => {
                self.results.clear();
                self.late.clear();
                shared.store_ok(Writer::Dispatcher);
                true
            }
            Err(e) => {
                shared.store_failed(Writer::Dispatcher, &e);
                false
            }
        }
    }
}

/// One warning per case and outage, naming every message of it that went out late (a
/// 65-organization fan-out that failed together gives one mail listing all 65).
fn late_warnings(shared: &Shared, late: Vec<(OutboxRow, Time)>) -> Vec<Action> {
    let mut out: Vec<Action> = Vec::new();
    for (row, now) in late {
        let Some(a) = delayed_warning(shared, &row, now) else {
            continue;
        };
        match out.iter_mut().find(|x| x.key == a.key) {
            Some(Action {
                body: ActionBody::Ops(o),
                ..
            }) => {
                if let (Some(d), ActionBody::Ops(new)) = (o.delivery.as_mut(), &a.body) {
                    if let Some(n) = &new.delivery {
                        d.also.push(LateItem {
                            key: n.key.clone(),
                            to: n.to.clone(),
                        });
                        d.delivered_at = d.delivered_at.max(n.delivered_at);
                    }
                }
            }
            _ => out.push(a),
        }
    }
    let cfg = shared.cfg();
    let texts: Vec<Action> = out.iter().filter_map(|a| late_text(&cfg, a)).collect();
    out.extend(texts);
    out
}

/// On-call's text beside an ops warning about late delivery (SPEC §4.18); `None` when
/// nobody is on call.
fn late_text(cfg: &crate::config::Config, warning: &Action) -> Option<Action> {
    let ActionBody::Ops(o) = &warning.body else {
        return None;
    };
    let d = o.delivery.as_ref()?;
    let n = 1 + d.also.len();
    let minutes = (d.delivered_at - d.failing_since).num_minutes();
    let head = format!("Forsinket levering {}:", warning.about.id());
    let middle = format!(
        "{n} {} gikk ut {minutes} min for sent. Siste feil: {}",
        if n == 1 { "melding" } else { "meldinger" },
        d.last_error.as_deref().unwrap_or("ukjent")
    );
    let what = format!("delivery-delayed/{}", d.failing_since.format("%Y%m%dT%H%M"));
    crate::engine::page::sms(
        cfg,
        warning.at,
        &warning.about,
        &what,
        SmsKind::Warning,
        (head, middle),
    )
}

async fn pause(stop: &watch::Receiver<bool>, d: std::time::Duration) {
    let mut stop = stop.clone();
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = stop.changed() => {}
    }
}

/// One exchange, unless this host no longer leads. `None`: not attempted, or cut off by the
/// lost lease.
async fn send(shared: Arc<Shared>, row: OutboxRow) -> (OutboxRow, Option<Result<(), Failure>>) {
    // The lease is checked before every send: a leader paused past it (and so replaced)
    // sends nothing when it wakes.
    if !shared.role.leading() {
        return (row, None);
    }
    let r = tokio::select! {
        biased;
        _ = shared.role.lost() => {
            tracing::warn!(key = %row.key, "lease lost during the send; the exchange was dropped and the new leader sends it");
            None
        }
        r = deliver(&shared, &row) => Some(r),
    };
    (row, r)
}

/// The dispatcher's stages, named: **claim** the due rows (`claim`), **deliver** each
/// through the sink of its kind, which renders and sends it (`deliver_all`, in a sliding
/// window), **record** each result (`record`, written every `IN_FLIGHT` results by
/// `Unrecorded::flush`). Around them: sink upkeep once a minute, and waiting for work.
struct Dispatcher {
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
    held: Unrecorded,
    /// Messages delivered late, gathered until no more have come for `LATE_QUIET`: the
    /// retries of one fan-out fall due milliseconds apart and go out in several passes, and
    /// ops should get one warning naming all of them.
    late: Vec<(OutboxRow, Time)>,
    late_last: std::time::Instant,
    /// Backoff for a store that cannot be written: 1 s doubling to 30 s.
    store_wait: std::time::Duration,
    last_upkeep: std::time::Instant,
}

impl Dispatcher {
    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Only the leader sends (SPEC §5.7). A host that stops leading drops what it could not
    /// record: the rows stay claimed and backed off, and the new leader sends them after
    /// their backoff with the same Message-ID.
    fn step_down(&mut self) {
        if !self.held.is_empty() || !self.late.is_empty() {
            tracing::warn!(
                results = self.held.results.len(),
                "stepped down with delivery results not recorded; the new leader sends those messages again, with the same Message-ID"
            );
            self.held = Unrecorded::default();
            self.late.clear();
        }
    }

    /// Keep escalation silences alive and the like (about once a minute).
    async fn upkeep(&mut self) {
        if self.last_upkeep.elapsed() < std::time::Duration::from_secs(60) {
            return;
        }
        self.last_upkeep = std::time::Instant::now();
        let (cfg, renderer) = (self.shared.in_force(), self.shared.renderer());
        let ctx = Ctx {
            cfg: &cfg,
            renderer: &renderer,
            state: self.shared.as_ref(),
            fan_out: self.shared.as_ref(),
        };
        for sink in self.shared.sinks().iter() {
            sink.upkeep(&ctx).await;
        }
    }

    /// Wait out a store that cannot be written, longer each time.
    async fn store_backoff(&mut self) {
        pause(&self.stop, self.store_wait).await;
        self.store_wait = (self.store_wait * 2).min(std::time::Duration::from_secs(30));
    }

    /// Claim: the rows due now, first those the engine task's commit claimed for us. `None`:
    /// the store could not be written (nothing is claimed or sent then).
    async fn claim(&mut self) -> Option<Vec<OutboxRow>> {
        if !self.late.is_empty() && self.late_last.elapsed() >= LATE_QUIET {
            let late = std::mem::take(&mut self.late);
            self.held.late.extend(late_warnings(&self.shared, late));
        }
        // Fail safe: while the store cannot be written, nothing new is claimed or sent.
        if !self.held.flush(&self.shared) {
            self.store_backoff().await;
            return None;
        }
        let now = crate::clock::now();
        let claimed = self.shared.store().claim(now, 100, &backoff);
        match claimed {
            Ok(r) => {
                self.shared.store_ok(Writer::Dispatcher);
                self.store_wait = std::time::Duration::from_secs(1);
                // Still under the engine task's claim at `now` (Shared::commit_claiming), so
                // the claim above did not take them.
                let mut rows = self.shared.take_handoff(now);
                rows.extend(r);
                Some(rows)
            }
            Err(e) => {
                self.shared.store_failed(Writer::Dispatcher, &e);
                self.store_backoff().await;
                None
            }
        }
    }

    /// Nothing is due: sleep until the next row is, a commit wakes us, or late warnings are
    /// ready to be written.
    async fn idle(&mut self) {
        let next = self.shared.store().next_due().ok().flatten();
        let wait = next
            .map(|t| (t - crate::clock::now()).to_std().unwrap_or_default())
            .unwrap_or(std::time::Duration::from_secs(30))
            .min(std::time::Duration::from_secs(30))
            .min(crate::clock::max_sleep());
        let wait = if self.late.is_empty() {
            wait
        } else {
            wait.min(LATE_QUIET.saturating_sub(self.late_last.elapsed()))
        };
        let mut stop = self.stop.clone();
        tokio::select! {
            _ = self.shared.wake_dispatcher.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }

    /// Deliver: up to IN_FLIGHT messages at once, each on a pooled SMTP session with
    /// TCP_NODELAY (sinks/email/smtp.rs), in a sliding window that keeps the order per
    /// recipient and opens one slot at a time (window.rs). Each result is recorded as it
    /// comes; they are written every IN_FLIGHT ends.
    async fn deliver_all(&mut self, rows: Vec<OutboxRow>) {
        let mut window = Window::new(rows);
        let mut set = tokio::task::JoinSet::new();
        loop {
            // Finish the exchanges in hand, then stop (SIGTERM drains in-flight sends). Rows
            // not started stay claimed and backed off: they go after their backoff.
            if !self.stopping() && self.shared.role.leading() {
                for row in window.ready() {
                    set.spawn(send(Arc::clone(&self.shared), row));
                }
            }
            let Some(joined) = set.join_next().await else {
                break;
            };
            // A panicked send keeps its recipients blocked for the rest of the batch; those
            // rows stay claimed and go after their backoff.
            let Ok((row, result)) = joined else { continue };
            window.finished(&row.key);
            let Some(result) = result else { continue };
            self.record(row, result);
            // Record every IN_FLIGHT results in one commit; if the store fails, they stay
            // held (and the rows stay backed off by their claim) until it can be written.
            if self.held.results.len() >= IN_FLIGHT {
                self.held.flush(&self.shared);
            }
        }
        if window.queued() > 0 {
            tracing::info!(
                not_started = window.queued(),
                "stopped sending with claimed messages not started; they go after their backoff"
            );
        }
        self.held.flush(&self.shared);
        self.shared.refresh_stats();
    }

    /// Record: count it, log it, hold the result for the store, and remember a late
    /// delivery for the warning.
    fn record(&mut self, row: OutboxRow, result: Result<(), Failure>) {
        let kind = kind_label(&row);
        let now = crate::clock::now();
        match result {
            Ok(()) => {
                super::Metrics::count(&self.shared.metrics.sent, &kind);
                tracing::info!(key = %row.key, kind = %kind, "delivered");
                self.held.results.push((row.key.clone(), Ok(())));
                if row.first_failure_at.is_some() {
                    self.late.push((row, now));
                    self.late_last = std::time::Instant::now();
                }
            }
            Err(failure) => {
                let permanent = failure.is_permanent();
                let e = failure.to_string();
                super::Metrics::count(&self.shared.metrics.failed, &kind);
                let since = row.first_failure_at.unwrap_or(now);
                let warn_after = self.shared.sinks().warn_after(&row.kind);
                if now - since >= warn_after {
                    tracing::error!(key = %row.key, error = %e, since = %since, warn_after = %humantime::format_duration(warn_after.to_std().unwrap_or_default()), "delivery has failed for longer than its sink's warn_after; still retrying");
                } else {
                    tracing::warn!(key = %row.key, error = %e, attempt = row.attempts + 1, "delivery failed; will retry");
                }
                let next = if permanent {
                    now + Duration::minutes(5)
                } else {
                    now + backoff(row.attempts)
                };
                self.held.results.push((row.key, Err((e, next))));
            }
        }
    }

    /// At the end: ops hears about notices that went out late (queued like any action), and
    /// what could not be recorded is said.
    fn finish(mut self) {
        let late = std::mem::take(&mut self.late);
        self.held.late.extend(late_warnings(&self.shared, late));
        if !self.held.flush(&self.shared) {
            tracing::error!(
                results = self.held.results.len(),
                "stopping with results the store could not record; those messages will be sent again after their backoff, with the same Message-ID"
            );
        }
    }
}

/// The dispatcher task: until `stop`, while leading, claims, delivers and records.
pub(crate) async fn run(shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    let mut role = shared.role.subscribe();
    let mut d = Dispatcher {
        shared,
        stop,
        held: Unrecorded::default(),
        late: Vec::new(),
        late_last: std::time::Instant::now(),
        store_wait: std::time::Duration::from_secs(1),
        last_upkeep: std::time::Instant::now() - std::time::Duration::from_secs(3600),
    };
    loop {
        if !d.shared.role.leading() {
            d.step_down();
            if d.stopping() {
                break;
            }
            let mut stop = d.stop.clone();
            tokio::select! {
                _ = role.changed() => {}
                _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        d.upkeep().await;
        if d.stopping() {
            break;
        }
        let Some(rows) = d.claim().await else {
            continue;
        };
        d.shared.refresh_stats();
        if rows.is_empty() {
            // Nothing of the routine's is due: the subscriber lane may send (SPEC §4.17).
            d.shared.subscribers.routine_idle();
            d.idle().await;
            continue;
        }
        d.shared.subscribers.routine_busy();
        d.deliver_all(rows).await;
    }
    d.finish();
}
