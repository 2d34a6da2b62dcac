//! A standby hands writes to the leader (SPEC §5.7): every request that changes something
//! (`POST` to the API and the console's forms) goes, as it came, to the URL the leader
//! advertised in the database, and the standby answers with the leader's verdict — the same
//! status, headers and body. Before it answers a write that succeeded, it catches up with the
//! log, so what the client reads next from this host includes its write.
//!
//! Reads (pages, views, timelines, reports, health, metrics) are answered here from the
//! standby's own engine, which follows the log in the database.
//!
//! Why forwarding rather than an inbox table: a console form's answer is a page the leader
//! renders from its verdict, and an API refusal names the field; passing the request through
//! keeps every answer the leader's own, with one code path for both hosts.
//!
//! A forwarded request carries `X-Meldingsvakt-Forwarded`; a host that gets one while not
//! leading answers 503 rather than forwarding again (no loops during a change of leader).
//! Alertmanager retries a 503, and a client sees `Retry-After`.

use super::app::{err, App};
use super::engine_task::Cmd;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

const FORWARDED: &str = "x-meldingsvakt-forwarded";

/// Requests a standby does not answer itself.
fn is_write(method: &Method, uri: &axum::http::Uri) -> bool {
    let path = uri.path();
    // Reads that write the audit log (SPEC §5.10: only the leader appends): the end of a
    // sign-in with OpenID Connect, and an export of the audit log or the directory.
    let export = uri
        .query()
        .is_some_and(|q| q.contains("format=csv") || q.contains("format=json"));
    if path == "/ops/login/callback" || (export && matches!(path, "/ops/audit" | "/ops/directory"))
    {
        return true;
    }
    // The incident form's live derivation changes nothing here or on the leader. Signing in
    // and out are audited, so they are writes.
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) && path != "/ops/derive"
}

fn client() -> &'static reqwest::Client {
    static C: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    C.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(3))
            .timeout(std::time::Duration::from_secs(25))
            .build()
            .unwrap_or_default()
    })
}

fn unavailable(message: String) -> Response {
    let mut r = err(503, message);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
    r
}

/// Hop-by-hop headers and those the transport sets again.
fn passes(name: &HeaderName) -> bool {
    !matches!(
        name.as_str(),
        "host"
            | "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "content-length"
            | "proxy-connection"
    )
}

pub(super) async fn layer(State(app): State<App>, req: Request, next: Next) -> Response {
    let role = &app.shared.role;
    // A single host always leads.
    if role.leading() {
        return next.run(req).await;
    }
    // A console request through the SSO proxy that signs someone in (or refuses them) is
    // audited, so it is the leader's, read or not.
    let signs_in =
        req.uri().path().starts_with("/ops") && super::console::signs_in(&app, req.headers());
    if !signs_in && !is_write(req.method(), req.uri()) {
        return next.run(req).await;
    }
    if req.headers().contains_key(FORWARDED) {
        return unavailable(
            "this host no longer leads (the leader changed while the request was forwarded); try again".into(),
        );
    }
    // Just started, or an election under way: the leadership session learns who leads
    // within a tick (lease / 5); wait that long before answering 503.
    let mut leader = role.leader_url();
    for _ in 0..30 {
        if leader.is_some() || role.leading() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        leader = role.leader_url();
    }
    if role.leading() {
        return next.run(req).await;
    }
    let Some(leader) = leader else {
        return unavailable(
            "no host leads at the moment (an election is under way); try again".into(),
        );
    };
    let cfg = app.shared.cfg();
    if req.uri().path().starts_with("/ops") {
        let peer = req.extensions().get::<super::console::Peer>().copied();
        if let Err(refused) = super::console::judge_sso_header(&app, req.headers(), peer) {
            return refused;
        }
    }
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, cfg.daemon.max_body).await {
        Ok(b) => b,
        Err(_) => return err(413, "the request body is too large or was cut off"),
    };
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut rb = client().request(parts.method.clone(), format!("{leader}{path}"));
    let c = &cfg.daemon.console;
    let sso = [
        c.trusted_user_header.as_deref(),
        c.trusted_groups_header.as_deref(),
    ];
    for (k, v) in parts.headers.iter() {
        // The proxy's headers are believed only from the proxy, and the leader sees this host
        // as the peer: the session cookie carries who it is, or this host's seal of what the
        // proxy it judged said (never one a client brought).
        if passes(k) && !sso.contains(&Some(k.as_str())) && k.as_str() != super::console::VOUCHED {
            rb = rb.header(k, v);
        }
    }
    if let Some(v) = super::console::vouch(&app, &parts.headers) {
        rb = rb.header(super::console::VOUCHED, v);
    }
    rb = rb.header(FORWARDED, role.epoch().to_string()).body(body);
    let resp = match rb.send().await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(leader = %leader, error = %e, "cannot forward a write to the leader");
            return unavailable(format!(
                "the leader ({leader}) could not be reached; try again"
            ));
        }
    };
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = match resp.bytes().await {
        Ok(b) => b,
        Err(e) => {
            return unavailable(format!(
                "the leader's answer was cut off ({e}); the write may have been applied: look before trying again"
            ))
        }
    };
    if status.is_success() || status.is_redirection() {
        // Read-your-writes on this host.
        let (tx, rx) = tokio::sync::oneshot::channel();
        if app.tx.send(Cmd::Follow(tx)).await.is_ok() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), rx).await;
        }
    }
    let mut out = (status, bytes).into_response();
    for (k, v) in headers.iter() {
        if passes(k) {
            out.headers_mut().append(k.clone(), v.clone());
        }
    }
    out
}
