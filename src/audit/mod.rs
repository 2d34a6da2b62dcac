//! The audit log (SPEC §5.10): who did what, in which role, from where, to which case or
//! object, with the values before and after where something changed. Append-only in the
//! store; each entry carries the SHA-256 of the one before it, so [`verify`] finds an entry
//! that was changed, removed or inserted afterwards.
//!
//! This room is pure: it defines the entry, its digest and the check of a chain. The store
//! keeps the entries (`store::Audit`), the daemon writes them in the same transaction as
//! what they record, and `meldingsvakt audit verify` reads them back through [`verify`].
//!
//! **The digest** of entry `n` is SHA-256 over the JSON array
//! `[seq, at, who, role, origin, what, object, before, after, prev]` of its stored values
//! (`at` as RFC 3339 text in UTC with milliseconds, absent values as `null`), where `prev` is
//! the digest of entry `n - 1` ([`GENESIS`] for the first). Retention removes the oldest
//! entries and keeps an [`Anchor`]: the last removed entry's number and digest, which the
//! first kept entry links to.
//!
//! What it does and does not prove: someone who edits, deletes or inserts rows with SQL is
//! found, unless they also recompute every digest after the change. Against that, the
//! daemon logs the chain's head (`audit head`) to the journal at every start and once a
//! day, a witness outside the database; `audit verify --head HASH` checks the chain
//! against such a line.

use chrono::{DateTime, SecondsFormat, Utc};
use ring::digest::{digest, SHA256};

mod role;
pub mod token;
pub use role::{Origin, Role};

/// The `prev` of the first entry ever written: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An entry to append: the chain's number and digests are the store's to add.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewEntry {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The person (their name from the sign-in), or the input (`alertmanager`,
    /// `maintenance file`, the mailbox's sender) when no person acted.
    pub who: String,
    /// The role they acted in.
    pub role: Role,
    /// Where it came from.
    pub origin: Origin,
    /// What was done: an event type (`incident.update`), or `sign_in`, `sign_in.refused`,
    /// `token.create`, `token.revoke`, `reload`, `audit.export`, …
    pub what: String,
    /// The case (`INC-1`, `maintenance/VED-1`) or object (`token/3`) it was done to.
    pub object: Option<String>,
    /// The changed values before (JSON), where something changed.
    pub before: Option<String>,
    /// The values after (JSON): the changed values, or the input's fields.
    pub after: Option<String>,
}

impl NewEntry {
    /// An entry at `at` by `who` in `role` from `origin`: `what` done to nothing in
    /// particular (add [`NewEntry::on`] and [`NewEntry::changed`]).
    pub fn new(at: DateTime<Utc>, who: &str, role: Role, origin: Origin, what: &str) -> Self {
        NewEntry {
            at,
            who: who.to_string(),
            role,
            origin,
            what: what.to_string(),
            object: None,
            before: None,
            after: None,
        }
    }

    /// The same entry, about `object`.
    pub fn on(mut self, object: impl Into<String>) -> Self {
        self.object = Some(object.into());
        self
    }

    /// The same entry, with the values before and after.
    pub fn changed(mut self, before: Option<String>, after: Option<String>) -> Self {
        self.before = before;
        self.after = after;
        self
    }

    /// The entry as number `seq` after the entry whose digest is `prev`.
    pub fn chain(&self, seq: i64, prev: &str) -> Entry {
        let mut e = Entry {
            seq,
            at: at_text(self.at),
            who: self.who.clone(),
            role: self.role.as_str().to_string(),
            origin: self.origin.as_str().to_string(),
            what: self.what.clone(),
            object: self.object.clone(),
            before: self.before.clone(),
            after: self.after.clone(),
            prev: prev.to_string(),
            hash: String::new(),
        };
        e.hash = e.digest();
        e
    }
}

/// Who acted, in which role, from where: what an input carries to its audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The person's name (from the sign-in or the token), or the input's source.
    pub who: String,
    /// The role they acted in.
    pub role: Role,
    /// Where the act came from.
    pub origin: Origin,
}

impl Actor {
    /// `who` in `role` from `origin`.
    pub fn new(who: &str, role: Role, origin: Origin) -> Actor {
        Actor {
            who: who.to_string(),
            role,
            origin,
        }
    }

    /// An entry by this actor: `what` done at `at`.
    pub fn did(&self, at: DateTime<Utc>, what: &str) -> NewEntry {
        NewEntry::new(at, &self.who, self.role, self.origin, what)
    }
}

/// How an entry's time is written (and hashed).
pub fn at_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An entry as stored: every value as the store holds it, so that the digest is checked over
/// exactly what is there.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Entry {
    /// Its number in the chain, from 1 without gaps.
    pub seq: i64,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// Who (see [`NewEntry::who`]).
    pub who: String,
    /// In which role (`viewer`, `operator`, `admin`, `break-glass`, `system`).
    pub role: String,
    /// From where (`console`, `api`, `cli`, `mailbox`, `file`, `alert`, `system`).
    pub origin: String,
    /// What was done.
    pub what: String,
    /// To which case or object.
    pub object: Option<String>,
    /// Values before (JSON).
    pub before: Option<String>,
    /// Values after (JSON).
    pub after: Option<String>,
    /// The digest of the entry before.
    pub prev: String,
    /// This entry's digest.
    pub hash: String,
}

impl Entry {
    /// The digest of this entry's values (what [`Entry::hash`] must be).
    pub fn digest(&self) -> String {
        let values = serde_json::json!([
            self.seq,
            self.at,
            self.who,
            self.role,
            self.origin,
            self.what,
            self.object,
            self.before,
            self.after,
            self.prev,
        ]);
        hex(digest(&SHA256, values.to_string().as_bytes()).as_ref())
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// What retention removed: the number and digest of the last entry it removed, which the
/// first kept entry links to, and how many it removed in all.
#[derive(Debug, Clone, PartialEq)]
pub struct Anchor {
    /// The last removed entry's number.
    pub through: i64,
    /// Its digest.
    pub hash: String,
    /// How many entries retention has removed since the log began.
    pub removed: i64,
}

/// A break in the chain, at the first entry it shows in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The entry's values no longer give its digest, or its digest is not the one the next
    /// entry links to.
    Changed(i64),
    /// Entries `from..=to` are missing.
    Removed { from: i64, to: i64 },
    /// The entry is not part of the chain: the entries around it link past it.
    Inserted(i64),
    /// The chain does not end where the witness said (`--head`).
    Head { expected: String, found: String },
    /// The retention anchor is not the one the last compaction recorded in the chain.
    Anchor,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Changed(n) => write!(f, "entry {n} was changed"),
            Problem::Removed { from, to } if from == to => write!(f, "entry {from} was removed"),
            Problem::Removed { from, to } => write!(f, "entries {from} to {to} were removed"),
            Problem::Inserted(n) => write!(f, "entry {n} was inserted"),
            Problem::Head { expected, found } => write!(
                f,
                "the chain ends at {found}, not at the head {expected} that was logged"
            ),
            Problem::Anchor => write!(
                f,
                "the retention anchor is not the one the last compaction recorded in the chain (entries before it were removed outside retention)"
            ),
        }
    }
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Entries read.
    pub entries: usize,
    /// The digest the chain ends with.
    pub head: String,
    /// Every break, in order (empty: the chain holds).
    pub problems: Vec<Problem>,
}

/// Walks the chain `entries` (in the store's order of `seq`) from `anchor` (none: from the
/// first entry ever) and names every entry changed, removed or inserted.
///
/// An entry is *inserted* when it does not verify (or does not link) while the entry after
/// it links to the one before it; *changed* when its values do not give its stored digest,
/// or when its digest is not the one the entry after it links to; entries are *removed*
/// where the numbers jump.
pub fn verify(anchor: Option<&Anchor>, entries: &[Entry]) -> Report {
    let mut problems = Vec::new();
    if !anchor_sealed(anchor, entries) {
        problems.push(Problem::Anchor);
    }
    let (mut prev, mut next_seq) = match anchor {
        Some(a) => (a.hash.clone(), a.through + 1),
        None => (GENESIS.to_string(), 1),
    };
    let entries = one_per_number(entries, &mut problems);
    for (i, e) in entries.iter().enumerate() {
        let sound = e.digest() == e.hash;
        let links = e.prev == prev;
        // A row the chain links past is not part of it.
        let linked_past = entries.get(i + 1).is_some_and(|n| n.prev == prev);
        if e.seq < next_seq || ((!sound || !links) && linked_past) {
            problems.push(Problem::Inserted(e.seq));
            continue;
        }
        if e.seq > next_seq {
            problems.push(Problem::Removed {
                from: next_seq,
                to: e.seq - 1,
            });
        } else if sound && !links && i > 0 {
            // The entry before was rewritten, digest and all.
            problems.push(Problem::Changed(entries[i - 1].seq));
        } else if !sound || !links {
            problems.push(Problem::Changed(e.seq));
        }
        // Go on from what this entry says, so that one break is reported once.
        prev = e.hash.clone();
        next_seq = e.seq + 1;
    }
    problems.sort_by_key(|p| match p {
        Problem::Changed(n) | Problem::Inserted(n) | Problem::Removed { from: n, .. } => *n,
        Problem::Head { .. } | Problem::Anchor => i64::MAX,
    });
    problems.dedup();
    Report {
        entries: entries.len(),
        head: prev,
        problems,
    }
}

/// What a compaction records in the chain (`what`), with the anchor it leaves as `after`.
pub const COMPACT: &str = "audit.compact";

/// The entry a compaction appends before it removes anything: the anchor it leaves, sealed
/// into the chain (so the anchor is signed by the entries after it, and a forged anchor —
/// old entries deleted by hand — is found).
pub fn compaction(at: DateTime<Utc>, anchor: &Anchor) -> NewEntry {
    NewEntry::new(at, "meldingsvakt", Role::System, Origin::System, COMPACT).changed(
        None,
        Some(
            serde_json::json!({"through": anchor.through, "hash": anchor.hash, "removed": anchor.removed})
                .to_string(),
        ),
    )
}

/// Whether `anchor` is the one the newest compaction entry among `entries` recorded (no
/// anchor and no compaction entry: true).
fn anchor_sealed(anchor: Option<&Anchor>, entries: &[Entry]) -> bool {
    let recorded = entries
        .iter()
        .rev()
        .find(|e| e.what == COMPACT && e.role == Role::System.as_str())
        .and_then(|e| serde_json::from_str::<serde_json::Value>(e.after.as_deref()?).ok());
    match (anchor, recorded) {
        (None, None) => true,
        (Some(a), Some(r)) => {
            r["through"] == a.through && r["hash"] == a.hash.as_str() && r["removed"] == a.removed
        }
        _ => false,
    }
}

/// The entries with one row per number: where rows share a number, the one the next number
/// links to (or, failing that, the first whose digest holds) stays and the others are
/// named as inserted.
fn one_per_number<'a>(entries: &'a [Entry], problems: &mut Vec<Problem>) -> Vec<&'a Entry> {
    let mut out: Vec<&Entry> = Vec::with_capacity(entries.len());
    let mut i = 0;
    while i < entries.len() {
        let seq = entries[i].seq;
        let end = i + entries[i..].iter().take_while(|e| e.seq == seq).count();
        let same = &entries[i..end];
        if same.len() == 1 {
            out.push(&same[0]);
        } else {
            let next = entries.get(end);
            let keep = same
                .iter()
                .position(|e| next.is_some_and(|n| n.prev == e.hash))
                .or_else(|| same.iter().position(|e| e.digest() == e.hash))
                .unwrap_or(0);
            out.push(&same[keep]);
            problems.extend((1..same.len()).map(|_| Problem::Inserted(seq)));
        }
        i = end;
    }
    out
}

#[cfg(test)]
mod tests;
