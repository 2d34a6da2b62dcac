//! `meldingsvakt simulate SCENARIO.toml` (SPEC §5.2): the engine driven by a simulated clock.
//!
//! Loop: before each event, run every deadline strictly earlier than the event's time; then
//! apply the event (events at an instant are applied before deadlines at that same instant, so
//! "more than 2 hours" and "by 15:00" read as the routine means them); after the last event,
//! run deadlines up to and including `until`. Output is buffered and printed only when the
//! whole scenario ran, so a scenario error (exit 2) never leaves half an answer on stdout.

use crate::config::locate::{Seg, Source};
use crate::config::Config;
use crate::engine::model::*;
use crate::engine::Engine;
use crate::render::Renderer;
use crate::tpath;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct Scenario {
    pub config: PathBuf,
    pub start: Time,
    pub until: Time,
    /// (time, event, 1-based index in the file)
    pub events: Vec<(Time, Event, usize)>,
}

/// A scenario problem: `FILE:LINE:COL: event N (type): what`.
#[derive(Debug)]
pub struct ScenarioError(pub Vec<String>);

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.join("\n"))
    }
}

/// TOML datetimes (unquoted) become strings, so both spellings work.
fn stringify_datetimes(v: toml::Value) -> toml::Value {
    match v {
        toml::Value::Datetime(d) => toml::Value::String(d.to_string()),
        toml::Value::Table(t) => toml::Value::Table(
            t.into_iter()
                .map(|(k, v)| (k, stringify_datetimes(v)))
                .collect(),
        ),
        toml::Value::Array(a) => {
            toml::Value::Array(a.into_iter().map(stringify_datetimes).collect())
        }
        other => other,
    }
}

pub fn parse(path: &Path) -> Result<Scenario, ScenarioError> {
    parse_opts(path, None)
}

/// With `default_config`, the file may be a bare event list for previews (`render --input`):
/// `config`, `start` and `until` become optional, and a file holding one event table (with
/// `type` at the top level) is read as a one-event scenario.
pub fn parse_opts(path: &Path, default_config: Option<&Path>) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ScenarioError(vec![format!(
            "{}: cannot read scenario: {e}",
            path.display()
        )])
    })?;
    let lenient = default_config.is_some();
    let mut src = Source {
        path: path.to_path_buf(),
        text: text.clone(),
        doc: None,
    };
    match toml_edit::ImDocument::parse(text.clone()) {
        Ok(d) => src.doc = Some(d),
        Err(e) => {
            let msg = format!("TOML syntax error: {}", e.message().trim());
            return Err(ScenarioError(vec![src
                .error_at(e.span().map(|r| r.start), msg)
                .to_string()]));
        }
    }
    let root: toml::Table = toml::from_str(&text).map_err(|e| {
        ScenarioError(vec![src
            .error_at(e.span().map(|r| r.start), e.message().to_string())
            .to_string()])
    })?;
    let root = match stringify_datetimes(toml::Value::Table(root)) {
        toml::Value::Table(t) => t,
        _ => toml::Table::new(),
    };
    let mut root = root;
    if lenient && root.contains_key("type") {
        let one = std::mem::take(&mut root);
        root.insert(
            "event".into(),
            toml::Value::Array(vec![toml::Value::Table(one)]),
        );
    }
    if lenient {
        let first = root
            .get("event")
            .and_then(|e| e.as_array())
            .and_then(|a| a.first())
            .and_then(|e| e.get("at"))
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| "2026-11-20T14:30:00+01:00".to_string());
        if !root.contains_key("start") {
            root.insert("start".into(), toml::Value::String(first.clone()));
        }
        if !root.contains_key("until") {
            let u = parse_time(&first)
                .map(|t| t + chrono::Duration::days(60))
                .unwrap_or_default();
            root.insert("until".into(), toml::Value::String(u.to_rfc3339()));
        }
        if let Some(list) = root.get_mut("event").and_then(|e| e.as_array_mut()) {
            for ev in list.iter_mut() {
                if let Some(t) = ev.as_table_mut() {
                    t.entry("at")
                        .or_insert_with(|| toml::Value::String(first.clone()));
                }
            }
        }
    }
    let mut errors = Vec::new();
    let err = |p: Vec<Seg>, key: bool, m: String| src.error_path(&p, key, m).to_string();
    for k in root.keys() {
        if !["config", "start", "until", "event"].contains(&k.as_str()) {
            errors.push(err(
                tpath![k.as_str()],
                true,
                format!("unknown key `{k}` (expected config, start, until, [[event]])"),
            ));
        }
    }
    let time_key = |k: &str, errors: &mut Vec<String>| -> Option<Time> {
        match root.get(k) {
            Some(toml::Value::String(s)) => match parse_time(s) {
                Ok(t) => Some(t),
                Err(m) => {
                    errors.push(err(tpath![k], false, format!("`{k}`: {m}")));
                    None
                }
            },
            Some(_) => {
                errors.push(err(
                    tpath![k],
                    false,
                    format!("`{k}` must be a time string"),
                ));
                None
            }
            None => {
                errors.push(err(vec![], false, format!("missing required key `{k}`")));
                None
            }
        }
    };
    let start = time_key("start", &mut errors);
    let until = time_key("until", &mut errors);
    let config = match root.get("config") {
        Some(toml::Value::String(s)) => path.parent().unwrap_or(Path::new(".")).join(s),
        None if lenient => default_config.map(Path::to_path_buf).unwrap_or_default(),
        Some(_) => {
            errors.push(err(
                tpath!["config"],
                false,
                "`config` must be a path string".into(),
            ));
            PathBuf::new()
        }
        None => {
            errors.push(err(vec![], false, "missing required key `config` (path of the configuration, relative to the scenario)".into()));
            PathBuf::new()
        }
    };
    let mut events = Vec::new();
    let list = match root.get("event") {
        None => vec![],
        Some(toml::Value::Array(a)) => a.clone(),
        Some(_) => {
            errors.push(err(
                tpath!["event"],
                false,
                "`event` must be an array of tables: [[event]]".into(),
            ));
            vec![]
        }
    };
    for (i, ev) in list.into_iter().enumerate() {
        let n = i + 1;
        let mut t = match ev {
            toml::Value::Table(t) => t,
            _ => {
                errors.push(err(
                    tpath!["event", i],
                    false,
                    format!("event {n}: must be a table"),
                ));
                continue;
            }
        };
        let ty = match t.remove("type") {
            Some(toml::Value::String(s)) => s,
            _ => {
                errors.push(err(
                    tpath!["event", i],
                    false,
                    format!(
                        "event {n}: missing `type` (one of: {})",
                        EVENT_TYPES.join(", ")
                    ),
                ));
                continue;
            }
        };
        let at = match t.remove("at") {
            Some(toml::Value::String(s)) => match parse_time(&s) {
                Ok(x) => x,
                Err(m) => {
                    errors.push(err(
                        tpath!["event", i, "at"],
                        false,
                        format!("event {n} ({ty}): `at`: {m}"),
                    ));
                    continue;
                }
            },
            _ => {
                errors.push(err(
                    tpath!["event", i],
                    false,
                    format!("event {n} ({ty}): missing `at`"),
                ));
                continue;
            }
        };
        match Event::from_parts(&ty, toml::Value::Table(t)) {
            Ok(e) => events.push((at, e, n)),
            Err(m) => {
                let p = if EVENT_TYPES.contains(&ty.as_str()) {
                    tpath!["event", i]
                } else {
                    tpath!["event", i, "type"]
                };
                errors.push(err(p, false, format!("event {n} ({ty}): {m}")));
            }
        }
    }
    if let (Some(s), Some(u)) = (start, until) {
        if u < s {
            errors.push(err(
                tpath!["until"],
                false,
                "`until` is before `start`".into(),
            ));
        }
        for (at, _, n) in &events {
            if *at < s || *at > u {
                errors.push(err(
                    tpath!["event", n - 1, "at"],
                    false,
                    format!("event {n}: `at` lies outside start..until"),
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(ScenarioError(errors));
    }
    // Stable: events at the same instant keep file order.
    events.sort_by_key(|(t, _, _)| *t);
    Ok(Scenario {
        config,
        start: start.unwrap_or_default(),
        until: until.unwrap_or_default(),
        events,
    })
}

/// RFC 3339 in local time with offset and seconds: `2026-11-23T09:30:00+01:00`.
pub fn local_rfc3339(cfg: &Config, t: Time) -> String {
    t.with_timezone(&cfg.calendar.tz)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// The SPEC §5.2 JSON object of one action (subject from the templates).
pub fn action_json(cfg: &Config, r: &Renderer, a: &Action) -> Result<Value, String> {
    let mut m = Map::new();
    m.insert("at".into(), json!(local_rfc3339(cfg, a.at)));
    let (kind, message) = match &a.body {
        ActionBody::Email(e) => ("email", e.message.as_str().to_string()),
        ActionBody::Statuspage(s) => ("statuspage", s.message.as_str().to_string()),
        ActionBody::Silence(s) => ("silence", s.message.clone()),
        ActionBody::Ops(o) => ("ops", o.message.as_str().to_string()),
    };
    m.insert("action".into(), json!(kind));
    m.insert("message".into(), json!(message));
    match &a.about {
        About::Incident(id) => m.insert("incident".into(), json!(id)),
        About::Maintenance(id) => m.insert("maintenance".into(), json!(id)),
        About::Inquiry(id) => m.insert("inquiry".into(), json!(id)),
    };
    let rendered = r.action(cfg, a).map_err(|e| e.to_string())?;
    match &a.body {
        ActionBody::Email(e) => {
            m.insert("org".into(), json!(e.org));
            m.insert("to".into(), json!(e.to));
            m.insert("cc".into(), json!(e.cc));
        }
        ActionBody::Statuspage(s) => {
            m.insert("environment".into(), json!(s.environment.as_str()));
            m.insert("status".into(), json!(s.status));
            if s.periodic {
                m.insert("periodic".into(), json!(true));
            }
        }
        ActionBody::Silence(s) => {
            m.insert("org".into(), json!(s.org));
            m.insert("services".into(), json!(s.services));
        }
        ActionBody::Ops(o) => {
            m.insert("reason".into(), json!(o.reason.as_str()));
            m.insert("to".into(), json!(o.to));
        }
    }
    if let Some(r) = rendered {
        m.insert("subject".into(), json!(r.subject));
    }
    m.insert("key".into(), json!(a.key));
    Ok(Value::Object(m))
}

/// Run a scenario; returns the JSON lines, or every problem found.
pub fn run(path: &Path) -> Result<String, ScenarioError> {
    let sc = parse(path)?;
    let cfg = Config::load(&sc.config)
        .map_err(|es| ScenarioError(es.iter().map(|e| e.to_string()).collect()))?;
    let renderer = Renderer::new(&cfg)
        .map_err(|es| ScenarioError(es.iter().map(|e| e.to_string()).collect()))?;
    run_with(&sc, Arc::new(cfg), &renderer, path)
}

pub fn run_with(
    sc: &Scenario,
    cfg: Arc<Config>,
    r: &Renderer,
    path: &Path,
) -> Result<String, ScenarioError> {
    let mut engine = Engine::new(Arc::clone(&cfg));
    let mut out = String::new();
    let drain = |engine: &mut Engine, out: &mut String| -> Result<(), ScenarioError> {
        while let Some(a) = engine.poll_action() {
            let v = action_json(&cfg, r, &a).map_err(|e| ScenarioError(vec![e]))?;
            out.push_str(&v.to_string());
            out.push('\n');
        }
        Ok(())
    };
    for (at, ev, n) in &sc.events {
        while let Some(t) = engine.poll_timeout() {
            if t >= *at {
                break;
            }
            engine.handle_timeout(t);
            drain(&mut engine, &mut out)?;
        }
        let ty = event_type(ev);
        engine.handle(*at, ev.clone()).map_err(|e| {
            let loc = scenario_location(path, *n);
            ScenarioError(vec![format!("{loc}: event {n} ({ty}): {e}")])
        })?;
        drain(&mut engine, &mut out)?;
    }
    while let Some(t) = engine.poll_timeout() {
        if t > sc.until {
            break;
        }
        engine.handle_timeout(t);
        drain(&mut engine, &mut out)?;
    }
    Ok(out)
}

fn scenario_location(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let src = Source {
        path: path.to_path_buf(),
        doc: toml_edit::ImDocument::parse(text.clone()).ok(),
        text,
    };
    let e = src.error_path(&tpath!["event", n - 1], false, "");
    format!("{}:{}:{}", e.file.display(), e.line, e.col)
}

pub fn event_type(e: &Event) -> &'static str {
    match e {
        Event::IncidentOpen(_) => "incident.open",
        Event::IncidentUpdate(_) => "incident.update",
        Event::IncidentResolve(_) => "incident.resolve",
        Event::IncidentAck(_) => "incident.ack",
        Event::Reply(_) => "reply",
        Event::Alert(_) => "alert",
        Event::MaintenanceAdd(_) => "maintenance.add",
        Event::MaintenanceChange(_) => "maintenance.change",
        Event::MaintenanceCancel(_) => "maintenance.cancel",
        Event::InquiryReceived(_) => "inquiry.received",
        Event::InquiryAnswered(_) => "inquiry.answered",
    }
}
