//! Where decided actions go. One contract, [`Sink`], and a [`Registry`] built once at start
//! (in the manner of Alertmanager's `Notifier` integrations and vector's sink folders).
//!
//! Each sink is a folder that owns its configuration table (`config.rs`: raw keys and their
//! validation), its client, its durable state (rows in the store's `sink_state` table under
//! its name, through [`SinkState`]) and its tests:
//!
//! | folder        | delivers outbox kinds | copies            | table            |
//! |---------------|-----------------------|-------------------|------------------|
//! | `email/`      | `email`, `ops`        | –                 | `[smtp]`         |
//! | `statuspage/` | `statuspage`          | –                 | `[statuspage]`   |
//! | `silence/`    | `silence`             | –                 | `[alertmanager]` |
//! | `webhook/`    | –                     | every action      | `[webhook]`      |
//! | `sms/`        | `sms`                 | –                 | `[sms]`          |
//! | `subscribers/`| –                     | posts subscribers hear of | `[subscribers]` |
//!
//! An action's **own** outbox row (key = the action key) goes to the sink that delivers its
//! kind. A sink may also take a **copy** of an action: its own outbox row, keyed
//! `{key}#{sink}`, with its own attempts and backoff, so that a ticket system being down never
//! delays or repeats an e-mail. Both are written in the same transaction as the decision.
//!
//! The dispatcher knows no sink by name: it claims rows, asks the registry for the sink of
//! each row's kind, and records [`Failure`]s with their backoff.
//!
//! To add a sink: a folder with a type implementing [`Sink`], a `build` function and a
//! `config.rs` that declares its table as a [`Section`] (its keys, and a `load` that reads
//! and validates it), and one line in `SINKS`. Nothing in `config/` names it.

pub mod email;
pub(crate) mod silence;
pub(crate) mod sms;
pub(crate) mod statuspage;
pub(crate) mod subscribers;
pub(crate) mod webhook;

use crate::config::section::Section;
use crate::config::Config;
use crate::engine::model::Action;
use crate::render::Renderer;
use crate::store::OutboxRow;
use std::sync::Arc;

/// Why a delivery did not happen. The row stays in the outbox either way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Failure {
    /// May succeed later (network, 5xx, timeouts): retried with exponential backoff.
    #[error("{0}")]
    Transient(String),
    /// Will not succeed as it is (refused by the receiver, cannot be built): logged as an
    /// error and retried slowly (every 5 minutes), so that a fixed configuration still
    /// delivers it.
    #[error("{0}")]
    Permanent(String),
}

impl Failure {
    /// Will not succeed as it is.
    pub(crate) fn is_permanent(&self) -> bool {
        matches!(self, Failure::Permanent(_))
    }
}

/// A sink's durable state: small JSON values under `(sink, key)`. Reads and writes are
/// short store calls, never held across an await.
pub(crate) trait SinkState: Send + Sync {
    fn get(&self, sink: &str, key: &str) -> Option<String>;
    fn put(&self, sink: &str, key: &str, value: &str);
    fn list(&self, sink: &str) -> Vec<(String, String)>;
}

/// What a sink gets for one delivery: the configuration and templates in force now, and its
/// state.
pub(crate) struct Ctx<'a> {
    /// Held as the `Arc` it is, so a rendering shared across recipients can tell it apart
    /// from a configuration swapped in since (`Renderer::email_shared`).
    pub cfg: &'a Arc<Config>,
    pub renderer: &'a Renderer,
    pub state: &'a dyn SinkState,
    /// The subscriber queue, for the subscribers' copies.
    pub fan_out: &'a dyn subscribers::FanOut,
}

/// What `Sink::stage` begins: a future the caller spawns.
pub(crate) type Staging = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// The contract every sink meets.
#[async_trait::async_trait]
pub(crate) trait Sink: Send + Sync {
    /// The sink's name: its outbox kind for copies, its key in `sink_state`, its metrics label.
    fn name(&self) -> &'static str;

    /// Outbox kinds (`ActionBody::kind`) this sink delivers besides the one named like it.
    fn delivers(&self) -> &'static [&'static str] {
        &[]
    }

    /// Whether this sink takes its own copy of `action` (an outbox row keyed `{key}#{name}`).
    fn copies(&self, _action: &Action) -> bool {
        false
    }

    /// Carry out one claimed row. Must be safe to repeat: the same row can come again after
    /// a crash or an unrecorded result, and the receiver must see the same thing (the same
    /// Message-ID, the same webhook id, no second Statuspage incident).
    async fn deliver(&self, ctx: &Ctx<'_>, row: &OutboxRow) -> Result<(), Failure>;

    /// Begin, before `action`'s own row is committed, what can be begun without delivering
    /// anything: the e-mail sink opens the SMTP envelope up to DATA (email/staged.rs). The
    /// future is spawned; it goes on only when `release` says the commit claimed the row, and
    /// `deliver` of that row reports what it did. Default: nothing.
    fn stage(
        &self,
        _cfg: &Arc<Config>,
        _renderer: &Arc<Renderer>,
        _action: &Action,
    ) -> Option<Staging> {
        None
    }

    /// After the commit that `stage` ran beside: go on with what was staged for the keys
    /// `claimed` says the commit claimed; drop the rest (the commit failed, or the row was
    /// there before). Returns how many were dropped.
    fn release(&self, _claimed: &dyn Fn(&str) -> bool) -> usize {
        0
    }

    /// Periodic upkeep, about once a minute (e.g. extending silences).
    async fn upkeep(&self, _ctx: &Ctx<'_>) {}

    /// How long a row of this sink may fail before it is late: an error in the log and
    /// `/metrics`, and a warning to ops when it finally goes out. `None`: the default.
    fn warn_after(&self) -> Option<chrono::Duration> {
        None
    }
}

/// The HTTP client of a sink that posts to one endpoint: a whole request within `timeout`
/// (10 s when it does not fit), and our name as the user agent.
pub(crate) fn http_client(timeout: chrono::Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(
            timeout
                .to_std()
                .unwrap_or(std::time::Duration::from_secs(10)),
        )
        .user_agent(concat!("meldingsvakt/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// When a failing row is late, unless its sink says otherwise.
pub(crate) const WARN_AFTER: chrono::Duration = chrono::Duration::minutes(10);

/// A sink could not be built from its configuration (a secret that cannot be read, a client
/// that cannot start). Refuses the start, or keeps the previous sinks on reload.
#[derive(Debug, thiserror::Error)]
#[error("[{table}] {message}")]
pub struct BuildError {
    pub table: &'static str,
    pub message: String,
}

impl BuildError {
    /// `[table] message`: what a sink's `build` returns when a secret or client fails.
    pub(crate) fn of(table: &'static str) -> impl Fn(&dyn std::fmt::Display) -> BuildError {
        move |e| BuildError {
            table,
            message: e.to_string(),
        }
    }
}

type Builder = fn(&Config) -> Result<Option<Arc<dyn Sink>>, BuildError>;

/// One sink: the table it reads and how it is built from it.
struct Entry {
    section: &'static Section,
    build: Builder,
}

/// One entry of the registry.
const fn sink(section: &'static Section, build: Builder) -> Entry {
    Entry { section, build }
}

/// Every sink. Adding one is its folder and one line here.
const SINKS: &[Entry] = &[
    sink(&email::SECTION, email::build),
    sink(&statuspage::SECTION, statuspage::build),
    sink(&silence::SECTION, silence::build),
    sink(&webhook::SECTION, webhook::build),
    sink(&sms::SECTION, sms::build),
    sink(&subscribers::SECTION, subscribers::build),
];

/// The tables the sinks read, for `Config::load_with` and the manual.
pub(crate) fn sections() -> impl Iterator<Item = &'static Section> {
    SINKS.iter().map(|e| e.section)
}

/// The sinks of one configuration.
#[derive(Clone, Default)]
pub(crate) struct Registry {
    sinks: Vec<Arc<dyn Sink>>,
}

impl Registry {
    /// Every sink the configuration enables. The one list of sinks lives here.
    pub(crate) fn build(cfg: &Config) -> Result<Registry, BuildError> {
        let mut sinks = Vec::new();
        for e in SINKS {
            sinks.extend((e.build)(cfg)?);
        }
        Ok(Registry { sinks })
    }

    /// The sink that delivers an outbox row of `kind` (an action's own kind, or the name of a
    /// copying sink). `None`: the sink is not configured (the row is recorded as done).
    pub(crate) fn for_kind(&self, kind: &str) -> Option<&Arc<dyn Sink>> {
        self.sinks
            .iter()
            .find(|s| s.name() == kind || s.delivers().contains(&kind))
    }

    /// Stage the first own row of `rows` that is due at `now` and that its sink can stage
    /// (`Sink::stage`), before the rows are committed: the future to spawn, if any. One per
    /// commit: the first notice of a fan-out is the one that waits on the commit.
    pub(crate) fn stage(
        &self,
        cfg: &Arc<Config>,
        renderer: &Arc<Renderer>,
        rows: &[crate::store::NewRow],
        now: crate::engine::model::Time,
    ) -> Option<Staging> {
        rows.iter()
            .filter(|r| r.action.at <= now && r.key == r.action.key)
            .find_map(|r| self.for_kind(&r.kind)?.stage(cfg, renderer, &r.action))
    }

    /// After a commit: every sink goes on with what it staged for a key `claimed` says was
    /// claimed, and drops the rest. Returns how many were dropped.
    pub(crate) fn release(&self, claimed: &dyn Fn(&str) -> bool) -> usize {
        self.sinks.iter().map(|s| s.release(claimed)).sum()
    }

    /// The outbox rows for decided actions: each action's own row, then the copies sinks take.
    pub(crate) fn rows(&self, actions: &[Action]) -> Vec<crate::store::NewRow> {
        let mut out = Vec::with_capacity(actions.len());
        for a in actions {
            out.push(crate::store::NewRow::own(a.clone()));
            for s in &self.sinks {
                if s.copies(a) {
                    out.push(crate::store::NewRow::copy(a.clone(), s.name()));
                }
            }
        }
        out
    }

    /// How long a row of `kind` may fail before it is late.
    pub(crate) fn warn_after(&self, kind: &str) -> chrono::Duration {
        self.for_kind(kind)
            .and_then(|s| s.warn_after())
            .unwrap_or(WARN_AFTER)
    }

    /// The shortest lateness of any sink, for the outbox's overall "failing" gauge.
    pub(crate) fn shortest_warn_after(&self) -> chrono::Duration {
        self.sinks
            .iter()
            .filter_map(|s| s.warn_after())
            .min()
            .unwrap_or(WARN_AFTER)
    }

    /// Every sink in force.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<dyn Sink>> {
        self.sinks.iter()
    }
}

#[cfg(test)]
mod tests {
    /// Every key each sink's raw table accepts is documented in its section, and nothing else.
    #[test]
    fn every_key_of_every_sink_table_is_documented() {
        use crate::config::keys::assert_documented;
        for (src, raw, table, section) in [
            (
                include_str!("email/config.rs"),
                "RawSmtp",
                "smtp",
                &super::email::SECTION,
            ),
            (
                include_str!("statuspage/config.rs"),
                "RawStatuspage",
                "statuspage",
                &super::statuspage::SECTION,
            ),
            (
                include_str!("silence/config.rs"),
                "RawAlertmanager",
                "alertmanager",
                &super::silence::SECTION,
            ),
            (
                include_str!("webhook/config.rs"),
                "RawWebhook",
                "webhook",
                &super::webhook::SECTION,
            ),
            (
                include_str!("sms/config.rs"),
                "RawSms",
                "sms",
                &super::sms::SECTION,
            ),
        ] {
            assert_documented(src, &[(raw, table)], section.keys, 1);
        }
    }
}
