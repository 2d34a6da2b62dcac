//! The IMAP watcher (issue #5): our meldingsansvarlig mailbox, read-only. Each message is
//! classified (`sources::mailbox`) and becomes an engine event: a reply to an inquiry, a new
//! inbound inquiry, our answer to one. Bounces raise an ops warning naming the addresses.
//!
//! - Folders are opened with EXAMINE and fetched with BODY.PEEK[]: the watcher never sets a
//!   flag or moves a message.
//! - The last handled UID per folder (and its UIDVALIDITY) is stored after the event it led to
//!   is committed; a changed UIDVALIDITY starts the folder over, which is harmless because the
//!   events are idempotent (same inquiry id, reply recorded once).
//! - Waits with IDLE on the inbox where the server offers it (new mail is handled at once),
//!   else polls; `[imap] poll` bounds every wait. Reconnects with backoff (1 s → 60 s) after
//!   any error, so a server restart is ridden out.

use super::engine_task::{Cmd, Query, Rejected};
use super::Shared;
use crate::config::ImapSettings;
use crate::engine::model::Refusal;
use crate::engine::model::{About, Action, ActionBody, DeliveryView, Ops, OpsKind, OpsReason};
use crate::sources::mailbox::{classify, Classified, Folder, OpenFollowup};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

const NET_TIMEOUT: Duration = Duration::from_secs(60);

async fn send(tx: &mpsc::Sender<Cmd>, ty: &str, v: Value) -> Result<usize, Rejected> {
    // The mailbox's own door: `directory.bounce` is one of the directory's paths (SPEC §4.16).
    let input = crate::engine::events::Input::internal(ty, &v)?
        .from(crate::engine::events::Origin::Mailbox);
    let (reply, rx) = oneshot::channel();
    tx.send(Cmd::Events {
        events: vec![input],
        reply,
    })
    .await
    .map_err(|_| Rejected::Unavailable("stopping".into()))?;
    rx.await
        .map_err(|_| Rejected::Unavailable("stopping".into()))?
}

/// The organizations whose contacts hold each of `addresses` (the directory's, as held).
async fn holders(tx: &mpsc::Sender<Cmd>, addresses: &[String]) -> Vec<(String, String)> {
    let (reply, rx) = oneshot::channel();
    if tx.send(Cmd::Query(Query::Directory(reply))).await.is_err() {
        return vec![];
    }
    let entries = rx.await.unwrap_or_default();
    let mut v = Vec::new();
    for a in addresses {
        for e in &entries {
            if e.held.addresses().iter().any(|h| h.eq_ignore_ascii_case(a)) {
                v.push((e.org.clone(), a.clone()));
            }
        }
    }
    v
}

async fn open_followups(tx: &mpsc::Sender<Cmd>) -> Vec<OpenFollowup> {
    let (reply, rx) = oneshot::channel();
    if tx
        .send(Cmd::Query(Query::OpenFollowups(reply)))
        .await
        .is_err()
    {
        return vec![];
    }
    rx.await.unwrap_or_default()
}

/// Act on one classified message. `Err` means "try again later" (the UID is not advanced).
async fn handle(
    shared: &Shared,
    tx: &mpsc::Sender<Cmd>,
    folder: &str,
    uid: u32,
    c: Classified,
) -> Result<(), MailboxError> {
    let r = match &c {
        Classified::Reply { incident, org } => {
            match send(tx, "reply", json!({"id": incident, "org": org})).await {
                // The sender's organization is not one the incident names: a reply all the same.
                Err(Rejected::Refused {
                    refusal: Refusal::UnknownOrg { .. } | Refusal::Invalid { .. },
                    ..
                }) => send(tx, "reply", json!({"id": incident})).await,
                r => r,
            }
        }
        Classified::Inquiry { id, org, subject } => {
            send(
                tx,
                "inquiry.received",
                json!({"id": id, "org": org, "subject": subject}),
            )
            .await
        }
        Classified::Answer { inquiry } => {
            send(tx, "inquiry.answered", json!({"id": inquiry})).await
        }
        Classified::Bounce {
            addresses,
            returned,
        } => {
            let cfg = shared.cfg();
            let now = crate::clock::now();
            // Tie the bounce to the notice it returned, in that case's timeline.
            for key in returned.iter() {
                if let Err(e) = shared.store().mark_bounced(key, now) {
                    tracing::error!(key, error = %e, "cannot record the bounce; the ops mail still goes");
                }
            }
            // An organization's address (SPEC §4.16): the directory opens the ops task and
            // asks the organization's other addresses; its own ops mail says so.
            let held = holders(tx, addresses).await;
            for (org, address) in &held {
                let r = send(
                    tx,
                    "directory.bounce",
                    json!({"org": org, "address": address}),
                )
                .await;
                if let Err(e @ Rejected::Unavailable(_)) = r {
                    return Err(MailboxError::Engine(e.to_string()));
                }
            }
            // A subscriber's address (SPEC §4.17) is deleted, and is nothing for ops.
            let subscribers = remove_subscribers(shared, addresses, now);
            if addresses
                .iter()
                .all(|a| held.iter().any(|(_, h)| h == a) || subscribers.contains(a))
            {
                tracing::info!(
                    folder,
                    uid,
                    organizations = held.len(),
                    subscribers = subscribers.len(),
                    "bounce handled: organizations' addresses are asked for by the directory, subscribers' deleted"
                );
                return Ok(());
            }
            let a = Action {
                at: now,
                key: format!("mailbox/{folder}/{uid}/bounce"),
                about: About::Inquiry(format!("mailbox-{uid}")),
                body: ActionBody::Ops(Box::new(Ops {
                    delivery: Some(DeliveryView {
                        key: returned
                            .first()
                            .cloned()
                            .unwrap_or_else(|| format!("{folder}/{uid}")),
                        to: addresses.clone(),
                        failing_since: now,
                        delivered_at: now,
                        last_error: None,
                        also: vec![],
                    }),
                    ..Ops::new(OpsKind::Warning, OpsReason::Bounce, cfg.self_.ops.clone())
                })),
            };
            let done = shared.commit(&[], &[a]);
            done.map(|_| {
                shared.wake_routine();
                0
            })
            .map_err(|e| Rejected::Unavailable(e.to_string()))
        }
        Classified::AutoReply | Classified::NotOurs | Classified::Unparseable => Ok(0),
    };
    match r {
        Ok(_) => {
            tracing::info!(folder, uid, decision = ?c, "mailbox message handled");
            Ok(())
        }
        // Unknown incident/inquiry, already answered, duplicate: nothing to do.
        Err(e @ Rejected::Refused { .. }) => {
            tracing::info!(folder, uid, decision = ?c, reason = %e, "mailbox message needs nothing");
            Ok(())
        }
        Err(e) => Err(MailboxError::Engine(e.to_string())),
    }
}

/// Why a mailbox session ended; the session is tried again with backoff.
#[derive(Debug, thiserror::Error)]
enum MailboxError {
    /// An IMAP or network step failed: which step, and the error.
    #[error("{0}: {1}")]
    Step(&'static str, String),
    #[error("{0}: timed out")]
    Timeout(&'static str),
    #[error("{0}")]
    Secret(#[from] crate::config::secret::SecretError),
    /// The engine could not take a message's event (store failing, stopping): the UID is not
    /// advanced.
    #[error("{0}")]
    Engine(String),
}

async fn timed<T, E: std::fmt::Display>(
    what: &'static str,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, MailboxError> {
    match tokio::time::timeout(NET_TIMEOUT, f).await {
        Ok(r) => r.map_err(|e| MailboxError::Step(what, e.to_string())),
        Err(_) => Err(MailboxError::Timeout(what)),
    }
}

async fn session<T>(
    stream: T,
    shared: &Arc<Shared>,
    tx: &mpsc::Sender<Cmd>,
    s: &ImapSettings,
    stop: &mut watch::Receiver<bool>,
    backoff: &mut Duration,
) -> Result<(), MailboxError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let mut client = async_imap::Client::new(stream);
    let _greeting = tokio::time::timeout(NET_TIMEOUT, client.read_response())
        .await
        .map_err(|_| MailboxError::Timeout("greeting"))?;
    let pw = s.password.read("IMAP password")?;
    let login = client.login(&s.username, pw.expose());
    let mut session = match tokio::time::timeout(NET_TIMEOUT, login).await {
        Ok(Ok(sess)) => sess,
        Ok(Err((e, _))) => return Err(MailboxError::Step("login", e.to_string())),
        Err(_) => return Err(MailboxError::Timeout("login")),
    };
    *backoff = Duration::from_secs(1);
    let idle = timed("CAPABILITY", session.capabilities())
        .await
        .map(|c| c.has_str("IDLE"))
        .unwrap_or(false);
    tracing::info!(host = %s.host, idle, "mailbox connected");
    let mut idling = false;
    loop {
        // Only the leader reads the mailbox (SPEC §5.7).
        if !shared.role.leading() {
            let _ = session.logout().await;
            return Err(MailboxError::Step(
                "leadership",
                "this host stopped leading; the leader watches the mailbox".into(),
            ));
        }
        for (folder, kind) in [
            (s.inbox.as_str(), Folder::Inbox),
            (s.sent.as_str(), Folder::Sent),
        ] {
            let mb = match timed("EXAMINE", session.examine(folder)).await {
                Ok(mb) => mb,
                Err(e) if kind == Folder::Sent => {
                    tracing::debug!(folder, error = %e, "no sent folder to watch");
                    continue;
                }
                Err(e) => return Err(e),
            };
            let validity = mb.uid_validity.unwrap_or(0);
            let stored = shared.store().imap_get(folder);
            let last = match stored {
                Some((v, last)) if v == validity => last,
                _ => 0,
            };
            // Every UID below the folder's UIDNEXT has been assigned already: what this pass
            // does not find there (expunged meanwhile) will never appear, so the position may
            // pass it. Only then does a later UIDNEXT above the position mean new mail.
            let seen_below = mb.uid_next.map(|n| n.saturating_sub(1)).unwrap_or(0);
            if mb.exists == 0 {
                shared
                    .store()
                    .imap_put(folder, validity, last.max(seen_below));
                continue;
            }
            let mut messages: Vec<(u32, Vec<u8>)> = Vec::new();
            {
                let mut fetched = timed(
                    "UID FETCH",
                    session.uid_fetch(format!("{}:*", last + 1), "(UID BODY.PEEK[])"),
                )
                .await?;
                while let Some(item) = tokio::time::timeout(NET_TIMEOUT, fetched.next())
                    .await
                    .map_err(|_| MailboxError::Timeout("fetch"))?
                {
                    let f = item.map_err(|e| MailboxError::Step("fetch", e.to_string()))?;
                    if let (Some(uid), Some(body)) = (f.uid, f.body()) {
                        if uid > last {
                            messages.push((uid, body.to_vec()));
                        }
                    }
                }
            }
            messages.sort_by_key(|(u, _)| *u);
            let open = open_followups(tx).await;
            let cfg = shared.cfg();
            let mut pos = last;
            for (uid, body) in messages {
                let c = classify(&cfg, &body, kind, &open);
                handle(shared, tx, folder, uid, c).await?;
                pos = uid;
                shared.store().imap_put(folder, validity, pos);
            }
            shared
                .store()
                .imap_put(folder, validity, pos.max(seen_below));
        }
        let poll = s
            .poll
            .to_std()
            .unwrap_or(Duration::from_secs(30))
            .max(Duration::from_millis(200));
        if idle {
            // Wait on the inbox with IDLE: new mail wakes us at once; `poll` bounds the wait
            // (the Sent folder is looked at then).
            let mb = timed("EXAMINE", session.examine(&s.inbox)).await?;
            // Mail that arrived after the fetch above and before this EXAMINE would not wake
            // an IDLE begun now (it is no longer new): look again first.
            let seen = shared.store().imap_get(&s.inbox);
            let arrived = match seen {
                Some((validity, last)) => {
                    mb.uid_validity.unwrap_or(0) != validity
                        || mb.uid_next.is_some_and(|next| next > last + 1)
                }
                None => mb.exists > 0,
            };
            if arrived {
                continue;
            }
            let mut handle = session.idle();
            timed("IDLE", handle.init()).await?;
            if !idling {
                idling = true;
                tracing::info!(folder = %s.inbox, "mailbox waiting for new mail with IDLE");
            }
            let stopped = {
                let (wait, _interrupt) = handle.wait_with_timeout(poll);
                tokio::select! {
                    r = wait => {
                        r.map_err(|e| MailboxError::Step("IDLE", e.to_string()))?;
                        false
                    }
                    _ = stop.changed() => true,
                }
            };
            session = timed("DONE", handle.done()).await?;
            if stopped {
                let _ = tokio::time::timeout(Duration::from_secs(5), session.logout()).await;
                return Ok(());
            }
        } else {
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = stop.changed() => {
                    let _ = tokio::time::timeout(Duration::from_secs(5), session.logout()).await;
                    return Ok(());
                }
            }
        }
    }
}

/// The IMAP watcher task: until `stop`, turns messages in our mailbox into events.
pub(crate) async fn run(
    shared: Arc<Shared>,
    tx: mpsc::Sender<Cmd>,
    mut stop: watch::Receiver<bool>,
) {
    let Some(s) = shared.cfg().daemon.imap.clone() else {
        return;
    };
    let mut backoff = Duration::from_secs(1);
    loop {
        if *stop.borrow() {
            return;
        }
        if !shared.role.leading() {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => return,
            }
            continue;
        }
        let r = async {
            let tcp = timed(
                "connect",
                tokio::net::TcpStream::connect((s.host.as_str(), s.port)),
            )
            .await?;
            if s.tls {
                let connector = crate::tls::connector();
                let name = tokio_rustls::rustls::pki_types::ServerName::try_from(s.host.clone())
                    .map_err(|e| MailboxError::Step("server name", format!("{}: {e}", s.host)))?;
                let tls = timed("TLS", connector.connect(name, tcp)).await?;
                session(tls, &shared, &tx, &s, &mut stop, &mut backoff).await
            } else {
                session(tcp, &shared, &tx, &s, &mut stop, &mut backoff).await
            }
        }
        .await;
        match r {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "mailbox unavailable");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
        }
    }
}

/// Delete the subscribers among bounced `addresses` (SPEC §4.17: a bounced address is
/// deleted, not flagged), each audited by its hash; the addresses that were subscribers.
fn remove_subscribers(
    shared: &Shared,
    addresses: &[String],
    now: crate::engine::model::Time,
) -> Vec<String> {
    let mut gone = Vec::new();
    for a in addresses {
        let lower = a.trim().to_lowercase();
        let mut store = shared.store();
        let s = match store.sub_by_address(&lower) {
            Ok(Some(s)) => s,
            Ok(None) => continue,
            Err(e) => {
                tracing::error!(error = %e, "cannot look up a bounced address among the subscribers");
                continue;
            }
        };
        let h = crate::daemon::subscribers::hash(&s.address);
        let entry = crate::audit::NewEntry::new(
            now,
            "mailbox",
            crate::audit::Role::System,
            crate::audit::Origin::Mailbox,
            "subscriber.bounce",
        )
        .on(format!("subscriber/{h}"));
        match store.sub_remove(&s.id, &entry) {
            Ok(_) => {
                tracing::info!(to = %h, "a subscriber's address bounced; it is deleted");
                gone.push(a.clone());
            }
            Err(e) => {
                tracing::error!(error = %e, to = %h, "cannot delete a bounced subscriber; the next bounce tries again")
            }
        }
    }
    gone
}
