//! Who may use which route (SPEC §5.10): every route of the HTTP listener declares here what it
//! needs — nothing (public), the alert-ingestion token, or a role — and one layer enforces it
//! before any handler runs. A route that is not in [`ROUTES`] is refused (500, logged), and
//! `tests/daemon/roles.rs` fails on it: it reads every `.route(` in `src/daemon` and walks each
//! with every role.
//!
//! The API takes a bearer token: a person's own (`mvt_…`, their role when they made it) or the
//! shared operator token (break-glass: every role, every use flagged in the log). The console
//! takes its session cookie (`console/auth.rs`). Without a credential: 401 (API) or the sign-in
//! page (console); with too small a role: 403.

use super::app::{err, same, ApiError, App};
use crate::audit::{Actor, Origin, Role};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Anyone (the status page, health, the sign-in pages).
    Public,
    /// The alert-ingestion token (the handler checks it: its answers are Alertmanager's).
    AlertToken,
    /// A person (or the break-glass key) with at least this role.
    Role(Role),
}

/// A route and what it needs.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// `GET` (which also answers `HEAD`) or `POST`.
    pub method: &'static str,
    /// As the router writes it (`/api/v1/incidents/{id}`).
    pub path: &'static str,
    /// What it needs.
    pub need: Need,
}

const fn r(method: &'static str, path: &'static str, need: Need) -> Route {
    Route { method, path, need }
}

const PUBLIC: Need = Need::Public;
const VIEWER: Need = Need::Role(Role::Viewer);
const OPERATOR: Need = Need::Role(Role::Operator);
const ADMIN: Need = Need::Role(Role::Admin);

/// Every route of the listener and what it needs.
#[rustfmt::skip]
pub const ROUTES: &[Route] = &[
    r("POST", "/api/v1/alerts", Need::AlertToken),
    r("GET", "/api/v1/incidents", VIEWER),
    r("POST", "/api/v1/incidents", OPERATOR),
    r("GET", "/api/v1/incidents/{id}", VIEWER),
    r("POST", "/api/v1/incidents/{id}/update", OPERATOR),
    r("POST", "/api/v1/incidents/{id}/ack", OPERATOR),
    r("POST", "/api/v1/incidents/{id}/resolve", OPERATOR),
    r("POST", "/api/v1/incidents/{id}/reply", OPERATOR),
    r("GET", "/api/v1/maintenances", VIEWER),
    r("POST", "/api/v1/maintenances", OPERATOR),
    r("GET", "/api/v1/maintenances/{id}", VIEWER),
    r("POST", "/api/v1/maintenances/{id}/change", OPERATOR),
    r("POST", "/api/v1/maintenances/{id}/cancel", OPERATOR),
    r("POST", "/api/v1/inquiries", OPERATOR),
    r("GET", "/api/v1/inquiries/{id}", VIEWER),
    r("POST", "/api/v1/inquiries/{id}/answered", OPERATOR),
    r("GET", "/", PUBLIC),
    r("GET", "/test", PUBLIC),
    r("GET", "/test/", PUBLIC),
    r("GET", "/feed.atom", PUBLIC),
    r("GET", "/test/feed.atom", PUBLIC),
    r("GET", "/api/v1/status", PUBLIC),
    r("GET", "/calendar.ics", PUBLIC),
    r("GET", "/calendar-test.ics", PUBLIC),
    r("GET", "/reports/{month}", PUBLIC),
    r("GET", "/healthz", PUBLIC),
    r("GET", "/metrics", PUBLIC),
    r("GET", "/ops", PUBLIC),
    r("GET", "/ops/", VIEWER),
    r("GET", "/ops/login", PUBLIC),
    r("POST", "/ops/login", PUBLIC),
    r("GET", "/ops/login/oidc", PUBLIC),
    r("GET", "/ops/login/callback", PUBLIC),
    r("POST", "/ops/logout", VIEWER),
    r("GET", "/ops/incidents/new", OPERATOR),
    r("GET", "/ops/maintenances/new", OPERATOR),
    r("GET", "/ops/inquiries/new", OPERATOR),
    r("GET", "/ops/cases", VIEWER),
    r("GET", "/ops/{kind}/{id}", VIEWER),
    r("POST", "/ops/act", OPERATOR),
    r("POST", "/ops/derive", OPERATOR),
    r("GET", "/ops/tokens", VIEWER),
    r("POST", "/ops/tokens", VIEWER),
    r("POST", "/ops/tokens/revoke", VIEWER),
    r("GET", "/ops/audit", ADMIN),
    r("GET", "/ops/directory", ADMIN),
    r("POST", "/ops/directory", ADMIN),
    r("POST", "/ops/directory/import", ADMIN),
    r("GET", "/ops/subscribers", ADMIN),
    r("POST", "/ops/subscribers", ADMIN),
    r("GET", "/ops/static/{name}", PUBLIC),
    // The organizations' own page (SPEC §4.16): the signed link is the credential.
    r("GET", "/kontakt/{token}", PUBLIC),
    r("POST", "/kontakt/{token}", PUBLIC),
    // Subscribers (SPEC §4.17): the form is public; a subscriber's link is its credential.
    r("GET", "/abonner", PUBLIC),
    r("POST", "/abonner", PUBLIC),
    r("GET", "/abonner/{token}", PUBLIC),
    r("POST", "/abonner/{token}", PUBLIC),
    r("GET", "/abonner/{token}/avmeld", PUBLIC),
    r("POST", "/abonner/{token}/avmeld", PUBLIC),
];

/// What `(method, path)` needs; `None` for a route that declares nothing. `Some(None)`-like
/// answers are folded: a path declared for another method is left to the router (405).
fn need(method: &Method, path: &str) -> Result<Need, bool> {
    let method = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    let mut known_path = false;
    for r in ROUTES.iter().filter(|r| r.path == path) {
        known_path = true;
        if r.method == method {
            return Ok(r.need);
        }
    }
    Err(known_path)
}

/// The person (or key) behind an API request.
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub Actor);

/// The layer (a `route_layer`: it sees the matched route).
pub(super) async fn layer(State(app): State<App>, req: Request, next: Next) -> Response {
    let Some(path) = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
    else {
        return next.run(req).await;
    };
    let need = match need(req.method(), &path) {
        Ok(n) => n,
        // The path is declared for other methods: the router answers 405.
        Err(true) => return next.run(req).await,
        Err(false) => {
            tracing::error!(route = %path, "a route declares no role in daemon/access.rs; refused");
            return err(
                500,
                "this route declares no role (a bug: see daemon/access.rs)",
            );
        }
    };
    match need {
        Need::Public | Need::AlertToken => next.run(req).await,
        Need::Role(role) if path.starts_with("/ops") => {
            super::console::gate(&app, req, next, role).await
        }
        Need::Role(role) => {
            let caller = match caller(&app, req.headers()).await {
                Ok(c) => c,
                Err(e) => return err(e.status, e.message),
            };
            if !caller.role.allows(role) {
                return err(
                    403,
                    format!(
                        "this needs the role {}; the token is {}'s, with the role {}",
                        role.as_str(),
                        caller.who,
                        caller.role.as_str()
                    ),
                );
            }
            let mut req = req;
            req.extensions_mut().insert(Caller(caller));
            next.run(req).await
        }
    }
}

/// Whether the request says it comes from `meldingsvakt`'s own command line.
fn from_cli(headers: &HeaderMap) -> bool {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.starts_with("meldingsvakt-cli/"))
}

/// The actor behind an API request's bearer token: 401 without one or with one that is not
/// (or no longer) valid, 403 with the alert token.
async fn caller(app: &App, headers: &HeaderMap) -> Result<Actor, ApiError> {
    let token = super::app::bearer(headers)?.to_string();
    let origin = if from_cli(headers) {
        Origin::Cli
    } else {
        Origin::Api
    };
    let tokens = app.shared.tokens();
    if same(&token, &tokens.operator) {
        // SPEC §5.10: the shared token is the break-glass key; every use is flagged. The
        // name is the one the request gives (`by`), set by the handler.
        tracing::warn!(
            agent = headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-"),
            "the shared operator token was used (break-glass): give each person a personal token"
        );
        app.shared.break_glass_used("", origin, crate::clock::now());
        return Ok(Actor::new(BREAK_GLASS_NAME, Role::BreakGlass, origin));
    }
    if same(&token, &tokens.alert) {
        return Err(ApiError::new(403, "this endpoint takes an operator token (a personal token, or the break-glass key), not the alert-ingestion token"));
    }
    if !crate::audit::token::looks_personal(&token) {
        return Err(ApiError::new(401, "unknown token"));
    }
    let hash = crate::audit::token::hash(&token);
    let shared = std::sync::Arc::clone(&app.shared);
    let found = tokio::task::spawn_blocking(move || shared.store().token_find(&hash))
        .await
        .map_err(|_| ApiError::new(503, "shutting down"))?
        .map_err(|e| {
            tracing::error!(error = %e, "personal tokens cannot be read");
            ApiError::new(503, "the token could not be checked; try again")
        })?;
    let now = crate::clock::now();
    let Some(t) = found else {
        return Err(ApiError::new(401, "unknown token"));
    };
    if !t.usable(now) {
        refused(app, &t, origin, now).await;
        return Err(ApiError::new(401, "this token is expired or revoked"));
    }
    note_use(app, &t, now);
    Ok(Actor::new(&t.person, t.role, origin))
}

/// A person's token that no longer works was used: a refused sign-in, audited under its
/// person (SPEC §5.10) by the host that writes; a standby's attempt is only logged.
async fn refused(
    app: &App,
    t: &crate::audit::token::PersonalToken,
    origin: Origin,
    now: crate::engine::model::Time,
) {
    let why = if t.revoked_at.is_some() {
        "revoked"
    } else {
        "expired"
    };
    tracing::warn!(token = %t.id, person = %t.person, why, "a personal token that no longer works was refused");
    app.shared
        .metrics
        .sign_ins_refused
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // A standby does not write (`leading` is always true for a single host).
    if !app.shared.role.leading() {
        return;
    }
    let entry = Actor::new(&t.person, t.role, origin)
        .did(now, "sign_in.refused")
        .on(format!("token/{}", t.id))
        .changed(
            None,
            Some(serde_json::json!({"method": "token", "why": why}).to_string()),
        );
    let shared = std::sync::Arc::clone(&app.shared);
    // Written before the 401 leaves, so what the caller sees next includes it.
    let written = tokio::task::spawn_blocking(move || shared.store().audit_append(&[entry])).await;
    if let Ok(Err(e)) = written {
        tracing::error!(error = %e, "cannot write the refused token to the audit log");
    }
}

/// The name the break-glass key acts under when the request gives none.
pub(crate) const BREAK_GLASS_NAME: &str = "operatørnøkkel";

/// Note a token's use (at most once a minute, on the host that writes).
fn note_use(app: &App, t: &crate::audit::token::PersonalToken, now: crate::engine::model::Time) {
    let recent = t
        .last_used_at
        .is_some_and(|l| now - l < chrono::Duration::minutes(1));
    if recent || !app.shared.role.leading() {
        return;
    }
    let shared = std::sync::Arc::clone(&app.shared);
    let id = t.id.clone();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = shared.store().token_used(&id, now) {
            tracing::debug!(error = %e, token = %id, "the token's last use could not be noted");
        }
    });
}
