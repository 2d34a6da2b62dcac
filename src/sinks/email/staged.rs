//! Envelopes begun while their commit is still being written, and sent the moment it is.
//!
//! The first notice of a fan-out waits for the commit of the alert and every row it caused
//! (one transaction, one fsync). An SMTP server takes a message only at the reply to the end
//! of its data: a session that closes before the final "." leaves nothing behind (RFC 5321
//! §3.3 and §4.1.1.4: the transaction completes only at the end-of-data indication and its
//! reply). So MAIL, RCPT and DATA can go while the commit is written:
//!
//! 1. The engine task stages the batch's first due e-mail before its commit (`Sink::stage`):
//!    `reserve` takes its slot at once, and a spawned task begins the envelope
//!    (`SmtpPool::begin`) and waits at "354".
//! 2. After the commit the engine task calls `Sink::release` with the keys the commit
//!    claimed. A staged key among them is *go*: its task sends the message at once. Any
//!    other staged key (the commit failed, or the row was already there and not claimed) is
//!    dropped: its session is closed without the end of data, and the server discards it.
//! 3. The dispatcher delivers the row as every row (window, recording, retries): the e-mail
//!    sink's delivery of that key first takes the slot (`SmtpPool::staged`), waits for the
//!    staged task, and reports its result, without rendering the message again while the
//!    server takes it. If nothing was sent there (the envelope could not be begun), it
//!    renders and sends the ordinary way and meets the same refusal, if there was one.
//!
//! Invariants:
//! - Before its row's commit, a staged session carries MAIL, RCPT and DATA and nothing else.
//!   The message and its final "." follow only a *go*, and a *go* names only a row the
//!   commit claimed: committed, new, and held for the dispatcher.
//! - A staged session that is not sent on is never pooled and never QUIT (in the data phase
//!   "QUIT" would be data): it is dropped, which closes the socket.
//! - At most `HELD_MAX` are held; a staged task waits at most `HELD_FOR` for its *go*.

use super::SendError;
use lettre::address::Envelope;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, OwnedMutexGuard};

/// Staged sessions held at once (one per commit is staged; a few cover commits in a row).
const HELD_MAX: usize = 4;
/// A staged session whose *go* has not come within this is dropped.
pub(super) const HELD_FOR: Duration = Duration::from_secs(10);

/// What a staged task did: `None` until it sent (nothing sent: the envelope could not be
/// begun, or no *go* came), then the send's result.
pub(super) type Outcome = Option<Result<(), SendError>>;

/// The slot of one staged key. Locked by its task until it is done, so the dispatcher's send
/// of the key waits for it instead of racing it.
type Slot = Arc<tokio::sync::Mutex<Outcome>>;

/// One staged key: its slot, and the *go* not given yet.
struct Entry {
    key: String,
    since: Instant,
    slot: Slot,
    go: Option<oneshot::Sender<()>>,
}

/// The staged sessions of one SMTP pool, by action key.
#[derive(Default)]
pub(super) struct Staged {
    held: Mutex<Vec<Entry>>,
}

/// What a staged task gets: its slot (locked) and its *go*.
pub(super) struct Reserved {
    pub(super) slot: OwnedMutexGuard<Outcome>,
    pub(super) go: oneshot::Receiver<()>,
}

impl Staged {
    /// Reserve `key`'s slot now, synchronously, before the commit.
    pub(super) fn reserve(&self, key: &str) -> Option<Reserved> {
        let slot: Slot = Arc::new(tokio::sync::Mutex::new(None));
        // A new mutex is free: this never fails.
        let guard = Arc::clone(&slot).try_lock_owned().ok()?;
        let (tx, rx) = oneshot::channel();
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.retain(|e| e.key != key && e.since.elapsed() < HELD_FOR);
        if held.len() >= HELD_MAX {
            held.remove(0);
        }
        held.push(Entry {
            key: key.to_string(),
            since: Instant::now(),
            slot,
            go: Some(tx),
        });
        Some(Reserved {
            slot: guard,
            go: rx,
        })
    }

    /// After a commit: *go* for each staged key `claimed` says the commit claimed; every
    /// other key waiting for its *go* is dropped. Returns how many were dropped.
    pub(super) fn release(&self, claimed: &dyn Fn(&str) -> bool) -> usize {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let before = held.len();
        held.retain_mut(|e| match e.go.take() {
            Some(go) if claimed(&e.key) => go.send(()).is_ok(),
            Some(_) => false,
            // Released by an earlier commit: the dispatcher has not taken it yet.
            None => true,
        });
        before - held.len()
    }

    /// What the staged task of `key` did, once it is done; `None` if nothing was staged for
    /// `key` or nothing was sent (then the message goes the ordinary way). A key still
    /// waiting for its *go* is dropped here, so it can never be sent after this.
    pub(super) async fn take(&self, key: &str) -> Outcome {
        let entry = {
            let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
            let i = held.iter().position(|e| e.key == key)?;
            held.remove(i)
        };
        if entry.go.is_some() {
            return None;
        }
        let mut outcome = entry.slot.lock().await;
        outcome.take()
    }
}

/// Whether the envelope names an address outside ASCII (SMTPUTF8 needed), as lettre's own
/// `send` decides it.
pub(super) fn non_ascii(envelope: &Envelope) -> bool {
    envelope
        .from()
        .is_some_and(|a| !AsRef::<str>::as_ref(a).is_ascii())
        || envelope
            .to()
            .iter()
            .any(|a| !AsRef::<str>::as_ref(a).is_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_key_the_commit_did_not_claim_never_gets_its_go() {
        rt().block_on(async {
            let s = Staged::default();
            let r = s.reserve("k").unwrap();
            assert_eq!(s.release(&|_| false), 1, "dropped");
            assert!(r.go.await.is_err(), "no go: the staged session is dropped");
            assert!(
                s.take("k").await.is_none(),
                "the send goes the ordinary way"
            );
        });
    }

    #[test]
    fn a_claimed_key_gets_its_go_and_its_send_reports_what_the_staged_task_did() {
        rt().block_on(async {
            let s = Staged::default();
            let Reserved { mut slot, go } = s.reserve("k").unwrap();
            let other = s.reserve("other").unwrap();
            assert_eq!(s.release(&|k| k == "k"), 1, "only `other` is dropped");
            assert!(go.await.is_ok());
            assert!(other.go.await.is_err());
            // The dispatcher's send waits while the staged task holds the slot.
            let take = s.take("k");
            tokio::pin!(take);
            assert!(
                futures_util::poll!(take.as_mut()).is_pending(),
                "waits for the staged task"
            );
            *slot = Some(Ok(()));
            drop(slot);
            assert!(matches!(take.await, Some(Ok(()))));
            assert!(s.take("k").await.is_none(), "taken once");
        });
    }

    #[test]
    fn a_send_that_comes_before_the_go_takes_it_away() {
        rt().block_on(async {
            let s = Staged::default();
            let r = s.reserve("k").unwrap();
            assert!(s.take("k").await.is_none(), "the ordinary way");
            assert_eq!(s.release(&|_| true), 0, "nothing left to release");
            assert!(r.go.await.is_err(), "so the staged task can never send too");
        });
    }
}
