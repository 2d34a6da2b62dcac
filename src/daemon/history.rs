//! A case's page in the API (SPEC §5.8): what the engine knows of it (live, or what history
//! kept) and its timeline from the store: each accepted event (when, from where, by whom) and
//! each decided action with its recipients and delivery state.

use super::app::{ask, err, App};
use super::engine_task::Query;
use crate::engine::model::About;
use crate::store::TimelineEntry;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// One timeline line as the API shows it: recipients and state, not the action's internals.
pub(crate) fn entry_json(e: &TimelineEntry) -> Value {
    match e {
        TimelineEntry::Event { at, ty, origin, by } => json!({
            "at": at, "entry": "event", "type": ty, "origin": origin, "by": by,
        }),
        TimelineEntry::Action(a) => {
            let p = a.action.parts();
            let (kind, message, to, cc, org) = (p.kind, p.message, p.to, p.cc, p.org);
            json!({
                "at": a.at, "entry": "action", "key": a.key, "sink": a.sink, "action": kind,
                "message": message, "org": org, "to": to, "cc": cc, "state": a.state,
                "attempts": a.attempts, "sent_at": a.sent_at,
                "first_failure_at": a.first_failure_at, "last_error": a.last_error,
                "bounced_at": a.bounced_at,
            })
        }
    }
}

/// A retired case's facts as its last decided action carried them (every e-mail, status-page
/// post and ops note holds a snapshot of its case): kind, category, priority, organizations, …
pub(crate) fn fill_from_last_action(v: &mut Value, timeline: &[TimelineEntry]) {
    let view = timeline.iter().rev().find_map(|e| match e {
        TimelineEntry::Action(a) => a.action.case_view(),
        TimelineEntry::Event { .. } => None,
    });
    if let (Some(Value::Object(view)), Some(o)) = (view, v.as_object_mut()) {
        for (k, x) in view {
            o.entry(k).or_insert(x);
        }
    }
}

async fn show(app: &App, about: About) -> Response {
    let case = match ask(app, |tx| Query::Case(about.clone(), tx)).await {
        Ok(c) => c,
        Err(e) => return err(e.status, e.message),
    };
    let shared = std::sync::Arc::clone(&app.shared);
    let key = about.key_prefix();
    let timeline = tokio::task::spawn_blocking(move || shared.store().timeline(&key)).await;
    let timeline = match timeline {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => return err(503, format!("the timeline could not be read: {e}")),
        Err(_) => return err(503, "the timeline could not be read"),
    };
    if case.is_none() && timeline.is_empty() {
        return err(404, "not found");
    }
    let mut v = case.unwrap_or_else(|| json!({ "id": about.id(), "retired": true }));
    if v["retired"] == true {
        fill_from_last_action(&mut v, &timeline);
    }
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "timeline".into(),
            Value::Array(timeline.iter().map(entry_json).collect()),
        );
    }
    Json(v).into_response()
}

/// `GET` of one case: `make` turns the path's id into the case (incident, maintenance,
/// inquiry).
pub(crate) fn route(make: fn(String) -> About) -> axum::routing::MethodRouter<App> {
    axum::routing::get(
        move |State(app): State<App>, Path(id): Path<String>| async move { show(&app, make(id)).await },
    )
}
