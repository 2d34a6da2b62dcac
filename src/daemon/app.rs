//! What the HTTP rooms share (the API in `http.rs`, the console in `console/`, `forward.rs`,
//! `history.rs`): the application state [`App`], the JSON error [`err`] and [`ApiError`],
//! the bearer-token check, and [`ask`] for the engine task. Each imports this file and none
//! imports another for these, so the HTTP rooms form no circle.

use super::engine_task::{Cmd, Query, Rejected};
use super::Shared;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The HTTP rooms' state: the shared daemon, the engine task's queue, the console's pages.
#[derive(Clone)]
pub(crate) struct App {
    pub(super) shared: Arc<Shared>,
    pub(super) tx: mpsc::Sender<Cmd>,
    /// The console's page templates.
    pub(super) pages: Arc<crate::console::pages::Pages>,
}

impl App {
    /// The console's session key, derived from the operator token in force: after a reload
    /// that rotated the token, every session signed with the old one is refused.
    pub(super) fn keys(&self) -> crate::console::session::Keys {
        crate::console::session::Keys::new(&self.shared.tokens().operator)
    }
}

pub(super) fn err(status: u16, message: impl Into<String>) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, Json(json!({ "error": message.into() }))).into_response()
}

/// Constant-time comparison of two tokens.
pub(super) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// An HTTP error: status and message (the JSON error body).
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: u16,
    pub message: String,
}

impl ApiError {
    /// An error with this status and message.
    pub(crate) fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
}

impl From<Rejected> for ApiError {
    fn from(r: Rejected) -> ApiError {
        ApiError::new(r.status(), r.to_string())
    }
}

/// The request's bearer token (401 without one, or with another scheme).
pub(super) fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let Some(h) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(ApiError::new(
            401,
            "missing bearer token (Authorization: Bearer …)",
        ));
    };
    // The scheme is case-insensitive (RFC 9110 §11.1).
    match h.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => Ok(t.trim()),
        _ => Err(ApiError::new(401, "Authorization must be a bearer token")),
    }
}

/// The request carries the alert-ingestion token (401 without a token or with an unknown one,
/// 403 with another known one). Every other route's credential is checked by `access`.
pub(super) fn authorize_alert(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    let token = bearer(headers)?;
    let tokens = app.shared.tokens();
    if same(token, &tokens.alert) {
        return Ok(());
    }
    if same(token, &tokens.operator) || crate::audit::token::looks_personal(token) {
        return Err(ApiError::new(
            403,
            "this endpoint takes the alert-ingestion token",
        ));
    }
    Err(ApiError::new(401, "unknown token"))
}

/// Apply one input that passed the door, through the engine task's group commit: its verdict,
/// or `Unavailable` when the daemon is stopping.
pub(super) async fn apply(
    app: &App,
    input: crate::engine::events::Input,
) -> Result<usize, Rejected> {
    let stopping = || Rejected::Unavailable("shutting down".into());
    let (reply, rx) = oneshot::channel();
    app.tx
        .send(Cmd::Events {
            events: vec![input],
            reply,
        })
        .await
        .map_err(|_| stopping())?;
    rx.await.unwrap_or_else(|_| Err(stopping()))
}

/// Ask the engine task (who may was decided by `access`).
pub(super) async fn ask<T>(
    app: &App,
    q: impl FnOnce(oneshot::Sender<T>) -> Query,
) -> Result<T, ApiError> {
    let (reply, rx) = oneshot::channel();
    if app.tx.send(Cmd::Query(q(reply))).await.is_err() {
        return Err(ApiError::new(503, "shutting down"));
    }
    rx.await.map_err(|_| ApiError::new(503, "shutting down"))
}
