//! The operator console over HTTP (SPEC §5.6), at `/ops/`. Pages come from `console/` (pure);
//! this file signs operators in, checks every form's CSRF token, and hands events to the
//! engine task through the same door as the API (`Input::parse`), with `origin = console` and
//! the operator's name as `by`.
//!
//! Sign-in: the operator token plus a name, or — when `[console] trusted_user_header` is set —
//! the user name an SSO proxy puts in that header, believed only from `trusted_proxies`.
//! Sessions are signed cookies (`console::session`), HttpOnly, SameSite=Strict, path `/ops`.
//! Every page is `no-store`, framed by nobody, and loads scripts and styles only from here.

// Early returns carry the page to answer with (`Result<_, Response>`), as axum handlers do;
// pages are rare, so the size of a `Response` on the error path does not matter.
#![allow(clippy::result_large_err)]

mod abonner;
mod auth;
mod directory;
mod kontakt;
mod oidc;
mod people;
mod subscribers;

pub(crate) use auth::{gate, signs_in, vouch, VOUCHED};
use auth::{login, login_page, logout, posted, signed_in, Who};

use super::app::App;
use super::engine_task::{Cmd, Query, Rejected};
use crate::console::case;
use crate::console::forms::{self, FieldErrors, Form};
use crate::console::pages;
use crate::engine::events::{Input, Origin};
use crate::engine::model::About;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use std::net::SocketAddr;
use tokio::sync::oneshot;

/// The peer's address, put on every request by the accept loop (`serve.rs`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peer(pub SocketAddr);

/// A standby judges a console request's SSO user header by the peer it got it from, exactly
/// as the leader would, before it forwards the request (the leader sees the standby as the
/// peer, so the header is not passed on): a header from an address that is not a trusted
/// proxy gets the same 403 on either host.
pub(crate) fn judge_sso_header(
    app: &App,
    headers: &axum::http::HeaderMap,
    peer: Option<Peer>,
) -> Result<(), Response> {
    auth::judge_proxy(app, headers, peer)
}

const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// An HTML page with the console's headers; `cookie` sets (or clears) the session.
fn html(status: StatusCode, body: String, cookie: Option<String>) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert(header::SET_COOKIE, c);
    }
    r
}

/// The token of a public link (`/kontakt/…`, `/abonner/…`): the path after `prefix` as it
/// stands, undecoded. A real token is URL-safe base64 and dots, so anything percent-encoded
/// (even bytes that are not UTF-8) is simply not a token and gets the neutral page, not the
/// router's 400.
fn link_token<'a>(req: &'a Request, prefix: &str) -> &'a str {
    req.uri().path().strip_prefix(prefix).unwrap_or_default()
}

fn redirect(to: &str, cookie: Option<String>) -> Response {
    let mut r = html(StatusCode::SEE_OTHER, String::new(), cookie);
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// The layout's fields, added to a page's context.
fn with_layout(app: &App, mut ctx: Value, who: Option<&Who>) -> Value {
    let cfg = app.shared.cfg();
    if let Some(o) = ctx.as_object_mut() {
        o.insert("self_name".into(), json!(cfg.self_.name));
        o.insert(
            "report_month".into(),
            json!(crate::report::Month::of(&cfg, crate::clock::now()).to_string()),
        );
        if let Some(w) = who {
            o.insert("user".into(), json!(w.session.user));
            o.insert("role_label".into(), json!(w.session.role.norsk()));
            o.insert(
                "can_act".into(),
                json!(w.session.role.allows(crate::audit::Role::Operator)),
            );
            o.insert(
                "is_admin".into(),
                json!(w.session.role.allows(crate::audit::Role::Admin)),
            );
            o.insert("csrf".into(), json!(app.keys().csrf(&w.session)));
        }
    }
    ctx
}

fn page(app: &App, status: StatusCode, name: &str, ctx: Value, who: Option<&Who>) -> Response {
    let body = app.pages.render(name, &with_layout(app, ctx, who));
    html(status, body, who.and_then(|w| w.cookie.clone()))
}

fn message(app: &App, status: StatusCode, heading: &str, text: &str) -> Response {
    page(
        app,
        status,
        "message",
        json!({"title": heading, "heading": heading, "text": text, "link": "/ops/", "link_text": "Til oversikten"}),
        None,
    )
}

/// The engine task is gone: the daemon is stopping (503).
pub(super) fn shutting_down(app: &App) -> Response {
    message(
        app,
        StatusCode::SERVICE_UNAVAILABLE,
        "Avslutter",
        "meldingsvakt avslutter.",
    )
}

pub(super) async fn ask<T>(app: &App, q: impl FnOnce(oneshot::Sender<T>) -> Query) -> Option<T> {
    let (tx, rx) = oneshot::channel();
    app.tx.send(Cmd::Query(q(tx))).await.ok()?;
    rx.await.ok()
}

async fn overview(State(app): State<App>, req: Request) -> Response {
    let w = match signed_in(&app, &req) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let Some(o) = ask(&app, Query::Overview).await else {
        return shutting_down(&app);
    };
    let since = o.now - chrono::Duration::days(7);
    let shared = std::sync::Arc::clone(&app.shared);
    let problems = tokio::task::spawn_blocking(move || shared.store().problems(since))
        .await
        .ok()
        .and_then(|r| {
            r.map_err(
                |e| tracing::error!(error = %e, "console: delivery problems could not be read"),
            )
            .ok()
        })
        .unwrap_or_default();
    let cfg = app.shared.cfg();
    let mut ctx = pages::overview(&cfg, &o, &problems);
    // The directory's open tasks (SPEC §4.16): unanswered rounds and bounced addresses.
    let entries = ask(&app, Query::Directory).await.unwrap_or_default();
    ctx["contact_tasks"] =
        serde_json::json!(crate::console::directory::tasks(&cfg, &entries, o.now));
    page(&app, StatusCode::OK, "overview", ctx, Some(&w))
}

async fn new_incident(State(app): State<App>, req: Request) -> Response {
    new_case(app, req, "incident.open").await
}
async fn new_maintenance(State(app): State<App>, req: Request) -> Response {
    new_case(app, req, "maintenance.add").await
}
async fn new_inquiry(State(app): State<App>, req: Request) -> Response {
    new_case(app, req, "inquiry.received").await
}

/// `GET /ops/cases?q=…`: every case, open and closed, newest first, found by number,
/// service, organization, kind or date.
async fn cases(State(app): State<App>, req: Request) -> Response {
    let w = match signed_in(&app, &req) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let q = req
        .uri()
        .query()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .and_then(|v| v.into_iter().find(|(k, _)| k == "q").map(|(_, v)| v))
        .unwrap_or_default();
    let Some(rows) = ask(&app, Query::Cases).await else {
        return shutting_down(&app);
    };
    let ctx = crate::console::cases::cases(&app.shared.cfg(), &rows, q.trim(), crate::clock::now());
    page(&app, StatusCode::OK, "cases", ctx, Some(&w))
}
async fn new_case(app: App, req: Request, ty: &str) -> Response {
    match signed_in(&app, &req) {
        Err(r) => r,
        Ok(w) => {
            let ctx = pages::new_case(&app.shared.cfg(), ty, None, &FieldErrors::new());
            page(&app, StatusCode::OK, "new", ctx, Some(&w))
        }
    }
}

/// A case's page, or one of its forms being redone.
async fn case_page(
    app: &App,
    w: &Who,
    about: About,
    redo: Option<case::Redo<'_>>,
    status: StatusCode,
    sent: bool,
) -> Response {
    let mut c = ask(app, |tx| Query::Case(about.clone(), tx))
        .await
        .flatten();
    let detail = match &about {
        About::Incident(id) => ask(app, |tx| Query::Detail(id.clone(), tx)).await.flatten(),
        _ => None,
    };
    let shared = std::sync::Arc::clone(&app.shared);
    let key = about.key_prefix();
    let timeline = tokio::task::spawn_blocking(move || shared.store().timeline(&key))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    // A retired case: its facts as its last message carried them (priority, category,
    // organizations), not the bare history record ("Berørte: ingen").
    if let Some(v) = c.as_mut().filter(|v| v["retired"] == true) {
        crate::daemon::history::fill_from_last_action(v, &timeline);
    }
    if c.is_none() && timeline.is_empty() {
        return message(
            app,
            StatusCode::NOT_FOUND,
            "Finnes ikke",
            &format!("Ingen sak med nummer {}.", about.id()),
        );
    }
    let data = case::CaseData {
        about: &about,
        case: c.as_ref(),
        detail: detail.as_ref(),
        timeline: &timeline,
        now: crate::clock::now(),
    };
    let mut ctx = case::page(&app.shared.cfg(), &data, redo.as_ref());
    if let (true, Some(o)) = (sent, ctx.as_object_mut()) {
        o.insert("flash".into(), json!(case::registered(&timeline)));
    }
    page(app, status, "case", ctx, Some(w))
}

fn about_of(kind: &str, id: String) -> About {
    match kind {
        "maintenances" => About::Maintenance(id),
        "inquiries" => About::Inquiry(id),
        _ => About::Incident(id),
    }
}

async fn show_case(
    State(app): State<App>,
    Path((kind, id)): Path<(String, String)>,
    req: Request,
) -> Response {
    let w = match signed_in(&app, &req) {
        Ok(w) => w,
        Err(r) => return r,
    };
    if !matches!(kind.as_str(), "incidents" | "maintenances" | "inquiries") {
        return message(
            &app,
            StatusCode::NOT_FOUND,
            "Finnes ikke",
            "Ingen slik side.",
        );
    }
    if !crate::engine::model::valid_id(&id) {
        return message(
            &app,
            StatusCode::NOT_FOUND,
            "Finnes ikke",
            "Ugyldig saksnummer.",
        );
    }
    let sent = req.uri().query().is_some_and(|q| q.contains("sendt=1"));
    case_page(&app, &w, about_of(&kind, id), None, StatusCode::OK, sent).await
}

/// The form of `ty` again, with what was submitted and what was refused.
async fn redo(
    app: &App,
    w: &Who,
    ty: &str,
    f: &Form,
    errors: &FieldErrors,
    status: StatusCode,
) -> Response {
    let cfg = app.shared.cfg();
    match ty {
        "incident.open" | "maintenance.add" | "inquiry.received" => {
            let ctx = pages::new_case(&cfg, ty, Some(f), errors);
            page(app, status, "new", ctx, Some(w))
        }
        _ => {
            let id = f.get("id").unwrap_or_default().to_string();
            let about = match ty {
                "maintenance.change" | "maintenance.cancel" => About::Maintenance(id),
                "inquiry.answered" => About::Inquiry(id),
                _ => About::Incident(id),
            };
            let r = case::Redo {
                ty,
                form: f,
                errors,
            };
            case_page(app, w, about, Some(r), status, false).await
        }
    }
}

/// The form again, with the refusal next to its field (422).
async fn refuse(
    app: &App,
    w: &Who,
    ty: &str,
    f: &Form,
    r: &crate::engine::model::Refusal,
) -> Response {
    let (field, text) = forms::explain(r);
    let errors = FieldErrors::from([(field, text)]);
    // A refused value is never shown back (SPEC §4.12): every field that carries a personal
    // number comes back empty, the one the refusal names first among them.
    let scrubbed = forms::Form(
        f.0.iter()
            .map(|(k, v)| {
                let v = if crate::engine::guard::contains_identity_number(v) {
                    String::new()
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect(),
    );
    redo(
        app,
        w,
        ty,
        &scrubbed,
        &errors,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// A new case's id when the form left it empty: `INC-20261123-143012` (local time).
fn new_id(app: &App, ty: &str) -> String {
    let cfg = app.shared.cfg();
    let l = crate::clock::now().with_timezone(&cfg.calendar.tz);
    let prefix = match ty {
        "incident.open" => "INC",
        "inquiry.received" => "HEN",
        _ => "VED",
    };
    format!("{prefix}-{}", l.format("%Y%m%d-%H%M%S"))
}

/// How far a preview looks ahead: 8 days (a weekend, a follow-up and its escalation), or to
/// a maintenance's end.
fn horizon(f: &Form) -> chrono::Duration {
    let base = chrono::Duration::days(8);
    let now = crate::clock::now();
    f.get("to")
        .and_then(|t| crate::engine::time::parse_time(t).ok())
        .map(|to| (to - now + chrono::Duration::days(1)).clamp(base, chrono::Duration::days(400)))
        .unwrap_or(base)
}

/// `POST /ops/act`: every form. `step=preview` shows what would be sent; `step=send` sends it;
/// `step=edit` goes back to the form.
async fn act(State(app): State<App>, req: Request) -> Response {
    let (w, mut f) = match posted(&app, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(ty) = f
        .get("ty")
        .filter(|t| forms::TYPES.contains(t))
        .map(str::to_string)
    else {
        return message(
            &app,
            StatusCode::BAD_REQUEST,
            "Ukjent handling",
            "Skjemaet har ingen gyldig handling.",
        );
    };
    if matches!(
        ty.as_str(),
        "incident.open" | "maintenance.add" | "inquiry.received"
    ) && f.get("id").is_none()
    {
        let id = new_id(&app, &ty);
        f.set("id", &id);
    }
    let step = f.get("step").unwrap_or("preview").to_string();
    if step == "edit" {
        return redo(&app, &w, &ty, &f, &FieldErrors::new(), StatusCode::OK).await;
    }
    let cfg = app.shared.cfg();
    let body = forms::body(&cfg, &ty, &f, &w.session.user);
    let input = match Input::parse(&ty, &body) {
        Ok(i) => i.from(Origin::Console).by(crate::audit::Actor::new(
            &w.session.user,
            w.session.role,
            crate::audit::Origin::Console,
        )),
        Err(r) => return refuse(&app, &w, &ty, &f, &r).await,
    };
    let id = f.get("id").unwrap_or_default().to_string();
    if step == "send" {
        return match crate::daemon::app::apply(&app, input).await {
            Ok(_) => {
                tracing::info!(user = %w.session.user, event = %ty, id = %id, "console: event accepted");
                let kind = match ty.as_str() {
                    t if t.starts_with("maintenance.") => "maintenances",
                    "inquiry.answered" | "inquiry.received" => "inquiries",
                    _ => "incidents",
                };
                redirect(&format!("/ops/{kind}/{id}?sendt=1"), w.cookie)
            }
            Err(Rejected::Refused { refusal, .. }) => refuse(&app, &w, &ty, &f, &refusal).await,
            Err(Rejected::Unavailable(e)) => message(
                &app,
                StatusCode::SERVICE_UNAVAILABLE,
                "Ikke lagret",
                &format!(
                    "Tilstanden kunne ikke lagres; ingenting er sendt. Prøv igjen om litt. (Teknisk årsak: {e})"
                ),
            ),
        };
    }
    let h = horizon(&f);
    let Some(p) = ask(&app, |tx| Query::Preview(Box::new(input), h, tx)).await else {
        return shutting_down(&app);
    };
    match p {
        Err(r) => refuse(&app, &w, &ty, &f, &r).await,
        Ok(p) => {
            let mut ctx = crate::console::preview::preview(
                &cfg,
                &app.shared.renderer(),
                pages::type_label(&ty),
                &p,
                crate::clock::now(),
            );
            if let Some(o) = ctx.as_object_mut() {
                o.insert(
                    "carried".into(),
                    f.carried()
                        .into_iter()
                        .map(|(name, value)| json!({"name": name, "value": value}))
                        .collect(),
                );
            }
            page(&app, StatusCode::OK, "preview", ctx, Some(&w))
        }
    }
}

/// `POST /ops/derive`: the derived impact and priority of an incident form (for the page's
/// script; the preview shows the same without it).
async fn derive(State(app): State<App>, req: Request) -> Response {
    match posted(&app, req).await {
        Err(r) => r,
        Ok((_, f)) => {
            axum::Json(forms::derived(&app.shared.cfg(), &f, crate::clock::now())).into_response()
        }
    }
}

async fn asset(Path(name): Path<String>) -> Response {
    let (ct, body) = match name.as_str() {
        "console.css" => ("text/css; charset=utf-8", pages::CSS),
        "console.js" => ("text/javascript; charset=utf-8", pages::JS),
        _ => return super::app::err(404, "no such file"),
    };
    (
        [
            (header::CONTENT_TYPE, ct),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        Body::from(body),
    )
        .into_response()
}

/// The console's routes (`/ops/…`).
pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/ops", get(|| async { redirect("/ops/", None) }))
        .route("/ops/", get(overview))
        .route("/ops/login", get(login_page).post(login))
        .route("/ops/login/oidc", get(oidc::start))
        .route("/ops/login/callback", get(oidc::callback))
        .route("/ops/logout", post(logout))
        .route("/ops/incidents/new", get(new_incident))
        .route("/ops/maintenances/new", get(new_maintenance))
        .route("/ops/inquiries/new", get(new_inquiry))
        .route("/ops/cases", get(cases))
        .route("/ops/{kind}/{id}", get(show_case))
        .route("/ops/act", post(act))
        .route("/ops/derive", post(derive))
        .route("/ops/tokens", get(people::tokens).post(people::create))
        .route("/ops/tokens/revoke", post(people::revoke))
        .route("/ops/audit", get(people::audit))
        .route("/ops/directory", get(directory::show).post(directory::act))
        .route(
            "/ops/subscribers",
            get(subscribers::show).post(subscribers::remove),
        )
        .route("/ops/directory/import", post(directory::import))
        .route("/ops/static/{name}", get(asset))
        .route("/kontakt/{token}", get(kontakt::show).post(kontakt::answer))
        .route("/abonner", get(abonner::form).post(abonner::request))
        .route("/abonner/{token}", get(abonner::show).post(abonner::act))
        .route(
            "/abonner/{token}/avmeld",
            get(abonner::unsubscribe_page).post(abonner::one_click),
        )
}
