//! The console's «Abonnenter» (admins, SPEC §4.17): the count per service, a search by
//! address, removing one (audited, the address deleted) and an audited CSV export. The only
//! place subscriber addresses are shown.

use super::auth::{audited, posted, signed_in};
use super::people::stored;
use super::{message, page, redirect};
use crate::audit::{Actor, Origin};
use crate::daemon::app::App;
use crate::daemon::subscribers::hash;
use crate::store::Subscriber;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

fn csv(cfg: &crate::config::Config, subs: &[Subscriber]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(["address", "services", "test", "created_at", "confirmed_at"]);
    for s in subs {
        let _ = w.write_record([
            s.address.clone(),
            s.services.join(" "),
            s.test.to_string(),
            crate::render::oslo_fmt(cfg, s.created_at),
            s.confirmed_at
                .map(|t| crate::render::oslo_fmt(cfg, t))
                .unwrap_or_default(),
        ]);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// `GET /ops/subscribers` (admins): `?q=` searches; `?format=csv` exports, audited first.
pub(super) async fn show(State(app): State<App>, req: Request) -> Response {
    let w = match signed_in(&app, &req) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let q: std::collections::HashMap<String, String> =
        serde_urlencoded::from_str(req.uri().query().unwrap_or_default()).unwrap_or_default();
    let (subs, queued) = match stored(&app, |st| Ok((st.sub_all()?, st.sub_queued()?))).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let cfg = app.shared.cfg();
    if q.get("format").map(String::as_str) == Some("csv") {
        let entry = Actor::new(&w.session.user, w.session.role, Origin::Console)
            .did(crate::clock::now(), "subscriber.export")
            .on("subscribers");
        if let Err(r) = audited(&app, entry) {
            return r;
        }
        tracing::info!(user = %w.session.user, subscribers = subs.len(), "console: the subscribers were exported");
        let stamp = crate::clock::now().format("%Y%m%d-%H%M%S");
        return (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CACHE_CONTROL, "no-store".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"abonnenter-{stamp}.csv\""),
                ),
            ],
            csv(&cfg, &subs),
        )
            .into_response();
    }
    let confirmed: Vec<&Subscriber> = subs.iter().filter(|s| s.confirmed_at.is_some()).collect();
    let per_service: Vec<_> = cfg
        .services
        .iter()
        .map(|sv| {
            let n = confirmed
                .iter()
                .filter(|s| s.services.is_empty() || s.services.contains(&sv.id))
                .count();
            json!({"name": crate::console::words::services(&cfg, std::slice::from_ref(&sv.id)), "count": n})
        })
        .collect();
    let needle = q
        .get("q")
        .map(|x| x.trim().to_lowercase())
        .unwrap_or_default();
    let found: Vec<_> = if needle.is_empty() {
        vec![]
    } else {
        subs.iter()
            .filter(|s| s.address.contains(&needle))
            .take(100)
            .map(|s| {
                json!({"id": s.id, "address": s.address,
                       "services": crate::console::words::services(&cfg, &s.services),
                       "test": s.test, "confirmed": s.confirmed_at.map(|t| crate::render::oslo_fmt(&cfg, t))})
            })
            .collect()
    };
    let flash = q
        .get("ok")
        .map(|_| "Abonnenten er fjernet, og adressen er slettet.");
    let ctx = json!({
        "title": "Abonnenter",
        "confirmed": confirmed.len(),
        "pending": subs.len() - confirmed.len(),
        "queued": queued,
        "per_service": per_service,
        "q": q.get("q").cloned().unwrap_or_default(),
        "searched": !needle.is_empty(),
        "found": found,
        "flash": flash,
    });
    page(&app, StatusCode::OK, "subscribers", ctx, Some(&w))
}

/// `POST /ops/subscribers`: remove subscriber `id` (admins), audited with the address's hash.
pub(super) async fn remove(State(app): State<App>, req: Request) -> Response {
    let (w, f) = match posted(&app, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let id = f.get("id").unwrap_or_default().to_string();
    let q = f.get("q").unwrap_or_default().to_string();
    let user = w.session.user.clone();
    let role = w.session.role;
    let r = stored(&app, move |st| {
        let Some(s) = st.sub_get(&id)? else {
            return Ok(None);
        };
        let entry = Actor::new(&user, role, Origin::Console)
            .did(crate::clock::now(), "subscriber.remove")
            .on(format!("subscriber/{}", hash(&s.address)));
        st.sub_remove(&s.id, &entry).map(|_| Some(hash(&s.address)))
    })
    .await;
    match r {
        Ok(Some(h)) => {
            tracing::info!(user = %w.session.user, to = %h, "console: a subscriber was removed; the address is deleted");
            let q: String = form_urlencoded(&q);
            redirect(&format!("/ops/subscribers?ok=removed&q={q}"), None)
        }
        Ok(None) => message(
            &app,
            StatusCode::NOT_FOUND,
            "Ikke funnet",
            "Abonnenten finnes ikke (lenger).",
        ),
        Err(r) => r,
    }
}

fn form_urlencoded(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|x| x.trim_start_matches('=').to_string())
        .unwrap_or_default()
}
