//! HTTP (SPEC §5.4), axum. Every mutating endpoint needs a bearer token of the right kind:
//! the alert token for `POST /api/v1/alerts`, the operator token for the operator API
//! (401 without a token, 403 with the other kind). Bad input gets a JSON error naming the
//! field and changes nothing; bodies over `http.max_body` are refused (413).

use super::access::Caller;
use super::app::{ask, authorize_alert, err, ApiError, App};
use super::engine_task::{Cmd, Query, Rejected};
use super::health::{healthz, metrics};
use super::Shared;
use crate::engine::events::Input;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Parse a request body (an empty one is `{}`). The guard runs once, over the whole input, at
/// the door (`Input::parse`), before any other check could quote a value back (SPEC §4.12).
fn parse_json(body: &Bytes) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::new(400, format!("invalid JSON: {e}")))
}

/// An operator's event through the door (`Input::parse`: guard, parse, id rule), done by the
/// request's caller (`access::Caller`: a person's token, or the break-glass key under the
/// name the request gives), then to the engine task.
async fn send(app: &App, caller: &Caller, ty: &str, v: &Value) -> Result<usize, ApiError> {
    let input = Input::parse(ty, v).map_err(|refusal| Rejected::Refused {
        index: None,
        refusal,
    })?;
    let mut actor = caller.0.clone();
    // The break-glass key names nobody: the request's `by` says who used it.
    if actor.role == crate::audit::Role::BreakGlass {
        if let Some(by) = input.log.by.as_deref() {
            actor.who = by.to_string();
        }
    }
    super::app::apply(app, input.by(actor))
        .await
        .map_err(ApiError::from)
}

fn api_result(r: Result<usize, ApiError>, ok: Value, created: bool) -> Response {
    match r {
        Ok(_) => {
            let code = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (code, Json(ok)).into_response()
        }
        Err(e) => err(e.status, e.message),
    }
}

/// The Alertmanager webhook (SPEC §4.12): 4xx only for a wrong token or a body that cannot
/// be read. Every alert goes through the alert door (`sources::alertmanager::door`: numbers in shown fields
/// redacted, an ancient start moved to the horizon) and is applied on its own, so one alert
/// that cannot be used never costs the others; it is logged, counted and reported to ops.
/// 503 (Alertmanager retries the batch; applied alerts are idempotent) only when the store or
/// the leader cannot take them.
async fn alerts(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(e) = authorize_alert(&app, &headers) {
        return err(e.status, e.message);
    }
    let list = match crate::sources::alertmanager::alerts(&body) {
        Ok(list) => list,
        Err(e) => return err(400, e.to_string()),
    };
    let now = crate::clock::now();
    let mut waiting = Vec::new();
    let mut unusable: Vec<(usize, String)> = Vec::new();
    let mut redacted: Vec<(usize, Vec<String>)> = Vec::new();
    for (i, raw) in list.iter().enumerate() {
        let door = crate::sources::alertmanager::door(raw, now);
        if !door.redacted.is_empty() {
            redacted.push((i, door.redacted));
        }
        match door.input {
            Ok(input) => {
                let (reply, rx) = oneshot::channel();
                let cmd = Cmd::Events {
                    events: vec![input],
                    reply,
                };
                if app.tx.send(cmd).await.is_err() {
                    return err(503, "shutting down");
                }
                waiting.push((i, rx));
            }
            Err(refusal) => unusable.push((i, refusal.to_string())),
        }
    }
    let mut accepted = 0usize;
    for (i, rx) in waiting {
        match rx.await {
            Ok(Ok(_)) => accepted += 1,
            Ok(Err(Rejected::Refused { refusal, .. })) => unusable.push((i, refusal.to_string())),
            Ok(Err(Rejected::Unavailable(m))) => return err(503, m),
            Err(_) => return err(503, "shutting down"),
        }
    }
    unusable.sort();
    report_alert_issues(&app.shared, &list, &redacted, &unusable, now);
    let skipped: Vec<Value> = unusable
        .iter()
        .map(|(i, e)| json!({ "index": i, "error": e }))
        .collect();
    let removed: Vec<Value> = redacted
        .iter()
        .map(|(i, f)| json!({ "index": i, "fields": f }))
        .collect();
    (
        StatusCode::OK,
        Json(json!({ "accepted": accepted, "skipped": skipped, "redacted": removed })),
    )
        .into_response()
}

/// Log, count and tell ops (one mail per alert and issue: the outbox key is the alert's
/// identity, so the same alert firing again is not reported again) about alerts that were
/// redacted or could not be used. Field paths and reasons only, never a removed value.
fn report_alert_issues(
    shared: &Shared,
    list: &[Value],
    redacted: &[(usize, Vec<String>)],
    unusable: &[(usize, String)],
    now: crate::engine::model::Time,
) {
    use crate::engine::model::{
        About, Action, ActionBody, AlertIssueView, Ops, OpsKind, OpsReason,
    };
    use std::sync::atomic::Ordering::Relaxed;
    if redacted.is_empty() && unusable.is_empty() {
        return;
    }
    let cfg = shared.cfg();
    let labels = |i: usize, key: &str| -> Option<String> {
        let v = list.get(i)?.get("labels")?.get(key)?.as_str()?;
        Some(crate::engine::guard::redact(v).unwrap_or_else(|| v.to_string()))
    };
    // The alert's identity: Alertmanager's fingerprint, else its labels.
    let identity = |i: usize| -> String {
        let a = list.get(i);
        let basis = a
            .and_then(|a| a.get("fingerprint"))
            .and_then(|f| f.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| {
                a.and_then(|a| a.get("labels"))
                    .map(|l| l.to_string())
                    .unwrap_or_default()
            });
        let d = ring::digest::digest(&ring::digest::SHA256, basis.as_bytes());
        d.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect()
    };
    let mut actions = Vec::new();
    let mut issue = |i: usize, reason: OpsReason, fields: Vec<String>, why: Option<String>| {
        let name = labels(i, "alertname").unwrap_or_else(|| "(uten navn)".into());
        let org = labels(i, &cfg.labels.org);
        let id = identity(i);
        actions.push(Action {
            at: now,
            key: format!("alert-{id}/ops/{}", reason.as_str()),
            about: About::Incident(format!("alert-{id}")),
            body: ActionBody::Ops(Box::new(Ops {
                alert: Some(AlertIssueView {
                    name,
                    org,
                    fields,
                    reason: why,
                }),
                ..Ops::new(OpsKind::Warning, reason, cfg.self_.ops.clone())
            })),
        });
    };
    for (i, fields) in redacted {
        shared.metrics.alerts_redacted.fetch_add(1, Relaxed);
        tracing::warn!(alert = i, fields = ?fields, "alert carried a personal number; it was replaced by [fjernet] before anything was stored");
        issue(*i, OpsReason::AlertRedacted, fields.clone(), None);
    }
    for (i, why) in unusable {
        shared.metrics.alerts_unusable.fetch_add(1, Relaxed);
        tracing::warn!(alert = i, reason = %why, "alert could not be used; the rest of its batch was applied");
        issue(*i, OpsReason::AlertUnusable, Vec::new(), Some(why.clone()));
    }
    match shared.commit(&[], &actions) {
        Ok(n) if n > 0 => shared.wake_routine(),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "cannot queue the ops warning about alerts"),
    }
}

/// An operator event: the path's id (if any) goes into the body as `id`.
async fn operator_event(
    app: &App,
    caller: &Caller,
    ty: &str,
    id: Option<String>,
    body: &Bytes,
    created: bool,
) -> Response {
    let mut v = match parse_json(body) {
        Ok(v) => v,
        Err(e) => return err(e.status, e.message),
    };
    let Some(obj) = v.as_object_mut() else {
        return err(400, "the body must be a JSON object");
    };
    if let Some(id) = id {
        if crate::engine::guard::contains_identity_number(&id) {
            let e = crate::engine::model::Refusal::PersonalData { field: "id".into() };
            return err(422, e.to_string());
        }
        if let Some(other) = obj.get("id") {
            if other.as_str() != Some(id.as_str()) {
                // Neither value is quoted back: either could carry what may not leave.
                return err(400, "`id`: the body's id differs from the one in the path");
            }
        }
        obj.insert("id".into(), Value::String(id));
    }
    let id = obj
        .get("id")
        .and_then(|x| x.as_str())
        .unwrap_or_default()
        .to_string();
    api_result(
        send(app, caller, ty, &v).await,
        json!({ "id": id, "event": ty }),
        created,
    )
}

macro_rules! op {
    ($name:ident, $ty:expr, created) => {
        async fn $name(
            State(app): State<App>,
            Extension(caller): Extension<Caller>,
            body: Bytes,
        ) -> Response {
            operator_event(&app, &caller, $ty, None, &body, true).await
        }
    };
    ($name:ident, $ty:expr) => {
        async fn $name(
            State(app): State<App>,
            Path(id): Path<String>,
            Extension(caller): Extension<Caller>,
            body: Bytes,
        ) -> Response {
            operator_event(&app, &caller, $ty, Some(id), &body, false).await
        }
    };
}

op!(incident_open, "incident.open", created);
op!(incident_update, "incident.update");
op!(incident_ack, "incident.ack");
op!(incident_resolve, "incident.resolve");
op!(incident_reply, "reply");
op!(maintenance_add, "maintenance.add", created);
op!(maintenance_change, "maintenance.change");
op!(maintenance_cancel, "maintenance.cancel");
op!(inquiry_received, "inquiry.received", created);
op!(inquiry_answered, "inquiry.answered");

fn answer<T: serde::Serialize>(r: Result<Option<T>, ApiError>) -> Response {
    match r {
        Ok(Some(v)) => Json(v).into_response(),
        Ok(None) => err(404, "not found"),
        Err(e) => err(e.status, e.message),
    }
}

async fn list_incidents(State(app): State<App>) -> Response {
    answer(ask(&app, Query::Incidents).await.map(Some))
}
async fn list_maintenances(State(app): State<App>) -> Response {
    answer(ask(&app, Query::Maintenances).await.map(Some))
}

/// `GET /reports/YYYY-MM` (HTML), `.json`, `.csv`: the availability report, public like the
/// status page (figures per service; no names of people, no addresses).
async fn report(State(app): State<App>, Path(name): Path<String>) -> Response {
    let (month, format) = match name.rsplit_once('.') {
        Some((m, ext)) => (m, ext),
        None => (name.as_str(), "html"),
    };
    let month: crate::report::Month = match month.parse() {
        Ok(m) => m,
        Err(e) => return err(404, e.to_string()),
    };
    if !matches!(format, "html" | "json" | "csv") {
        return err(
            404,
            format!("no report format {format:?}; use .json, .csv or none (HTML)"),
        );
    }
    let (reply, rx) = oneshot::channel();
    if app
        .tx
        .send(Cmd::Query(Query::Report(month, reply)))
        .await
        .is_err()
    {
        return err(503, "shutting down");
    }
    let r = match rx.await {
        Ok(Ok(r)) => r,
        Ok(Err(future)) => return err(404, future.to_string()),
        Err(_) => return err(503, "shutting down"),
    };
    let (ct, body) = match format {
        "json" => (
            "application/json",
            serde_json::to_string(&r).unwrap_or_default(),
        ),
        "csv" => ("text/csv; charset=utf-8", crate::report::csv(&r)),
        _ => ("text/html; charset=utf-8", {
            let cfg = app.shared.cfg();
            crate::report::html(&r, &cfg.self_.name, &cfg.self_.meldingsansvarlig)
        }),
    };
    (
        [
            (axum::http::header::CONTENT_TYPE, ct),
            (axum::http::header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn env_of(test: bool) -> crate::engine::model::Environment {
    if test {
        crate::engine::model::Environment::Test
    } else {
        crate::engine::model::Environment::Produksjon
    }
}

fn page_response(app: &App, test: bool, what: &str) -> Response {
    let r = app.shared.pages.rendered(&app.shared.cfg(), env_of(test));
    let (ct, body) = match what {
        "json" => ("application/json", r.json.clone()),
        "atom" => ("application/atom+xml; charset=utf-8", r.atom.clone()),
        _ => ("text/html; charset=utf-8", r.html.clone()),
    };
    (
        [
            (axum::http::header::CONTENT_TYPE, ct),
            (axum::http::header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn page_prod(State(app): State<App>) -> Response {
    page_response(&app, false, "html")
}
async fn page_test(State(app): State<App>) -> Response {
    page_response(&app, true, "html")
}
async fn feed_prod(State(app): State<App>) -> Response {
    page_response(&app, false, "atom")
}
async fn feed_test(State(app): State<App>) -> Response {
    page_response(&app, true, "atom")
}
async fn status_json(
    State(app): State<App>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    let test = q.get("environment").is_some_and(|e| e == "test");
    page_response(&app, test, "json")
}

/// The longest request target answered (longer: 414).
pub(super) const MAX_URI: usize = 8 * 1024;
/// The most header fields answered (more: 431).
pub(super) const MAX_HEADERS: usize = 100;
/// The most bytes of header fields answered (more: 431).
pub(super) const MAX_HEAD: usize = 64 * 1024;

/// A whole request, body included, must be done within this (SPEC §6).
pub(crate) const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The size bounds of a request, checked before anything of it is read, with JSON answers
/// (hyper's own, set above these, would be empty): a long target 414, too many or too large
/// header fields 431, and a body announced (`Content-Length`) larger than `[http] max_body`
/// 413 — a client that sent `Expect: 100-continue` then gets the 413 instead of a 100 and
/// never sends the body, and no client has its connection reset under a half-sent body
/// (which would lose the 413). Bodies without a length are cut off at the limit as they are
/// read (`DefaultBodyLimit`).
async fn request_bounds(
    limit: usize,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let with_headers = |mut resp: Response| {
        resp.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
        resp.headers_mut().insert(
            axum::http::header::X_CONTENT_TYPE_OPTIONS,
            axum::http::HeaderValue::from_static("nosniff"),
        );
        resp
    };
    let uri_len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri_len > MAX_URI {
        return with_headers(err(
            414,
            format!("the request target is longer than {MAX_URI} bytes"),
        ));
    }
    let head: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if req.headers().len() > MAX_HEADERS || head > MAX_HEAD {
        return with_headers(err(
            431,
            format!(
                "the request has more than {MAX_HEADERS} header fields or {MAX_HEAD} bytes of them"
            ),
        ));
    }
    let announced = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return with_headers(err(
            413,
            format!("the request body is larger than the limit of {limit} bytes ([http] max_body)"),
        ));
    }
    next.run(req).await
}

/// Every response: a time limit on the whole request, `X-Content-Type-Options: nosniff`, and
/// JSON error bodies also for what the framework answers itself (413, 405, a bad URL).
async fn guard_layer(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut resp = match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(r) => r,
        Err(_) => err(408, "the request was not completed in time"),
    };
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    // The console's pages are HTML, errors included.
    let is_html = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if (status.is_client_error() || status.is_server_error()) && !is_json && !is_html {
        let body = std::mem::take(resp.body_mut());
        let text = axum::body::to_bytes(body, 64 * 1024)
            .await
            .map(|b| String::from_utf8_lossy(&b).trim().to_string())
            .unwrap_or_default();
        let message = if text.is_empty() {
            status.canonical_reason().unwrap_or("error").to_string()
        } else {
            text
        };
        let headers = resp.headers().clone();
        resp = err(status.as_u16(), message);
        for (k, v) in headers.iter() {
            if k != axum::http::header::CONTENT_TYPE && k != axum::http::header::CONTENT_LENGTH {
                resp.headers_mut().insert(k.clone(), v.clone());
            }
        }
    }
    resp.headers_mut().insert(
        axum::http::header::X_CONTENT_TYPE_OPTIONS,
        axum::http::HeaderValue::from_static("nosniff"),
    );
    resp
}

async fn not_found() -> Response {
    err(404, "no such endpoint")
}

async fn method_not_allowed() -> Response {
    err(405, "method not allowed on this endpoint")
}

/// Every HTTP route (SPEC §5.4), with its bounds and layers.
pub(crate) fn router(
    shared: Arc<Shared>,
    tx: mpsc::Sender<Cmd>,
    pages: Arc<crate::console::pages::Pages>,
) -> Router {
    use super::history::route as case;
    use crate::engine::model::About;
    let limit = shared.cfg().daemon.max_body;
    let app = App { shared, tx, pages };
    let forward = axum::middleware::from_fn_with_state(app.clone(), super::forward::layer);
    Router::new()
        .route("/api/v1/alerts", post(alerts))
        .route("/api/v1/incidents", post(incident_open).get(list_incidents))
        .route("/api/v1/incidents/{id}", case(About::Incident))
        .route("/api/v1/maintenances/{id}", case(About::Maintenance))
        .route("/api/v1/inquiries/{id}", case(About::Inquiry))
        .route("/api/v1/incidents/{id}/update", post(incident_update))
        .route("/api/v1/incidents/{id}/ack", post(incident_ack))
        .route("/api/v1/incidents/{id}/resolve", post(incident_resolve))
        .route("/api/v1/incidents/{id}/reply", post(incident_reply))
        .route(
            "/api/v1/maintenances",
            post(maintenance_add).get(list_maintenances),
        )
        .route("/api/v1/maintenances/{id}/change", post(maintenance_change))
        .route("/api/v1/maintenances/{id}/cancel", post(maintenance_cancel))
        .route("/api/v1/inquiries", post(inquiry_received))
        .route("/api/v1/inquiries/{id}/answered", post(inquiry_answered))
        .route("/", get(page_prod))
        .route("/test", get(page_test))
        .route("/test/", get(page_test))
        .route("/feed.atom", get(feed_prod))
        .route("/test/feed.atom", get(feed_test))
        .route("/api/v1/status", get(status_json))
        .route("/calendar.ics", get(super::calendar::production))
        .route("/calendar-test.ics", get(super::calendar::test))
        .route("/reports/{month}", get(report))
        .merge(super::console::routes())
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        // Every route above declares what it needs (`access::ROUTES`); this enforces it.
        .route_layer(axum::middleware::from_fn_with_state(
            app.clone(),
            super::access::layer,
        ))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(forward)
        .layer(axum::middleware::from_fn(guard_layer))
        .layer(axum::middleware::from_fn(move |req, next| {
            request_bounds(limit, req, next)
        }))
        .with_state(app)
}
