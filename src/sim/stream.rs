//! `simulate` running the engine while the file is read (issue #32): one thread reads the
//! `[[event]]` blocks in order and hands them over in chunks, the engine runs them as they
//! come, and a third thread writes the lines, so reading no longer comes before everything.
//!
//! Only a file that is in order and without a single problem is run this way: the head holds
//! `config`, `start` and `until` as strings and nothing else, the configuration loads, every
//! block reads, types and lies in `start..until`, and no event is earlier than the one before.
//! At the first thing that is not so, the reader stops and the run is thrown away, and
//! `run_into` goes through `parse`, which says every problem with its place exactly as
//! before. An event the engine refuses is reported only when the rest of the file reads (a
//! problem in the file comes first, as in `parse`). In order, the events run in file order,
//! which is the order `parse`'s stable sort gives: the same bytes either way.

use super::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Events handed over at a time.
const CHUNK: usize = 2048;

/// Run `path` as it is read; `None` when it is to go through `parse` (with `out` to be
/// emptied).
pub(super) fn run(path: &Path, out: &mut dyn Sink) -> Option<Result<(), ScenarioError>> {
    let text = crate::config::read_input(path).ok()?;
    let head: toml::Table = toml::from_str(&text[..event_starts(&text).next()?]).ok()?;
    if head.keys().any(|k| !HEAD.contains(&k.as_str())) {
        return None;
    }
    let get = |k: &str| head.get(k).and_then(toml::Value::as_str);
    let (start, until) = (
        parse_time(get("start")?).ok()?,
        parse_time(get("until")?).ok()?,
    );
    if until < start {
        return None;
    }
    let config = config_path(path, get("config")?);
    // `problem`: the file is not for this path; `stop`: the run ended before it began (the
    // configuration did not load), so the reader need not go on.
    let (problem, stop, count) = (
        AtomicBool::new(false),
        AtomicBool::new(false),
        AtomicUsize::new(0),
    );
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<(Time, Event, usize)>>(4);
    let result = std::thread::scope(|s| {
        let (text, problem, stop, count) = (&text, &problem, &stop, &count);
        // The reader finds the blocks while the configuration and the templates load here.
        s.spawn(move || {
            let Some(blocks) = event_blocks(text) else {
                problem.store(true, Ordering::Relaxed);
                return;
            };
            count.store(blocks.len(), Ordering::Relaxed);
            let mut last = start;
            // After the engine stopped on a refused event, the rest is still read: a problem
            // in the file is what `parse` would say first.
            let mut tx = Some(tx);
            for (k, chunk) in blocks.chunks(CHUNK).enumerate() {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let mut events = Vec::with_capacity(chunk.len());
                for (j, &block) in chunk.iter().enumerate() {
                    match read_block(text, block, k * CHUNK + j) {
                        Ok((_, stray, Some(Ok((at, ev, n)))))
                            if stray.is_empty() && at >= last && at <= until =>
                        {
                            last = at;
                            events.push((at, ev, n));
                        }
                        _ => {
                            problem.store(true, Ordering::Relaxed);
                            return;
                        }
                    }
                }
                if tx.as_ref().is_some_and(|t| t.send(events).is_err()) {
                    tx = None;
                }
            }
        });
        let loaded = Config::load(&config)
            .ok()
            .and_then(|cfg| Renderer::new(&cfg).ok().map(|r| (cfg, r)));
        let Some((cfg, renderer)) = loaded else {
            stop.store(true, Ordering::Relaxed);
            return None;
        };
        // A problem ends the events at once; the run is thrown away below.
        let events = rx
            .into_iter()
            .take_while(|_| !problem.load(Ordering::Relaxed))
            .flatten();
        Some(run_with(
            start,
            until,
            events,
            Arc::new(cfg),
            &renderer,
            path,
            &mut *out,
        ))
    })?;
    let problem = problem.load(Ordering::Relaxed);
    tracing::debug!(
        events = count.load(Ordering::Relaxed),
        read_first = problem,
        "simulate: run as read"
    );
    (!problem).then_some(result)
}
