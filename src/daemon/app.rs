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

/// Which bearer token an endpoint takes.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum TokenKind {
    Alert,
    Operator,
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

/// The request's bearer token is the kind `want` (401 without one or with an unknown one,
/// 403 with the other kind).
pub(super) fn authorize(app: &App, headers: &HeaderMap, want: TokenKind) -> Result<(), ApiError> {
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
    let token = match h.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim(),
        _ => return Err(ApiError::new(401, "Authorization must be a bearer token")),
    };
    let tokens = app.shared.tokens();
    let kind = if same(token, &tokens.alert) {
        TokenKind::Alert
    } else if same(token, &tokens.operator) {
        TokenKind::Operator
    } else {
        return Err(ApiError::new(401, "unknown token"));
    };
    if kind == TokenKind::Operator && want == TokenKind::Operator {
        // SPEC §5.10: the shared token is the break-glass key; every use is flagged.
        tracing::warn!(
            agent = headers
                .get(axum::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-"),
            "the shared operator token was used (break-glass): give each person a personal token"
        );
    }
    if kind != want {
        return Err(ApiError::new(
            403,
            match want {
                TokenKind::Alert => "this endpoint takes the alert-ingestion token",
                TokenKind::Operator => "this endpoint takes the operator token",
            },
        ));
    }
    Ok(())
}

/// Who a request with the shared operator token acts as (SPEC §5.10): the name it gives
/// (`by`), or the token's own name, in the break-glass role; from the CLI when the client
/// says so.
pub(super) fn break_glass(headers: &HeaderMap, by: Option<&str>) -> crate::audit::Actor {
    use crate::audit::{Actor, Origin, Role};
    let cli = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.starts_with("meldingsvakt-cli/"));
    Actor::new(
        by.unwrap_or("operatørnøkkel"),
        Role::BreakGlass,
        if cli { Origin::Cli } else { Origin::Api },
    )
}

/// Ask the engine task (operators only).
pub(super) async fn ask<T>(
    app: &App,
    headers: &HeaderMap,
    q: impl FnOnce(oneshot::Sender<T>) -> Query,
) -> Result<T, ApiError> {
    authorize(app, headers, TokenKind::Operator)?;
    let (reply, rx) = oneshot::channel();
    if app.tx.send(Cmd::Query(q(reply))).await.is_err() {
        return Err(ApiError::new(503, "shutting down"));
    }
    rx.await.map_err(|_| ApiError::new(503, "shutting down"))
}
