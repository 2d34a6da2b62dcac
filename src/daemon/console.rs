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

use super::engine_task::{Cmd, Query, Rejected};
use super::http::App;
use crate::console::case;
use crate::console::forms::{self, FieldErrors, Form};
use crate::console::pages::{self, Pages};
use crate::console::session::{self, Keys, Session};
use crate::engine::events::{Input, Origin};
use crate::engine::model::About;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use std::net::SocketAddr;
use tokio::sync::oneshot;

/// The peer's address, put on every request by the accept loop (`serve.rs`).
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub SocketAddr);

/// What the console keeps: its templates and the session key.
pub struct Console {
    pages: Pages,
    keys: Keys,
}

impl Console {
    pub fn new(operator_token: &str) -> Result<Console, Box<handlebars::TemplateError>> {
        Ok(Console {
            pages: Pages::new()?,
            keys: Keys::new(operator_token),
        })
    }
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

fn redirect(to: &str, cookie: Option<String>) -> Response {
    let mut r = html(StatusCode::SEE_OTHER, String::new(), cookie);
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// Who is asking, and the cookie to set when a proxy's header just signed them in.
struct Who {
    session: Session,
    cookie: Option<String>,
}

fn now_secs() -> i64 {
    crate::clock::now().timestamp()
}

fn secure(app: &App, headers: &HeaderMap) -> bool {
    app.shared.cfg().daemon.console.secure_cookie
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A name for the timeline: 1–100 characters, no control characters, no personal number.
fn valid_name(n: &str) -> Result<String, &'static str> {
    let n = n.trim();
    if n.is_empty() || n.chars().count() > 100 || n.chars().any(char::is_control) {
        return Err("Skriv navnet ditt (1–100 tegn).");
    }
    if crate::engine::guard::contains_identity_number(n) {
        return Err("Navnet ser ut til å inneholde et fødselsnummer; skriv bare navnet.");
    }
    Ok(n.to_string())
}

/// The signed-in operator, if any. A user header from an address that is not a trusted proxy
/// is refused (403): it is what a forgery looks like.
fn who(app: &App, headers: &HeaderMap, peer: Option<Peer>) -> Result<Option<Who>, Response> {
    let cfg = app.shared.cfg();
    let c = &cfg.daemon.console;
    let now = now_secs();
    let from_cookie = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(session::cookie_value)
        .and_then(|v| app.console.keys.open(v, now));
    if let Some(h) = &c.trusted_user_header {
        if let Some(user) = headers.get(h.as_str()) {
            let ip = peer.map(|p| p.0.ip());
            if !ip.is_some_and(|ip| c.trusted_proxies.contains(&ip)) {
                tracing::warn!(peer = ?ip, header = %h, "console: a user header from an address that is not a trusted proxy was refused");
                return Err(message(
                    app,
                    StatusCode::FORBIDDEN,
                    "Ikke tillatt",
                    &format!(
                        "Innlogging med {h} godtas bare fra adressene i [console] trusted_proxies."
                    ),
                ));
            }
            let user = user
                .to_str()
                .ok()
                .map(valid_name)
                .and_then(Result::ok)
                .ok_or_else(|| {
                    message(
                        app,
                        StatusCode::FORBIDDEN,
                        "Ikke tillatt",
                        "Brukernavnet fra innloggingsproxyen kan ikke brukes.",
                    )
                })?;
            if let Some(s) = from_cookie.filter(|s| s.user == user) {
                return Ok(Some(Who {
                    session: s,
                    cookie: None,
                }));
            }
            return Ok(mint(app, headers, &user));
        }
    }
    Ok(from_cookie.map(|s| Who {
        session: s,
        cookie: None,
    }))
}

fn mint(app: &App, headers: &HeaderMap, user: &str) -> Option<Who> {
    let life = app
        .shared
        .cfg()
        .daemon
        .console
        .session_lifetime
        .num_seconds();
    let (s, value) = app.console.keys.mint(user, now_secs() + life)?;
    Some(Who {
        session: s,
        cookie: Some(session::set_cookie(&value, life, secure(app, headers))),
    })
}

/// The layout's fields, added to a page's context.
fn with_layout(app: &App, mut ctx: Value, who: Option<&Who>) -> Value {
    let cfg = app.shared.cfg();
    if let Some(o) = ctx.as_object_mut() {
        o.insert("self_name".into(), json!(cfg.self_.name));
        if let Some(w) = who {
            o.insert("user".into(), json!(w.session.user));
            o.insert("csrf".into(), json!(app.console.keys.csrf(&w.session)));
        }
    }
    ctx
}

fn page(app: &App, status: StatusCode, name: &str, ctx: Value, who: Option<&Who>) -> Response {
    let body = app.console.pages.render(name, &with_layout(app, ctx, who));
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

fn peer_of(req: &Request) -> Option<Peer> {
    req.extensions().get::<Peer>().copied()
}

/// A page for signed-in operators; others are sent to the sign-in page.
fn signed_in(app: &App, req: &Request) -> Result<Who, Response> {
    if !app.shared.cfg().daemon.console.enabled {
        return Err(super::http::err(
            404,
            "the console is off ([console] enabled = false)",
        ));
    }
    match who(app, req.headers(), peer_of(req))? {
        Some(w) => Ok(w),
        None => Err(redirect("/ops/login", None)),
    }
}

async fn ask<T>(app: &App, q: impl FnOnce(oneshot::Sender<T>) -> Query) -> Option<T> {
    let (tx, rx) = oneshot::channel();
    app.tx.send(Cmd::Query(q(tx))).await.ok()?;
    rx.await.ok()
}

async fn login_page(State(app): State<App>, req: Request) -> Response {
    if !app.shared.cfg().daemon.console.enabled {
        return super::http::err(404, "the console is off ([console] enabled = false)");
    }
    match who(&app, req.headers(), peer_of(&req)) {
        Err(r) => r,
        Ok(Some(w)) => redirect("/ops/", w.cookie),
        Ok(None) => page(
            &app,
            StatusCode::OK,
            "login",
            json!({"title": "Logg inn"}),
            None,
        ),
    }
}

async fn body_form(req: Request, limit: usize) -> Option<(HeaderMap, Option<Peer>, Form)> {
    let peer = peer_of(&req);
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, limit).await.ok()?;
    Some((parts.headers, peer, Form::parse(&bytes)?))
}

async fn login(State(app): State<App>, req: Request) -> Response {
    let limit = app.shared.cfg().daemon.max_body;
    let Some((headers, _, f)) = body_form(req, limit).await else {
        return message(
            &app,
            StatusCode::BAD_REQUEST,
            "Ugyldig skjema",
            "Skjemaet kunne ikke leses.",
        );
    };
    let retry = |error: &str| {
        page(
            &app,
            StatusCode::UNAUTHORIZED,
            "login",
            json!({"title": "Logg inn", "error": error, "name": f.get("name")}),
            None,
        )
    };
    let token = f.get("token").unwrap_or_default();
    if !super::http::same(token, &app.shared.operator_token) {
        tracing::warn!("console: sign-in with a wrong operator token refused");
        return retry("Feil operatørnøkkel.");
    }
    let name = match valid_name(f.get("name").unwrap_or_default()) {
        Ok(n) => n,
        Err(e) => return retry(e),
    };
    match mint(&app, &headers, &name) {
        Some(w) => {
            tracing::info!(user = %name, "console: signed in with the operator token");
            redirect("/ops/", w.cookie)
        }
        None => message(
            &app,
            StatusCode::SERVICE_UNAVAILABLE,
            "Prøv igjen",
            "Ingen tilfeldighetskilde.",
        ),
    }
}

/// The CSRF check of every form (403 without the session's token).
fn csrf(app: &App, w: &Who, f: &Form) -> Result<(), Response> {
    if app
        .console
        .keys
        .csrf_ok(&w.session, f.get("csrf").unwrap_or_default())
    {
        return Ok(());
    }
    tracing::warn!(user = %w.session.user, "console: a form without a valid CSRF token was refused");
    Err(message(
        app,
        StatusCode::FORBIDDEN,
        "Skjemaet ble avvist",
        "Skjemaet mangler gyldig sikkerhetsnøkkel (CSRF). Last siden på nytt og prøv igjen.",
    ))
}

/// A signed-in POST: the session, its form, CSRF checked.
async fn posted(app: &App, req: Request) -> Result<(Who, Form), Response> {
    let w = signed_in(app, &req)?;
    let limit = app.shared.cfg().daemon.max_body;
    let Some((_, _, f)) = body_form(req, limit).await else {
        return Err(message(
            app,
            StatusCode::BAD_REQUEST,
            "Ugyldig skjema",
            "Skjemaet kunne ikke leses.",
        ));
    };
    csrf(app, &w, &f)?;
    Ok((w, f))
}

async fn logout(State(app): State<App>, req: Request) -> Response {
    match posted(&app, req).await {
        Err(r) => r,
        Ok(_) => redirect("/ops/login", Some(session::set_cookie("", 0, false))),
    }
}

async fn overview(State(app): State<App>, req: Request) -> Response {
    let w = match signed_in(&app, &req) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let Some(o) = ask(&app, Query::Overview).await else {
        return message(
            &app,
            StatusCode::SERVICE_UNAVAILABLE,
            "Avslutter",
            "meldingsvakt avslutter.",
        );
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
    let ctx = pages::overview(&app.shared.cfg(), &o, &problems);
    page(&app, StatusCode::OK, "overview", ctx, Some(&w))
}

async fn new_incident(State(app): State<App>, req: Request) -> Response {
    new_case(app, req, "incident.open").await
}
async fn new_maintenance(State(app): State<App>, req: Request) -> Response {
    new_case(app, req, "maintenance.add").await
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
    flash: Option<&str>,
) -> Response {
    let c = ask(app, |tx| Query::Case(about.clone(), tx))
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
    if let (Some(f), Some(o)) = (flash, ctx.as_object_mut()) {
        o.insert("flash".into(), json!(f));
    }
    if let (Some(r), Some(o)) = (&redo, ctx.as_object_mut()) {
        if let Some(e) = r.errors.get("") {
            o.insert("error".into(), json!(e));
        }
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
    let flash = req
        .uri()
        .query()
        .is_some_and(|q| q.contains("sendt=1"))
        .then_some("Registrert. Meldingene sendes som vist under «Tidslinje».");
    case_page(&app, &w, about_of(&kind, id), None, StatusCode::OK, flash).await
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
        "incident.open" | "maintenance.add" => {
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
            case_page(app, w, about, Some(r), status, None).await
        }
    }
}

fn refused(r: &crate::engine::model::Refusal) -> FieldErrors {
    let (field, text) = forms::explain(r);
    FieldErrors::from([(field, text)])
}

/// A new case's id when the form left it empty: `INC-20261123-143012` (local time).
fn new_id(app: &App, ty: &str) -> String {
    let cfg = app.shared.cfg();
    let l = crate::clock::now().with_timezone(&cfg.calendar.tz);
    let prefix = if ty == "incident.open" { "INC" } else { "VED" };
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
    if matches!(ty.as_str(), "incident.open" | "maintenance.add") && f.get("id").is_none() {
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
        Ok(i) => i.from(Origin::Console),
        Err(r) => {
            return redo(
                &app,
                &w,
                &ty,
                &f,
                &refused(&r),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    };
    let id = f.get("id").unwrap_or_default().to_string();
    if step == "send" {
        let (tx, rx) = oneshot::channel();
        let sent = app
            .tx
            .send(Cmd::Events {
                events: vec![input],
                reply: tx,
            })
            .await;
        let r = match sent {
            Ok(()) => rx
                .await
                .unwrap_or(Err(Rejected::Unavailable("shutting down".into()))),
            Err(_) => Err(Rejected::Unavailable("shutting down".into())),
        };
        return match r {
            Ok(_) => {
                tracing::info!(user = %w.session.user, event = %ty, id = %id, "console: event accepted");
                let kind = match ty.as_str() {
                    t if t.starts_with("maintenance.") => "maintenances",
                    "inquiry.answered" => "inquiries",
                    _ => "incidents",
                };
                redirect(&format!("/ops/{kind}/{id}?sendt=1"), w.cookie)
            }
            Err(Rejected::Refused { refusal, .. }) => {
                redo(
                    &app,
                    &w,
                    &ty,
                    &f,
                    &refused(&refusal),
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
            Err(Rejected::Unavailable(e)) => message(
                &app,
                StatusCode::SERVICE_UNAVAILABLE,
                "Ikke lagret",
                &format!(
                    "Tilstanden kunne ikke lagres ({e}); ingenting er sendt. Prøv igjen om litt."
                ),
            ),
        };
    }
    let h = horizon(&f);
    let Some(p) = ask(&app, |tx| Query::Preview(Box::new(input), h, tx)).await else {
        return message(
            &app,
            StatusCode::SERVICE_UNAVAILABLE,
            "Avslutter",
            "meldingsvakt avslutter.",
        );
    };
    match p {
        Err(r) => {
            redo(
                &app,
                &w,
                &ty,
                &f,
                &refused(&r),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Ok(p) => {
            let mut ctx = pages::preview(
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
        Ok((_, f)) => axum::Json(forms::derived(&app.shared.cfg(), &f)).into_response(),
    }
}

async fn asset(Path(name): Path<String>) -> Response {
    let (ct, body) = match name.as_str() {
        "console.css" => ("text/css; charset=utf-8", pages::CSS),
        "console.js" => ("text/javascript; charset=utf-8", pages::JS),
        _ => return super::http::err(404, "no such file"),
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

pub fn routes() -> Router<App> {
    Router::new()
        .route("/ops", get(|| async { redirect("/ops/", None) }))
        .route("/ops/", get(overview))
        .route("/ops/login", get(login_page).post(login))
        .route("/ops/logout", post(logout))
        .route("/ops/incidents/new", get(new_incident))
        .route("/ops/maintenances/new", get(new_maintenance))
        .route("/ops/{kind}/{id}", get(show_case))
        .route("/ops/act", post(act))
        .route("/ops/derive", post(derive))
        .route("/ops/static/{name}", get(asset))
}
