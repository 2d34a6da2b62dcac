//! `GET` and `POST /kontakt/{token}` (SPEC §4.16): an organization's own page, reached only
//! through the signed link in its request. Public (the link is the credential), rate-limited
//! per link and per client address, and neutral about why a link fails: a forged, altered,
//! expired or superseded link gets the same page, «Lenken er ugyldig eller utløpt», and
//! changes nothing. A `GET` never changes anything (mail scanners open links); every answer is
//! a `POST` from the page's own buttons, which a standby forwards to the leader like every
//! other write. Each answer goes to the engine as a `directory.*` event through the door,
//! done by the address the link was sent to.

use super::auth::{body_form, client_ip};
use super::{ask, html, Query};
use crate::audit::{Actor, Origin, Role};
use crate::console::forms::FieldErrors;
use crate::console::kontakt;
use crate::daemon::app::App;
use crate::daemon::engine_task::Rejected;
use crate::daemon::limit::Limiter;
use crate::engine::directory::Entry;
use crate::engine::events::Input;
use crate::render::link::Link;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use std::time::Duration;

/// Requests within `WINDOW` one link may make, and one client address.
const PER_LINK: u32 = 30;
const PER_CLIENT: u32 = 120;
const WINDOW: Duration = Duration::from_secs(600);

fn limiter() -> &'static Limiter {
    static L: std::sync::OnceLock<Limiter> = std::sync::OnceLock::new();
    L.get_or_init(|| Limiter::new(WINDOW))
}

/// A page of this room: the console's headers, and no referrer (the link is in the URL).
fn kontakt_page(app: &App, status: StatusCode, ctx: serde_json::Value) -> Response {
    let mut r = html(status, app.pages.render("kontakt", &ctx), None);
    r.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

fn invalid(app: &App) -> Response {
    kontakt_page(app, StatusCode::NOT_FOUND, kontakt::invalid())
}

fn done(app: &App, status: StatusCode, title: &str, text: &str) -> Response {
    let ctx = serde_json::json!({"title": title, "done": true, "heading": title, "text": text});
    kontakt_page(app, status, ctx)
}

/// Too many requests from this link or address: 429, and when to come back.
fn limited(app: &App) -> Response {
    let mut r = done(
        app,
        StatusCode::TOO_MANY_REQUESTS,
        "For mange forespørsler",
        "Vent noen minutter, og prøv igjen.",
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("600"));
    r
}

/// The link and its entry, when both hold; else the page to answer with.
async fn open(app: &App, token: &str, client: String) -> Result<(Link, Entry), Response> {
    if !limiter().allow(format!("c:{client}"), PER_CLIENT)
        || !limiter().allow(format!("l:{token}"), PER_LINK)
    {
        tracing::warn!(client = %client, "contact page: rate limit reached");
        return Err(limited(app));
    }
    let shared = std::sync::Arc::clone(&app.shared);
    let key = tokio::task::spawn_blocking(move || {
        crate::daemon::engine_task::link_key(shared.store().as_ref())
    })
    .await
    .ok()
    .flatten();
    let Some(key) = key else {
        return Err(invalid(app));
    };
    let link = match Link::open(&key, token, crate::clock::now()) {
        Ok(l) => l,
        Err(why) => {
            tracing::info!(client = %client, why = ?why, "contact page: a link was refused");
            return Err(invalid(app));
        }
    };
    let Some(entries) = ask(app, Query::Directory).await else {
        return Err(done(
            app,
            StatusCode::SERVICE_UNAVAILABLE,
            "Prøv igjen om litt",
            "Tjenesten starter på nytt.",
        ));
    };
    match entries.into_iter().find(|e| e.org == link.org) {
        Some(e) if kontakt::applies(&link, &e) => Ok((link, e)),
        _ => Err(invalid(app)),
    }
}

/// What was just done, from `?ok=…` after the answer's redirect.
fn flash(query: Option<&str>) -> Option<&'static str> {
    match query? {
        "ok=confirm" => Some("Takk! Opplysningene er bekreftet."),
        "ok=propose" => Some("Takk! Rettelsene er lagret."),
        "ok=propose-address" => Some("Takk! Rettelsene er lagret. Vi har sendt en lenke til den nye adressen; den tas i bruk når den er bekreftet derfra."),
        "ok=none" => Some("Ingen endringer å lagre."),
        _ => None,
    }
}

fn token_of(req: &Request) -> String {
    super::link_token(req, "/kontakt/").to_string()
}

pub(super) async fn show(State(app): State<App>, req: Request) -> Response {
    let token = token_of(&req);
    let said = flash(req.uri().query());
    let (link, e) = match open(&app, &token, client_ip(&req)).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let cfg = app.shared.cfg();
    let ctx = kontakt::page(&cfg, &e, &link, said, &FieldErrors::new(), None);
    kontakt_page(&app, StatusCode::OK, ctx)
}

pub(super) async fn answer(State(app): State<App>, req: Request) -> Response {
    let token = token_of(&req);
    let (link, e) = match open(&app, &token, client_ip(&req)).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let limit = app.shared.cfg().daemon.max_body;
    let f = match body_form(req, limit).await {
        Ok((_, _, f)) => f,
        Err(r) => return r,
    };
    let here = format!("/kontakt/{token}");
    let Some((ty, fields)) = kontakt::event(&link, &e, &f) else {
        return super::redirect(&format!("{here}?ok=none"), None);
    };
    let new_address = fields.get("meldingsansvarlig").is_some();
    let by = kontakt::answerer(&link, &e);
    let refused = |refusal: crate::engine::model::Refusal| {
        let cfg = app.shared.cfg();
        let mut errors = FieldErrors::new();
        errors.insert(refusal.field(), refusal.norsk());
        let ctx = kontakt::page(&cfg, &e, &link, None, &errors, Some(&f));
        kontakt_page(&app, StatusCode::UNPROCESSABLE_ENTITY, ctx)
    };
    let input = match Input::internal(ty, &fields) {
        Ok(i) => i
            .from(Origin::Directory)
            .by(Actor::new(&by, Role::System, Origin::Directory)),
        Err(r) => return refused(r),
    };
    match crate::daemon::app::apply(&app, input).await {
        Ok(_) => {
            tracing::info!(org = %e.org, what = ty, "contact page: the organization answered");
            match ty {
                "directory.verify" => done(
                    &app,
                    StatusCode::OK,
                    "Takk! Adressen er bekreftet",
                    "Varsler om driftsavbrudd og feil i meldingsutvekslingen går fra nå av til den nye adressen.",
                ),
                "directory.confirm" => super::redirect(&format!("{here}?ok=confirm"), None),
                _ if new_address => {
                    super::redirect(&format!("{here}?ok=propose-address"), None)
                }
                _ => super::redirect(&format!("{here}?ok=propose"), None),
            }
        }
        Err(Rejected::Refused { refusal, .. }) => refused(refusal),
        Err(Rejected::Unavailable(_)) => done(
            &app,
            StatusCode::SERVICE_UNAVAILABLE,
            "Prøv igjen om litt",
            "Svaret kunne ikke lagres nå; ingenting er endret. Prøv igjen om et par minutter.",
        ),
    }
}
