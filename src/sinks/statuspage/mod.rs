//! Atlassian Statuspage manage API v1 (issue #4): realtime incidents and scheduled maintenance,
//! one page per environment (seeds/000 §1.3), components from `[[service]] component`.
//!
//! - `Authorization: OAuth <key>`, the key from a file or the environment, never the config.
//! - At most one request per `min_interval` (1 s: Statuspage allows 1 request/second/token).
//! - 420/429: wait `Retry-After` (at most 60 s) and retry, up to 5 times; 5xx and network
//!   errors: the outbox retries with backoff; other 4xx: permanent (logged, retried slowly).
//! - No idempotency key exists in the API: every incident we create carries
//!   `metadata.meldingsvakt.id`. After a failed attempt whose outcome is unknown, the incident is
//!   looked up by that id before it is created again, so none is ever posted twice. Our id →
//!   Statuspage id is stored (`statuspage_map`).

use crate::config::Config;
use crate::engine::model::{About, Action, ActionBody, Environment, StatusKind, StatusPost};
use crate::render::Renderer;
use crate::sinks::{BuildError, Ctx, Failure, Sink, SinkState};
use crate::store::OutboxRow;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod config;
pub(crate) use config::Settings;
pub(crate) use config::SECTION;

/// The sink, when a page is configured; the API key is read here.
pub(crate) fn build(cfg: &Config) -> Result<Option<Arc<dyn Sink>>, BuildError> {
    let Some(sp) = cfg.sections.get::<Settings>() else {
        return Ok(None);
    };
    let err = BuildError::of("statuspage");
    let key = sp.api_key.read("Statuspage API key").map_err(|e| err(&e))?;
    let client = Client::new(
        sp.base_url.clone(),
        key.expose().to_string(),
        sp.page_id.clone(),
        sp.test_page_id.clone(),
        sp.min_interval.to_std().unwrap_or(Duration::from_secs(1)),
    )
    .map_err(|e| err(&e))?;
    Ok(Some(Arc::new(client)))
}

#[async_trait::async_trait]
impl Sink for Client {
    fn name(&self) -> &'static str {
        "statuspage"
    }

    async fn deliver(&self, ctx: &Ctx<'_>, row: &OutboxRow) -> Result<(), Failure> {
        let map = Map(ctx.state);
        self.deliver_action(ctx.cfg, ctx.renderer, &map, &row.action, row.attempts)
            .await
    }
}

/// Our id → Statuspage id per environment, in the sink's state (`"{env} {our id}"` → the
/// Statuspage id as a JSON string; `""` marks a create whose outcome is unknown).
struct Map<'a>(&'a dyn SinkState);

impl Map<'_> {
    fn get(&self, our: &str, env: &str) -> Option<String> {
        let v = self.0.get("statuspage", &format!("{env} {our}"))?;
        serde_json::from_str(&v).ok()
    }

    fn put(&self, our: &str, env: &str, sp: &str) {
        self.0.put(
            "statuspage",
            &format!("{env} {our}"),
            &json!(sp).to_string(),
        );
    }
}

/// The Atlassian Statuspage sink and API client.
pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
    prod_page: Option<String>,
    test_page: Option<String>,
    min_interval: Duration,
    last: tokio::sync::Mutex<Option<Instant>>,
}

impl Client {
    /// A client for `base_url`, pacing its requests `min_interval` apart.
    pub(crate) fn new(
        base: String,
        key: String,
        prod_page: Option<String>,
        test_page: Option<String>,
        min_interval: Duration,
    ) -> Result<Client, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Client {
            http,
            base: base.trim_end_matches('/').to_string(),
            key,
            prod_page,
            test_page,
            min_interval,
            last: tokio::sync::Mutex::new(None),
        })
    }

    fn page(&self, env: Environment) -> Option<&str> {
        match env {
            Environment::Produksjon => self.prod_page.as_deref(),
            Environment::Test => self.test_page.as_deref(),
        }
    }

    async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        for _ in 0..5 {
            {
                let mut last = self.last.lock().await;
                if let Some(t) = *last {
                    let wait = self.min_interval.saturating_sub(t.elapsed());
                    tokio::time::sleep(wait).await;
                }
                *last = Some(Instant::now());
            }
            let mut req = self
                .http
                .request(method.clone(), format!("{}{path}", self.base))
                .header("Authorization", format!("OAuth {}", self.key));
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| Failure::Transient(format!("{path}: {e}")))?;
            let status = resp.status().as_u16();
            if status == 420 || status == 429 {
                let secs = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|s| s.trim().parse::<u64>().ok())
                    .unwrap_or(1)
                    .min(60);
                tracing::warn!(status, secs, "Statuspage rate limit; waiting");
                tokio::time::sleep(Duration::from_secs(secs)).await;
                continue;
            }
            let text = resp.text().await.unwrap_or_default();
            return match status {
                200..=299 => Ok(serde_json::from_str(&text).unwrap_or(Value::Null)),
                500..=599 => Err(Failure::Transient(format!(
                    "{path}: HTTP {status}: {}",
                    text.chars().take(200).collect::<String>()
                ))),
                _ => Err(Failure::Permanent(format!(
                    "{path}: HTTP {status}: {}",
                    text.chars().take(300).collect::<String>()
                ))),
            };
        }
        Err(Failure::Transient(format!("{path}: still rate limited")))
    }

    /// Our incident or maintenance on the page, found by `metadata.meldingsvakt.id` among the
    /// most recent 300 (the API's `q` does not search metadata).
    async fn lookup(&self, page: &str, about: &About) -> Result<Option<String>, Failure> {
        for n in 1..=3 {
            let path = format!("/pages/{page}/incidents?limit=100&page={n}");
            let v = self.request(reqwest::Method::GET, &path, None).await?;
            let Some(list) = v.as_array() else {
                return Ok(None);
            };
            if let Some(id) = list
                .iter()
                .find(|i| is_ours(&i["metadata"]["meldingsvakt"], about))
                .and_then(|i| i["id"].as_str())
            {
                return Ok(Some(id.to_string()));
            }
            if list.len() < 100 {
                break;
            }
        }
        Ok(None)
    }

    async fn deliver_action(
        &self,
        cfg: &Config,
        r: &Renderer,
        map: &Map<'_>,
        a: &Action,
        attempts: i64,
    ) -> Result<(), Failure> {
        let ActionBody::Statuspage(s) = &a.body else {
            return Ok(());
        };
        let Some(page) = self.page(s.environment) else {
            return Ok(());
        };
        // Incidents keep their id; a maintenance is `maintenance/{id}`, so the two never share
        // a Statuspage entry (SPEC §4.14).
        let our = a.about.key_prefix();
        let env = s.environment.as_str();
        let text = r
            .status(cfg, s)
            .map_err(|e| Failure::Permanent(e.to_string()))?;
        let incident = body(cfg, s, &a.about, &text.subject, text.body.trim());
        let create = matches!(
            s.message,
            StatusKind::IncidentCreate | StatusKind::MaintenanceCreate
        );
        // An empty mapping is the intent marker written before a create: the outcome of that
        // create is unknown (crash, timeout), so look before creating again.
        let mut known = map.get(&our, env);
        let ambiguous = known.as_deref() == Some("");
        if ambiguous || (known.is_none() && (attempts > 0 || !create)) {
            known = self.lookup(page, &a.about).await?;
            if let Some(id) = &known {
                map.put(&our, env, id);
            }
        }
        match (create, known) {
            (true, Some(_)) => Ok(()), // created by an earlier attempt
            (true, None) => {
                map.put(&our, env, "");
                let v = self
                    .request(
                        reqwest::Method::POST,
                        &format!("/pages/{page}/incidents"),
                        Some(&json!({ "incident": incident })),
                    )
                    .await?;
                match v["id"].as_str() {
                    Some(id) => {
                        map.put(&our, env, id);
                        Ok(())
                    }
                    None => Err(Failure::Transient("create answered without an id".into())),
                }
            }
            (false, Some(id)) => {
                let mut patch = incident;
                if let Some(o) = patch.as_object_mut() {
                    o.remove("metadata");
                }
                self.request(
                    reqwest::Method::PATCH,
                    &format!("/pages/{page}/incidents/{id}"),
                    Some(&json!({ "incident": patch })),
                )
                .await?;
                Ok(())
            }
            (false, None) => Err(Failure::Transient(format!("{our} is not on the page yet"))),
        }
    }
}

/// The `incident` object of a create or update.
/// Our metadata on a Statuspage entry: the case's id and what it is (SPEC §4.14: an incident
/// and a maintenance with the same id are two entries). Entries made before `type` existed
/// have none; they are incidents or maintenances by the id alone, as before.
fn metadata(about: &About) -> Value {
    let ty = match about {
        About::Incident(_) => "incident",
        About::Maintenance(_) => "maintenance",
        About::Inquiry(_) => "inquiry",
        About::Report(_) => "report",
        About::Directory(_) => "directory",
    };
    json!({ "id": about.id(), "type": ty })
}

fn is_ours(m: &Value, about: &About) -> bool {
    m["id"].as_str() == Some(about.id())
        && m["type"]
            .as_str()
            .is_none_or(|t| Some(t) == metadata(about)["type"].as_str())
}

fn body(cfg: &Config, s: &StatusPost, about: &About, name: &str, text: &str) -> Value {
    let services: Vec<String> = s
        .incident
        .as_ref()
        .map(|i| i.services.clone())
        .or_else(|| s.maintenance.as_ref().map(|m| m.services.clone()))
        .unwrap_or_default();
    let all = services.is_empty();
    let ids: Vec<String> = cfg
        .services
        .iter()
        .filter(|sv| all || services.contains(&sv.id))
        .filter_map(|sv| sv.component.clone())
        .collect();
    let mut o = json!({
        "name": name.chars().take(255).collect::<String>(),
        "body": text,
        "metadata": { "meldingsvakt": metadata(about) },
        "component_ids": ids,
        "deliver_notifications": true,
    });
    match (&s.incident, &s.maintenance) {
        (Some(i), _) => {
            let status = match s.message {
                StatusKind::IncidentResolve => "resolved",
                _ => s.status.as_str(),
            };
            o["status"] = json!(status);
            let comp = match (s.message, i.priority) {
                (StatusKind::IncidentResolve, _) => "operational",
                (_, 1) => "major_outage",
                (_, 2) => "partial_outage",
                _ => "degraded_performance",
            };
            o["components"] = Value::Object(ids.iter().map(|c| (c.clone(), json!(comp))).collect());
            o["impact_override"] = json!(crate::status::impact(i.priority));
        }
        (None, Some(m)) => {
            let cancelled = s.message == StatusKind::MaintenanceCancel;
            o["status"] = json!(if cancelled { "completed" } else { "scheduled" });
            o["scheduled_for"] = json!(m.from.to_rfc3339());
            o["scheduled_until"] = json!(m.to.to_rfc3339());
            o["scheduled_auto_in_progress"] = json!(!cancelled);
            o["scheduled_auto_completed"] = json!(!cancelled);
            o["auto_transition_to_maintenance_state"] = json!(!cancelled);
            o["auto_transition_to_operational_state"] = json!(true);
            o["impact_override"] = json!("maintenance");
        }
        _ => {}
    }
    o
}

#[cfg(test)]
mod metadata_tests {
    use super::*;

    #[test]
    fn an_incident_and_a_maintenance_with_one_id_are_two_entries() {
        let inc = About::Incident("X1".into());
        let ved = About::Maintenance("X1".into());
        assert!(is_ours(&metadata(&inc), &inc));
        assert!(!is_ours(&metadata(&inc), &ved));
        assert!(!is_ours(&metadata(&ved), &inc));
        // Entries made before `type` existed are still found by their id.
        assert!(is_ours(&json!({"id": "X1"}), &inc));
        assert!(!is_ours(&json!({"id": "X2"}), &inc));
    }
}
