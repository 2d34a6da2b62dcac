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

/// Byte ranges of the `[[event]]` blocks, or `None` when the file has multi-line strings.
fn event_blocks(text: &str) -> Option<Vec<(usize, usize)>> {
    if text.contains("\"\"\"") || text.contains("'''") {
        return None;
    }
    let mut starts = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let l = line.trim_start();
        if l.starts_with("[[event]]") || l.starts_with("[[ event ]]") {
            starts.push(offset);
        }
        offset += line.len();
    }
    Some(
        starts
            .iter()
            .enumerate()
            .map(|(i, &a)| (a, starts.get(i + 1).copied().unwrap_or(text.len())))
            .collect(),
    )
}

/// TOML datetimes (unquoted) become strings, so both spellings work. In place.
fn stringify_datetimes(v: &mut toml::Value) {
    match v {
        toml::Value::Datetime(d) => *v = toml::Value::String(d.to_string()),
        toml::Value::Table(t) => t.iter_mut().for_each(|(_, v)| stringify_datetimes(v)),
        toml::Value::Array(a) => a.iter_mut().for_each(stringify_datetimes),
        _ => {}
    }
}

pub fn parse(path: &Path) -> Result<Scenario, ScenarioError> {
    parse_opts(path, None)
}

/// With `default_config`, the file may be a bare event list for previews (`render --input`):
/// `config`, `start` and `until` become optional, and a file holding one event table (with
/// `type` at the top level) is read as a one-event scenario.
pub fn parse_opts(path: &Path, default_config: Option<&Path>) -> Result<Scenario, ScenarioError> {
    let text = crate::config::read_input(path).map_err(|e| {
        ScenarioError(vec![format!(
            "{}: cannot read scenario: {e}",
            path.display()
        )])
    })?;
    let lenient = default_config.is_some();
    let src = Source::new(path, text.clone());
    let parse_at = |offset: usize, piece: &str| -> Result<toml::Table, ScenarioError> {
        toml::from_str::<toml::Table>(piece).map_err(|e| {
            let at = e.span().map(|r| r.start + offset);
            ScenarioError(vec![src
                .error_at(at, format!("TOML error: {}", e.message().trim()))
                .to_string()])
        })
    };
    // A year of operations is tens of thousands of events; parsing the file as one document
    // costs ~100 MiB. Each `[[event]]` block is parsed on its own instead (exact TOML, since
    // such a header can only be confused with text inside a multi-line string, where we fall
    // back to one document).
    let blocks = event_blocks(&text);
    let mut chunked: Option<Vec<(usize, usize)>> = None;
    let mut root: toml::Table = match blocks {
        Some(b) if !lenient && !b.is_empty() => {
            let head = parse_at(0, &text[..b[0].0])?;
            chunked = Some(b);
            head
        }
        _ => parse_at(0, &text)?,
    };
    root.iter_mut().for_each(|(_, v)| stringify_datetimes(v));
    if chunked.is_some() && root.contains_key("event") {
        return Err(ScenarioError(vec![src
            .error_path(
                &tpath!["event"],
                true,
                "`event` is defined twice (inline and as [[event]])",
            )
            .to_string()]));
    }
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
    let list = match root.remove("event") {
        None if chunked.is_some() => {
            let mut v = Vec::new();
            for &(a, b) in chunked.iter().flatten() {
                let mut t = parse_at(a, &text[a..b])?;
                t.iter_mut().for_each(|(_, v)| stringify_datetimes(v));
                for k in t.keys().filter(|k| k.as_str() != "event") {
                    errors.push(src.error_at(Some(a), format!("unknown key `{k}` after [[event]] (expected config, start, until, [[event]])")).to_string());
                }
                if let Some(toml::Value::Array(mut one)) = t.remove("event") {
                    v.append(&mut one);
                }
            }
            v
        }
        None => vec![],
        Some(toml::Value::Array(a)) => a,
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
        // The event's table, its `type` and its `at`; or what is wrong and where.
        let head = match ev {
            toml::Value::Table(mut t) => match (t.remove("type"), t.remove("at")) {
                (Some(toml::Value::String(ty)), Some(toml::Value::String(at))) => {
                    match parse_time(&at) {
                        Ok(at) => Ok((t, ty, at)),
                        Err(m) => Err((
                            tpath!["event", i, "at"],
                            format!("event {n} ({ty}): `at`: {m}"),
                        )),
                    }
                }
                (Some(toml::Value::String(ty)), _) => Err((
                    tpath!["event", i],
                    format!("event {n} ({ty}): missing `at`"),
                )),
                _ => Err((
                    tpath!["event", i],
                    format!(
                        "event {n}: missing `type` (one of: {})",
                        EVENT_TYPES.join(", ")
                    ),
                )),
            },
            _ => Err((tpath!["event", i], format!("event {n}: must be a table"))),
        };
        let (t, ty, at) = match head {
            Ok(x) => x,
            Err((path, message)) => {
                errors.push(err(path, false, message));
                continue;
            }
        };
        let raw = toml::Value::Table(t);
        if let Err(e) = serde_json::to_value(&raw)
            .map_err(|e| crate::engine::model::Refusal::Malformed(e.to_string()))
            .and_then(|v| crate::engine::guard::check_json(&v))
        {
            errors.push(err(
                tpath!["event", i],
                false,
                format!("event {n} ({ty}): {e}"),
            ));
            continue;
        }
        match Event::from_parts(&ty, raw).and_then(|e| e.check_id().map(|()| e)) {
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
pub fn action_json(
    cfg: &Config,
    r: &Renderer,
    a: &Action,
) -> Result<Value, crate::render::RenderError> {
    let mut m = Map::new();
    m.insert("at".into(), json!(local_rfc3339(cfg, a.at)));
    let (kind, message) = match &a.body {
        ActionBody::Email(e) => ("email", e.message.as_str().to_string()),
        ActionBody::Statuspage(s) => ("statuspage", s.message.as_str().to_string()),
        ActionBody::Silence(s) => ("silence", s.message.clone()),
        ActionBody::Ops(o) => ("ops", o.message.as_str().to_string()),
        ActionBody::Report(_) => ("report", "monthly".to_string()),
    };
    m.insert("action".into(), json!(kind));
    m.insert("message".into(), json!(message));
    match &a.about {
        About::Incident(id) => m.insert("incident".into(), json!(id)),
        About::Maintenance(id) => m.insert("maintenance".into(), json!(id)),
        About::Inquiry(id) => m.insert("inquiry".into(), json!(id)),
        About::Report(month) => m.insert("month".into(), json!(month)),
    };
    let subject = r.subject(cfg, a)?;
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
        ActionBody::Report(r) => {
            m.insert("to".into(), json!(r.to));
        }
    }
    if let Some(subject) = subject {
        m.insert("subject".into(), json!(subject));
    }
    m.insert("key".into(), json!(a.key));
    Ok(Value::Object(m))
}

/// Run a scenario; returns the JSON lines, or every problem found.
pub fn run(path: &Path) -> Result<String, ScenarioError> {
    let t0 = std::time::Instant::now();
    let sc = parse(path)?;
    let t1 = std::time::Instant::now();
    let cfg = Config::load(&sc.config)
        .map_err(|es| ScenarioError(es.iter().map(|e| e.to_string()).collect()))?;
    let renderer = Renderer::new(&cfg)
        .map_err(|es| ScenarioError(es.iter().map(|e| e.to_string()).collect()))?;
    let t2 = std::time::Instant::now();
    let out = run_with(&sc, Arc::new(cfg), &renderer, path)?;
    tracing::debug!(
        parse_ms = (t1 - t0).as_millis() as u64,
        config_ms = (t2 - t1).as_millis() as u64,
        run_ms = t2.elapsed().as_millis() as u64,
        events = sc.events.len(),
        "simulate phases"
    );
    Ok(out)
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
            let v = action_json(&cfg, r, &a).map_err(|e| ScenarioError(vec![e.to_string()]))?;
            out.push_str(&v.to_string());
            out.push('\n');
        }
        Ok(())
    };
    for (at, ev, n) in &sc.events {
        // `handle` fires the deadlines before `at` first (`Engine::advance_to`).
        let ty = ev.type_name();
        engine.handle(*at, ev.clone()).map_err(|e| {
            let loc = scenario_location(path, *n);
            ScenarioError(vec![format!("{loc}: event {n} ({ty}): {e}")])
        })?;
        drain(&mut engine, &mut out)?;
    }
    engine.advance_to(sc.until + NEXT_INSTANT);
    drain(&mut engine, &mut out)?;
    Ok(out)
}

pub use crate::engine::NEXT_INSTANT;

fn scenario_location(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let src = Source::new(path, text);
    let e = src.error_path(&tpath!["event", n - 1], false, "");
    format!("{}:{}:{}", e.file.display(), e.line, e.col)
}
