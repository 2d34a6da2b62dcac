//! Subscriber mail (SPEC §4.17): the confirmation request, and a status-page post as mail —
//! the post's own title and text, with the service names, the status page, and the
//! subscriber's manage and unsubscribe links (`templates/subscriber/`). What a job is, and
//! which posts become one, is decided here too: every post of an incident or maintenance
//! except the periodic "still working on it" (never the routine's inquiries, follow-ups or
//! escalations, which are not posts).

use super::context::{base_json, services_text};
use super::{RenderError, Rendered, Renderer};
use crate::config::Config;
use crate::engine::model::{Action, ActionBody, Environment, StatusKind};
use handlebars::Context;
use serde_json::Value;

/// What a subscriber mail says.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Job {
    /// The double opt-in's request.
    Confirm,
    /// A status-page post (the action as decided); with `phase`, a maintenance's start or
    /// end, sent when it comes.
    Post {
        action: Box<Action>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phase: Option<Phase>,
    },
}

/// A planned maintenance's start or end (SPEC §4.17: subscribers hear of both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Phase {
    Start,
    End,
}

/// The links one subscriber's mail carries.
pub(crate) struct Links {
    pub confirm: String,
    pub manage: String,
    pub unsubscribe: String,
}

/// The post a status-page action is, when subscribers hear of it: its environment and
/// services (empty: every service).
pub(crate) fn post_of(a: &Action) -> Option<(Environment, &[String])> {
    let ActionBody::Statuspage(s) = &a.body else {
        return None;
    };
    if s.periodic {
        return None;
    }
    if let Some(i) = &s.incident {
        return Some((s.environment, &i.services));
    }
    s.maintenance
        .as_ref()
        .map(|m| (s.environment, &m.services[..]))
}

impl Renderer {
    /// A subscriber's mail for `job`: subject and body.
    pub(crate) fn subscriber(
        &self,
        cfg: &Config,
        job: &Job,
        services: &[String],
        test: bool,
        links: &Links,
    ) -> Result<Rendered, RenderError> {
        let mut c = base_json(cfg);
        c.insert("manage_url".into(), Value::String(links.manage.clone()));
        c.insert(
            "unsubscribe_url".into(),
            Value::String(links.unsubscribe.clone()),
        );
        c.insert(
            "page_url".into(),
            Value::String(format!("{}/", cfg.daemon.public_url.trim_end_matches('/'))),
        );
        let name = match job {
            Job::Confirm => {
                c.insert("confirm_url".into(), Value::String(links.confirm.clone()));
                c.insert(
                    "services".into(),
                    Value::String(services_text(cfg, services)),
                );
                c.insert("test".into(), Value::Bool(test));
                c.insert("lifetime".into(), Value::String("7 dager".into()));
                "subscriber/confirm"
            }
            Job::Post { action, phase } => {
                let ActionBody::Statuspage(s) = &action.body else {
                    return Err(RenderError {
                        file: "subscriber/post".into(),
                        line: 0,
                        col: 0,
                        message: "a subscriber post that is not a status-page post".into(),
                    });
                };
                let post = self.status(cfg, s)?;
                let svc = post_of(action).map(|(_, s)| s.to_vec()).unwrap_or_default();
                let (title, text) = match (phase, &s.maintenance) {
                    (Some(Phase::Start), Some(m)) => (
                        format!("Vedlikehold pågår: {}", services_text(cfg, &m.services)),
                        format!(
                            "Det planlagte vedlikeholdet {} har startet. Meldingstrafikken for {} kan stoppe eller bli forsinket til det er ferdig.",
                            super::window_text(cfg, m.from, m.to),
                            services_text(cfg, &m.services)
                        ),
                    ),
                    (Some(Phase::End), Some(m)) => (
                        format!("Vedlikehold ferdig: {}", services_text(cfg, &m.services)),
                        format!(
                            "Det planlagte vedlikeholdet {} er ferdig.",
                            super::window_text(cfg, m.from, m.to)
                        ),
                    ),
                    // The routine's own words for what changed, before the post's title.
                    _ => {
                        let word = match s.message {
                            StatusKind::IncidentUpdate => "Oppdatering: ",
                            StatusKind::IncidentResolve => "Løst: ",
                            StatusKind::MaintenanceUpdate => "Endret: ",
                            StatusKind::MaintenanceCancel => "Avlyst: ",
                            _ => "",
                        };
                        (format!("{word}{}", post.subject), post.body.trim().to_string())
                    }
                };
                c.insert("title".into(), Value::String(title));
                c.insert("text".into(), Value::String(text));
                c.insert("services".into(), Value::String(services_text(cfg, &svc)));
                c.insert(
                    "test_environment".into(),
                    Value::Bool(s.environment == Environment::Test),
                );
                "subscriber/post"
            }
        };
        let ctx = Context::from(Value::Object(c));
        // The body as written (`render` would add the routine's test line).
        Ok(Rendered {
            subject: self.subject_of(name, &ctx)?,
            body: self.part(name, "body", &ctx)?,
        })
    }
}

/// Render the subscriber templates once with samples (`check`, and a reload): an override
/// that does not render is refused with its place.
pub(crate) fn check(r: &Renderer, cfg: &Config) -> Result<(), RenderError> {
    let links = Links {
        confirm: "https://example.invalid/abonner/t".into(),
        manage: "https://example.invalid/abonner/t".into(),
        unsubscribe: "https://example.invalid/abonner/t/avmeld".into(),
    };
    r.subscriber(cfg, &Job::Confirm, &[], true, &links)?;
    for (name, a) in super::samples::all(cfg) {
        if name.starts_with("statuspage/") {
            let job = Job::Post {
                action: Box::new(a),
                phase: Some(Phase::Start),
            };
            r.subscriber(cfg, &job, &[], false, &links)?;
        }
    }
    Ok(())
}
