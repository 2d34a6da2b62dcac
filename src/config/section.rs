//! Tables that rooms above the configuration own (SPEC §5.3): a sink's (`[smtp]`,
//! `[statuspage]`, `[alertmanager]`, `[webhook]`, `[sms]`) and the PostgreSQL store's keys
//! of `[storage]`. Each such room declares a [`Section`] — its keys for the manual and a
//! `load` that reads its raw table through [`Validator::table`] and validates it — and the
//! daemon passes the list to [`Config::load_with`](super::Config::load_with). This module
//! names none of them (in the manner of vector's sink configs, which register themselves).
//!
//! A key is unknown when **every** reader of the file (the core and each section) passed it
//! by: `[storage] dir` is the core's, `[storage] url` the store's, `[storage] colour`
//! nobody's.

use super::keys::{Key, Table};
use super::locate::{from_ignored, Seg};
use super::validate::Validator;
use super::Config;
use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use std::any::Any;
use std::sync::Arc;

/// A room's validated settings, as the room's own type.
pub type Settings = Arc<dyn Any + Send + Sync>;

/// A table (or part of one) that a room above the configuration owns.
pub(crate) struct Section {
    /// Its header in the manual; `None` when it adds keys to a table the core owns.
    pub table: Option<Table>,
    /// Its keys, for `meldingsvakt.toml(5)`.
    pub keys: &'static [Key],
    /// Read and validate its table: `None` when the table turns the room off (or is wrong:
    /// the validator then holds the errors).
    pub load: fn(&mut Validator<'_>, &Config) -> Option<Settings>,
}

/// What a room's `config.rs` needs to declare and validate its table.
pub(crate) mod prelude {
    pub(crate) use crate::config::keys::{k, Key};
    pub(crate) use crate::config::raw::Dur;
    pub(crate) use crate::config::validate::Validator;
    pub(crate) use crate::config::Config;
    pub(crate) use crate::tpath;
    pub(crate) use chrono::Duration;
    pub(crate) use serde::Deserialize;
}

/// A room's `static SECTION`: its manual entry (`[name]` with `doc`, when the room owns the
/// whole table; its `keys`), and a `load` that reads the raw table `name` as `raw` and validates it with `validate(v, raw, cfg)`, which
/// returns the room's own settings (`None`: the table turns the room off).
#[macro_export]
macro_rules! section {
    (name: $name:literal, doc: $doc:literal, keys: $keys:expr, raw: $raw:ty, validate: $validate:expr $(,)?) => {
        $crate::section!(@ Some($crate::config::keys::Table {
            table: $name,
            header: concat!("[", $name, "]"),
            doc: $doc,
        }), $name, $keys, $raw, $validate);
    };
    (name: $name:literal, keys: $keys:expr, raw: $raw:ty, validate: $validate:expr $(,)?) => {
        $crate::section!(@ None, $name, $keys, $raw, $validate);
    };
    (@ $table:expr, $name:literal, $keys:expr, $raw:ty, $validate:expr) => {
        pub(crate) static SECTION: $crate::config::section::Section =
            $crate::config::section::Section {
                table: $table,
                keys: $keys,
                load: |v, cfg| {
                    let raw: $raw = v.table($name);
                    ($validate)(v, raw, cfg)
                        .map(|s| std::sync::Arc::new(s) as $crate::config::section::Settings)
                },
            };
    };
}

/// The settings of every section that loaded, found by their type.
#[derive(Clone, Default)]
pub struct Sections(Vec<Settings>);

impl Sections {
    /// The settings of type `T`, when its section is configured.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.iter().find_map(|s| s.downcast_ref::<T>())
    }

    /// Put (or replace) the settings of one room; tests use it to configure a room by hand.
    #[cfg(test)]
    pub(crate) fn set<T: Any + Send + Sync>(&mut self, value: T) {
        self.0.retain(|s| !s.is::<T>());
        self.0.push(Arc::new(value));
    }

    pub(super) fn push(&mut self, s: Settings) {
        self.0.push(s);
    }
}

impl std::fmt::Debug for Sections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sections({} loaded)", self.0.len())
    }
}

/// Deserializes the main file's table `name` as `T`, passing every other table by.
struct One<T> {
    name: &'static str,
    _t: std::marker::PhantomData<T>,
}

impl<'de, T: DeserializeOwned + Default> DeserializeSeed<'de> for One<T> {
    type Value = T;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: DeserializeOwned + Default> Visitor<'de> for One<T> {
    type Value = T;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "a table")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<T, A::Error> {
        let mut out = T::default();
        while let Some(k) = m.next_key::<String>()? {
            if k == self.name {
                out = m.next_value()?;
            } else {
                m.next_value::<IgnoredAny>()?;
            }
        }
        Ok(out)
    }
}

impl Validator<'_> {
    /// The main file's table `name` as the room's raw type `T` (its `Default` when absent or
    /// mistyped; a type error is reported with its place). The keys `T` does not take are
    /// remembered, so that one nobody takes is reported as unknown.
    pub(crate) fn table<T: DeserializeOwned + Default>(&mut self, name: &'static str) -> T {
        let src = &self.sources[0];
        let de = match toml::Deserializer::parse(&src.text) {
            Ok(de) => de,
            // The core already reported the syntax error.
            Err(_) => return T::default(),
        };
        let mut passed: Vec<Vec<Seg>> = Vec::new();
        let seed = One::<T> {
            name,
            _t: std::marker::PhantomData,
        };
        let mut note = |p: serde_ignored::Path| passed.push(from_ignored(&p));
        let de = serde_ignored::Deserializer::new(de, &mut note);
        let out = match seed.deserialize(de) {
            Ok(v) => v,
            Err(e) => {
                let e: toml::de::Error = e;
                let err = src.error_at(e.span().map(|r| r.start), e.message().to_string());
                self.errors.push(err);
                T::default()
            }
        };
        self.passed.push(passed);
        out
    }
}

/// The keys every reader passed by: each is a path some reader passed, and for every reader
/// it or a table above it was passed. The shallowest of them are returned.
pub(super) fn unknown(readers: &[Vec<Vec<Seg>>]) -> Vec<Vec<Seg>> {
    let covered = |passed: &Vec<Vec<Seg>>, p: &[Seg]| {
        passed
            .iter()
            .any(|q| q.len() <= p.len() && q[..] == p[..q.len()])
    };
    let mut out: Vec<Vec<Seg>> = Vec::new();
    for p in readers.iter().flatten() {
        if readers.iter().all(|r| covered(r, p)) && !out.contains(p) {
            out.push(p.clone());
        }
    }
    let all = out.clone();
    out.retain(|p| {
        !all.iter()
            .any(|q| q.len() < p.len() && q[..] == p[..q.len()])
    });
    out
}
