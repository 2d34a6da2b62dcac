//! `/abonner` (SPEC §4.17): anyone subscribes an address to chosen services by e-mail,
//! double opt-in; `/abonner/{token}` is the subscriber's own page (confirm, change,
//! unsubscribe); `POST /abonner/{token}/avmeld` is RFC 8058's one-click unsubscribe (no
//! cookie, no form token: the signed link is the credential). A `GET` never changes anything
//! (mail scanners open links). Works without JavaScript.
//!
//! What a subscriber did is audited with the address's hash, never the address; the log
//! has the hash only. Every request for a confirmation gets the same answer, whether the
//! address is new, waiting or subscribed already, so the page tells nobody who subscribes.

use super::auth::{body_form, client_ip};
use super::people::on_store;
use super::{html, redirect};
use crate::audit::{NewEntry, Origin, Role};
use crate::console::forms::Form;
use crate::daemon::app::App;
use crate::daemon::subscribers::hash;
use crate::render::subscriber::Job;
use crate::store::Subscriber;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

fn page(app: &App, status: StatusCode, mut ctx: Value) -> Response {
    let cfg = app.shared.cfg();
    if let Value::Object(o) = &mut ctx {
        o.insert("self_name".into(), Value::String(cfg.self_.name.clone()));
        o.entry("title").or_insert_with(|| {
            Value::String(format!("Driftsmeldinger på e-post – {}", cfg.self_.name))
        });
    }
    let mut r = html(status, app.pages.render("abonner", &ctx), None);
    r.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

fn done(app: &App, status: StatusCode, heading: &str, text: &str) -> Response {
    page(
        app,
        status,
        json!({"done": true, "private": true, "title": heading, "heading": heading, "text": text}),
    )
}

fn invalid(app: &App) -> Response {
    page(
        app,
        StatusCode::NOT_FOUND,
        json!({"invalid": true, "private": true, "title": "Lenken er ugyldig eller utløpt"}),
    )
}

fn off(app: &App) -> Response {
    done(
        app,
        StatusCode::NOT_FOUND,
        "Abonnement er ikke tilgjengelig",
        "Driftsmeldinger på e-post er ikke slått på her. Se statussiden.",
    )
}

fn enabled(app: &App) -> bool {
    crate::sinks::subscribers::settings(&app.shared.cfg()).enabled
}

fn services_ctx(cfg: &crate::config::Config, chosen: &[String]) -> Vec<Value> {
    cfg.services
        .iter()
        .map(|s| {
            json!({"id": s.id, "name": crate::console::words::services(cfg, std::slice::from_ref(&s.id)),
                   "checked": chosen.contains(&s.id)})
        })
        .collect()
}

fn form_page(app: &App, status: StatusCode, f: Option<&Form>, errors: Vec<String>) -> Response {
    let cfg = app.shared.cfg();
    let chosen = f.map(|f| f.all("service")).unwrap_or_default();
    page(
        app,
        status,
        json!({
            "services": services_ctx(&cfg, &chosen),
            "test": f.and_then(|f| f.get("test")).is_some(),
            "address": f.and_then(|f| f.get("address")).unwrap_or_default(),
            "errors": errors,
            "calendar": "/calendar.ics",
        }),
    )
}

/// `GET /abonner`.
pub(super) async fn form(State(app): State<App>) -> Response {
    if !enabled(&app) {
        return off(&app);
    }
    form_page(&app, StatusCode::OK, None, vec![])
}

/// `POST /abonner`: a request; the confirmation mail goes through the subscriber queue.
pub(super) async fn request(State(app): State<App>, req: Request) -> Response {
    if !enabled(&app) {
        return off(&app);
    }
    let who = client_ip(&req);
    let limit = app.shared.cfg().daemon.max_body;
    let f = match body_form(req, limit).await {
        Ok((_, _, f)) => f,
        Err(r) => return r,
    };
    let cfg = app.shared.cfg();
    let address = f.get("address").unwrap_or_default().trim().to_lowercase();
    let services = f.all("service");
    let mut errors = Vec::new();
    if !crate::config::valid_email(&address) || address.len() > 254 {
        errors.push("Skriv en gyldig e-postadresse, for eksempel post@legekontor.no.".to_string());
    }
    if let Some(s) = services.iter().find(|s| cfg.service(s).is_none()) {
        errors.push(format!("Ukjent tjeneste: {s}."));
    }
    if !errors.is_empty() {
        return form_page(&app, StatusCode::UNPROCESSABLE_ENTITY, Some(&f), errors);
    }
    let test = f.get("test").is_some();
    let h = hash(&address);
    let sent = done(
        &app,
        StatusCode::OK,
        "Sjekk e-posten din",
        "Hvis adressen kan få driftsmeldinger, har vi sendt en e-post med en lenke. Abonnementet starter når du bekrefter fra den. Lenken gjelder i 7 dager.",
    );
    let per_hour = crate::sinks::subscribers::settings(&cfg).per_hour;
    if !app.shared.subscribers.limits.allow(&h, &who, per_hour) {
        tracing::warn!(to = %h, client = %who, "subscription: a confirmation mail was refused by the rate limit");
        let mut r = done(
            &app,
            StatusCode::TOO_MANY_REQUESTS,
            "Vent litt",
            "Det er nylig sendt en bekreftelse hit eller herfra. Sjekk e-posten din, eller prøv igjen om ti minutter.",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("600"));
        return r;
    }
    let now = crate::clock::now();
    let body = serde_json::to_string(&Job::Confirm).unwrap_or_default();
    let Some(id) = new_id() else {
        return unavailable(
            &app,
            "Bestillingen kunne ikke lagres nå. Prøv igjen om et par minutter.",
        );
    };
    let stored = on_store(&app, move |st| {
        let existing = st.sub_by_address(&address)?;
        let s = match existing {
            // Subscribed already: the mail is the same request, and its link opens the page
            // where the choice can be changed (nothing changes until then).
            Some(s) if s.confirmed_at.is_some() => s,
            _ => Subscriber {
                id,
                address,
                services,
                test,
                created_at: now,
                confirmed_at: None,
            },
        };
        let job = format!("confirm/{}/{}", s.id, now.timestamp_millis());
        if s.confirmed_at.is_some() {
            st.sub_enqueue(&job, &body, std::slice::from_ref(&s.id), now)
                .map(|_| ())
        } else {
            st.sub_request(&s, &job, &body, now)
        }
    })
    .await;
    match stored {
        Some(()) => {
            tracing::info!(to = %h, "subscription: a confirmation mail is queued");
            app.shared.subscribers.wake.notify_one();
            sent
        }
        None => unavailable(
            &app,
            "Bestillingen kunne ikke lagres nå. Prøv igjen om et par minutter.",
        ),
    }
}

/// 503: the store could not do it, and nothing was changed.
fn unavailable(app: &App, text: &str) -> Response {
    done(
        app,
        StatusCode::SERVICE_UNAVAILABLE,
        "Prøv igjen om litt",
        text,
    )
}

/// 128 random bits as 32 hex digits (`None`: the system has no random source).
fn new_id() -> Option<String> {
    let mut b = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).ok()?;
    Some(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// The token in the path, as it stands (see `super::link_token`).
fn token_of(req: &Request) -> String {
    let p = super::link_token(req, "/abonner/");
    p.strip_suffix("/avmeld").unwrap_or(p).to_string()
}

/// The subscriber a token opens, or the page to answer with.
async fn open(app: &App, token: String) -> Result<Subscriber, Response> {
    let key = on_store(app, |st| Ok(crate::daemon::engine_task::link_key(st))).await;
    let Some(id) = key
        .flatten()
        .and_then(|k| crate::render::link::subscriber_of(&k, &token))
    else {
        return Err(invalid(app));
    };
    match on_store(app, move |st| st.sub_get(&id)).await {
        Some(Some(s)) => Ok(s),
        Some(None) => Err(invalid(app)),
        None => Err(unavailable(app, "Tjenesten svarer ikke nå.")),
    }
}

fn manage_page(app: &App, s: &Subscriber, flash: Option<&str>) -> Response {
    let cfg = app.shared.cfg();
    page(
        app,
        StatusCode::OK,
        json!({
            "manage": true, "private": true,
            "title": "Ditt abonnement på driftsmeldinger",
            "address": masked(&s.address),
            "pending": s.confirmed_at.is_none(),
            "services": services_ctx(&cfg, &s.services),
            "services_text": crate::console::words::services(&cfg, &s.services),
            "test": s.test,
            "flash": flash,
        }),
    )
}

/// An address as its own page shows it: enough to recognise, not to copy from a forwarded
/// link (`o***@apotek.example`).
fn masked(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

/// `GET /abonner/{token}`.
pub(super) async fn show(State(app): State<App>, req: Request) -> Response {
    let flash = match req.uri().query() {
        Some("ok=confirm") => Some("Takk! Abonnementet er startet."),
        Some("ok=change") => Some("Endringene er lagret."),
        _ => None,
    };
    match open(&app, token_of(&req)).await {
        Ok(s) => manage_page(&app, &s, flash),
        Err(r) => r,
    }
}

/// An audit entry of a subscriber's own doing.
fn entry(s: &Subscriber, what: &str) -> NewEntry {
    NewEntry::new(
        crate::clock::now(),
        &format!("abonnent {}", hash(&s.address)),
        Role::System,
        Origin::Subscription,
        what,
    )
    .on(format!("subscriber/{}", hash(&s.address)))
}

/// End the subscription: the subscriber and its queued mail deleted, audited by hash.
async fn unsubscribe(app: &App, s: Subscriber) -> Response {
    let h = hash(&s.address);
    let audit = entry(&s, "subscriber.unsubscribe");
    match on_store(app, move |st| st.sub_remove(&s.id, &audit)).await {
        Some(_) => {
            tracing::info!(to = %h, "subscription ended; the address is deleted");
            done(
                app,
                StatusCode::OK,
                "Abonnementet er avsluttet",
                "Du får ikke flere driftsmeldinger fra oss, og adressen er slettet.",
            )
        }
        None => unavailable(
            app,
            "Avmeldingen kunne ikke lagres nå; ingenting er endret.",
        ),
    }
}

/// `POST /abonner/{token}`: confirm, change or unsubscribe.
pub(super) async fn act(State(app): State<App>, req: Request) -> Response {
    let token = token_of(&req);
    let s = match open(&app, token.clone()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let limit = app.shared.cfg().daemon.max_body;
    let f = match body_form(req, limit).await {
        Ok((_, _, f)) => f,
        Err(r) => return r,
    };
    let here = format!("/abonner/{token}");
    let not_saved = "Endringen kunne ikke lagres nå; ingenting er endret.";
    match f.get("action") {
        Some("confirm") => {
            let audit = entry(&s, "subscriber.confirm").changed(
                None,
                Some(json!({"services": s.services, "test": s.test}).to_string()),
            );
            let id = s.id.clone();
            match on_store(&app, move |st| {
                st.sub_confirm(&id, crate::clock::now(), &audit)
            })
            .await
            {
                Some(_) => {
                    tracing::info!(to = %hash(&s.address), "subscription confirmed");
                    redirect(&format!("{here}?ok=confirm"), None)
                }
                None => unavailable(&app, not_saved),
            }
        }
        Some("change") if s.confirmed_at.is_some() => {
            let cfg = app.shared.cfg();
            let services: Vec<String> = f
                .all("service")
                .into_iter()
                .filter(|x| cfg.service(x).is_some())
                .collect();
            let test = f.get("test").is_some();
            let audit = entry(&s, "subscriber.change").changed(
                Some(json!({"services": s.services, "test": s.test}).to_string()),
                Some(json!({"services": services, "test": test}).to_string()),
            );
            let id = s.id.clone();
            match on_store(&app, move |st| st.sub_change(&id, &services, test, &audit)).await {
                Some(_) => redirect(&format!("{here}?ok=change"), None),
                None => unavailable(&app, not_saved),
            }
        }
        Some("unsubscribe") => unsubscribe(&app, s).await,
        _ => manage_page(&app, &s, None),
    }
}

/// `GET /abonner/{token}/avmeld`: a button, never the unsubscription itself.
pub(super) async fn unsubscribe_page(State(app): State<App>, req: Request) -> Response {
    match open(&app, token_of(&req)).await {
        Ok(s) => manage_page(&app, &s, None),
        Err(r) => r,
    }
}

/// `POST /abonner/{token}/avmeld`: RFC 8058 one-click (the body says
/// `List-Unsubscribe=One-Click`; any body is taken, no cookie is needed).
pub(super) async fn one_click(State(app): State<App>, req: Request) -> Response {
    match open(&app, token_of(&req)).await {
        Ok(s) => unsubscribe(&app, s).await,
        Err(r) => r,
    }
}
