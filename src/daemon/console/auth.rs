//! Signing in to the console: the operator token and a name, or an SSO proxy's user header
//! believed only from `[console] trusted_proxies`; signed session cookies; the CSRF check of
//! every form.

#![allow(clippy::result_large_err)]

use super::{message, page, redirect, Peer};
use crate::audit::{Actor, Origin, Role};
use crate::console::forms::Form;
use crate::console::session::{self, Session};
use crate::daemon::app::App;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

/// Who is asking, and the cookie to set when a proxy's header just signed them in.
#[derive(Clone)]
pub(crate) struct Who {
    pub(crate) session: Session,
    pub(crate) cookie: Option<String>,
}

pub(super) fn now_secs() -> i64 {
    crate::clock::now().timestamp()
}

pub(super) fn secure(app: &App, headers: &HeaderMap) -> bool {
    app.shared.cfg().daemon.console.secure_cookie
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A name for the timeline: 1–100 characters, no control characters, no personal number.
pub(super) fn valid_name(n: &str) -> Result<String, &'static str> {
    let n = n.trim();
    if n.is_empty() || n.chars().count() > 100 || n.chars().any(char::is_control) {
        return Err("Skriv navnet ditt (1–100 tegn).");
    }
    if crate::engine::guard::contains_identity_number(n) {
        return Err("Navnet ser ut til å inneholde et fødselsnummer; skriv bare navnet.");
    }
    Ok(n.to_string())
}

/// The header a standby adds when it forwards a request whose SSO proxy it has judged
/// (`forward.rs`): the proxy's user and groups, sealed with the hosts' shared key for 30 s, so
/// that the leader (which sees the standby as the peer) signs the person in and audits it.
pub(crate) const VOUCHED: &str = "x-meldingsvakt-vouched";
const VOUCH: &str = "proxy-vouch";

/// What the SSO proxy says on this request: (user, groups) from its headers, or from a
/// standby's seal. `Some(Err)` when its user header is not UTF-8.
fn proxy_claim(app: &App, headers: &HeaderMap) -> Option<Result<(String, String), ()>> {
    let cfg = app.shared.cfg();
    let c = &cfg.daemon.console;
    let h = c.trusted_user_header.as_deref()?;
    let utf8 = |v: &axum::http::HeaderValue| std::str::from_utf8(v.as_bytes()).map(str::to_string);
    if let Some(u) = headers.get(h) {
        let groups = c
            .trusted_groups_header
            .as_deref()
            .and_then(|g| headers.get(g))
            .and_then(|v| utf8(v).ok())
            .unwrap_or_default();
        return Some(utf8(u).map(|u| (u, groups)).map_err(|_| ()));
    }
    let keys = app.keys();
    let body = keys.unseal(VOUCH, headers.get(VOUCHED)?.to_str().ok()?)?;
    let mut p = body.splitn(3, '.');
    let expires: i64 = p.next()?.parse().ok()?;
    if now_secs() >= expires {
        return None;
    }
    let text = |h: &str| session::unhex_text(h);
    Some(Ok((text(p.next()?)?, text(p.next()?)?)))
}

/// The seal a standby adds for the leader when the request carries the proxy's headers.
pub(crate) fn vouch(app: &App, headers: &HeaderMap) -> Option<String> {
    let c = app.shared.cfg().daemon.console.clone();
    headers.get(c.trusted_user_header.as_deref()?)?;
    let (user, groups) = proxy_claim(app, headers)?.ok()?;
    let body = format!(
        "{}.{}.{}",
        now_secs() + 30,
        session::hex_text(&user),
        session::hex_text(&groups)
    );
    Some(app.keys().seal(VOUCH, &body))
}

/// Whether this request would sign someone in (or refuse them) through the SSO proxy: what
/// only the leader may audit, so a standby forwards it.
pub(crate) fn signs_in(app: &App, headers: &HeaderMap) -> bool {
    let Some(claim) = proxy_claim(app, headers) else {
        return false;
    };
    let Ok((user, groups)) = claim else {
        return false;
    };
    match proxy_role(app, &groups) {
        Some(role) => current(app, headers).is_none_or(|s| s.user != user || s.role != role),
        None => true,
    }
}

/// The role the proxy's groups give: `operator` without a groups header (SPEC §5.6), else
/// the highest `[console.roles]` gives (SPEC §5.10), if any.
fn proxy_role(app: &App, groups: &str) -> Option<Role> {
    let cfg = app.shared.cfg();
    let c = &cfg.daemon.console;
    match &c.trusted_groups_header {
        None => Some(Role::Operator),
        Some(_) => c.roles.of(groups.split(',').map(str::trim)),
    }
}

/// The session the request's cookie holds, if valid.
fn current(app: &App, headers: &HeaderMap) -> Option<Session> {
    headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(session::cookie_value)
        .and_then(|v| app.keys().open(v, now_secs()))
}

/// The signed-in operator, if any. A user header from an address that is not a trusted proxy
/// is refused (403): it is what a forgery looks like.
pub(super) fn who(
    app: &App,
    headers: &HeaderMap,
    peer: Option<Peer>,
) -> Result<Option<Who>, Response> {
    let from_cookie = current(app, headers);
    judge_proxy(app, headers, peer)?;
    let Some(claim) = proxy_claim(app, headers) else {
        return Ok(from_cookie.map(|s| Who {
            session: s,
            cookie: None,
        }));
    };
    // Names are UTF-8 ("Ola Operatør"): header bytes, not only visible ASCII.
    let unusable = || {
        message(
            app,
            StatusCode::FORBIDDEN,
            "Ikke tillatt",
            "Brukernavnet fra innloggingsproxyen kan ikke brukes.",
        )
    };
    let (user, groups) = claim.map_err(|_| unusable())?;
    let user = valid_name(&user).map_err(|_| unusable())?;
    let Some(role) = proxy_role(app, &groups) else {
        app.shared
            .metrics
            .sign_ins_refused
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let entry = Actor::new(&user, Role::Viewer, Origin::Console)
            .did(crate::clock::now(), "sign_in.refused")
            .changed(None, Some(r#"{"method":"proxy","why":"no role"}"#.into()));
        audited(app, entry)?;
        return Err(no_role(app));
    };
    if let Some(s) = from_cookie.filter(|s| s.user == user && s.role == role) {
        return Ok(Some(Who {
            session: s,
            cookie: None,
        }));
    }
    let who = mint(app, headers, &user, role);
    if who.is_some() {
        let entry = Actor::new(&user, role, Origin::Console)
            .did(crate::clock::now(), "sign_in")
            .changed(None, Some(r#"{"method":"proxy"}"#.into()));
        audited(app, entry)?;
    }
    Ok(who)
}

/// A user header is believed only from `[console] trusted_proxies` (403 from anywhere else:
/// it is what a forgery looks like).
pub(super) fn judge_proxy(
    app: &App,
    headers: &HeaderMap,
    peer: Option<Peer>,
) -> Result<(), Response> {
    let cfg = app.shared.cfg();
    let c = &cfg.daemon.console;
    let Some(h) = &c.trusted_user_header else {
        return Ok(());
    };
    if !headers.contains_key(h.as_str()) {
        return Ok(());
    }
    let ip = peer.map(|p| p.0.ip());
    if ip.is_some_and(|ip| c.trusted_proxies.contains(&ip)) {
        return Ok(());
    }
    tracing::warn!(peer = ?ip, header = %h, "console: a user header from an address that is not a trusted proxy was refused");
    Err(message(
        app,
        StatusCode::FORBIDDEN,
        "Ikke tillatt",
        &format!("Innlogging med {h} godtas bare fra adressene i [console] trusted_proxies."),
    ))
}

/// Append `entry` to the audit log; without it the act does not happen (503 page).
pub(super) fn audited(app: &App, entry: crate::audit::NewEntry) -> Result<(), Response> {
    let r = app
        .shared
        .store()
        .audit_append(std::slice::from_ref(&entry));
    r.map_err(|e| {
        tracing::error!(error = %e, what = %entry.what, who = %entry.who, "cannot write the audit log; refused");
        message(
            app,
            StatusCode::SERVICE_UNAVAILABLE,
            "Prøv igjen",
            "Revisjonsloggen kan ikke skrives nå, så handlingen ble ikke utført.",
        )
    })
}

pub(super) fn mint(app: &App, headers: &HeaderMap, user: &str, role: Role) -> Option<Who> {
    let life = app
        .shared
        .cfg()
        .daemon
        .console
        .session_lifetime
        .num_seconds();
    let (s, value) = app.keys().mint(user, role, now_secs() + life)?;
    Some(Who {
        session: s,
        cookie: Some(session::set_cookie(&value, life, secure(app, headers))),
    })
}

pub(super) fn peer_of(req: &Request) -> Option<Peer> {
    req.extensions().get::<Peer>().copied()
}

/// The client's IP address as text (`?` when the accept loop gave none): what the public
/// pages' rate limits count by.
pub(super) fn client_ip(req: &Request) -> String {
    peer_of(req).map_or_else(|| "?".to_string(), |p| p.0.ip().to_string())
}

/// The refusal of a person whose groups give no role.
pub(super) fn no_role(app: &App) -> Response {
    message(
        app,
        StatusCode::FORBIDDEN,
        "Ingen tilgang",
        "Du er logget inn, men ingen av gruppene dine gir en rolle i meldingsvakt ([console.roles]). Be en administrator om tilgang.",
    )
}

/// The signed-in person the gate (`gate`) let through; the sign-in page without one.
pub(super) fn signed_in(_app: &App, req: &Request) -> Result<Who, Response> {
    req.extensions()
        .get::<Who>()
        .cloned()
        .ok_or_else(|| redirect("/ops/login", None))
}

/// The console's gate (SPEC §5.10): the console is on, someone is signed in (else the sign-in
/// page), and their role is at least `need` (else 403). The handler finds them as [`Who`].
pub(crate) async fn gate(
    app: &App,
    mut req: Request,
    next: axum::middleware::Next,
    need: Role,
) -> Response {
    if !app.shared.cfg().daemon.console.enabled {
        return crate::daemon::app::err(404, "the console is off ([console] enabled = false)");
    }
    let w = match who(app, req.headers(), peer_of(&req)) {
        Err(r) => return r,
        Ok(None) => return redirect("/ops/login", None),
        Ok(Some(w)) => w,
    };
    if !w.session.role.allows(need) {
        tracing::warn!(user = %w.session.user, role = w.session.role.as_str(), need = need.as_str(), path = %req.uri().path(), "console: refused for want of a role");
        return page(
            app,
            StatusCode::FORBIDDEN,
            "message",
            json!({"title": "Ingen tilgang", "heading": "Ingen tilgang",
                "text": format!("Denne siden krever rollen {}. Du er logget inn med rollen {}.", need.norsk(), w.session.role.norsk()),
                "link": "/ops/", "link_text": "Til oversikten"}),
            Some(&w),
        );
    }
    req.extensions_mut().insert(w);
    next.run(req).await
}

/// The sign-in button's provider name, when OpenID Connect is on.
fn oidc_label(app: &App) -> Option<String> {
    app.shared
        .cfg()
        .daemon
        .console
        .oidc
        .as_ref()
        .map(|o| o.label.clone())
}

pub(super) async fn login_page(State(app): State<App>, req: Request) -> Response {
    if !app.shared.cfg().daemon.console.enabled {
        return crate::daemon::app::err(404, "the console is off ([console] enabled = false)");
    }
    match who(&app, req.headers(), peer_of(&req)) {
        Err(r) => r,
        Ok(Some(w)) => redirect("/ops/", w.cookie),
        Ok(None) => page(
            &app,
            StatusCode::OK,
            "login",
            json!({"title": "Logg inn", "oidc": oidc_label(&app)}),
            None,
        ),
    }
}

pub(super) async fn body_form(
    req: Request,
    limit: usize,
) -> Result<(HeaderMap, Option<Peer>, Form), Response> {
    let peer = peer_of(&req);
    let (parts, body) = req.into_parts();
    // Too large is 413 (JSON, like every size refusal), not an unreadable form.
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        crate::daemon::app::err(
            413,
            format!("the form is larger than {limit} bytes ([http] max_body)"),
        )
    })?;
    let form = Form::parse(&bytes)
        .ok_or_else(|| crate::daemon::app::err(400, "the form could not be read"))?;
    Ok((parts.headers, peer, form))
}

pub(super) async fn login(State(app): State<App>, req: Request) -> Response {
    if !app.shared.cfg().daemon.console.enabled {
        return crate::daemon::app::err(404, "the console is off ([console] enabled = false)");
    }
    let limit = app.shared.cfg().daemon.max_body;
    let (headers, _, f) = match body_form(req, limit).await {
        Ok(x) => x,
        Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => return r,
        Err(_) => {
            return message(
                &app,
                StatusCode::BAD_REQUEST,
                "Ugyldig skjema",
                "Skjemaet kunne ikke leses.",
            )
        }
    };
    let retry = |error: &str| {
        page(
            &app,
            StatusCode::UNAUTHORIZED,
            "login",
            // A name that carries a personal number is never shown back (SPEC §4.12).
            json!({"title": "Logg inn", "oidc": oidc_label(&app), "error": error, "name": f
                .get("name")
                .filter(|n| !crate::engine::guard::contains_identity_number(n))}),
            None,
        )
    };
    let token = f.get("token").unwrap_or_default();
    let named = valid_name(f.get("name").unwrap_or_default());
    if !crate::daemon::app::same(token, &app.shared.tokens().operator) {
        tracing::warn!("console: sign-in with a wrong operator token refused");
        let who = named.as_deref().unwrap_or("ukjent");
        app.shared
            .metrics
            .sign_ins_refused
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let entry = Actor::new(who, Role::BreakGlass, Origin::Console)
            .did(crate::clock::now(), "sign_in.refused")
            .changed(
                None,
                Some(r#"{"method":"operator token","why":"wrong token"}"#.into()),
            );
        if let Err(r) = audited(&app, entry) {
            return r;
        }
        return retry("Feil operatørnøkkel.");
    }
    let name = match named {
        Ok(n) => n,
        Err(e) => return retry(e),
    };
    match mint(&app, &headers, &name, Role::BreakGlass) {
        Some(w) => {
            tracing::warn!(user = %name, "console: signed in with the shared operator token (break-glass)");
            app.shared
                .break_glass_used(&name, Origin::Console, crate::clock::now());
            let entry = Actor::new(&name, Role::BreakGlass, Origin::Console)
                .did(crate::clock::now(), "sign_in")
                .changed(None, Some(r#"{"method":"operator token"}"#.into()));
            if let Err(r) = audited(&app, entry) {
                return r;
            }
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
pub(super) fn csrf(app: &App, w: &Who, f: &Form) -> Result<(), Response> {
    if app
        .keys()
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
pub(super) async fn posted(app: &App, req: Request) -> Result<(Who, Form), Response> {
    let w = signed_in(app, &req)?;
    let limit = app.shared.cfg().daemon.max_body;
    let f = match body_form(req, limit).await {
        Ok((_, _, f)) => f,
        Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(r),
        Err(_) => {
            return Err(message(
                app,
                StatusCode::BAD_REQUEST,
                "Ugyldig skjema",
                "Skjemaet kunne ikke leses.",
            ))
        }
    };
    csrf(app, &w, &f)?;
    Ok((w, f))
}

pub(super) async fn logout(State(app): State<App>, req: Request) -> Response {
    match posted(&app, req).await {
        Err(r) => r,
        Ok((w, _)) => {
            let s = &w.session;
            let entry =
                Actor::new(&s.user, s.role, Origin::Console).did(crate::clock::now(), "sign_out");
            if let Err(e) = app.shared.store().audit_append(&[entry]) {
                tracing::error!(error = %e, "cannot write the sign-out to the audit log");
            }
            redirect("/ops/login", Some(session::set_cookie("", 0, false)))
        }
    }
}
