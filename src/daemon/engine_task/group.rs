//! Group commit: requests that arrive while the store is busy share one transaction and one
//! fsync. Each request is still answered only after its events are durable, and each keeps
//! its own verdict (all or nothing for an alert batch; a refusal is that request's alone).
//! If the shared commit fails, every request in the group is answered 503 and the engine is
//! rebuilt from the store (`Task::commit`): memory never runs ahead of disk.

use super::*;

/// At most this many requests share a commit (bounds a transaction and the wait of the first).
const GROUP_MAX: usize = 512;

type Request = (Vec<Input>, oneshot::Sender<Result<usize, Rejected>>);

/// `first` and the event requests already queued behind it, and the first other command met
/// (handled after the group, so commands keep their order).
pub(super) fn gather(rx: &mut mpsc::Receiver<Cmd>, first: Request) -> (Vec<Request>, Option<Cmd>) {
    let mut group = vec![first];
    while group.len() < GROUP_MAX {
        match rx.try_recv() {
            Ok(Cmd::Events { events, reply }) => group.push((events, reply)),
            Ok(other) => return (group, Some(other)),
            Err(_) => break,
        }
    }
    (group, None)
}

impl Task {
    /// Apply each request of the group in order, commit once, then answer each.
    pub(super) fn apply_group(&mut self, group: Vec<Request>) {
        if !self.leading {
            self.role_changed();
        }
        if !self.leading || !self.shared.role.leading() {
            for (_, reply) in group {
                let _ = reply.send(Err(Rejected::Unavailable(
                    "this host is a standby and the leader could not be reached; try again".into(),
                )));
            }
            return;
        }
        let now = self.now();
        // What fell due before `now` goes out first, dated now (`Engine::catch_up`).
        self.engine.catch_up(now);
        let mut applied: Vec<crate::store::NewEvent> = Vec::new();
        let mut verdicts = Vec::with_capacity(group.len());
        for (inputs, reply) in group {
            let r = self.apply_one(now, inputs, &mut applied);
            verdicts.push((reply, r));
        }
        let n = applied.len();
        // `events_total` counts what came in (alerts, operators, the mailbox, files, the
        // organizations' page); the daemon's own reading of its configuration is not input.
        let counted = applied
            .iter()
            .filter(|e| e.log.origin != crate::audit::Origin::Config)
            .count();
        match self.commit(&applied) {
            Ok(_) => {
                if n > 0 {
                    self.snapshot_due = true;
                    self.shared
                        .metrics
                        .events
                        .fetch_add(counted as u64, std::sync::atomic::Ordering::Relaxed);
                }
                for (reply, r) in verdicts {
                    let _ = reply.send(r);
                }
            }
            Err(e) => {
                let message = match e {
                    Rejected::Unavailable(m) => m,
                    other => other.to_string(),
                };
                for (reply, _) in verdicts {
                    let _ = reply.send(Err(Rejected::Unavailable(message.clone())));
                }
            }
        }
    }

    /// A group of one (maintenance files).
    pub(super) fn apply(&mut self, inputs: Vec<Input>) -> Result<usize, Rejected> {
        let (tx, mut rx) = oneshot::channel();
        self.apply_group(vec![(inputs, tx)]);
        rx.try_recv()
            .unwrap_or_else(|_| Err(Rejected::Unavailable("not applied".into())))
    }

    /// One request's inputs, all or nothing for alert batches (each alert is checked against
    /// the rules before any is applied); the events applied are added to `applied`.
    fn apply_one(
        &mut self,
        now: Time,
        inputs: Vec<Input>,
        applied: &mut Vec<crate::store::NewEvent>,
    ) -> Result<usize, Rejected> {
        // With more than one input, a refusal of a later one must not leave an earlier one
        // applied: alerts are checked against the rules first. A single input (every
        // webhook alert is its own request) is interpreted once, by the engine.
        for (i, input) in inputs.iter().enumerate().filter(|_| inputs.len() > 1) {
            if let Event::Alert(a) = &input.event {
                alerts::interpret(&self.shared.cfg(), a, now).map_err(|refusal| {
                    Rejected::Refused {
                        index: Some(i),
                        refusal,
                    }
                })?;
            }
        }
        let mut n = 0;
        for input in inputs {
            let about = input.about();
            let before = about.as_ref().and_then(|a| self.engine.case_json(a));
            let Input { event, log } = input;
            let org = directory_org(&event);
            match self.engine.handle(now, event) {
                Ok(()) => {
                    n += 1;
                    let after = about.as_ref().and_then(|a| self.engine.case_json(a));
                    let audit = if log_is_directory(&log) {
                        let news = self.engine.take_directory_news();
                        super::directory::audit_entries(now, &log, org, news)
                    } else {
                        audit_entry(now, &log, about, before, after)
                            .into_iter()
                            .collect()
                    };
                    applied.push(crate::store::NewEvent {
                        at: now,
                        log,
                        cases: self.engine.take_touched(),
                        audit,
                    })
                }
                Err(e) => {
                    self.shared
                        .metrics
                        .refused
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return Err(Rejected::from(e));
                }
            }
        }
        Ok(n)
    }
}

fn log_is_directory(log: &crate::engine::events::Logged) -> bool {
    log.ty.starts_with("directory.")
}

/// The organization a directory event names (`None` for the configuration's reading).
fn directory_org(e: &Event) -> Option<String> {
    match e {
        Event::DirectoryConfirm(d) => Some(d.org.clone()),
        Event::DirectoryPropose(d) => Some(d.org.clone()),
        Event::DirectoryVerify(d) => Some(d.org.clone()),
        Event::DirectoryBounce(d) => Some(d.org.clone()),
        Event::DirectorySet(d) => Some(d.org.clone()),
        Event::DirectoryAsk(d) => Some(d.org.clone()),
        _ => None,
    }
}

/// The audit entry of an applied input (SPEC §5.10): by its person, or by its origin (the
/// mailbox, a maintenance file); alerts are not audited (the event log and timeline keep them,
/// and no person sent them). `before` and `after` hold the case's values that changed; a new
/// case has no before and its input's fields after.
fn audit_entry(
    now: Time,
    log: &crate::engine::events::Logged,
    about: Option<crate::engine::model::About>,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Option<crate::audit::NewEntry> {
    use crate::audit::{Actor, Origin, Role};
    let actor = match (&log.actor, log.origin) {
        (Some(a), _) => a.clone(),
        (None, Origin::Alert) => return None,
        (None, Origin::Mailbox) => Actor::new("postkasse", Role::System, Origin::Mailbox),
        (None, Origin::File) => Actor::new("vedlikeholdsfil", Role::System, Origin::File),
        (None, o) => Actor::new(log.by.as_deref().unwrap_or("ukjent"), Role::BreakGlass, o),
    };
    let (before, after) = match (before, after) {
        (None, _) => (None, Some(log.body.clone())),
        (Some(b), Some(a)) => changed(&b, &a),
        (Some(_), None) => (None, None),
    };
    let entry = actor.did(now, log.ty).changed(before, after);
    Some(match about {
        Some(a) => entry.on(a.key_prefix()),
        None => entry,
    })
}

/// The top-level values of a case that differ between `before` and `after`, as two JSON
/// objects (`None` when nothing changed). The next deadline in words is left out: it follows
/// from the rest.
fn changed(
    before: &serde_json::Value,
    after: &serde_json::Value,
) -> (Option<String>, Option<String>) {
    let (Some(b), Some(a)) = (before.as_object(), after.as_object()) else {
        return (None, None);
    };
    let mut old = serde_json::Map::new();
    let mut new = serde_json::Map::new();
    for k in b.keys().chain(a.keys().filter(|k| !b.contains_key(*k))) {
        if k == "next" || b.get(k) == a.get(k) {
            continue;
        }
        old.insert(k.clone(), b.get(k).cloned().unwrap_or_default());
        new.insert(k.clone(), a.get(k).cloned().unwrap_or_default());
    }
    if new.is_empty() {
        return (None, None);
    }
    (
        Some(serde_json::Value::Object(old).to_string()),
        Some(serde_json::Value::Object(new).to_string()),
    )
}
