//! A fixed-window counter per key, in memory: what each host lets reach it of the public
//! pages (`/kontakt` per link and client, `/abonner` per address, client and hour).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counters kept at most; beyond, new keys are refused until old windows end.
const KEYS: usize = 50_000;

/// Counts per key within `window`.
pub(crate) struct Limiter {
    window: Duration,
    counts: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Limiter {
    /// A limiter whose windows last `window`.
    pub(crate) fn new(window: Duration) -> Limiter {
        Limiter {
            window,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Count one more for `key`: whether it is within `max` in its window.
    pub(crate) fn allow(&self, key: String, max: u32) -> bool {
        let now = Instant::now();
        let mut m = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() >= KEYS {
            m.retain(|_, (since, _)| now.duration_since(*since) < self.window);
        }
        if m.len() >= KEYS && !m.contains_key(&key) {
            return false;
        }
        let e = m.entry(key).or_insert((now, 0));
        if now.duration_since(e.0) >= self.window {
            *e = (now, 0);
        }
        e.1 += 1;
        e.1 <= max
    }
}
