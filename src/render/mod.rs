//! Messages from templates (SPEC §3). Pure: an action plus the configuration in, subject and
//! body out. Handlebars in strict mode (a misspelt variable is an error, caught by `check`),
//! plain text with no HTML escaping, times as `dd.mm.yyyy kl. HH:MM` in Europe/Oslo.
//!
//! A template file's first line is the subject, the second is empty, the rest is the body.
//! The shipped templates are compiled into the binary; `[templates] dir` overrides any of them.

use crate::config::locate::ConfigError;
use crate::config::Config;
use crate::engine::model::*;
use chrono::{Datelike, Timelike};
use handlebars::{Context, Handlebars};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

pub use builtin::BUILTIN;

/// A rendered message: its subject and body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
}

/// A rendering failure: which template, where, what.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}:{line}:{col}: {message}")]
pub struct RenderError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl From<RenderError> for ConfigError {
    fn from(e: RenderError) -> Self {
        ConfigError {
            file: PathBuf::from(e.file),
            line: e.line,
            col: e.col,
            message: e.message,
        }
    }
}

/// The message templates: the built-in ones, overridden by a folder's.
pub struct Renderer {
    hb: Handlebars<'static>,
    /// The context of the last e-mail rendered. A fan-out renders the same message for many
    /// recipients; only `recipient` differs, so the context is built once (measured: the
    /// context build was a third of `simulate` on a year of operations).
    last_email: std::sync::Mutex<Option<shared::LastEmail>>,
    /// Templates whose subject cannot depend on the recipient (it names no `recipient`, and
    /// uses no `this`, `@root`, `lookup` or partial that could reach it): within a fan-out
    /// their subject is rendered once.
    recipient_free_subject: std::collections::HashSet<String>,
    /// The last e-mail rendered for a sink (`email_shared`): the configuration it was rendered
    /// under (held, so no other configuration can take its address), the message, its text.
    last_sent: std::sync::Mutex<Option<(std::sync::Arc<Config>, Email, Rendered)>>,
    /// Templates whose subject and body cannot depend on the recipient (as
    /// `recipient_free_subject`, over both parts).
    recipient_free: std::collections::HashSet<String>,
    /// Templates whose subject line is the shipped one and written directly (`subject.rs`).
    direct_lines: std::collections::HashSet<String>,
    /// Where each template came from, for error messages.
    origin: Vec<(String, String)>,
}

/// `dd.mm.yyyy kl. HH:MM` in the calendar's time zone (SPEC §3).
pub(crate) fn oslo_fmt(cfg: &Config, t: Time) -> String {
    let l = t.with_timezone(&cfg.calendar.tz);
    format!(
        "{:02}.{:02}.{:04} kl. {:02}:{:02}",
        l.day(),
        l.month(),
        l.year(),
        l.hour(),
        l.minute()
    )
}

fn hhmm(cfg: &Config, t: Time) -> String {
    let l = t.with_timezone(&cfg.calendar.tz);
    format!("{:02}:{:02}", l.hour(), l.minute())
}

/// `20.11.2026 kl. 22:00–23:30`, or across midnight `20.11.2026 kl. 22:00 – 21.11.2026 kl. 02:00`.
pub(crate) fn window_text(cfg: &Config, from: Time, to: Time) -> String {
    let (a, b) = (cfg.calendar.local_date(from), cfg.calendar.local_date(to));
    if a == b {
        format!("{}–{}", oslo_fmt(cfg, from), hhmm(cfg, to))
    } else {
        format!("{} – {}", oslo_fmt(cfg, from), oslo_fmt(cfg, to))
    }
}

mod builtin;
mod context;
pub(crate) mod ics;
pub mod link;
mod shared;
mod subject;
use subject::subject_free_of_recipient;
pub(crate) mod subscriber;
use context::*;

impl Renderer {
    /// Compile the shipped templates, overridden by those in the configured folder.
    pub fn new(cfg: &Config) -> Result<Renderer, Vec<ConfigError>> {
        Self::with_dir(cfg.templates_dir.as_deref())
    }

    /// What `check`, the daemon's start and every reload use (SPEC §6: a template that `check`
    /// rejects is never loaded): compile the templates, then render every one with sample data,
    /// so a misspelt variable (strict mode) is found here and not when a notice is due.
    pub fn checked(cfg: &Config) -> Result<Renderer, Vec<ConfigError>> {
        let r = Self::new(cfg)?;
        let mut errors: Vec<ConfigError> = samples::all(cfg)
            .into_iter()
            .filter_map(|(_, a)| r.action(cfg, &a).err().map(ConfigError::from))
            .collect();
        errors.extend(subscriber::check(&r, cfg).err().map(ConfigError::from));
        if errors.is_empty() {
            Ok(r)
        } else {
            Err(errors)
        }
    }

    /// The templates, with `dir`'s `*.hbs` over the built-in ones; errors name file, line and column.
    pub(crate) fn with_dir(dir: Option<&Path>) -> Result<Renderer, Vec<ConfigError>> {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(handlebars::no_escape);
        let mut errors = Vec::new();
        let mut origin = Vec::new();
        let mut recipient_free_subject = std::collections::HashSet::new();
        let mut recipient_free = std::collections::HashSet::new();
        let mut direct_lines = std::collections::HashSet::new();
        for (name, builtin) in BUILTIN {
            let (file, text) = match dir.map(|d| d.join(format!("{name}.hbs"))) {
                Some(p) if p.is_file() => match std::fs::read_to_string(&p) {
                    Ok(t) => (p.display().to_string(), t),
                    Err(e) => {
                        errors.push(ConfigError {
                            file: p,
                            line: 1,
                            col: 1,
                            message: format!("cannot read template: {e}"),
                        });
                        continue;
                    }
                },
                _ => (format!("templates/{name}.hbs"), builtin.to_string()),
            };
            let (subject, body) = match text.split_once('\n') {
                Some((s, rest)) => {
                    let body = rest
                        .strip_prefix("\r\n")
                        .or_else(|| rest.strip_prefix('\n'));
                    match body {
                        Some(b) => (s.trim_end_matches('\r').to_string(), b.to_string()),
                        None => {
                            errors.push(ConfigError { file: file.clone().into(), line: 2, col: 1, message: "the second line must be empty (line 1 is the subject, the body follows the empty line)".into() });
                            continue;
                        }
                    }
                }
                None => (text.trim_end().to_string(), String::new()),
            };
            let shipped = builtin.split('\n').next().map(|l| l.trim_end_matches('\r'));
            if subject::DIRECT.contains(name) && shipped == Some(subject.as_str()) {
                direct_lines.insert(name.to_string());
            }
            if subject_free_of_recipient(&subject) {
                recipient_free_subject.insert(name.to_string());
                if subject_free_of_recipient(&body) {
                    recipient_free.insert(name.to_string());
                }
            }
            for (part, src, line_offset) in [("subject", subject, 0usize), ("body", body, 2usize)] {
                if let Err(e) = hb.register_template_string(&format!("{name}#{part}"), src) {
                    let (line, col) = e.pos().unwrap_or((1, 1));
                    let reason = e.reason().to_string();
                    errors.push(ConfigError {
                        file: file.clone().into(),
                        line: line + line_offset,
                        col,
                        message: format!("template does not compile: {reason}"),
                    });
                }
            }
            origin.push((name.to_string(), file));
        }
        if errors.is_empty() {
            Ok(Renderer {
                hb,
                origin,
                last_email: std::sync::Mutex::new(None),
                recipient_free_subject,
                last_sent: std::sync::Mutex::new(None),
                recipient_free,
                direct_lines,
            })
        } else {
            Err(errors)
        }
    }

    fn base_subjects_free(&self) -> bool {
        ["email/planned", "email/unplanned"]
            .iter()
            .all(|n| self.recipient_free_subject.contains(*n))
    }

    fn file_of(&self, name: &str) -> String {
        self.origin
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, f)| f.clone())
            .unwrap_or_else(|| format!("templates/{name}.hbs"))
    }

    fn part(&self, name: &str, part: &str, ctx: &Context) -> Result<String, RenderError> {
        self.hb
            .render_with_context(&format!("{name}#{part}"), ctx)
            .map_err(|e| RenderError {
                file: self.file_of(name),
                line: e.line_no.unwrap_or(1) + if part == "body" { 2 } else { 0 },
                col: e.column_no.unwrap_or(1),
                message: match e.reason() {
                    handlebars::RenderErrorReason::MissingVariable(Some(v)) => {
                        format!("unknown variable `{v}`")
                    }
                    r => r.to_string(),
                },
            })
    }

    fn render(&self, name: &str, ctx: &Context) -> Result<Rendered, RenderError> {
        let subject = self.subject_of(name, ctx)?;
        let mut body = self.part(name, "body", ctx)?;
        if test_environment(ctx) {
            // SPEC §4.11: the body's second line says so (the patient-phone line stays first).
            let at = body.find('\n').map_or(body.len(), |i| i + 1);
            body.insert_str(at, "Gjelder testmiljøet.\n");
        }
        Ok(Rendered { subject, body })
    }

    /// The subject line alone of a template (used as `base_subject`).
    fn subject_of(&self, name: &str, ctx: &Context) -> Result<String, RenderError> {
        let s = self.part(name, "subject", ctx)?.trim().to_string();
        Ok(if test_environment(ctx) {
            format!("TEST: {s}")
        } else {
            s
        })
    }

    /// `key` signs the directory's links; without it (`simulate`, `check`, previews) a link
    /// reads `…/kontakt/EKSEMPEL`.
    fn email_ctx(
        &self,
        cfg: &Config,
        e: &Email,
        at: Time,
        key: Option<&[u8]>,
    ) -> Result<(String, Context), RenderError> {
        let mut c = base_json(cfg);
        c.insert("recipient".into(), recipient_json(cfg, &e.org));
        if let Some(i) = &e.incident {
            c.insert("incident".into(), incident_json(cfg, i));
        }
        if let Some(m) = &e.maintenance {
            c.insert("maintenance".into(), maintenance_json(cfg, m));
        }
        if let Some(p) = &e.previous {
            c.insert("previous".into(), maintenance_json(cfg, p));
        }
        c.insert(
            "inquiry_sent_at".into(),
            json!(e.inquiry_sent_at.map(|t| oslo_fmt(cfg, t))),
        );
        c.insert(
            "reply_due".into(),
            json!(e.reply_due.map(|t| oslo_fmt(cfg, t))),
        );
        c.insert(
            "phone".into(),
            Value::String(patient_phone(cfg, e.maintenance.as_deref())),
        );
        if let Some(d) = &e.directory {
            let link = |purpose, n| {
                let l = link::Link {
                    org: d.org.clone(),
                    purpose,
                    n,
                    expires: at + cfg.directory.link_lifetime,
                };
                match key {
                    Some(k) => l.url(&cfg.daemon.public_url, k),
                    None => format!(
                        "{}/kontakt/EKSEMPEL",
                        cfg.daemon.public_url.trim_end_matches('/')
                    ),
                }
            };
            let url = match (&d.proposal, d.round) {
                (Some((n, _)), _) => link(link::Purpose::Verify, *n),
                (None, Some(n)) => link(link::Purpose::Confirm, n),
                (None, None) => String::new(),
            };
            let mut v = directory_json(cfg, d);
            v["link"] = Value::String(url);
            v["expires"] = Value::String(oslo_fmt(cfg, at + cfg.directory.link_lifetime));
            c.insert("directory".into(), v);
        }
        let mut ctx = Context::from(Value::Object(c));
        let base = match e.message {
            EmailKind::Planned
            | EmailKind::PlannedReminder
            | EmailKind::PlannedChange
            | EmailKind::PlannedCancel => Some(self.subject_of("email/planned", &ctx)?),
            EmailKind::Unplanned
            | EmailKind::Followup
            | EmailKind::DirectoryConfirm
            | EmailKind::DirectoryReminder
            | EmailKind::DirectoryVerify => None,
            _ => Some(self.subject_of("email/unplanned", &ctx)?),
        };
        if let Value::Object(o) = ctx.data_mut() {
            if let Some(b) = base {
                o.insert("base_subject".into(), Value::String(b));
            }
            let test = e
                .incident
                .as_ref()
                .is_some_and(|i| i.environment == Environment::Test);
            o.insert("test_environment".into(), Value::Bool(test));
        }
        Ok((format!("email/{}", e.message.as_str()), ctx))
    }

    fn ops_ctx(&self, cfg: &Config, o: &Ops) -> Result<(String, Context), RenderError> {
        let mut c = base_json(cfg);
        if let Some(i) = &o.incident {
            c.insert("incident".into(), incident_json(cfg, i));
        }
        if let Some(m) = &o.maintenance {
            c.insert("maintenance".into(), maintenance_json(cfg, m));
            if let Some(f) = cfg.calendar.freeze_overlapping(m.from, m.to) {
                c.insert("freeze".into(), Value::String(f.name.clone()));
            }
        }
        if let Some(d) = &o.delivery {
            let lines: Vec<String> = std::iter::once((&d.key, &d.to))
                .chain(d.also.iter().map(|x| (&x.key, &x.to)))
                .map(|(k, to)| format!("{k} til {}", to.join(", ")))
                .collect();
            c.insert(
                "delivery".into(),
                json!({
                    "key": d.key,
                    "count": lines.len(),
                    "many": lines.len() > 1,
                    "lines": lines,
                    "to": d.to.join(", "),
                    "failing_since": oslo_fmt(cfg, d.failing_since),
                    "delivered_at": oslo_fmt(cfg, d.delivered_at),
                    "last_error": d.last_error,
                }),
            );
        }
        if let Some(a) = &o.alert {
            c.insert(
                "alert".into(),
                json!({
                    "name": a.name,
                    "org_name": a.org.as_deref().map(|o| org_name(cfg, o)),
                    "fields": a.fields.join(", "),
                    "reason": a.reason,
                }),
            );
        }
        if let Some(a) = &o.access {
            let l = a.at.with_timezone(&cfg.calendar.tz);
            c.insert(
                "access".into(),
                json!({
                    "who": a.who,
                    "origin": a.origin,
                    "at": oslo_fmt(cfg, a.at),
                    "date": l.format("%d.%m.%Y").to_string(),
                }),
            );
        }
        if let Some(d) = &o.directory {
            let mut v = directory_json(cfg, d);
            if let Some(n) = &d.note {
                v["note"] = json!({
                    "at": oslo_fmt(cfg, n.at),
                    "by": n.by,
                    "origin": match n.origin.as_str() {
                        "config" => "konfigurasjonen",
                        "console" => "konsollet",
                        "directory" => "virksomhetens egen lenke",
                        _ => "en returmelding",
                    },
                    "bounced": n.bounced,
                    "before": contacts_json(cfg, &n.before),
                    "after": contacts_json(cfg, &n.after),
                });
            }
            c.insert("directory".into(), v);
        }
        if let Some(q) = &o.inquiry {
            c.insert(
                "inquiry".into(),
                json!({
                    "id": q.id,
                    "org_name": org_name(cfg, &q.org),
                    "subject": q.subject.clone().unwrap_or_else(|| "(uten emne)".into()),
                    "received_at": oslo_fmt(cfg, q.received_at),
                    "due": oslo_fmt(cfg, q.due),
                }),
            );
        }
        Ok((
            format!("ops/{}", o.reason.as_str()),
            Context::from(Value::Object(c)),
        ))
    }

    fn status_ctx(&self, cfg: &Config, s: &StatusPost) -> Result<(String, Context), RenderError> {
        let mut c = base_json(cfg);
        c.insert(
            "post".into(),
            json!({
                "create": matches!(s.message, StatusKind::IncidentCreate | StatusKind::MaintenanceCreate),
                "update": matches!(s.message, StatusKind::IncidentUpdate | StatusKind::MaintenanceUpdate),
                "resolve": s.message == StatusKind::IncidentResolve,
                "cancel": s.message == StatusKind::MaintenanceCancel,
                "periodic": s.periodic,
                "next_update": s.next_update.map(|t| hhmm(cfg, t)),
            }),
        );
        if let Some(i) = &s.incident {
            c.insert("incident".into(), incident_json(cfg, i));
            let mut ctx = Context::from(Value::Object(c));
            let base = self.subject_of("email/unplanned", &ctx)?;
            if let Value::Object(o) = ctx.data_mut() {
                o.insert("base_subject".into(), Value::String(base));
            }
            return Ok(("statuspage/incident".into(), ctx));
        }
        if let Some(m) = &s.maintenance {
            c.insert("maintenance".into(), maintenance_json(cfg, m));
        }
        Ok((
            "statuspage/maintenance".into(),
            Context::from(Value::Object(c)),
        ))
    }

    /// An e-mail's subject and body.
    pub(crate) fn email(
        &self,
        cfg: &Config,
        e: &Email,
        at: Time,
        key: Option<&[u8]>,
    ) -> Result<Rendered, RenderError> {
        let (name, ctx) = self.email_ctx(cfg, e, at, key)?;
        self.render(&name, &ctx)
    }

    /// An ops note's subject and body.
    pub(crate) fn ops(&self, cfg: &Config, o: &Ops) -> Result<Rendered, RenderError> {
        let (name, ctx) = self.ops_ctx(cfg, o)?;
        self.render(&name, &ctx)
    }

    /// A status-page post's title and text.
    pub(crate) fn status(&self, cfg: &Config, s: &StatusPost) -> Result<Rendered, RenderError> {
        let (name, ctx) = self.status_ctx(cfg, s)?;
        self.render(&name, &ctx)
    }
}

/// An e-mail to organizations about a test-environment incident (sent only with
/// `policy.test_environment_mail = true`, SPEC §4.11).
fn test_environment(ctx: &Context) -> bool {
    ctx.data().get("test_environment").and_then(Value::as_bool) == Some(true)
}

fn recipient_json(cfg: &Config, org: &str) -> Value {
    json!({"id": org, "name": org_name(cfg, org)})
}

pub mod samples;

#[cfg(test)]
mod tests;
