//! Subscribers (SPEC §4.17): people who follow services by e-mail, and their own mail queue.
//!
//! A subscriber is an address, the services it follows (none: all) and whether it also
//! follows the test environment; it counts once its address confirmed the link. Its mail
//! waits in a queue of its own (`subscriber_mail`: one row per job and subscriber, the job's
//! text once in `subscriber_job`), which the subscriber lane drains after the routine's
//! outbox, so a routine notice is never behind it. Removing a subscriber (unsubscribed,
//! bounced, removed by an admin) deletes its row and its queued mail: the address is gone.

use crate::audit::NewEntry;
use crate::engine::model::Time;
use crate::store::StoreError;

/// One subscriber as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    /// 32 hex digits, random: what its links are signed over.
    pub id: String,
    /// Lower case.
    pub address: String,
    /// The services it follows; empty: every service.
    pub services: Vec<String>,
    /// Whether it follows the test environment too.
    pub test: bool,
    pub created_at: Time,
    /// `None` until the address confirmed the link (double opt-in).
    pub confirmed_at: Option<Time>,
}

/// A queued subscriber mail, claimed for sending: its job's body and its subscriber.
#[derive(Debug, Clone)]
pub struct SubscriberMail {
    pub job: String,
    /// The job's JSON (what to say), written once per fan-out.
    pub body: String,
    pub subscriber: Subscriber,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

/// The subscriber store.
pub trait Subscribers: Send {
    /// The subscriber with this id.
    fn sub_get(&self, id: &str) -> Result<Option<Subscriber>, StoreError>;
    /// The subscriber with this address (lower case).
    fn sub_by_address(&self, address: &str) -> Result<Option<Subscriber>, StoreError>;
    /// Every subscriber, by address.
    fn sub_all(&self) -> Result<Vec<Subscriber>, StoreError>;
    /// Keep `s` (a new request, or a new choice for an address not yet confirmed: replaced),
    /// and queue the job `job` (`body`) for it, due at `now`; in one transaction.
    fn sub_request(
        &mut self,
        s: &Subscriber,
        job: &str,
        body: &str,
        now: Time,
    ) -> Result<(), StoreError>;
    /// Mark `id` confirmed at `now`, with its audit entry; false when there is no such
    /// subscriber or it was confirmed already.
    fn sub_confirm(&mut self, id: &str, now: Time, audit: &NewEntry) -> Result<bool, StoreError>;
    /// New services and test choice for `id`, with its audit entry; false: no such subscriber.
    fn sub_change(
        &mut self,
        id: &str,
        services: &[String],
        test: bool,
        audit: &NewEntry,
    ) -> Result<bool, StoreError>;
    /// Delete `id` and its queued mail, with its audit entry; false: no such subscriber.
    fn sub_remove(&mut self, id: &str, audit: &NewEntry) -> Result<bool, StoreError>;
    /// Queue the job `job` (`body`) for each of `ids`, due at `due`; a job already queued
    /// for a subscriber is left as it is. Returns how many mails are new.
    fn sub_enqueue(
        &mut self,
        job: &str,
        body: &str,
        ids: &[String],
        due: Time,
    ) -> Result<usize, StoreError>;
    /// Forget the job `job` and every mail of it still queued (a maintenance's start or end
    /// mail, when it moved or was cancelled).
    fn sub_drop(&mut self, job: &str) -> Result<(), StoreError>;
    /// Claim up to `limit` mails due at `now` (oldest first): each attempt counted and its
    /// next attempt put at `now + lease`, in one transaction.
    fn sub_claim(
        &mut self,
        now: Time,
        limit: usize,
        lease: chrono::Duration,
    ) -> Result<Vec<SubscriberMail>, StoreError>;
    /// Sent, each `(job, subscriber)`: the mails leave the queue (and a job with its last),
    /// in one transaction.
    fn sub_sent(&mut self, done: &[(String, String)]) -> Result<(), StoreError>;
    /// Failed: tried again at `next`, with the error kept.
    fn sub_failed(
        &mut self,
        job: &str,
        subscriber: &str,
        next: Time,
        error: &str,
    ) -> Result<(), StoreError>;
    /// Mails queued (for `/metrics`).
    fn sub_queued(&self) -> Result<i64, StoreError>;
    /// Delete requests never confirmed that were made before `before`; how many.
    fn sub_expire(&mut self, before: Time) -> Result<usize, StoreError>;
}

/// The columns of a subscriber, in the order both stores read them.
pub(crate) const COLUMNS: &str = "id, address, services, test, created_at, confirmed_at";

/// `COLUMNS` of the table aliased `s` (a claim's join).
pub(crate) fn columns_of_s() -> String {
    COLUMNS
        .split(", ")
        .map(|c| format!("s.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A subscriber from its stored values.
pub(crate) fn read(
    id: String,
    address: String,
    services: &str,
    test: bool,
    created_at: &str,
    confirmed_at: Option<&str>,
) -> Result<Subscriber, StoreError> {
    let bad = |what: &str| StoreError::Corrupt(format!("subscriber {id}: {what}"));
    let time = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.to_utc())
            .map_err(|_| bad("a time that cannot be read"))
    };
    Ok(Subscriber {
        services: serde_json::from_str(services)
            .map_err(|_| bad("services that cannot be read"))?,
        created_at: time(created_at)?,
        confirmed_at: confirmed_at.map(time).transpose()?,
        test,
        address,
        id,
    })
}

/// The services as stored.
pub(crate) fn services_text(s: &[String]) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "[]".into())
}
