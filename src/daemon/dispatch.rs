//! The outbox dispatcher: sends due actions, marks them done, retries failures with
//! exponential backoff (5 s doubling, at most 5 min). A message failing for 10 minutes is
//! logged as an error and counted in `/metrics` (`meldingsvakt_outbox_failing_10m`).
//! Status-page and silence actions have no sink yet (issues #4 and #5): they are recorded as
//! done with a log line, so the outbox does not grow.

use super::Shared;
use crate::config::MailTransport;
use crate::engine::model::{Action, ActionBody, DeliveryView, Ops, OpsKind, OpsReason};
use crate::sinks::email::{self, SmtpSecurity, SmtpSettings, Transport};
use crate::store::OutboxRow;
use chrono::{Duration, Utc};
use std::sync::Arc;
use tokio::sync::watch;

const IN_FLIGHT: usize = 8;

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
        _ => vec![row.key.split('/').next().unwrap_or("").to_string()],
    }
}

fn about_id(a: &crate::engine::model::About) -> &str {
    match a {
        crate::engine::model::About::Incident(i)
        | crate::engine::model::About::Maintenance(i)
        | crate::engine::model::About::Inquiry(i) => i,
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
            about_id(&row.action.about),
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

pub async fn run(shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    let mut transport_cache: Option<(String, Arc<Transport>)> = None;
    let mut last_extend = std::time::Instant::now() - std::time::Duration::from_secs(3600);
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
        let now = crate::clock::now();
        let due = shared.store().due(now, 100);
        let rows = match due {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the outbox");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        if rows.is_empty() {
            let next = shared.store().next_due().ok().flatten();
            let wait = next
                .map(|t| (t - crate::clock::now()).to_std().unwrap_or_default())
                .unwrap_or(std::time::Duration::from_secs(30))
                .min(std::time::Duration::from_secs(30))
                .min(crate::clock::max_sleep());
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
                    for row in &rows {
                        let _ = shared.store().mark_failed(
                            &row.key,
                            now,
                            &e,
                            now + backoff(row.attempts),
                        );
                    }
                    continue;
                }
            }
        }
        let Some((_, t)) = transport_cache.as_ref() else {
            continue;
        };
        let mut failing_10m = 0;
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
            let mut results = Vec::new();
            let mut late = Vec::new();
            while let Some(joined) = set.join_next().await {
                let Ok((row, result)) = joined else { continue };
                let kind = kind_label(&row);
                let now = crate::clock::now();
                match result {
                    Ok(()) => {
                        super::Metrics::count(&shared.metrics.sent, &kind);
                        tracing::info!(key = %row.key, kind = %kind, "delivered");
                        if let Some(a) = delayed_warning(&shared, &row, now) {
                            late.push(a);
                        }
                        results.push((row.key, Ok(())));
                    }
                    Err((permanent, e)) => {
                        super::Metrics::count(&shared.metrics.failed, &kind);
                        let since = row.first_failure_at.unwrap_or(now);
                        if now - since >= shared.cfg().daemon.delivery_warn_after {
                            failing_10m += 1;
                            tracing::error!(key = %row.key, error = %e, since = %since, "delivery has failed for 10 minutes or more; still retrying");
                        } else {
                            tracing::warn!(key = %row.key, error = %e, attempt = row.attempts + 1, "delivery failed; will retry");
                        }
                        let next = if permanent {
                            now + Duration::minutes(5)
                        } else {
                            now + backoff(row.attempts)
                        };
                        results.push((row.key, Err((e, next))));
                    }
                }
            }
            // Ops hears by mail about notices that went out late (queued like any action).
            if !late.is_empty() {
                let queued = shared.store().commit(&[], &late);
                if let Err(e) = queued {
                    tracing::error!(error = %e, "cannot queue the late-delivery warning");
                }
            }
            let marked = shared.store().mark_many(crate::clock::now(), &results);
            if let Err(e) = marked {
                tracing::error!(error = %e, "results not recorded; those messages will be resent with the same Message-ID");
            }
            // Finish the wave in hand, then stop (SIGTERM drains in-flight sends).
            if *stop.borrow() {
                break;
            }
        }
        shared
            .metrics
            .failing_over_10m
            .store(failing_10m, std::sync::atomic::Ordering::Relaxed);
    }
}
