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
    // The head is read alone when it is in the file's first piece (nearly always): the whole
    // file (a busy year is 14 MB, a twentieth of the run to read) is then read on the reader
    // thread while the configuration loads here, not before everything.
    let (head_text, whole) = match read_head(path) {
        Some(h) => (h, None),
        None => {
            let text = crate::config::read_input(path).ok()?;
            let at = event_starts(&text).next()?;
            (text[..at].to_string(), Some(text))
        }
    };
    let head: toml::Table = toml::from_str(&head_text).ok()?;
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
        let (head_text, problem, stop, count) = (&head_text, &problem, &stop, &count);
        // The reader reads the file and finds the blocks while the configuration and the
        // templates load here.
        s.spawn(move || {
            let text = match whole.map_or_else(|| crate::config::read_input(path), Ok) {
                // The same head as read before (the file did not change in between).
                Ok(t)
                    if t.starts_with(head_text.as_str())
                        && event_starts(&t).next() == Some(head_text.len()) =>
                {
                    t
                }
                _ => {
                    problem.store(true, Ordering::Relaxed);
                    return;
                }
            };
            let text = text.as_str();
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

/// Bytes read for the head: a scenario's head is a few lines.
const HEAD_PIECE: usize = 64 << 10;

/// The text before the first `[[event]]` header, when that header is in the file's first
/// `HEAD_PIECE` bytes; `None` otherwise (then the whole file is read first, as before).
fn read_head(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut piece = Vec::with_capacity(HEAD_PIECE);
    std::fs::File::open(path)
        .ok()?
        .take(HEAD_PIECE as u64)
        .read_to_end(&mut piece)
        .ok()?;
    let valid = match std::str::from_utf8(&piece) {
        Ok(t) => t,
        Err(e) => std::str::from_utf8(&piece[..e.valid_up_to()]).ok()?,
    };
    // Whole lines only: a header is known by its line.
    let lines = &valid[..valid.rfind('\n').map_or(0, |n| n + 1)];
    let at = event_starts(lines).next()?;
    Some(lines[..at].to_string())
}
