//! `/healthz` and `/metrics` (SPEC §6): what the daemon says of itself, served from memory so
//! that a locked store cannot make either hang.

use super::app::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Honest health (SPEC §6): 503 with the reason while the store cannot be written (sending is
/// paused then). Served from memory, so a locked store cannot make it hang.
pub(super) async fn healthz(State(app): State<App>) -> Response {
    let role = &app.shared.role;
    let h = app.shared.health();
    let stats = json!({ "outbox_pending": h.stats.pending, "outbox_failing": h.stats.failing,
        "role": role.name(), "epoch": role.epoch() });
    if let Some((who, (since, why))) = h.store_failing.iter().next() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "store-failing",
                "error": format!("the state database cannot be written ({who:?}): {why}; sending is paused"),
                "since": since.to_rfc3339(),
                "outbox_pending": h.stats.pending,
                "outbox_failing": h.stats.failing,
                "role": role.name(),
            })),
        )
            .into_response();
    }
    let mut v = stats;
    v["status"] = json!("ok");
    let through = app
        .shared
        .metrics
        .decided_through_ms
        .load(std::sync::atomic::Ordering::Relaxed);
    if let Some(t) = chrono::DateTime::from_timestamp_millis(through).filter(|_| through > 0) {
        v["decided_through"] = json!(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    }
    Json(v).into_response()
}

pub(super) async fn metrics(State(app): State<App>) -> Response {
    use std::fmt::Write;
    use std::sync::atomic::Ordering::Relaxed;
    let m = &app.shared.metrics;
    let mut s = String::new();
    let _ = writeln!(s, "# HELP meldingsvakt_messages_sent_total Actions delivered, by kind.\n# TYPE meldingsvakt_messages_sent_total counter");
    for (k, v) in m.sent.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        let _ = writeln!(s, "meldingsvakt_messages_sent_total{{kind=\"{k}\"}} {v}");
    }
    let _ = writeln!(s, "# HELP meldingsvakt_messages_failed_total Failed delivery attempts, by kind.\n# TYPE meldingsvakt_messages_failed_total counter");
    for (k, v) in m.failed.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        let _ = writeln!(s, "meldingsvakt_messages_failed_total{{kind=\"{k}\"}} {v}");
    }
    let now = crate::clock::now();
    let (st, store_failing) = {
        let h = app.shared.health();
        (h.stats.clone(), !h.store_failing.is_empty())
    };
    {
        let _ = writeln!(s, "# HELP meldingsvakt_outbox_pending Decided actions not yet delivered.\n# TYPE meldingsvakt_outbox_pending gauge\nmeldingsvakt_outbox_pending {}", st.pending);
        let age = st
            .oldest_pending
            .map(|t| (now - t).num_milliseconds() as f64 / 1000.0)
            .unwrap_or(0.0)
            .max(0.0);
        let _ = writeln!(s, "# HELP meldingsvakt_outbox_oldest_pending_seconds Age of the oldest undelivered action.\n# TYPE meldingsvakt_outbox_oldest_pending_seconds gauge\nmeldingsvakt_outbox_oldest_pending_seconds {age}");
        let _ = writeln!(s, "# HELP meldingsvakt_outbox_failing Undelivered actions with at least one failed attempt.\n# TYPE meldingsvakt_outbox_failing gauge\nmeldingsvakt_outbox_failing {}", st.failing);
    }
    let _ = writeln!(s, "# HELP meldingsvakt_outbox_failing_10m Undelivered actions failing for longer than smtp.warn_after (default 10 minutes).\n# TYPE meldingsvakt_outbox_failing_10m gauge\nmeldingsvakt_outbox_failing_10m {}", st.failing_long);
    let _ = writeln!(s, "# HELP meldingsvakt_store_failing 1 while the state database cannot be written (sending paused).\n# TYPE meldingsvakt_store_failing gauge\nmeldingsvakt_store_failing {}", store_failing as u8);
    let _ = writeln!(s, "# HELP meldingsvakt_open_incidents Open incidents.\n# TYPE meldingsvakt_open_incidents gauge\nmeldingsvakt_open_incidents {}", m.open_incidents.load(Relaxed));
    let _ = writeln!(s, "# HELP meldingsvakt_deadline_lag_seconds Delay between the last deadline and its handling.\n# TYPE meldingsvakt_deadline_lag_seconds gauge\nmeldingsvakt_deadline_lag_seconds {}", m.deadline_lag_ms.load(Relaxed) as f64 / 1000.0);
    {
        let role = &app.shared.role;
        let _ = writeln!(s, "# HELP meldingsvakt_leader 1 while this host leads (runs the rules and sends), 0 on a standby.\n# TYPE meldingsvakt_leader gauge\nmeldingsvakt_leader {}", role.leading() as u8);
        let _ = writeln!(s, "# HELP meldingsvakt_role This host's role (SPEC §5.7).\n# TYPE meldingsvakt_role gauge\nmeldingsvakt_role{{role=\"{}\"}} 1", role.name());
        let _ = writeln!(s, "# HELP meldingsvakt_leader_epoch The leadership epoch this host holds (0: standby or a single host).\n# TYPE meldingsvakt_leader_epoch gauge\nmeldingsvakt_leader_epoch {}", role.epoch());
    }
    let _ = writeln!(s, "# HELP meldingsvakt_directory_unanswered Organizations that have not confirmed their contacts after the reminder (SPEC §4.16).\n# TYPE meldingsvakt_directory_unanswered gauge\nmeldingsvakt_directory_unanswered {}", m.directory_unanswered.load(Relaxed));
    let _ = writeln!(s, "# HELP meldingsvakt_subscriber_mail_queued Subscriber mails waiting in their own queue (SPEC §4.17), including maintenance starts and ends not yet due.\n# TYPE meldingsvakt_subscriber_mail_queued gauge\nmeldingsvakt_subscriber_mail_queued {}", app.shared.subscribers.queued.load(Relaxed));
    let _ = writeln!(s, "# HELP meldingsvakt_subscriber_mail_sent_total Subscriber mails accepted by the mail server since the start.\n# TYPE meldingsvakt_subscriber_mail_sent_total counter\nmeldingsvakt_subscriber_mail_sent_total {}", app.shared.subscribers.sent.load(Relaxed));
    let _ = writeln!(s, "# HELP meldingsvakt_directory_pending_addresses Proposed meldingsansvarlig addresses waiting for their own confirmation.\n# TYPE meldingsvakt_directory_pending_addresses gauge\nmeldingsvakt_directory_pending_addresses {}", m.directory_pending.load(Relaxed));
    let _ = writeln!(s, "# HELP meldingsvakt_events_total Events accepted.\n# TYPE meldingsvakt_events_total counter\nmeldingsvakt_events_total {}", m.events.load(Relaxed));
    let _ = writeln!(s, "# HELP meldingsvakt_events_refused_total Events refused by the rules.\n# TYPE meldingsvakt_events_refused_total counter\nmeldingsvakt_events_refused_total {}", m.refused.load(Relaxed));
    let _ = writeln!(s, "# HELP meldingsvakt_alerts_redacted_total Alerts applied with a personal number removed.\n# TYPE meldingsvakt_alerts_redacted_total counter\nmeldingsvakt_alerts_redacted_total {}", m.alerts_redacted.load(Relaxed));
    let _ = writeln!(s, "# HELP meldingsvakt_break_glass_uses_total Uses of the shared operator token (break-glass), in the API and at the console's sign-in.\n# TYPE meldingsvakt_break_glass_uses_total counter\nmeldingsvakt_break_glass_uses_total {}", m.break_glass.load(Relaxed));
    let _ = writeln!(s, "# HELP meldingsvakt_sign_ins_refused_total Sign-ins refused (wrong operator token, an OIDC answer that failed a check, no role, a revoked or expired personal token).\n# TYPE meldingsvakt_sign_ins_refused_total counter\nmeldingsvakt_sign_ins_refused_total {}", m.sign_ins_refused.load(Relaxed));
    let _ = writeln!(s, "# HELP meldingsvakt_alerts_unusable_total Alerts that could not be used (the rest of their batch was applied).\n# TYPE meldingsvakt_alerts_unusable_total counter\nmeldingsvakt_alerts_unusable_total {}", m.alerts_unusable.load(Relaxed));
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s,
    )
        .into_response()
}
