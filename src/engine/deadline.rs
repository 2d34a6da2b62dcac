//! Named deadlines (in the manner of quinn-proto's `timer.rs`).
//!
//! Each entity names what it still has to do (`Scheduled::Deadline`) and says, in one
//! function (`due`), whether each is pending and the instant it falls due. Firing and the
//! next wake-up are both read from that one function, so they cannot disagree:
//!
//! - `step(now)` walks the deadlines in their declared order and fires each that is due at
//!   or before `now`, re-reading `due` after every firing (firing one may settle another);
//! - `next_wake()` is the earliest instant among those still pending.
//!
//! A deadline that must happen as soon as the facts change (a status-page update after an
//! edit, the `Løst` e-mail after resolution) is due `AT_ONCE`. Firing a deadline always
//! removes it or moves it past `now`; `step` asserts that in debug builds.

use super::model::{Action, Time};
use crate::config::Config;

/// "As soon as possible": earlier than every real instant.
pub(crate) const AT_ONCE: Time = chrono::DateTime::<chrono::Utc>::MIN_UTC;

/// An entity with named deadlines: `due` says when each is pending, `fire` does it.
pub(crate) trait Scheduled {
    type Deadline: Copy + PartialEq + std::fmt::Debug + 'static;
    /// Every deadline this entity can have, in the order `step` fires them.
    const ORDER: &'static [Self::Deadline];

    /// When `d` falls due, or `None` when it is not pending.
    fn due(&self, d: Self::Deadline, cfg: &Config) -> Option<Time>;

    /// Do what `d` stands for, at `now`. Afterwards `d` is no longer due at `now`.
    fn fire(&mut self, d: Self::Deadline, cfg: &Config, now: Time, out: &mut Vec<Action>);

    /// Fire every deadline due at or before `now`; returns the ones fired.
    fn step(&mut self, cfg: &Config, now: Time, out: &mut Vec<Action>) -> Vec<Self::Deadline> {
        let mut fired = Vec::new();
        for &d in Self::ORDER {
            if self.due(d, cfg).is_some_and(|t| t <= now) {
                self.fire(d, cfg, now, out);
                debug_assert!(
                    self.due(d, cfg).is_none_or(|t| t > now),
                    "deadline {d:?} still due after firing"
                );
                fired.push(d);
            }
        }
        fired
    }

    /// The earliest pending deadline.
    fn next_wake(&self, cfg: &Config) -> Option<Time> {
        Self::ORDER.iter().filter_map(|&d| self.due(d, cfg)).min()
    }

    /// Every pending deadline with its instant, earliest first (what the API and the console
    /// show as "next").
    fn pending(&self, cfg: &Config) -> Vec<(Self::Deadline, Time)> {
        let mut v: Vec<(Self::Deadline, Time)> = Self::ORDER
            .iter()
            .filter_map(|&d| Some((d, self.due(d, cfg)?)))
            .collect();
        v.sort_by_key(|(_, t)| *t);
        v
    }
}

/// A pending deadline as the API shows it: `{"what": "reminder", "at": …}`.
pub(crate) fn next_json<D: serde::Serialize>(pending: Vec<(D, Time)>) -> serde_json::Value {
    serde_json::Value::Array(
        pending
            .into_iter()
            .map(|(what, at)| serde_json::json!({"what": what, "at": at}))
            .collect(),
    )
}
