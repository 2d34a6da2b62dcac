//! The built-in public status page (SPEC §5.4, issue #4): `GET /` (HTML), `GET
//! /api/v1/status` (JSON in the shape of Statuspage's public `/api/v2/summary.json`) and `GET
//! /feed.atom`, one page per environment (`/test/…` for the test environment, seeds/000 §1.3).
//!
//! The page is a pure function of the status-page actions the engine decided: they are applied
//! here when committed, and on start the page is rebuilt from the outbox. Renderings are cached
//! and served from memory; the cache expires at the next instant a maintenance starts or ends
//! (or after a minute), so requests never touch the database.

use crate::config::Config;
use crate::engine::model::{
    Action, ActionBody, Environment, IncidentView, MaintenanceView, StatusKind, Time,
};
use crate::render::Renderer;
use chrono::Duration;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

pub(crate) mod page;

/// One post of an incident on the built-in page.
#[derive(Debug, Clone)]
pub(crate) struct Update {
    pub at: Time,
    pub status: String,
    pub body: String,
}

/// An incident as the built-in page shows it.
#[derive(Debug, Clone)]
pub(crate) struct PageIncident {
    pub id: String,
    pub name: String,
    pub view: IncidentView,
    pub status: String,
    pub created_at: Time,
    pub updated_at: Time,
    pub resolved_at: Option<Time>,
    pub updates: Vec<Update>,
}

/// A maintenance as the built-in page shows it.
#[derive(Debug, Clone)]
pub(crate) struct PageMaintenance {
    pub id: String,
    pub name: String,
    pub body: String,
    pub view: MaintenanceView,
    pub created_at: Time,
    pub updated_at: Time,
    pub cancelled: bool,
}

/// One environment's page.
#[derive(Debug, Clone, Default)]
pub(crate) struct Page {
    pub incidents: BTreeMap<String, PageIncident>,
    pub maintenances: BTreeMap<String, PageMaintenance>,
    pub updated_at: Option<Time>,
}

/// Statuspage component statuses, worst last.
pub(crate) const COMPONENT_STATUS: [&str; 5] = [
    "operational",
    "under_maintenance",
    "degraded_performance",
    "partial_outage",
    "major_outage",
];

impl Page {
    /// Apply one status-page action (rendered title and body from the templates).
    pub(crate) fn apply(&mut self, cfg: &Config, r: &Renderer, a: &Action) {
        let ActionBody::Statuspage(s) = &a.body else {
            return;
        };
        let (title, body) = match r.status(cfg, s) {
            Ok(x) => (x.subject, x.body.trim().to_string()),
            Err(e) => {
                tracing::error!(error = %e, "status page text could not be rendered");
                return;
            }
        };
        self.updated_at = Some(a.at);
        if let Some(v) = &s.incident {
            let e = self
                .incidents
                .entry(v.id.clone())
                .or_insert_with(|| PageIncident {
                    id: v.id.clone(),
                    name: title.clone(),
                    view: v.clone(),
                    status: s.status.clone(),
                    created_at: a.at,
                    updated_at: a.at,
                    resolved_at: None,
                    updates: vec![],
                });
            e.view = v.clone();
            e.status = s.status.clone();
            e.updated_at = a.at;
            if s.message == StatusKind::IncidentResolve {
                e.resolved_at = Some(a.at);
            }
            e.updates.push(Update {
                at: a.at,
                status: s.status.clone(),
                body,
            });
        } else if let Some(m) = &s.maintenance {
            let e = self
                .maintenances
                .entry(m.id.clone())
                .or_insert_with(|| PageMaintenance {
                    id: m.id.clone(),
                    name: title.clone(),
                    body: body.clone(),
                    view: m.clone(),
                    created_at: a.at,
                    updated_at: a.at,
                    cancelled: false,
                });
            e.view = m.clone();
            e.name = title;
            e.body = body;
            e.updated_at = a.at;
            e.cancelled = s.message == StatusKind::MaintenanceCancel;
        }
    }

    /// Forget what is older than the 14 days of history the page shows.
    pub(crate) fn prune(&mut self, now: Time) {
        let cutoff = now - Duration::days(14);
        self.incidents
            .retain(|_, i| i.resolved_at.is_none_or(|r| r > cutoff));
        self.maintenances.retain(|_, m| m.view.to > cutoff);
    }
}

/// A maintenance's Statuspage status at `now`.
pub(crate) fn maintenance_status(m: &PageMaintenance, now: Time) -> &'static str {
    if m.cancelled {
        "cancelled"
    } else if now < m.view.from {
        "scheduled"
    } else if now < m.view.to {
        "in_progress"
    } else {
        "completed"
    }
}

/// Impact of an open incident on the page: critical (priority 1), major (2), minor.
pub(crate) fn impact(p: u8) -> &'static str {
    match p {
        1 => "critical",
        2 => "major",
        _ => "minor",
    }
}

fn component_status_for(p: u8) -> &'static str {
    match p {
        1 => "major_outage",
        2 => "partial_outage",
        _ => "degraded_performance",
    }
}

/// Component (service) statuses at `now`.
pub(crate) fn components(
    cfg: &Config,
    page: &Page,
    now: Time,
) -> Vec<(String, String, &'static str)> {
    cfg.services
        .iter()
        .map(|s| {
            let mut worst = 0;
            let rank = |st: &str| COMPONENT_STATUS.iter().position(|x| *x == st).unwrap_or(0);
            for i in page.incidents.values().filter(|i| i.resolved_at.is_none()) {
                if i.view.services.is_empty() || i.view.services.contains(&s.id) {
                    worst = worst.max(rank(component_status_for(i.view.priority)));
                }
            }
            for m in page
                .maintenances
                .values()
                .filter(|m| maintenance_status(m, now) == "in_progress")
            {
                if m.view.services.is_empty() || m.view.services.contains(&s.id) {
                    worst = worst.max(rank("under_maintenance"));
                }
            }
            (s.id.clone(), s.name.clone(), COMPONENT_STATUS[worst])
        })
        .collect()
}

/// The overall indicator and its Norwegian description.
pub(crate) fn indicator(page: &Page, now: Time) -> (&'static str, &'static str) {
    let worst = page
        .incidents
        .values()
        .filter(|i| i.resolved_at.is_none())
        .map(|i| i.view.priority)
        .min();
    match worst {
        Some(1) => ("critical", "Kritisk driftsforstyrrelse"),
        Some(2) => ("major", "Større driftsforstyrrelse"),
        Some(_) => ("minor", "Mindre driftsforstyrrelse"),
        None if page
            .maintenances
            .values()
            .any(|m| maintenance_status(m, now) == "in_progress") =>
        {
            ("maintenance", "Vedlikehold pågår")
        }
        None => ("none", "Alle tjenester fungerer normalt"),
    }
}

/// Rendered page, cached until `valid_until`.
pub(crate) struct Rendered {
    /// Shared buffers: a response is a reference count, not a copy.
    pub html: axum::body::Bytes,
    pub json: axum::body::Bytes,
    pub atom: axum::body::Bytes,
    pub valid_until: Time,
}

/// Both environments' pages and their cached renderings.
pub(crate) struct StatusPages {
    pages: Mutex<BTreeMap<Environment, Page>>,
    cache: Mutex<BTreeMap<Environment, Arc<Rendered>>>,
    /// What the production page's 90-day uptime rows need of the case history.
    history: Mutex<Arc<crate::report::History>>,
    /// The maintenances the calendar feed shows (SPEC §5.9: from 90 days back, cancelled
    /// ones too), from the same history.
    calendar: Mutex<Arc<Vec<MaintenanceView>>>,
}

impl Default for StatusPages {
    fn default() -> Self {
        StatusPages {
            pages: Mutex::new(BTreeMap::new()),
            cache: Mutex::new(BTreeMap::new()),
            history: Mutex::new(Arc::new(crate::report::History::default())),
            calendar: Mutex::new(Arc::new(Vec::new())),
        }
    }
}

/// How far back the calendar feed shows maintenances (SPEC §5.9).
pub(crate) const CALENDAR_DAYS: i64 = 90;

/// Days in the uptime rows.
pub(crate) const UPTIME_DAYS: u32 = 90;

impl StatusPages {
    /// Forget both pages (a host that stops leading rebuilds them from the database).
    pub(crate) fn clear(&self) {
        self.pages.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Render again at the next request (a reload may have changed names, services or
    /// templates: the page shows the configuration in force at once, not a minute later).
    pub(crate) fn invalidate(&self) {
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Apply decided status-page actions to the page.
    pub(crate) fn apply(&self, cfg: &Config, r: &Renderer, actions: &[Action]) {
        let mut pages = self.pages.lock().unwrap_or_else(|p| p.into_inner());
        let mut touched = false;
        for a in actions {
            if let ActionBody::Statuspage(s) = &a.body {
                pages.entry(s.environment).or_default().apply(cfg, r, a);
                touched = true;
            }
        }
        if touched {
            let now = crate::clock::now();
            pages.values_mut().for_each(|p| p.prune(now));
            self.cache.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
    }

    /// Keep what the uptime rows need of `h` (the last 90 days); the page is re-rendered when
    /// it changed.
    pub(crate) fn set_history(&self, h: &crate::report::History, now: Time) {
        let since = now - chrono::Duration::days(CALENDAR_DAYS);
        let calendar: Vec<MaintenanceView> = h
            .maintenances
            .values()
            .filter_map(|m| m.view.clone())
            .filter(|v| v.to > since)
            .collect();
        *self.calendar.lock().unwrap_or_else(|p| p.into_inner()) = Arc::new(calendar);
        let recent =
            crate::report::recent(h, now - chrono::Duration::days(i64::from(UPTIME_DAYS) + 1));
        let mut slot = self.history.lock().unwrap_or_else(|p| p.into_inner());
        if **slot != recent {
            *slot = Arc::new(recent);
            self.cache.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
    }

    /// The maintenances for the calendar feed: those that ended at most 90 days before `now`.
    pub(crate) fn calendar(&self, now: Time) -> Vec<MaintenanceView> {
        let all = Arc::clone(&self.calendar.lock().unwrap_or_else(|p| p.into_inner()));
        let since = now - chrono::Duration::days(CALENDAR_DAYS);
        all.iter().filter(|m| m.to > since).cloned().collect()
    }

    /// The cached rendering of an environment's page, re-rendered when stale.
    pub(crate) fn rendered(&self, cfg: &Config, env: Environment) -> Arc<Rendered> {
        let now = crate::clock::now();
        if let Some(r) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&env)
        {
            if now < r.valid_until {
                return Arc::clone(r);
            }
        }
        let page = self
            .pages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&env)
            .cloned()
            .unwrap_or_default();
        let uptime = match env {
            Environment::Produksjon => {
                let h = Arc::clone(&self.history.lock().unwrap_or_else(|p| p.into_inner()));
                crate::report::daily(cfg, &h, UPTIME_DAYS, now)
            }
            Environment::Test => Vec::new(),
        };
        let r = Arc::new(page::render(cfg, &page, env, now, &uptime));
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(env, Arc::clone(&r));
        r
    }
}

/// JSON with the shape of Statuspage's public `summary.json`.
pub(crate) fn summary_json(cfg: &Config, page: &Page, env: Environment, now: Time) -> Value {
    let page_id = format!("{}-{}", cfg.self_.id, env.as_str());
    let ts = |t: Time| t.to_rfc3339();
    let comps: Vec<Value> = components(cfg, page, now)
        .into_iter()
        .enumerate()
        .map(|(i, (id, name, status))| {
            json!({
                "id": id, "name": name, "status": status, "created_at": null,
                "updated_at": page.updated_at.map(ts), "position": i + 1, "description": null,
                "showcase": true, "start_date": null, "group_id": null, "page_id": page_id,
                "group": false, "only_show_if_degraded": false,
            })
        })
        .collect();
    let comp_ref = |services: &[String]| -> Vec<Value> {
        components(cfg, page, now)
            .into_iter()
            .filter(|(id, _, _)| services.is_empty() || services.contains(id))
            .map(|(id, name, status)| json!({"id": id, "name": name, "status": status}))
            .collect()
    };
    let incidents: Vec<Value> = page
        .incidents
        .values()
        .filter(|i| i.resolved_at.is_none())
        .map(|i| {
            json!({
                "id": i.id, "name": i.name, "status": i.status,
                "created_at": ts(i.created_at), "updated_at": ts(i.updated_at),
                "monitoring_at": null, "resolved_at": null, "impact": impact(i.view.priority),
                "shortlink": null, "started_at": ts(i.view.started_at), "page_id": page_id,
                "incident_updates": i.updates.iter().rev().enumerate().map(|(n, u)| json!({
                    "id": format!("{}-{}", i.id, i.updates.len() - n), "status": u.status, "body": u.body,
                    "incident_id": i.id, "created_at": ts(u.at), "updated_at": ts(u.at), "display_at": ts(u.at),
                    "affected_components": null, "deliver_notifications": true, "custom_tweet": null, "tweet_id": null,
                })).collect::<Vec<_>>(),
                "components": comp_ref(&i.view.services),
            })
        })
        .collect();
    let maint: Vec<Value> = page
        .maintenances
        .values()
        .filter(|m| matches!(maintenance_status(m, now), "scheduled" | "in_progress"))
        .map(|m| {
            json!({
                "id": m.id, "name": m.name, "status": maintenance_status(m, now),
                "created_at": ts(m.created_at), "updated_at": ts(m.updated_at),
                "monitoring_at": null, "resolved_at": null, "impact": "maintenance", "shortlink": null,
                "started_at": ts(m.view.from), "page_id": page_id,
                "incident_updates": [json!({"id": format!("{}-1", m.id), "status": maintenance_status(m, now), "body": m.body,
                    "incident_id": m.id, "created_at": ts(m.updated_at), "updated_at": ts(m.updated_at), "display_at": ts(m.updated_at),
                    "affected_components": null, "deliver_notifications": true, "custom_tweet": null, "tweet_id": null})],
                "scheduled_for": ts(m.view.from), "scheduled_until": ts(m.view.to),
                "components": comp_ref(&m.view.services),
            })
        })
        .collect();
    let (ind, desc) = indicator(page, now);
    json!({
        "page": {
            "id": page_id,
            "name": format!("{} – driftsstatus{}", cfg.self_.name, if env == Environment::Test { " (testmiljø)" } else { "" }),
            "url": null,
            "time_zone": cfg.calendar.tz.name(),
            "updated_at": ts(page.updated_at.unwrap_or(now)),
        },
        "status": {"indicator": ind, "description": desc},
        "components": comps,
        "incidents": incidents,
        "scheduled_maintenances": maint,
    })
}
