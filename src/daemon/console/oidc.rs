//! Sign-in with OpenID Connect (SPEC §5.10), with the maintained `openidconnect` crate: the
//! authorization code flow with PKCE (S256), `state` and `nonce`; the ID token's signature
//! (the provider's JWKS), issuer, audience, expiry and nonce are checked by the crate against
//! this daemon's clock. The person's role comes from the groups claim through
//! `[console.roles]`; their name in the audit log and the timeline is `preferred_username`,
//! else `email`, else `sub`.
//!
//! `GET /ops/login/oidc` starts: it reads the provider's discovery document, and sends the
//! browser there with a sealed, 10-minute flow cookie (`session::FLOW_COOKIE`) that holds
//! `state`, `nonce` and the PKCE verifier. `GET /ops/login/callback` finishes: the `state` must
//! be the cookie's, the code is exchanged once (a replayed code is the provider's to refuse),
//! the ID token is verified, and a console session is minted. Every refusal is audited as
//! `sign_in.refused` with its reason, and shows a page that says what happened; nothing opens
//! the console but a verified token with a role. A provider that does not answer gets its own
//! page (503) that points to the break-glass key.
//!
//! The session cookie is SameSite=Strict, so a browser would not send it on the redirect
//! chain that began at the provider: the callback answers with a page that moves on to
//! `/ops/` by itself (a same-site navigation).

use super::auth::{audited, mint, no_role, secure, valid_name};
use super::{html, message, page};
use crate::audit::{Actor, Origin, Role};
use crate::config::OidcSettings;
use crate::console::session::{self, FLOW_COOKIE};
use crate::daemon::app::App;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope,
};
use serde_json::json;

/// How long a sign-in may take at the provider.
const FLOW_SECONDS: i64 = 600;
/// What the flow cookie's seal is for.
const PURPOSE: &str = "oidc-flow";

fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    static C: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    if let Some(c) = C.get() {
        return Ok(c.clone());
    }
    // Following redirects would let the provider's answers point us anywhere (SSRF).
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(std::time::Duration::from_secs(10))
        .build()?;
    Ok(C.get_or_init(|| c).clone())
}

/// Why a sign-in did not happen.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error("the identity provider does not answer: {0}")]
    Down(String),
    #[error("no sign-in was under way in this browser (or it took over 10 minutes)")]
    NoFlow,
    #[error("the provider answered with an error: {0}")]
    Provider(String),
    #[error("the state does not match the sign-in under way")]
    State,
    #[error("the code was refused: {0}")]
    Code(String),
    #[error("the ID token is not valid: {0}")]
    Token(String),
    #[error("no name in the ID token")]
    Name,
    #[error("{0}'s groups give no role")]
    NoRole(String),
}

/// The provider's discovery document, and a client for it.
/// A client made from a discovery document: the authorization endpoint set, the token and
/// user-info endpoints as the provider published them.
type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

async fn client(o: &OidcSettings, public_url: &str) -> Result<(reqwest::Client, Client), Refusal> {
    let http = http_client().map_err(|e| Refusal::Down(e.to_string()))?;
    let issuer = IssuerUrl::new(o.issuer.clone()).map_err(|e| Refusal::Down(e.to_string()))?;
    let meta = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .map_err(|e| Refusal::Down(chain(&e)))?;
    let redirect = RedirectUrl::new(format!(
        "{}/ops/login/callback",
        public_url.trim_end_matches('/')
    ))
    .map_err(|e| Refusal::Down(e.to_string()))?;
    let secret = o
        .client_secret
        .read("the OpenID Connect client secret")
        .map_err(|e| Refusal::Down(e.to_string()))?;
    let c = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(o.client_id.clone()),
        Some(ClientSecret::new(secret.expose().to_string())),
    )
    .set_redirect_uri(redirect);
    Ok((http, c))
}

/// An error with its causes, on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn settings(app: &App) -> Option<(OidcSettings, String)> {
    let cfg = app.shared.cfg();
    let o = cfg.daemon.console.oidc.clone()?;
    Some((o, cfg.daemon.public_url.clone()))
}

fn not_configured(app: &App) -> Response {
    message(
        app,
        StatusCode::NOT_FOUND,
        "Ikke satt opp",
        "Innlogging med OpenID Connect er ikke satt opp ([console.oidc]).",
    )
}

fn down(app: &App, e: &Refusal) -> Response {
    tracing::warn!(error = %e, "console: the identity provider does not answer; nobody can sign in with it");
    let mut r = message(
        app,
        StatusCode::SERVICE_UNAVAILABLE,
        "Innloggingstjenesten svarer ikke",
        "Identitetsleverandøren svarer ikke, så du kan ikke logge inn med den nå. Prøv igjen om litt. Haster det, kan du logge inn med operatørnøkkelen (nødnøkkel); all bruk av den logges.",
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    r
}

/// `GET /ops/login/oidc`: to the provider.
pub(super) async fn start(State(app): State<App>, headers: HeaderMap) -> Response {
    let Some((o, public_url)) = settings(&app) else {
        return not_configured(&app);
    };
    let (_, c) = match client(&o, &public_url).await {
        Ok(x) => x,
        Err(e) => return down(&app, &e),
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut auth = c.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for s in &o.scopes {
        auth = auth.add_scope(Scope::new(s.clone()));
    }
    let (url, state, nonce) = auth.set_pkce_challenge(challenge).url();
    let expires = super::auth::now_secs() + FLOW_SECONDS;
    let body = format!(
        "{expires}.{}.{}.{}",
        state.secret(),
        nonce.secret(),
        verifier.secret()
    );
    let sealed = app.keys().seal(PURPOSE, &body);
    let cookie = session::set_flow_cookie(&sealed, FLOW_SECONDS, secure(&app, &headers));
    let mut r = html(StatusCode::SEE_OTHER, String::new(), Some(cookie));
    if let Ok(v) = HeaderValue::from_str(url.as_str()) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// The flow this browser started: (state, nonce, verifier).
fn flow(app: &App, headers: &HeaderMap) -> Option<(String, String, String)> {
    let sealed = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| session::named_cookie(h, FLOW_COOKIE))?;
    let keys = app.keys();
    let body = keys.unseal(PURPOSE, sealed)?;
    let mut p = body.splitn(4, '.');
    let expires: i64 = p.next()?.parse().ok()?;
    if super::auth::now_secs() >= expires {
        return None;
    }
    Some((
        p.next()?.to_string(),
        p.next()?.to_string(),
        p.next()?.to_string(),
    ))
}

/// The claims of a verified ID token that the crate's core types do not carry (the groups).
fn payload(jwt: &str) -> Option<serde_json::Value> {
    use base64::Engine;
    let part = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The groups claim: a list of strings, or one string.
fn groups(v: &serde_json::Value, claim: &str) -> Vec<String> {
    match v.get(claim) {
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|g| g.as_str().map(str::to_string))
            .collect(),
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// The person a verified token names, and their role.
struct Person {
    name: String,
    role: Role,
    sub: String,
}

async fn finish(app: &App, headers: &HeaderMap, uri: &Uri) -> Result<Person, Refusal> {
    let (o, public_url) = settings(app).ok_or(Refusal::NoFlow)?;
    let q: Vec<(String, String)> = uri
        .query()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let (state, nonce, verifier) = flow(app, headers).ok_or(Refusal::NoFlow)?;
    if let Some(e) = get("error") {
        return Err(Refusal::Provider(e.chars().take(100).collect()));
    }
    let given = get("state").unwrap_or_default();
    if !crate::daemon::app::same(given, &state) {
        return Err(Refusal::State);
    }
    let code = get("code").ok_or_else(|| Refusal::Code("no code".into()))?;
    let (http, c) = client(&o, &public_url).await?;
    let exchange = c
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .map_err(|e| Refusal::Down(e.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(verifier));
    let token = exchange.request_async(&http).await.map_err(|e| match e {
        openidconnect::RequestTokenError::ServerResponse(r) => Refusal::Code(r.error().to_string()),
        other => Refusal::Down(chain(&other)),
    })?;
    let id = token
        .extra_fields()
        .id_token()
        .ok_or_else(|| Refusal::Token("the provider sent no ID token".into()))?;
    let now = crate::clock::now();
    let verifier = c.id_token_verifier().set_time_fn(move || now);
    let claims = id
        .claims(&verifier, &Nonce::new(nonce))
        .map_err(|e| Refusal::Token(chain(&e)))?;
    let sub = claims.subject().to_string();
    // The same bytes whose signature was just checked.
    let raw = payload(&id.to_string()).unwrap_or_default();
    let name = raw
        .get("preferred_username")
        .or_else(|| raw.get("email"))
        .and_then(|v| v.as_str())
        .unwrap_or(&sub)
        .to_string();
    let name = valid_name(&name).map_err(|_| Refusal::Name)?;
    let gs = groups(&raw, &o.groups_claim);
    let role = app
        .shared
        .cfg()
        .daemon
        .console
        .roles
        .of(gs.iter().map(String::as_str))
        .ok_or_else(|| Refusal::NoRole(name.clone()))?;
    Ok(Person { name, role, sub })
}

/// `GET /ops/login/callback`: the provider's answer.
pub(super) async fn callback(State(app): State<App>, headers: HeaderMap, uri: Uri) -> Response {
    if settings(&app).is_none() {
        return not_configured(&app);
    }
    let clear = session::set_flow_cookie("", 0, secure(&app, &headers));
    let mut r = match finish(&app, &headers, &uri).await {
        Ok(p) => signed_in(&app, &headers, p),
        Err(e) => refused(&app, &e),
    };
    if let Ok(v) = HeaderValue::from_str(&clear) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

fn signed_in(app: &App, headers: &HeaderMap, p: Person) -> Response {
    let Some(w) = mint(app, headers, &p.name, p.role) else {
        return message(
            app,
            StatusCode::SERVICE_UNAVAILABLE,
            "Prøv igjen",
            "Ingen tilfeldighetskilde.",
        );
    };
    let entry = Actor::new(&p.name, p.role, Origin::Console)
        .did(crate::clock::now(), "sign_in")
        .changed(
            None,
            Some(json!({"method": "oidc", "sub": p.sub}).to_string()),
        );
    if let Err(r) = audited(app, entry) {
        return r;
    }
    tracing::info!(user = %p.name, role = p.role.as_str(), "console: signed in with OpenID Connect");
    page(
        app,
        StatusCode::OK,
        "message",
        json!({"title": "Logget inn", "heading": "Du er logget inn",
            "text": format!("Velkommen, {}. Du har rollen {}.", p.name, p.role.norsk()),
            "link": "/ops/", "link_text": "Til oversikten", "go_to": "/ops/"}),
        Some(&w),
    )
}

fn refused(app: &App, e: &Refusal) -> Response {
    if let Refusal::Down(_) = e {
        return down(app, e);
    }
    tracing::warn!(reason = %e, "console: a sign-in with OpenID Connect was refused");
    let who = match e {
        Refusal::NoRole(n) => n.as_str(),
        _ => "ukjent",
    };
    app.shared
        .metrics
        .sign_ins_refused
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let entry = Actor::new(who, Role::Viewer, Origin::Console)
        .did(crate::clock::now(), "sign_in.refused")
        .changed(
            None,
            Some(json!({"method": "oidc", "why": e.to_string()}).to_string()),
        );
    if let Err(r) = audited(app, entry) {
        return r;
    }
    match e {
        Refusal::NoRole(_) => no_role(app),
        Refusal::NoFlow | Refusal::State => message(
            app,
            StatusCode::BAD_REQUEST,
            "Innloggingen ble avvist",
            "Svaret fra identitetsleverandøren hører ikke til en innlogging som ble startet i denne nettleseren, eller den tok over 10 minutter. Start innloggingen på nytt.",
        ),
        _ => message(
            app,
            StatusCode::UNAUTHORIZED,
            "Innloggingen ble avvist",
            "Identitetsleverandørens svar kunne ikke godtas, så du er ikke logget inn. Start innloggingen på nytt; skjer det igjen, se loggen.",
        ),
    }
}
