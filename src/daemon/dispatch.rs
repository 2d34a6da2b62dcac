//! The outbox dispatcher: sends due actions, marks them done, retries failures with
//! exponential backoff (5 s doubling, at most 5 min). A message failing for 10 minutes is
//! logged as an error and counted in `/metrics` (`meldingsvakt_outbox_failing_10m`).
//! Status-page and silence actions have no sink yet (issues #4 and #5): they are recorded as
//! done with a log line, so the outbox does not grow.

use super::Shared;
use crate::config::MailTransport;
use crate::engine::model::ActionBody;
use crate::sinks::email::{self, SmtpSecurity, SmtpSettings, Transport};
use crate::store::OutboxRow;
use chrono::{Duration, Utc};
use std::sync::Arc;
use tokio::sync::watch;

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
        ActionBody::Statuspage(_) | ActionBody::Silence(_) => {
            tracing::info!(key = %row.key, "no sink configured for this action yet; recorded as done");
            Ok(())
        }
    }
}

pub async fn run(shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    let mut transport_cache: Option<(String, Transport)> = None;
    loop {
        if *stop.borrow() {
            break;
        }
        let now = Utc::now();
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
                .map(|t| (t - Utc::now()).to_std().unwrap_or_default())
                .unwrap_or(std::time::Duration::from_secs(30))
                .min(std::time::Duration::from_secs(30));
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
                Ok(t) => transport_cache = Some((sig, t)),
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
        for row in rows {
            // Finish the message in hand, then stop (SIGTERM drains in-flight sends).
            let kind = kind_label(&row);
            let result = deliver(&shared, t, &row).await;
            let now = Utc::now();
            match result {
                Ok(()) => {
                    if let Err(e) = shared.store().mark_done(&row.key, now) {
                        tracing::error!(key = %row.key, error = %e, "sent but not marked done; it will be resent with the same Message-ID");
                    }
                    super::Metrics::count(&shared.metrics.sent, &kind);
                    tracing::info!(key = %row.key, kind = %kind, "delivered");
                }
                Err((permanent, e)) => {
                    super::Metrics::count(&shared.metrics.failed, &kind);
                    let since = row.first_failure_at.unwrap_or(now);
                    if now - since >= Duration::minutes(10) {
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
                    let _ = shared.store().mark_failed(&row.key, now, &e, next);
                }
            }
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
