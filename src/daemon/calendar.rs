//! The calendar feeds (SPEC §5.9): `GET /calendar.ics` (production) and `/calendar-test.ics`,
//! each narrowed with `?service=ID` and `?org=ID`. The text is `render::ics`'s, from the
//! maintenances the status pages keep of the case history (so a standby serves the same).

use super::app::App;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

/// `?service=` and `?org=` as given; any other parameter is refused, so a misspelt filter
/// never silently shows every event.
fn filter(
    cfg: &crate::config::Config,
    q: &HashMap<String, String>,
) -> Result<crate::render::ics::Filter, NotFound> {
    if let Some(k) = q.keys().find(|k| *k != "service" && *k != "org") {
        return Err(not_found(format!(
            "ukjent parameter «{k}»: kalenderen tar service=ID og org=ID\n"
        )));
    }
    let service = q.get("service").cloned();
    if let Some(s) = &service {
        if !cfg.services.iter().any(|x| &x.id == s) {
            return Err(not_found(format!("ukjent tjeneste «{s}»\n")));
        }
    }
    let org = q.get("org").cloned();
    if let Some(o) = &org {
        if cfg.org(o).is_none() {
            return Err(not_found(format!("ukjent virksomhet «{o}»\n")));
        }
    }
    Ok(crate::render::ics::Filter { service, org })
}

/// A refused filter: what was not found, answered 404 in plain text.
struct NotFound(String);

fn not_found(msg: String) -> NotFound {
    NotFound(msg)
}

impl IntoResponse for NotFound {
    fn into_response(self) -> Response {
        (
            axum::http::StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.0,
        )
            .into_response()
    }
}

fn feed(app: &App, q: &HashMap<String, String>, test: bool) -> Response {
    let cfg = app.shared.cfg();
    let f = match filter(&cfg, q) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let now = crate::clock::now();
    let maintenances = app.shared.pages.calendar(now);
    let body = crate::render::ics::feed(&cfg, &app.shared.renderer(), &maintenances, &f, test, now);
    (
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET /calendar.ics`.
pub(super) async fn production(
    State(app): State<App>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    feed(&app, &q, false)
}

/// `GET /calendar-test.ics`.
pub(super) async fn test(
    State(app): State<App>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    feed(&app, &q, true)
}
