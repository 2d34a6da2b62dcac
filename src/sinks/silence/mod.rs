//! Alertmanager silences through its API v2 (SPEC §4.7, issue #5): when an inquiry is
//! escalated to KS e-Komp, the organization's alarms for the affected services are silenced
//! (`createdBy = meldingsvakt`, a comment naming the incident); the silence is extended while the
//! incident stays escalated (a silence must have an end) and expired when an operator confirms
//! the incident resolved.
//!
//! Silence times use Alertmanager's clock (the real one), not the engine's.

use crate::config::Config;
use crate::engine::model::{About, Action, ActionBody, Environment};
use crate::sinks::{BuildError, Ctx, Failure, Sink, SinkState};
use crate::store::OutboxRow;
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use std::sync::Arc;

mod config;
pub(crate) use config::Settings;
pub(crate) use config::SECTION;

/// The sink, when `[alertmanager] url` is set.
pub(crate) fn build(cfg: &Config) -> Result<Option<Arc<dyn Sink>>, BuildError> {
    let Some(s) = cfg.sections.get::<Settings>() else {
        return Ok(None);
    };
    let err = BuildError::of("alertmanager");
    let silencer = Silencer::new(s.url.clone(), s.duration).map_err(|e| err(&e))?;
    Ok(Some(Arc::new(silencer)))
}

#[async_trait::async_trait]
impl Sink for Silencer {
    fn name(&self) -> &'static str {
        "silence"
    }

    async fn deliver(&self, ctx: &Ctx<'_>, row: &OutboxRow) -> Result<(), Failure> {
        self.deliver_action(ctx.cfg, &Map(ctx.state), &row.action)
            .await
    }

    async fn upkeep(&self, ctx: &Ctx<'_>) {
        self.extend(&Map(ctx.state)).await
    }
}

/// The silences of incidents, in the sink's state (incident id → [`Stored`] as JSON).
struct Map<'a>(&'a dyn SinkState);

impl Map<'_> {
    fn get(&self, incident: &str) -> Option<Stored> {
        let v = self.0.get("silence", incident)?;
        serde_json::from_str(&v).ok()
    }

    fn put(&self, s: &Stored) {
        match serde_json::to_string(s) {
            Ok(v) => self.0.put("silence", &s.incident, &v),
            Err(e) => tracing::error!(error = %e, "cannot record the silence"),
        }
    }

    /// Silences not expired.
    fn active(&self) -> Vec<Stored> {
        self.0
            .list("silence")
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_str::<Stored>(&v).ok())
            .filter(|s| !s.expired)
            .collect()
    }
}

/// The Alertmanager silence sink.
pub(crate) struct Silencer {
    http: reqwest::Client,
    base: String,
    duration: Duration,
}

/// The stored silence of an incident: id (empty while a create is in flight), matchers, end.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Stored {
    pub incident: String,
    pub id: String,
    pub matchers: String,
    pub ends_at: chrono::DateTime<Utc>,
    pub expired: bool,
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                format!("\\{c}")
            } else {
                c.to_string()
            }
        })
        .collect()
}

impl Silencer {
    /// A client for Alertmanager at `base`, making silences of `duration`.
    pub(crate) fn new(base: String, duration: Duration) -> Result<Silencer, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        Ok(Silencer {
            http,
            base: base.trim_end_matches('/').to_string(),
            duration,
        })
    }

    fn comment(incident: &str) -> String {
        format!("meldingsvakt {incident}: eskalert til KS e-Komp; overvåkingsalarm avsluttet til saken er bekreftet løst")
    }

    async fn post_silence(
        &self,
        id: Option<&str>,
        matchers: &Value,
        incident: &str,
    ) -> Result<(String, chrono::DateTime<Utc>), Failure> {
        let now = Utc::now();
        let ends = now + self.duration;
        let mut body = json!({
            "matchers": matchers,
            "startsAt": now.to_rfc3339(),
            "endsAt": ends.to_rfc3339(),
            "createdBy": "meldingsvakt",
            "comment": Self::comment(incident),
        });
        if let Some(id) = id {
            body["id"] = json!(id);
        }
        let r = self
            .http
            .post(format!("{}/api/v2/silences", self.base))
            .json(&body)
            .send()
            .await
            .map_err(|e| Failure::Transient(e.to_string()))?;
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(Failure::Transient(format!(
                "Alertmanager answered {status}: {v}"
            )));
        }
        v["silenceID"]
            .as_str()
            .map(|s| (s.to_string(), ends))
            .ok_or_else(|| Failure::Transient(format!("no silenceID in {v}")))
    }

    /// An active silence of ours for `incident`, after a create whose outcome is unknown.
    async fn lookup(&self, incident: &str) -> Result<Option<String>, Failure> {
        let r = self
            .http
            .get(format!("{}/api/v2/silences", self.base))
            .send()
            .await
            .map_err(|e| Failure::Transient(e.to_string()))?;
        let v: Value = r
            .json()
            .await
            .map_err(|e| Failure::Transient(e.to_string()))?;
        let comment = Self::comment(incident);
        Ok(v.as_array().and_then(|a| {
            a.iter()
                .find(|s| {
                    s["createdBy"] == "meldingsvakt"
                        && s["comment"] == comment.as_str()
                        && s["status"]["state"] != "expired"
                })
                .and_then(|s| s["id"].as_str().map(str::to_string))
        }))
    }

    async fn deliver_action(&self, cfg: &Config, map: &Map<'_>, a: &Action) -> Result<(), Failure> {
        let ActionBody::Silence(s) = &a.body else {
            return Ok(());
        };
        let About::Incident(incident) = &a.about else {
            return Ok(());
        };
        let known = map.get(incident);
        if s.message == "create" {
            let mut matchers = vec![
                json!({"name": cfg.labels.org, "value": s.org, "isRegex": false, "isEqual": true}),
            ];
            if !s.services.is_empty() {
                let alt = s
                    .services
                    .iter()
                    .map(|x| regex_escape(x))
                    .collect::<Vec<_>>()
                    .join("|");
                matchers.push(json!({"name": cfg.labels.service, "value": alt, "isRegex": true, "isEqual": true}));
            }
            // The environment too (SPEC §4.11). Production alerts may carry no environment
            // label (Alertmanager matches a missing label as ""), or one of its spellings.
            matchers.push(match s.environment {
                Environment::Test => {
                    json!({"name": cfg.labels.environment, "value": "test", "isRegex": false, "isEqual": true})
                }
                Environment::Produksjon => {
                    json!({"name": cfg.labels.environment, "value": "|produksjon|prod|production", "isRegex": true, "isEqual": true})
                }
            });
            let matchers = Value::Array(matchers);
            match known {
                Some(k) if !k.id.is_empty() => return Ok(()),
                Some(_) => {
                    if let Some(id) = self.lookup(incident).await? {
                        map.put(&Stored {
                            incident: incident.clone(),
                            id,
                            matchers: matchers.to_string(),
                            ends_at: Utc::now() + self.duration,
                            expired: false,
                        });
                        return Ok(());
                    }
                }
                None => {}
            }
            map.put(&Stored {
                incident: incident.clone(),
                id: String::new(),
                matchers: matchers.to_string(),
                ends_at: Utc::now(),
                expired: false,
            });
            let (id, ends_at) = self.post_silence(None, &matchers, incident).await?;
            map.put(&Stored {
                incident: incident.clone(),
                id,
                matchers: matchers.to_string(),
                ends_at,
                expired: false,
            });
            return Ok(());
        }
        // expire
        let Some(mut k) = known else { return Ok(()) };
        if k.id.is_empty() {
            match self.lookup(incident).await? {
                Some(id) => k.id = id,
                None => {
                    k.expired = true;
                    map.put(&k);
                    return Ok(());
                }
            }
        }
        let r = self
            .http
            .delete(format!("{}/api/v2/silence/{}", self.base, k.id))
            .send()
            .await
            .map_err(|e| Failure::Transient(e.to_string()))?;
        if !(r.status().is_success() || r.status().as_u16() == 404) {
            return Err(Failure::Transient(format!(
                "Alertmanager answered {} to expiring {}",
                r.status(),
                k.id
            )));
        }
        k.expired = true;
        map.put(&k);
        Ok(())
    }

    /// Extend silences that end within half their duration (the incident is still escalated:
    /// an expired silence is marked in the map when the incident is resolved).
    async fn extend(&self, map: &Map<'_>) {
        for mut s in map.active() {
            if s.id.is_empty() || s.ends_at - Utc::now() > self.duration / 2 {
                continue;
            }
            let matchers: Value = serde_json::from_str(&s.matchers).unwrap_or(Value::Null);
            match self.post_silence(Some(&s.id), &matchers, &s.incident).await {
                Ok((id, ends)) => {
                    s.id = id;
                    s.ends_at = ends;
                    map.put(&s);
                    tracing::info!(incident = %s.incident, until = %ends, "silence extended");
                }
                Err(e) => {
                    tracing::warn!(incident = %s.incident, error = %e, "silence not extended; will retry")
                }
            }
        }
    }
}
