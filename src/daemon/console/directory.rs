//! The console's «Kontaktregister» (admins, SPEC §4.16): the directory as a page and as an
//! audited CSV export; an admin's undo of a change or approval of a proposed address; a CSV
//! import shown as its changes first and applied only when confirmed. Every change goes to the
//! engine as a `directory.set` event, done by the signed-in admin.

use super::auth::{audited, posted, signed_in, Who};
use super::{ask, message, page, redirect, Query};
use crate::audit::{Actor, Origin};
use crate::console::directory::{self as view, Change};
use crate::daemon::app::App;
use crate::daemon::engine_task::Rejected;
use crate::engine::directory::Contacts;
use crate::engine::events::Input;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// `GET /ops/directory` (admins): the directory as held; `?format=csv` exports it, audited
/// before the file leaves.
pub(super) async fn show(State(app): State<App>, req: Request) -> Response {
    let w = match signed_in(&app, &req) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let export = req.uri().query().is_some_and(|q| q.contains("format=csv"));
    if export {
        let entry = Actor::new(&w.session.user, w.session.role, Origin::Console)
            .did(crate::clock::now(), "directory.export")
            .on("directory");
        if let Err(r) = audited(&app, entry) {
            return r;
        }
    }
    let Some(mut held) = super::ask(&app, super::Query::Directory).await else {
        return super::shutting_down(&app);
    };
    let cfg = app.shared.cfg();
    let place = |org: &str| {
        cfg.orgs
            .iter()
            .position(|o| o.id == org)
            .unwrap_or(usize::MAX)
    };
    held.sort_by_key(|e| place(&e.org));
    if export {
        tracing::info!(user = %w.session.user, organizations = held.len(), "console: the directory was exported");
        let stamp = crate::clock::now().format("%Y%m%d-%H%M%S");
        return (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CACHE_CONTROL, "no-store".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"kontaktregister-{stamp}.csv\""),
                ),
            ],
            crate::console::directory::directory_csv(&held),
        )
            .into_response();
    }
    let ctx = crate::console::directory::directory(&app.shared.cfg(), &held);
    page(&app, StatusCode::OK, "directory", ctx, Some(&w))
}

/// Why an admin's change was not made, in bokmål for the page.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct NotDone(String);

/// Set one organization's contacts as `w`: the engine's verdict.
async fn set(app: &App, w: &Who, org: &str, contacts: &Contacts) -> Result<(), NotDone> {
    let v = serde_json::json!({"org": org, "contacts": contacts, "who": w.session.user});
    send(app, w, "directory.set", &v).await
}

/// A directory event done by `w` (origin console): the engine's verdict.
async fn send(app: &App, w: &Who, ty: &str, v: &serde_json::Value) -> Result<(), NotDone> {
    let input = Input::internal(ty, v)
        .map_err(|r| NotDone(r.norsk()))?
        .from(Origin::Console)
        .by(Actor::new(&w.session.user, w.session.role, Origin::Console));
    match crate::daemon::app::apply(app, input).await {
        Ok(_) => Ok(()),
        Err(Rejected::Refused { refusal, .. }) => Err(NotDone(refusal.norsk())),
        Err(Rejected::Unavailable(_)) => Err(NotDone(
            "Lageret svarer ikke nå; ingenting er endret.".into(),
        )),
    }
}

/// `POST /ops/directory`: `step=undo` (with `org` and the change `n`), `step=approve` (with
/// `org`: the proposed address taken without its own confirmation) or `step=ask` (a request
/// to confirm, now).
pub(super) async fn act(State(app): State<App>, req: Request) -> Response {
    let (w, f) = match posted(&app, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let org = f.get("org").unwrap_or_default().to_string();
    let Some(entries) = ask(&app, Query::Directory).await else {
        return super::shutting_down(&app);
    };
    let Some(e) = entries.iter().find(|e| e.org == org) else {
        return message(
            &app,
            StatusCode::NOT_FOUND,
            "Ukjent organisasjon",
            "Organisasjonen finnes ikke i kontaktregisteret.",
        );
    };
    if f.get("step") == Some("ask") {
        let v = serde_json::json!({"org": org, "who": w.session.user});
        return match send(&app, &w, "directory.ask", &v).await {
            Ok(()) => redirect(&format!("/ops/directory#{org}"), None),
            Err(m) => message(&app, StatusCode::UNPROCESSABLE_ENTITY, "Ikke gjort", &m.0),
        };
    }
    let contacts = match f.get("step") {
        Some("undo") => f
            .get("n")
            .and_then(|n| n.parse().ok())
            .and_then(|n| view::undo(e, n)),
        Some("approve") => view::approve(e),
        _ => None,
    };
    let Some(contacts) = contacts else {
        return message(
            &app,
            StatusCode::CONFLICT,
            "Ikke gjort",
            "Kontaktregisteret er endret siden siden ble vist; se det på nytt.",
        );
    };
    match set(&app, &w, &org, &contacts).await {
        Ok(()) => redirect(&format!("/ops/directory#{org}"), None),
        Err(m) => message(&app, StatusCode::UNPROCESSABLE_ENTITY, "Ikke gjort", &m.0),
    }
}

/// `POST /ops/directory/import`: `step=preview` shows what the CSV changes; `step=apply`
/// reads it again against the directory as it is now and applies it, one organization at a
/// time.
pub(super) async fn import(State(app): State<App>, req: Request) -> Response {
    let (w, f) = match posted(&app, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let text =
        f.0.iter()
            .find(|(k, _)| k == "csv")
            .map(|(_, v)| v.replace("\r\n", "\n"))
            .unwrap_or_default();
    let Some(entries) = ask(&app, Query::Directory).await else {
        return super::shutting_down(&app);
    };
    let cfg = app.shared.cfg();
    let (changes, errors) = view::import(&cfg, &entries, &text);
    if f.get("step") != Some("apply") || !errors.is_empty() {
        let ctx = view::import_page(&cfg, &changes, &errors, &text, None);
        let status = if errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        return page(&app, status, "directory_import", ctx, Some(&w));
    }
    let mut done = 0;
    let mut failed = Vec::new();
    for Change { org, after, .. } in &changes {
        match set(&app, &w, org, after).await {
            Ok(()) => done += 1,
            Err(m) => failed.push(format!("{org}: {m}")),
        }
    }
    tracing::info!(user = %w.session.user, organizations = done, refused = failed.len(), "console: a directory import was applied");
    let ctx = view::import_page(&cfg, &[], &failed, "", Some(done));
    page(&app, StatusCode::OK, "directory_import", ctx, Some(&w))
}
