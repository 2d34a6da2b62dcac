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
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A parsed scenario: its configuration, period and events.
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

/// The keys a scenario has besides its `[[event]]`s.
const HEAD: [&str; 3] = ["config", "start", "until"];

/// The configuration a scenario names: relative to the scenario's folder.
fn config_path(scenario: &Path, config: &str) -> PathBuf {
    scenario.parent().unwrap_or(Path::new(".")).join(config)
}

/// Byte ranges of the `[[event]]` blocks, or `None` when the file has multi-line strings.
fn event_blocks(text: &str) -> Option<Vec<(usize, usize)>> {
    // memchr's searcher: std's took a twentieth of the reader thread on a busy year.
    let has = |needle: &[u8]| memchr::memmem::find(text.as_bytes(), needle).is_some();
    if has(b"\"\"\"") || has(b"'''") {
        return None;
    }
    let starts: Vec<usize> = event_starts(text).collect();
    Some(
        starts
            .iter()
            .enumerate()
            .map(|(i, &a)| (a, starts.get(i + 1).copied().unwrap_or(text.len())))
            .collect(),
    )
}

/// Where each line that is an `[[event]]` header starts (only white space before it on its
/// line). Found by searching for `[[`, not by going through every line.
pub(super) fn event_starts(text: &str) -> impl Iterator<Item = usize> + '_ {
    memchr::memmem::find_iter(text.as_bytes(), b"[[").filter_map(|i| {
        let line = text[..i].rfind('\n').map_or(0, |n| n + 1);
        let rest = &text[i..];
        (text[line..i].chars().all(char::is_whitespace)
            && (rest.starts_with("[[event]]") || rest.starts_with("[[ event ]]")))
        .then_some(line)
    })
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

/// Read and type a scenario file; errors name the place and event number.
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
    let src = Source::new(path, text);
    let text = src.text.as_str();
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
    let blocks = event_blocks(text);
    let mut chunked: Option<Vec<(usize, usize)>> = None;
    let mut root: toml::Table = match blocks {
        Some(b) if !lenient && !b.is_empty() => {
            let head = parse_at(0, &text[..b[0].0])?;
            chunked = Some(b);
            head
        }
        _ => parse_at(0, text)?,
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
        if !(HEAD.contains(&k.as_str()) || k == "event") {
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
        Some(toml::Value::String(s)) => config_path(path, s),
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
    let mut typed = |r: Result<(Time, Event, usize), (Vec<Seg>, String)>,
                     errors: &mut Vec<String>| match r {
        Ok(e) => events.push(e),
        Err((path, message)) => errors.push(err(path, false, message)),
    };
    match root.remove("event") {
        None if chunked.is_some() => {
            let blocks = chunked.as_deref().unwrap_or_default();
            // Each block is its own document holding one event: read and typed on every core
            // (a year is ~100,000), never holding all the TOML tables at once.
            let parsed = par_map(blocks.to_vec(), |i, (a, b)| read_block(text, (a, b), i));
            // As before: a TOML error stops here; the blocks' stray keys come before the
            // events' problems.
            let mut evs = Vec::with_capacity(parsed.len());
            let mut stray_keys = Vec::new();
            for r in parsed {
                let (a, stray, event) = r.map_err(|(at, m)| {
                    ScenarioError(vec![src
                        .error_at(at, format!("TOML error: {m}"))
                        .to_string()])
                })?;
                for k in stray {
                    stray_keys.push(src.error_at(Some(a), format!("unknown key `{k}` after [[event]] (expected config, start, until, [[event]])")).to_string());
                }
                evs.extend(event);
            }
            errors.extend(stray_keys);
            evs.into_iter().for_each(|r| typed(r, &mut errors));
        }
        None => {}
        Some(toml::Value::Array(list)) => {
            par_map(list, typed_event)
                .into_iter()
                .for_each(|r| typed(r, &mut errors));
        }
        Some(_) => {
            errors.push(err(
                tpath!["event"],
                false,
                "`event` must be an array of tables: [[event]]".into(),
            ));
        }
    };
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

mod history;
mod line;
mod reader;
mod spill;
mod stream;
pub use history::{HistoryError, ScenarioHistory};
pub use line::{local_rfc3339, ActionLine};
pub use spill::Spill;

/// Run a scenario; returns the JSON lines, or every problem found.
pub fn run(path: &Path) -> Result<String, ScenarioError> {
    let mut out = Vec::new();
    run_into(path, &mut out)?;
    String::from_utf8(out).map_err(|e| ScenarioError(vec![e.to_string()]))
}

/// Where `simulate` writes its lines: emptied when a run is thrown away.
pub trait Sink: Write + Send {
    /// Forget everything written.
    fn clear(&mut self) -> std::io::Result<()>;
}

impl Sink for Vec<u8> {
    fn clear(&mut self) -> std::io::Result<()> {
        Vec::clear(self);
        Ok(())
    }
}

/// Run a scenario, writing the JSON lines to `out` as they are decided. On an error, what was
/// written is to be thrown away (`simulate` writes to a `Spill` and copies it to stdout only
/// after success).
///
/// A file whose events are in order and all well-formed is run while it is read
/// (`stream.rs`); any other goes through `parse` first, which gives every problem with its
/// place. Both run the same events in the same order, so they write the same bytes.
pub fn run_into(path: &Path, out: &mut dyn Sink) -> Result<(), ScenarioError> {
    if let Some(done) = stream::run(path, out) {
        return done;
    }
    out.clear()
        .map_err(|e| ScenarioError(vec![format!("cannot write output: {e}")]))?;
    let t0 = std::time::Instant::now();
    let sc = parse(path)?;
    let t1 = std::time::Instant::now();
    let cfg = Config::load(&sc.config)
        .map_err(|es| ScenarioError(es.iter().map(|e| e.to_string()).collect()))?;
    let renderer = Renderer::new(&cfg)
        .map_err(|es| ScenarioError(es.iter().map(|e| e.to_string()).collect()))?;
    let t2 = std::time::Instant::now();
    let events = sc.events.len();
    run_with(
        sc.start,
        sc.until,
        sc.events,
        Arc::new(cfg),
        &renderer,
        path,
        out,
    )?;
    tracing::debug!(
        parse_ms = (t1 - t0).as_millis() as u64,
        config_ms = (t2 - t1).as_millis() as u64,
        run_ms = t2.elapsed().as_millis() as u64,
        events,
        "simulate phases"
    );
    Ok(())
}

/// The engine on this thread, the rendering and JSON of its actions on another (a bounded
/// channel of batches between them): on two cores the two halves overlap. `events` in order.
pub(crate) fn run_with(
    start: Time,
    until: Time,
    events: impl IntoIterator<Item = (Time, Event, usize)>,
    cfg: Arc<Config>,
    r: &Renderer,
    path: &Path,
    out: &mut (dyn Write + Send),
) -> Result<(), ScenarioError> {
    let fail = |e: &dyn std::fmt::Display| ScenarioError(vec![e.to_string()]);
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Action>>(64);
    // Written batches go back to be freed where they were made: the allocator frees a
    // thread's own memory on its fast path, and another thread's through a slow one that
    // was a fifth of the engine thread's time (issue #32, perf).
    let (back, written) = std::sync::mpsc::channel::<Vec<Action>>();
    let cfg_w = Arc::clone(&cfg);
    std::thread::scope(|s| {
        let writer = s.spawn(move || -> Result<(), ScenarioError> {
            let mut buf = std::io::BufWriter::with_capacity(1 << 16, out);
            let mut stamp: Option<(Time, String)> = None;
            for batch in rx {
                for a in &batch {
                    if stamp.as_ref().is_none_or(|(t, _)| *t != a.at) {
                        stamp = Some((a.at, local_rfc3339(&cfg_w, a.at)));
                    }
                    let at = stamp.as_ref().map_or("", |(_, s)| s.as_str());
                    let line =
                        ActionLine::stamped(at.into(), &cfg_w, r, a).map_err(|e| fail(&e))?;
                    serde_json::to_writer(&mut buf, &line).map_err(|e| fail(&e))?;
                    buf.write_all(b"\n").map_err(|e| fail(&e))?;
                }
                let _ = back.send(batch);
            }
            buf.flush().map_err(|e| fail(&e))
        });
        let mut engine = Engine::new(Arc::clone(&cfg));
        let mut batch = Vec::new();
        // The directory is seeded from the configuration at the scenario's start (SPEC §4.16).
        let mut engine_result = engine
            .seed_directory(start)
            .map_err(|e| ScenarioError(vec![format!("the configuration's contacts: {e}")]));
        if engine_result.is_ok() {
            for (at, ev, n) in events {
                // `handle` fires the deadlines before `at` first (`Engine::advance_to`).
                let ty = ev.type_name();
                if let Err(e) = engine.handle(at, ev) {
                    let loc = scenario_location(path, n);
                    engine_result =
                        Err(ScenarioError(vec![format!("{loc}: event {n} ({ty}): {e}")]));
                    break;
                }
                batch.extend(std::iter::from_fn(|| engine.poll_action()));
                if batch.len() >= 256 {
                    // The next batch is a written one, emptied (its actions freed here), or
                    // a new one of its size: no vector grows from nothing each time.
                    let next = match written.try_iter().last() {
                        Some(mut b) => {
                            b.clear();
                            b
                        }
                        None => Vec::with_capacity(2 * 256),
                    };
                    if tx.send(std::mem::replace(&mut batch, next)).is_err() {
                        break; // the writer stopped on an error: it says which
                    }
                }
            }
        }
        if engine_result.is_ok() {
            engine.advance_to(until + NEXT_INSTANT);
            batch.extend(std::iter::from_fn(|| engine.poll_action()));
            let _ = tx.send(batch);
        }
        drop(tx);
        let written = writer
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        engine_result.and(written)
    })
}

pub use crate::engine::NEXT_INSTANT;

fn scenario_location(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let src = Source::new(path, text);
    let e = src.error_path(&tpath!["event", n - 1], false, "");
    format!("{}:{}:{}", e.file.display(), e.line, e.col)
}

/// What one `[[event]]` block (number `i`, from 0) holds: its start, the keys beside `event`,
/// and its event typed (or what is wrong with it); a TOML error with its place.
type BlockRead = Result<
    (
        usize,
        Vec<String>,
        Option<Result<(Time, Event, usize), (Vec<Seg>, String)>>,
    ),
    (Option<usize>, String),
>;

/// Read the block `text[a..b]`: without the TOML parser when it is plain (`reader.rs`).
fn read_block(text: &str, (a, b): (usize, usize), i: usize) -> BlockRead {
    let mut t = match reader::simple_block(&text[a..b]) {
        Some(t) => t,
        None => toml::from_str::<toml::Table>(&text[a..b]).map_err(|e| {
            (
                e.span().map(|r| r.start + a),
                e.message().trim().to_string(),
            )
        })?,
    };
    t.iter_mut().for_each(|(_, v)| stringify_datetimes(v));
    let stray: Vec<String> = t.keys().filter(|k| *k != "event").cloned().collect();
    let event = match t.remove("event") {
        Some(toml::Value::Array(one)) => one.into_iter().next().map(|ev| typed_event(i, ev)),
        _ => None,
    };
    Ok((a, stray, event))
}

/// One `[[event]]` table (number `i`, from 0) as a typed event, or where and what is wrong.
/// Pure, so the events of a scenario are read on every core.
fn typed_event(i: usize, ev: toml::Value) -> Result<(Time, Event, usize), (Vec<Seg>, String)> {
    let n = i + 1;
    // The event's table, its `type` and its `at`; or what is wrong and where.
    let (t, ty, at) = match ev {
        toml::Value::Table(mut t) => match (t.remove("type"), t.remove("at")) {
            (Some(toml::Value::String(ty)), Some(toml::Value::String(at))) => {
                match parse_time(&at) {
                    Ok(at) => (t, ty, at),
                    Err(m) => {
                        return Err((
                            tpath!["event", i, "at"],
                            format!("event {n} ({ty}): `at`: {m}"),
                        ))
                    }
                }
            }
            (Some(toml::Value::String(ty)), _) => {
                return Err((
                    tpath!["event", i],
                    format!("event {n} ({ty}): missing `at`"),
                ))
            }
            _ => {
                return Err((
                    tpath!["event", i],
                    format!(
                        "event {n}: missing `type` (one of: {})",
                        EVENT_TYPES.join(", ")
                    ),
                ))
            }
        },
        _ => return Err((tpath!["event", i], format!("event {n}: must be a table"))),
    };
    let raw = toml::Value::Table(t);
    if let Err(e) = crate::engine::guard::check_toml(&raw) {
        return Err((tpath!["event", i], format!("event {n} ({ty}): {e}")));
    }
    match Event::from_parts(&ty, raw).and_then(|e| e.check_id().map(|()| e)) {
        Ok(e) => Ok((at, e, n)),
        Err(m) => {
            let p = if EVENT_TYPES.contains(&ty.as_str()) {
                tpath!["event", i]
            } else {
                tpath!["event", i, "type"]
            };
            Err((p, format!("event {n} ({ty}): {m}")))
        }
    }
}

/// `f` over `items` (with each item's index) on every core, results in order.
fn par_map<T: Send, R: Send>(items: Vec<T>, f: impl Fn(usize, T) -> R + Sync) -> Vec<R> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 || items.len() < 1024 {
        return items
            .into_iter()
            .enumerate()
            .map(|(i, x)| f(i, x))
            .collect();
    }
    let per = items.len().div_ceil(cores);
    let mut chunks = Vec::new();
    let mut rest = items;
    while rest.len() > per {
        let tail = rest.split_off(per);
        chunks.push(rest);
        rest = tail;
    }
    chunks.push(rest);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .enumerate()
            .map(|(k, chunk)| {
                s.spawn(move || {
                    chunk
                        .into_iter()
                        .enumerate()
                        .map(|(i, x)| f(k * per + i, x))
                        .collect::<Vec<R>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}
