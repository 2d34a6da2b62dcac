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
use crate::config::MailTransport;
use crate::engine::model::{
    Action, ActionBody, DeliveryView, LateItem, Ops, OpsKind, OpsReason, Time,
};
use crate::sinks::email::{self, SmtpSecurity, SmtpSettings, Transport};
use crate::store::OutboxRow;
use chrono::{Duration, Utc};
use std::sync::Arc;
use tokio::sync::watch;

const IN_FLIGHT: usize = 8;

/// How long the dispatcher waits for more late deliveries of an outage before it queues the
/// one warning that names them all.
const LATE_QUIET: std::time::Duration = std::time::Duration::from_secs(2);

/// Split due rows into waves of at most `IN_FLIGHT`, keeping the order of rows that share a
/// recipient.
fn waves(rows: Vec<OutboxRow>) -> Vec<Vec<OutboxRow>> {
    let mut waves: Vec<Vec<OutboxRow>> = Vec::new();
    let mut last_wave: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for row in rows {
        let who = recipients(&row);
        let mut w = who
            .iter()
            .filter_map(|r| last_wave.get(r))
            .map(|w| w + 1)
            .max()
            .unwrap_or(0);
        while waves.get(w).is_some_and(|v| v.len() >= IN_FLIGHT) {
            w += 1;
        }
        if waves.len() <= w {
            waves.resize_with(w + 1, Vec::new);
        }
        for r in who {
            last_wave.insert(r, w);
        }
        waves[w].push(row);
    }
    waves
}

fn recipients(row: &OutboxRow) -> Vec<String> {
    match &row.action.body {
        ActionBody::Email(e) => e.to.iter().chain(e.cc.iter()).cloned().collect(),
        ActionBody::Ops(o) => o.to.clone(),
        _ => vec![row.action.about.key_prefix()],
    }
}

/// The ops warning for a message that went out only after failing for `warn_after`.
fn delayed_warning(shared: &Shared, row: &OutboxRow, now: chrono::DateTime<Utc>) -> Option<Action> {
    let since = row.first_failure_at?;
    let cfg = shared.cfg();
    if now - since < cfg.daemon.delivery_warn_after {
        return None;
    }
    let to = match &row.action.body {
        ActionBody::Email(e) => e.to.clone(),
        ActionBody::Ops(o) if o.reason == OpsReason::DeliveryDelayed => return None,
        ActionBody::Ops(o) => o.to.clone(),
        _ => vec![],
    };
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
            message: OpsKind::Warning,
            reason: OpsReason::DeliveryDelayed,
            to: cfg.self_.ops.clone(),
            incident: None,
            maintenance: None,
            inquiry: None,
            delivery: Some(DeliveryView {
                key: row.key.clone(),
                to,
                failing_since: since,
                delivered_at: now,
                last_error: row.last_error.clone(),
                also: vec![],
            }),
        })),
    })
}

pub fn backoff(attempts: i64) -> Duration {
    let secs = 5i64.saturating_mul(1i64 << attempts.clamp(0, 10)).min(300);
    Duration::seconds(secs)
}

fn transport(shared: &Shared) -> Result<Transport, String> {
    let cfg = shared.cfg();
    match &cfg.daemon.mail {
        MailTransport::Files => Ok(Transport::Files(cfg.daemon.state_dir.join("mail"))),
        MailTransport::Smtp {
            host,
            port,
            security,
            username,
            password_file,
            password_env,
            timeout,
        } => {
            let password = match (password_file, password_env) {
                (Some(f), _) => Some(
                    std::fs::read_to_string(f)
                        .map_err(|e| format!("SMTP password file {}: {e}", f.display()))?
                        .trim()
                        .to_string(),
                ),
                (None, Some(var)) => Some(std::env::var(var).map_err(|_| {
                    format!("SMTP password: environment variable {var} is not set")
                })?),
                (None, None) => None,
            };
            Transport::smtp(&SmtpSettings {
                host: host.clone(),
                port: *port,
                security: match security.as_str() {
                    "tls" => SmtpSecurity::Tls,
                    "none" => SmtpSecurity::None,
                    _ => SmtpSecurity::StartTls,
                },
                username: username.clone(),
                password,
                timeout: timeout
                    .to_std()
                    .unwrap_or(std::time::Duration::from_secs(30)),
            })
        }
    }
}

fn kind_label(row: &OutboxRow) -> String {
    match &row.action.body {
        ActionBody::Email(e) => e.message.as_str().to_string(),
        ActionBody::Ops(o) => format!("ops.{}", o.message.as_str()),
        ActionBody::Statuspage(s) => format!("statuspage.{}", s.message.as_str()),
        ActionBody::Silence(s) => format!("silence.{}", s.message),
    }
}

async fn deliver(shared: &Shared, t: &Transport, row: &OutboxRow) -> Result<(), (bool, String)> {
    let cfg = shared.cfg();
    let r = shared.renderer();
    match &row.action.body {
        ActionBody::Email(_) | ActionBody::Ops(_) => {
            let m = match email::build(&cfg, &r, &row.action) {
                Ok(Some(m)) => m,
                Ok(None) => return Ok(()),
                Err(e) => return Err((e.permanent(), e.to_string())),
            };
            email::send(t, &row.key, &m)
                .await
                .map_err(|e| (e.permanent(), e.to_string()))
        }
        ActionBody::Statuspage(_) if shared.statuspage.is_some() => {
            let Some(sp) = shared.statuspage.as_ref() else {
                return Ok(());
            };
            sp.deliver(&cfg, &r, shared, &row.action, row.attempts)
                .await
                .map_err(|f| match f {
                    crate::sinks::statuspage::Failure::Transient(e) => (false, e),
                    crate::sinks::statuspage::Failure::Permanent(e) => (true, e),
                })
        }
        ActionBody::Silence(_) if shared.silencer.is_some() => {
            let Some(s) = shared.silencer.as_ref() else {
                return Ok(());
            };
            s.deliver(&cfg, shared, &row.action)
                .await
                .map_err(|e| (false, e))
        }
        ActionBody::Statuspage(_) | ActionBody::Silence(_) => {
            tracing::info!(key = %row.key, "no sink configured for this action yet; recorded as done");
            Ok(())
        }
    }
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
            let mut store = shared.store();
            store
                .commit(&[], &self.late)
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
    out
}

async fn pause(stop: &watch::Receiver<bool>, d: std::time::Duration) {
    let mut stop = stop.clone();
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = stop.changed() => {}
    }
}

pub async fn run(shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    let mut transport_cache: Option<(String, Arc<Transport>)> = None;
    let mut last_extend = std::time::Instant::now() - std::time::Duration::from_secs(3600);
    let mut held = Unrecorded::default();
    // Messages delivered late, gathered until no more have come for `LATE_QUIET`: the retries
    // of one fan-out fall due milliseconds apart and go out in several passes, and ops should
    // get one warning naming all of them.
    let mut late: Vec<(OutboxRow, Time)> = Vec::new();
    let mut late_last = std::time::Instant::now();
    // Backoff for a store that cannot be written: 1 s doubling to 30 s.
    let mut store_wait = std::time::Duration::from_secs(1);
    loop {
        // Keep escalation silences alive (about once a minute).
        if last_extend.elapsed() >= std::time::Duration::from_secs(60) {
            last_extend = std::time::Instant::now();
            if let Some(s) = shared.silencer.as_ref() {
                s.extend(shared.as_ref()).await;
            }
        }
        if *stop.borrow() {
            break;
        }
        if !late.is_empty() && late_last.elapsed() >= LATE_QUIET {
            held.late
                .extend(late_warnings(&shared, std::mem::take(&mut late)));
        }
        // Fail safe: while the store cannot be written, nothing new is claimed or sent.
        if !held.flush(&shared) {
            pause(&stop, store_wait).await;
            store_wait = (store_wait * 2).min(std::time::Duration::from_secs(30));
            continue;
        }
        let now = crate::clock::now();
        let claimed = shared.store().claim(now, 100, backoff);
        let rows = match claimed {
            Ok(r) => {
                shared.store_ok(Writer::Dispatcher);
                store_wait = std::time::Duration::from_secs(1);
                r
            }
            Err(e) => {
                shared.store_failed(Writer::Dispatcher, &e);
                pause(&stop, store_wait).await;
                store_wait = (store_wait * 2).min(std::time::Duration::from_secs(30));
                continue;
            }
        };
        shared.refresh_stats();
        if rows.is_empty() {
            let next = shared.store().next_due().ok().flatten();
            let wait = next
                .map(|t| (t - crate::clock::now()).to_std().unwrap_or_default())
                .unwrap_or(std::time::Duration::from_secs(30))
                .min(std::time::Duration::from_secs(30))
                .min(crate::clock::max_sleep());
            let wait = if late.is_empty() {
                wait
            } else {
                wait.min(LATE_QUIET.saturating_sub(late_last.elapsed()))
            };
            let mut stop2 = stop.clone();
            tokio::select! {
                _ = shared.wake_dispatcher.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = stop2.changed() => {}
            }
            continue;
        }
        // One transport (and so one pooled SMTP connection) per configuration.
        let sig = format!("{:?}", shared.cfg().daemon.mail);
        if transport_cache.as_ref().is_none_or(|(s, _)| *s != sig) {
            match transport(&shared) {
                Ok(t) => transport_cache = Some((sig, Arc::new(t))),
                Err(e) => {
                    tracing::error!(error = %e, "mail transport unavailable");
                    held.results.extend(
                        rows.into_iter()
                            .map(|r| (r.key, Err((e.clone(), now + backoff(r.attempts))))),
                    );
                    continue;
                }
            }
        }
        let Some((_, t)) = transport_cache.as_ref() else {
            continue;
        };
        let warn_after = shared.cfg().daemon.delivery_warn_after;
        // Up to IN_FLIGHT messages at once (lettre's pool holds the connections; lettre does
        // not set TCP_NODELAY, so each SMTP exchange waits ~40 ms on delayed ACKs, and
        // concurrency is what makes a 65-organization fan-out fast). Order per recipient is
        // kept: a row goes one wave after the latest earlier row to the same recipients.
        for wave in waves(rows) {
            let mut set = tokio::task::JoinSet::new();
            for row in wave {
                let shared = Arc::clone(&shared);
                let t = Arc::clone(t);
                set.spawn(async move {
                    let r = deliver(&shared, &t, &row).await;
                    (row, r)
                });
            }
            while let Some(joined) = set.join_next().await {
                let Ok((row, result)) = joined else { continue };
                let kind = kind_label(&row);
                let now = crate::clock::now();
                match result {
                    Ok(()) => {
                        super::Metrics::count(&shared.metrics.sent, &kind);
                        tracing::info!(key = %row.key, kind = %kind, "delivered");
                        held.results.push((row.key.clone(), Ok(())));
                        if row.first_failure_at.is_some() {
                            late.push((row, now));
                            late_last = std::time::Instant::now();
                        }
                    }
                    Err((permanent, e)) => {
                        super::Metrics::count(&shared.metrics.failed, &kind);
                        let since = row.first_failure_at.unwrap_or(now);
                        if now - since >= warn_after {
                            tracing::error!(key = %row.key, error = %e, since = %since, warn_after = %humantime::format_duration(warn_after.to_std().unwrap_or_default()), "delivery has failed for longer than smtp.warn_after; still retrying");
                        } else {
                            tracing::warn!(key = %row.key, error = %e, attempt = row.attempts + 1, "delivery failed; will retry");
                        }
                        let next = if permanent {
                            now + Duration::minutes(5)
                        } else {
                            now + backoff(row.attempts)
                        };
                        held.results.push((row.key, Err((e, next))));
                    }
                }
            }
            // Record the wave at once; if the store fails, the results stay held (and the rows
            // stay backed off by their claim) until it can be written.
            held.flush(&shared);
            // Finish the wave in hand, then stop (SIGTERM drains in-flight sends).
            if *stop.borrow() {
                break;
            }
        }
        held.flush(&shared);
        shared.refresh_stats();
    }
    // Ops hears by mail about notices that went out late (queued like any action).
    held.late.extend(late_warnings(&shared, late));
    if !held.flush(&shared) {
        tracing::error!(
            results = held.results.len(),
            "stopping with results the store could not record; those messages will be sent again after their backoff, with the same Message-ID"
        );
    }
}
