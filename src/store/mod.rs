//! Durable state: the log of accepted events, the outbox of decided actions, and the small
//! tables beside them (what maintenance files declared, the sinks' own state, the mailbox
//! position, organizations retained for open cases).
//!
//! `Store` is the contract; `sqlite::SqliteStore` the embedded implementation (the default),
//! and a PostgreSQL store for two hosts is one more implementation of the same trait.
//!
//! Architecture invariant: an event and the actions it caused are committed in **one**
//! transaction, before anything is sent (SPEC §6). State is not stored as a snapshot: on start
//! the accepted events are replayed through the deterministic engine, which recomputes every
//! deadline from the facts; re-decided actions hit the outbox's unique key and are ignored,
//! while deadlines that passed while the daemon was down produce new rows that run at once.

pub mod postgres;
pub mod sqlite;
pub mod subscribers;

pub use subscribers::{Subscriber, SubscriberMail, Subscribers};

use crate::audit::token::PersonalToken;
use crate::audit::{Anchor, Entry, NewEntry};
use crate::config::Organization;
use crate::engine::model::{Action, Time};
use std::collections::BTreeMap;
use std::path::Path;

pub use sqlite::SqliteStore;

/// Why the store could not do what it was asked; it changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed (locked, full, gone): the message is the backend's.
    #[error("database: {0}")]
    Backend(Box<dyn std::error::Error + Send + Sync>),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The store's settings cannot be used as they are (a secret that cannot be read, a URL
    /// the client refuses).
    #[error("{0}")]
    Unusable(String),
    /// A write by a host that no longer leads (SPEC §5.7): another host raised the epoch.
    #[error("this host no longer leads (its epoch {mine}, the database's {current}); the write was refused")]
    Fenced { mine: i64, current: i64 },
    #[error("database {path} has schema version {found}, newer than this meldingsvakt ({known}); upgrade meldingsvakt")]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
}

/// Open the embedded store (SQLite in WAL mode) at `path`, migrating it forward.
/// Why `check --connect` could not use the store: where, and what went wrong.
#[derive(Debug, thiserror::Error)]
#[error("{place}: {problem}")]
pub struct ProbeError {
    pub place: String,
    pub problem: String,
}

/// The store's keys of `[storage]` (PostgreSQL), for `Config::load_with` and the manual.
pub(crate) fn sections() -> impl Iterator<Item = &'static crate::config::section::Section> {
    std::iter::once(&postgres::settings::SECTION)
}

/// Open the embedded store (SQLite in WAL mode) at `path`, migrating it forward.
pub(crate) fn open(path: &Path) -> Result<Box<dyn Store>, StoreError> {
    Ok(Box::new(SqliteStore::open(path)?))
}

/// The log of accepted events and the engine's snapshot of them: what a restart replays.
pub trait EventLog: Send {
    /// Every accepted event, in the order accepted.
    fn events(&self) -> Result<Vec<StoredEvent>, StoreError> {
        self.events_after(0)
    }

    /// The events after `seq` (those a snapshot taken at `seq` does not hold).
    fn events_after(&self, seq: i64) -> Result<Vec<StoredEvent>, StoreError>;

    /// The latest event's sequence number (0: none).
    fn last_seq(&self) -> Result<i64, StoreError>;

    /// The engine's latest snapshot: the event seq it holds everything up to, and its JSON.
    fn load_snapshot(&self) -> Result<Option<(i64, String)>, StoreError>;

    /// Replace the snapshot (one transaction).
    fn save_snapshot(&mut self, seq: i64, at: Time, state: &str) -> Result<(), StoreError>;
}

/// The outbox: every decided action's row, claimed before it is sent and marked after
/// (SPEC §6 "Fail safe"), and what people are shown of its delivery.
pub trait Outbox: Send {
    /// Delivery problems (the console's overview): rows not delivered after a failed attempt,
    /// and rows that bounced since `since`, as timeline entries, oldest first.
    fn problems(&self, since: Time) -> Result<Vec<TimelineEntry>, StoreError>;

    /// Record that the message of outbox row `key` bounced (the bounce named it).
    fn mark_bounced(&mut self, key: &str, at: Time) -> Result<bool, StoreError>;

    /// Claim up to `limit` pending rows whose next attempt is due, oldest first, **before**
    /// sending them (SPEC §6 "Fail safe"). In one transaction each claimed row gets its
    /// attempt counted and its next attempt pushed back by `lease(attempts before this one)`.
    /// So when the result of a send cannot be recorded (store locked, disk full, crash), the
    /// row is still backed off: it is never sent again sooner than its backoff, and a store
    /// that cannot be written makes the claim itself fail, so nothing is sent at all.
    fn claim(
        &mut self,
        now: Time,
        limit: usize,
        lease: &dyn Fn(i64) -> chrono::Duration,
    ) -> Result<Vec<OutboxRow>, StoreError>;

    /// When the next pending row becomes due, if any.
    fn next_due(&self) -> Result<Option<Time>, StoreError>;

    /// Record a wave of claimed results in one transaction: `Ok` done, `Err((error, next
    /// attempt))`. The attempt was counted by `claim`.
    fn mark_many(&mut self, now: Time, results: &[SendResult]) -> Result<(), StoreError>;

    /// Outbox gauges; `failing_long` counts rows failing since before `now - warn_after`.
    fn stats(&self, now: Time, warn_after: chrono::Duration) -> Result<OutboxStats, StoreError>;

    /// Delivery state of one outbox row: (status, attempts).
    fn outbox_status(&self, key: &str) -> Result<Option<(String, i64)>, StoreError>;

    /// Every status-page action ever decided, in order (rebuilds the built-in page at start).
    fn statuspage_actions(&self) -> Result<Vec<Action>, StoreError>;

    /// The status-page actions stored after position `after` (0: all), and the position of
    /// the last one: how a standby keeps its built-in page equal to the leader's.
    fn statuspage_after(&self, after: i64) -> Result<(i64, Vec<Action>), StoreError>;
}

/// The small state beside the logs: what the maintenance files declared, each sink's and
/// the mailbox watcher's own state, and the organizations kept for open cases.
pub trait SmallState: Send {
    /// What the maintenance files declared last: id → the fields as JSON text.
    fn declared(&self) -> Result<BTreeMap<String, String>, StoreError>;

    fn set_declared(&mut self, all: &[(String, String)]) -> Result<(), StoreError>;

    /// A sink's own state (`sinks::SinkState`), under the sink's name.
    fn sink_get(&self, sink: &str, key: &str) -> Result<Option<String>, StoreError>;

    fn sink_put(&self, sink: &str, key: &str, value: &str) -> Result<(), StoreError>;

    fn sink_list(&self, sink: &str) -> Result<Vec<(String, String)>, StoreError>;

    /// (UIDVALIDITY, last handled UID) of a watched mailbox folder.
    fn imap_get(&self, folder: &str) -> Option<(u32, u32)>;

    /// Record the mailbox position; a failure is logged (looking at a message again is
    /// harmless: events are idempotent).
    fn imap_put(&self, folder: &str, uidvalidity: u32, last_uid: u32);

    /// Organizations kept for open cases after they were removed from the configuration.
    fn retained_orgs(&self) -> Result<Vec<Organization>, StoreError>;

    fn set_retained_orgs(&mut self, orgs: &[&Organization]) -> Result<(), StoreError>;
}

/// The audit log (SPEC §5.10): append-only, each entry chained to the one before
/// (`crate::audit`). Entries that record an event are appended by `Store::commit`, in the
/// event's transaction ([`NewEvent::audit`]).
pub trait AuditLog: Send {
    /// Append entries, each chained to the last, in one transaction.
    fn audit_append(&mut self, entries: &[NewEntry]) -> Result<(), StoreError>;
    /// The retention anchor and the entries kept, in chain order (`audit verify`).
    fn audit_chain(&self) -> Result<(Option<Anchor>, Vec<Entry>), StoreError>;
    /// The newest entries that match `q`, newest first, at most `q.limit`.
    fn audit_find(&self, q: &AuditQuery) -> Result<Vec<Entry>, StoreError>;
    /// Remove the entries older than `before` behind an anchor (retention), first appending
    /// the anchor to the chain at `now` (`audit::compaction`); the kept chain still verifies.
    /// Returns how many were removed.
    fn audit_compact(&mut self, before: Time, now: Time) -> Result<usize, StoreError>;
}

/// Personal API tokens (SPEC §5.10), kept as hashes. Creating and revoking one is audited in
/// the same transaction.
pub trait PersonalTokens: Send {
    /// Keep a new token, and its audit entry.
    fn token_create(&mut self, t: &PersonalToken, audit: &NewEntry) -> Result<(), StoreError>;
    /// The token whose hash is `hash`, usable or not.
    fn token_find(&self, hash: &str) -> Result<Option<PersonalToken>, StoreError>;
    /// The tokens of `person` (every person's with `None`), newest first.
    fn tokens(&self, person: Option<&str>) -> Result<Vec<PersonalToken>, StoreError>;
    /// Revoke token `id` (of `person` only, unless `None`), with its audit entry; false when
    /// there is no such token not yet revoked.
    fn token_revoke(
        &mut self,
        id: &str,
        person: Option<&str>,
        at: Time,
        audit: &NewEntry,
    ) -> Result<bool, StoreError>;
    /// Note that token `id` was used at `at`.
    fn token_used(&mut self, id: &str, at: Time) -> Result<(), StoreError>;
}

/// A personal token's columns, in the order both stores read them.
pub(crate) const TOKEN_COLUMNS: &str =
    "id, hash, person, role, label, created_at, expires_at, revoked_at, last_used_at";

/// A personal token as both stores write it: times as the audit log writes them.
pub(crate) struct TokenRow {
    pub id: String,
    pub hash: String,
    pub person: String,
    pub role: String,
    pub label: String,
    pub created_at: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
}

impl TokenRow {
    /// The row of `t`.
    pub(crate) fn of(t: &PersonalToken) -> TokenRow {
        let at = crate::audit::at_text;
        TokenRow {
            id: t.id.clone(),
            hash: t.hash.clone(),
            person: t.person.clone(),
            role: t.role.as_str().to_string(),
            label: t.label.clone(),
            created_at: at(t.created_at),
            expires_at: at(t.expires_at),
            revoked_at: t.revoked_at.map(at),
            last_used_at: t.last_used_at.map(at),
        }
    }

    /// The token this row holds.
    pub(crate) fn read(self) -> Result<PersonalToken, StoreError> {
        let bad = |what: &str| StoreError::Corrupt(format!("personal token {}: {what}", self.id));
        let time = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| t.to_utc())
                .map_err(|_| bad("a time that cannot be read"))
        };
        Ok(PersonalToken {
            role: crate::audit::Role::parse(&self.role).ok_or_else(|| bad("an unknown role"))?,
            created_at: time(&self.created_at)?,
            expires_at: time(&self.expires_at)?,
            revoked_at: self.revoked_at.as_deref().map(time).transpose()?,
            last_used_at: self.last_used_at.as_deref().map(time).transpose()?,
            id: self.id,
            hash: self.hash,
            person: self.person,
            label: self.label,
        })
    }
}

/// Which audit entries to find (`GET /ops/audit`): every given filter must hold.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// The person (exact).
    pub who: Option<String>,
    /// The case or object (exact).
    pub object: Option<String>,
    /// What was done: exact, or a prefix when it ends with `.` (`incident.`).
    pub what: Option<String>,
    /// At or after.
    pub from: Option<Time>,
    /// Before.
    pub to: Option<Time>,
    /// The most entries (0: no limit).
    pub limit: usize,
}

impl AuditQuery {
    /// The SQL condition and its text arguments, numbered from `$1`/`?1` in the order
    /// given (`placeholder(n)` writes the n-th).
    pub(crate) fn condition(&self, placeholder: fn(usize) -> String) -> (String, Vec<String>) {
        let mut parts = vec!["1 = 1".to_string()];
        let mut args = Vec::new();
        let mut add = |sql: &str, v: String| {
            args.push(v);
            parts.push(sql.replace('#', &placeholder(args.len())));
        };
        if let Some(w) = &self.who {
            add("who = #", w.clone());
        }
        if let Some(o) = &self.object {
            add("object = #", o.clone());
        }
        match &self.what {
            Some(w) if w.ends_with('.') => add("substr(what, 1, length(#)) = #", w.clone()),
            Some(w) => add("what = #", w.clone()),
            None => {}
        }
        if let Some(t) = self.from {
            add("at >= #", crate::audit::at_text(t));
        }
        if let Some(t) = self.to {
            add("at < #", crate::audit::at_text(t));
        }
        (parts.join(" AND "), args)
    }
}

/// What the daemon keeps: the three parts, and the calls that write more than one of them in
/// one transaction. Every write that matters is one transaction; a failed call changed
/// nothing. Implementations are driven from one thread at a time (the daemon holds a mutex).
pub trait Store: EventLog + Outbox + SmallState + AuditLog + PersonalTokens + Subscribers {
    /// Forget what is older than `before` and no longer needed (SPEC §5.8): events a snapshot
    /// holds (seq ≤ `upto`), their case links, and outbox rows done before `before`. Returns
    /// (events, rows) removed.
    fn compact(&mut self, before: Time, upto: i64) -> Result<(usize, usize), StoreError>;

    /// In one transaction: the events (type, JSON body) accepted at `at`, and the outbox rows
    /// they and any deadlines caused. Rows already in the outbox (same key) are left as they
    /// are. Returns how many rows are new.
    fn commit(&mut self, events: &[NewEvent], rows: &[NewRow]) -> Result<usize, StoreError>;

    /// `commit`, and in the same transaction claim the new rows that are already due at `now`
    /// as `claim` would (attempt counted, next attempt at `now + lease`), returning them: the
    /// dispatcher sends those at once, without a claim transaction and fsync of its own. A
    /// store without it claims nothing here (the dispatcher's own claim takes the rows).
    fn commit_claiming(
        &mut self,
        events: &[NewEvent],
        rows: &[NewRow],
        now: Time,
        lease: chrono::Duration,
    ) -> Result<(usize, Vec<OutboxRow>), StoreError> {
        let _ = (now, lease);
        Ok((self.commit(events, rows)?, Vec::new()))
    }

    /// A case's timeline (SPEC §5.8): the events that touched it and the outbox rows under its
    /// key prefix (`About::key_prefix`), each with its delivery state, in time order.
    fn timeline(&self, case: &str) -> Result<Vec<TimelineEntry>, StoreError>;
}

/// Times are stored as fixed-width UTC text, so text order is time order.
pub(crate) fn time_text(t: Time) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

/// An accepted event to log: when, what the door recorded of it (type, fields, origin, who),
/// and the cases it touched (`Engine::take_touched`).
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub at: Time,
    pub log: crate::engine::events::Logged,
    pub cases: Vec<String>,
    /// Its audit entries, appended in the same transaction (events by people, the mailbox,
    /// maintenance files and the directory — one per organization changed; not alerts).
    pub audit: Vec<NewEntry>,
}

impl NewEvent {
    /// An event from the API with no case recorded (tests and tools; the id rule is not
    /// applied, as for events stored before it existed).
    pub fn api(at: Time, ty: &str, body: &str) -> Result<NewEvent, crate::engine::model::Refusal> {
        let fields: serde_json::Value = serde_json::from_str(body)
            .map_err(|e| crate::engine::model::Refusal::Malformed(e.to_string()))?;
        Ok(NewEvent {
            at,
            log: crate::engine::events::Logged {
                ty: crate::engine::model::Event::from_parts(ty, &fields)?.type_name(),
                body: body.to_string(),
                origin: crate::engine::events::Origin::Api,
                by: None,
                actor: None,
            },
            cases: vec![],
            audit: Vec::new(),
        })
    }
}

/// One line of a case's timeline.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "entry", rename_all = "lowercase")]
pub enum TimelineEntry {
    Event {
        at: Time,
        #[serde(rename = "type")]
        ty: String,
        /// `None` for events logged before origins were recorded.
        origin: Option<String>,
        by: Option<String>,
    },
    Action(ActionEntry),
}

/// A decided action on a timeline, with its delivery so far.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ActionEntry {
    /// When it was decided (and due).
    pub at: Time,
    pub key: String,
    /// The sink that delivers the row (`email`, `statuspage`, `webhook`, …).
    pub sink: String,
    pub action: Box<Action>,
    pub state: Delivery,
    pub attempts: i64,
    pub sent_at: Option<Time>,
    pub first_failure_at: Option<Time>,
    pub last_error: Option<String>,
    pub bounced_at: Option<Time>,
}

impl ActionEntry {
    /// An outbox row as both stores read it for a timeline: the payload as JSON, the status
    /// column, and the times `[done_at, first_failure_at, bounced_at]` as stored text.
    pub(crate) fn read(
        key: String,
        sink: String,
        payload: &str,
        status: &str,
        attempts: i64,
        last_error: Option<String>,
        [done, failed, bounced]: [Option<&str>; 3],
    ) -> Result<TimelineEntry, StoreError> {
        let action: Action = serde_json::from_str(payload)
            .map_err(|e| StoreError::Corrupt(format!("outbox {key}: {e}")))?;
        let t = |x: Option<&str>| x.map(sqlite::parse_text).transpose();
        let (sent_at, first_failure_at, bounced_at) = (t(done)?, t(failed)?, t(bounced)?);
        let state = Delivery::of(
            status == "done",
            first_failure_at.is_some(),
            bounced_at.is_some(),
        );
        Ok(TimelineEntry::Action(ActionEntry {
            at: action.at,
            action: Box::new(action),
            key,
            sink,
            state,
            attempts,
            sent_at,
            first_failure_at,
            last_error,
            bounced_at,
        }))
    }
}

/// Where an outbox row stands, as people are told (`due`, `failing`, `sent`, `bounced`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// Not sent yet, and not failed.
    Due,
    /// Failed at least once, still retried.
    Failing,
    Sent,
    /// Sent, and the receiver's server sent it back.
    Bounced,
}

impl Delivery {
    /// A row's state from its columns: a bounce wins, then done, then a failure. Both stores
    /// call this; nothing else decides it.
    pub(crate) fn of(done: bool, failing: bool, bounced: bool) -> Delivery {
        match (bounced, done, failing) {
            (true, _, _) => Delivery::Bounced,
            (_, true, _) => Delivery::Sent,
            (_, _, true) => Delivery::Failing,
            _ => Delivery::Due,
        }
    }

    /// The word the API and console use.
    #[cfg(test)]
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Delivery::Due => "due",
            Delivery::Failing => "failing",
            Delivery::Sent => "sent",
            Delivery::Bounced => "bounced",
        }
    }
}

impl TimelineEntry {
    /// When it happened (an event) or was decided (an action).
    pub(crate) fn at(&self) -> Time {
        match self {
            TimelineEntry::Event { at, .. } | TimelineEntry::Action(ActionEntry { at, .. }) => *at,
        }
    }
}

/// An event from the log, as replay reads it.
pub struct StoredEvent {
    pub seq: i64,
    pub at: Time,
    pub ty: String,
    pub body: String,
}

/// A row to insert into the outbox: an action's own row, or a sink's copy of it.
#[derive(Debug, Clone)]
pub struct NewRow {
    pub key: String,
    /// The sink kind that delivers it: `ActionBody::kind` for an own row, the sink's name
    /// for a copy.
    pub kind: String,
    pub action: Action,
}

impl NewRow {
    /// An action's own outbox row, for the sink of its kind.
    pub(crate) fn own(action: Action) -> NewRow {
        NewRow {
            key: action.key.clone(),
            kind: action.body.kind().to_string(),
            action,
        }
    }

    /// A copy of an action for the sink `sink` (keyed `{key}#{sink}`).
    pub(crate) fn copy(action: Action, sink: &str) -> NewRow {
        NewRow {
            key: format!("{}#{sink}", action.key),
            kind: sink.to_string(),
            action,
        }
    }

    /// Own rows for actions (no copies): the store's tests and tools.
    pub fn own_all(actions: &[Action]) -> Vec<NewRow> {
        actions.iter().cloned().map(NewRow::own).collect()
    }
}

/// An outbox row as claimed: the action and its delivery so far.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub key: String,
    /// Which sink delivers it (see `NewRow::kind`).
    pub kind: String,
    pub action: Action,
    pub attempts: i64,
    pub first_failure_at: Option<Time>,
    pub last_error: Option<String>,
}

/// The outcome of one claimed send: done, or failed with the error and the next attempt.
pub(crate) type SendResult = (String, Result<(), (String, Time)>);

/// The outbox gauges `/healthz` and `/metrics` show.
#[derive(Debug, Clone, Default)]
pub struct OutboxStats {
    pub pending: i64,
    pub failing: i64,
    /// Failing for longer than `smtp.warn_after`.
    pub failing_long: i64,
    pub oldest_pending: Option<Time>,
    pub done: i64,
}
