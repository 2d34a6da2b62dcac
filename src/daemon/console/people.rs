//! People and accountability in the console (SPEC §5.10): "my tokens" (`/ops/tokens`: make,
//! list, revoke personal API tokens) and the audit log (`/ops/audit`, admins: filters, CSV and
//! JSON export, each export itself audited). What each route needs is in `daemon/access.rs`.

use super::auth::{audited, posted, signed_in, Who};
use super::{message, page, redirect};
use crate::audit::token::PersonalToken;
use crate::audit::{Actor, Origin, Role};
use crate::console::admin::{self, AuditFilter, Created};
use crate::daemon::app::App;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// `f` on the store, off the async threads; `None` when the store fails (or the task died),
/// said in the log, and nothing was changed.
pub(super) async fn on_store<T: Send + 'static>(
    app: &App,
    f: impl FnOnce(&mut dyn crate::store::Store) -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Option<T> {
    let shared = Arc::clone(&app.shared);
    let r = tokio::task::spawn_blocking(move || f(&mut **shared.store())).await;
    let e = match r {
        Ok(Ok(v)) => return Some(v),
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.to_string(),
    };
    tracing::error!(error = %e, "console: the store cannot be read or written");
    None
}

/// `on_store`, with the console's 503 page when the store fails.
pub(super) async fn stored<T: Send + 'static>(
    app: &App,
    f: impl FnOnce(&mut dyn crate::store::Store) -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, Response> {
    on_store(app, f).await.ok_or_else(|| {
        message(
            app,
            StatusCode::SERVICE_UNAVAILABLE,
            "Prøv igjen",
            "Lageret svarer ikke nå; ingenting er endret.",
        )
    })
}

/// The tokens page for `w`, with a token just made or an error.
async fn tokens_page(
    app: &App,
    w: &Who,
    status: StatusCode,
    created: Option<(String, String)>,
    error: Option<&str>,
) -> Response {
    let all = w.session.role.allows(Role::Admin);
    let person = (!all).then(|| w.session.user.clone());
    let list = match stored(app, move |s| s.tokens(person.as_deref())).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let cfg = app.shared.cfg();
    let created = created
        .as_ref()
        .map(|(label, text)| Created { label, text });
    let ctx = admin::tokens(
        &cfg,
        &list,
        all,
        w.session.role,
        created,
        error,
        crate::clock::now(),
    );
    page(app, status, "tokens", ctx, Some(w))
}

/// `GET /ops/tokens`.
pub(super) async fn tokens(State(app): State<App>, req: Request) -> Response {
    match signed_in(&app, &req) {
        Ok(w) => tokens_page(&app, &w, StatusCode::OK, None, None).await,
        Err(r) => r,
    }
}

/// `POST /ops/tokens`: a new token for the signed-in person, in their role, shown once.
pub(super) async fn create(State(app): State<App>, req: Request) -> Response {
    let (w, f) = match posted(&app, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if w.session.role == Role::BreakGlass {
        return tokens_page(
            &app,
            &w,
            StatusCode::FORBIDDEN,
            None,
            Some("Med operatørnøkkelen kan du ikke lage personlige nøkler."),
        )
        .await;
    }
    let label = f.get("label").unwrap_or_default().trim().to_string();
    if label.is_empty() || label.chars().count() > 60 || label.chars().any(char::is_control) {
        return tokens_page(
            &app,
            &w,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some("Gi nøkkelen et navn (1–60 tegn)."),
        )
        .await;
    }
    if crate::engine::guard::contains_identity_number(&label) {
        return tokens_page(
            &app,
            &w,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some("Navnet ser ut til å inneholde et fødselsnummer."),
        )
        .await;
    }
    let mut random = [0u8; 20];
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random).is_err() {
        return message(
            &app,
            StatusCode::SERVICE_UNAVAILABLE,
            "Prøv igjen",
            "Ingen tilfeldighetskilde.",
        );
    }
    let now = crate::clock::now();
    let life = app.shared.cfg().daemon.console.token_lifetime;
    let (text, t) = PersonalToken::mint(random, &w.session.user, w.session.role, &label, now, life);
    let entry = Actor::new(&w.session.user, w.session.role, Origin::Console)
        .did(now, "token.create")
        .on(format!("token/{}", t.id))
        .changed(
            None,
            Some(
                serde_json::json!({"label": t.label, "role": t.role.as_str(), "expires": crate::audit::at_text(t.expires_at)})
                    .to_string(),
            ),
        );
    if let Err(r) = stored(&app, move |s| s.token_create(&t, &entry)).await {
        return r;
    }
    tracing::info!(user = %w.session.user, token = %&text[4..12], "console: a personal token was made");
    tokens_page(&app, &w, StatusCode::OK, Some((label, text)), None).await
}

/// `POST /ops/tokens/revoke`: the person's own token, or anyone's for an admin.
pub(super) async fn revoke(State(app): State<App>, req: Request) -> Response {
    let (w, f) = match posted(&app, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let id = f.get("id").unwrap_or_default().to_string();
    let admin = w.session.role.allows(Role::Admin);
    let person = (!admin).then(|| w.session.user.clone());
    let now = crate::clock::now();
    let entry = Actor::new(&w.session.user, w.session.role, Origin::Console)
        .did(now, "token.revoke")
        .on(format!("token/{id}"));
    let done = stored(&app, move |s| {
        s.token_revoke(&id, person.as_deref(), now, &entry)
    })
    .await;
    match done {
        Ok(true) => redirect("/ops/tokens", w.cookie),
        Ok(false) => {
            tokens_page(
                &app,
                &w,
                StatusCode::NOT_FOUND,
                None,
                Some("Ingen slik aktiv nøkkel."),
            )
            .await
        }
        Err(r) => r,
    }
}

/// `GET /ops/audit`: the log filtered; `format=csv|json` exports every match, and the export
/// is itself an audit entry (written before the file leaves).
pub(super) async fn audit(State(app): State<App>, req: Request) -> Response {
    let w = match signed_in(&app, &req) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let f: AuditFilter = req
        .uri()
        .query()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    let cfg = app.shared.cfg();
    let mut q = match f.query(&cfg) {
        Ok(q) => q,
        Err(e) => {
            let ctx = admin::audit(&cfg, &f, &[], Some(&e.to_string()));
            return page(&app, StatusCode::BAD_REQUEST, "audit", ctx, Some(&w));
        }
    };
    let export = matches!(f.format.as_str(), "csv" | "json");
    if !export {
        // The page shows the newest `PAGE`; one more says there are more (the export has all).
        q.limit = admin::PAGE + 1;
    }
    if export {
        let entry = Actor::new(&w.session.user, w.session.role, Origin::Console)
            .did(crate::clock::now(), "audit.export")
            .on("audit")
            .changed(None, Some(f.as_json()));
        if let Err(r) = audited(&app, entry) {
            return r;
        }
    }
    let entries = match stored(&app, move |s| s.audit_find(&q)).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    if export {
        tracing::info!(user = %w.session.user, entries = entries.len(), format = %f.format, "console: the audit log was exported");
        let stamp = crate::clock::now().format("%Y%m%d-%H%M%S");
        let (ct, ext, body) = if f.format == "csv" {
            ("text/csv; charset=utf-8", "csv", admin::csv(&entries))
        } else {
            (
                "application/json",
                "json",
                serde_json::to_string_pretty(&entries).unwrap_or_default(),
            )
        };
        let disposition = format!("attachment; filename=\"revisjonslogg-{stamp}.{ext}\"");
        return (
            [
                (header::CONTENT_TYPE, ct.to_string()),
                (header::CACHE_CONTROL, "no-store".to_string()),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            body,
        )
            .into_response();
    }
    let ctx = admin::audit(&cfg, &f, &entries, None);
    page(&app, StatusCode::OK, "audit", ctx, Some(&w))
}
