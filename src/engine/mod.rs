//! The rules engine: a pure state machine (SPEC §4, §5.2).
//!
//! Architecture invariant: no clock, no I/O, no randomness. Every input carries `now`; the
//! engine answers with actions (`poll_action`) and the next instant it must be woken
//! (`poll_timeout`). The daemon drives it with the wall clock (`catch_up`), `simulate` and
//! replay with a simulated one (`advance_to`); `advance_to` holds the driver rule.
//! An event the engine refuses returns an error and changes nothing.
//!
//! Timers: each incident, maintenance and inquiry knows its own next deadline
//! (`next_wake`); the engine keeps them in an ordered set, so finding the next wake-up is
//! O(log n) and never scans all entities. Entities with nothing left to do are retired.

pub(crate) mod action;
pub(crate) mod alerts;
pub(crate) mod availability;
mod checks;
pub(crate) mod deadline;
pub mod directory;
mod directory_events;
mod downtime;
pub mod events;
mod followup_due;
pub(crate) mod refusal;
pub(crate) mod time;
use checks::check_times;
pub(crate) mod guard;
pub(crate) mod incident;
mod incident_events;
pub(crate) mod org_list;
use incident_events::new_incident;
pub(crate) mod inquiry;
pub(crate) mod maintenance;
pub mod model;
pub mod page;
pub(crate) mod preview;
pub(crate) mod priority;
pub(crate) mod snapshot;
pub(crate) mod terms;
pub(crate) mod views;

use crate::config::Config;
use alerts::{FiringAlert, GroupKey};
use deadline::Scheduled;
use incident::Incident;
use inquiry::Inquiry;
use maintenance::Maintenance;
use model::*;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// The engine's hash maps, keyed by case ids, alert groups and timer subjects: foldhash with a
/// seed per process. SipHash was a twentieth of `simulate`'s engine thread (issue #32); the
/// keys come through the API and the webhook, so the seed is kept, unlike `rustc-hash`'s.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type HashSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;
use std::sync::Arc;

#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
enum Subject {
    Incident(String),
    Maintenance(String),
    Inquiry(String),
    /// The availability report of a month, due on the first working day after it (§4.13).
    Report(availability::Month),
    /// An organization's entry in the directory: its confirmation rounds (§4.16).
    Directory(String),
}

/// The smallest step of the clock: `advance_to(t + NEXT_INSTANT)` runs deadlines at `t` too.
pub const NEXT_INSTANT: chrono::Duration = chrono::Duration::nanoseconds(1);

/// `Clone` for `preview`: what an event would decide is worked out on a copy.
#[derive(Clone)]
pub struct Engine {
    /// The configuration with the directory's contacts in place of the configured ones: what
    /// every rule reads (`directory_events::overlay`).
    cfg: Arc<Config>,
    /// The configuration as loaded.
    base: Arc<Config>,
    /// Each organization's contacts and confirmation rounds (SPEC §4.16).
    directory: BTreeMap<String, directory::Entry>,
    /// What the current event did to the directory, for the audit log.
    dir_news: directory::News,
    /// Raised whenever a directory entry is settled (its state may have changed): what the
    /// daemon's gauges are refreshed by.
    dir_generation: u64,
    /// Raised whenever `cfg` is replaced: what an incident's derived impact is checked
    /// against (`Incident::refresh`).
    cfg_seq: u64,
    incidents: HashMap<String, Incident>,
    maintenances: HashMap<String, Maintenance>,
    inquiries: HashMap<String, Inquiry>,
    /// Ids of retired entities, so that late events get a precise answer.
    retired: HashSet<Subject>,
    alerts: BTreeMap<String, FiringAlert>,
    groups: HashMap<GroupKey, String>,
    timers: BTreeSet<(Time, Subject)>,
    timer_of: HashMap<Subject, Time>,
    out: VecDeque<Action>,
    alert_seq: u64,
    /// The latest instant the engine was driven to (`advance_to`).
    clock: Option<Time>,
    /// What the availability report needs of every case, live or retired.
    history: availability::History,
    /// The incidents' organization lists, each distinct one held once.
    org_lists: org_list::OrgLists,
    /// The cases the current event touched (for its place in their timelines); `None` while
    /// no event is being handled (deadlines alone touch nothing worth recording).
    touched: Option<Vec<Subject>>,
}

fn guard_text(field: &str, v: &Option<String>) -> Result<(), Refusal> {
    match v {
        Some(t) if guard::contains_identity_number(t) => Err(Refusal::PersonalData {
            field: field.to_string(),
        }),
        _ => Ok(()),
    }
}

impl Engine {
    /// An engine with nothing in it, under `cfg`.
    pub fn new(cfg: Arc<Config>) -> Engine {
        Engine {
            base: Arc::clone(&cfg),
            cfg,
            directory: BTreeMap::new(),
            dir_news: directory::News::default(),
            dir_generation: 0,
            cfg_seq: 0,
            incidents: HashMap::default(),
            maintenances: HashMap::default(),
            inquiries: HashMap::default(),
            retired: HashSet::default(),
            alerts: BTreeMap::new(),
            groups: HashMap::default(),
            timers: BTreeSet::new(),
            timer_of: HashMap::default(),
            out: VecDeque::new(),
            alert_seq: 0,
            clock: None,
            history: availability::History::default(),
            org_lists: org_list::OrgLists::default(),
            touched: None,
        }
    }

    /// The configuration it decides under.
    pub(crate) fn config(&self) -> &Config {
        &self.cfg
    }

    /// The next action decided, in decision order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.out.pop_front()
    }

    /// The earliest pending deadline: the driver moves the engine past it with `advance_to`
    /// (simulated time) or `catch_up` (the wall clock).
    pub fn poll_timeout(&self) -> Option<Time> {
        self.timers.first().map(|(t, _)| *t)
    }

    /// The driver rule, written once. The clock moves to `t`: every deadline strictly before
    /// `t` fires, in time order, each at its own instant (the clock passes through it). A
    /// deadline at `t` itself waits: events at an instant precede its deadlines. Time never goes
    /// backwards: a `t` before the engine's clock changes nothing. `simulate` and the replay of
    /// stored history drive the engine with this alone (and `handle` calls it first).
    pub fn advance_to(&mut self, t: Time) {
        self.run_deadlines(t, None);
    }

    /// As `advance_to`, but for a driver on the wall clock that may have been stopped (a
    /// restart, a suspended process): what fires late fires *now*, dated `now`, never backdated
    /// to the instant it fell due (an e-mail's Date and the status page say when it really
    /// went out, and one periodic post replaces the ones missed).
    pub(crate) fn catch_up(&mut self, now: Time) {
        self.run_deadlines(now, Some(now));
    }

    /// Every incident and maintenance seen, for the availability report (SPEC §4.13).
    pub fn history(&self) -> &availability::History {
        &self.history
    }

    /// The engine's clock: the latest instant it was driven to.
    pub(crate) fn clock(&self) -> Option<Time> {
        self.clock
    }

    fn run_deadlines(&mut self, before: Time, dated: Option<Time>) {
        if self.clock.is_some_and(|c| before < c) {
            return;
        }
        while self.timers.first().is_some_and(|(t, _)| *t < before) {
            let Some((t, s)) = self.timers.pop_first() else {
                break;
            };
            self.timer_of.remove(&s);
            self.settle(&s, dated.unwrap_or(t));
        }
        self.clock = Some(before);
    }

    /// The incidents not yet resolved.
    pub(crate) fn open_incidents(&self) -> impl Iterator<Item = &Incident> {
        self.incidents.values().filter(|i| i.is_open())
    }

    /// An incident it holds, open or not yet retired.
    pub fn incident(&self, id: &str) -> Option<&Incident> {
        self.incidents.get(id)
    }

    /// An inbound inquiry it holds.
    pub(crate) fn inquiry(&self, id: &str) -> Option<&Inquiry> {
        self.inquiries.get(id)
    }

    /// Inquiries received and still tracked (answered ones stay until retired).
    pub(crate) fn inquiries(&self) -> impl Iterator<Item = &Inquiry> {
        self.inquiries.values()
    }

    /// A maintenance it holds.
    pub(crate) fn maintenance(&self, id: &str) -> Option<&Maintenance> {
        self.maintenances.get(id)
    }

    /// Every maintenance it holds.
    pub(crate) fn maintenances(&self) -> impl Iterator<Item = &Maintenance> {
        self.maintenances.values().filter(|m| !m.cancelled)
    }

    /// Replace the configuration the rules read (a reload, or the directory's contacts).
    pub(super) fn set_cfg(&mut self, cfg: Arc<Config>) {
        self.cfg = cfg;
        self.cfg_seq += 1;
    }

    /// Swap in a new configuration (SIGHUP) and recompute every deadline under it.
    pub(crate) fn reconfigure(&mut self, cfg: Arc<Config>) {
        self.base = cfg;
        self.set_cfg(directory_events::overlay(&self.base, &self.directory));
        let subjects: Vec<Subject> = self
            .incidents
            .keys()
            .map(|k| Subject::Incident(k.clone()))
            .chain(
                self.maintenances
                    .keys()
                    .map(|k| Subject::Maintenance(k.clone())),
            )
            .chain(self.inquiries.keys().map(|k| Subject::Inquiry(k.clone())))
            .chain(self.directory.keys().map(|k| Subject::Directory(k.clone())))
            // The pending month's report (its due time follows the calendar).
            .chain(
                self.timer_of
                    .keys()
                    .filter(|s| matches!(s, Subject::Report(_)))
                    .cloned(),
            )
            .collect();
        self.timers.clear();
        self.timer_of.clear();
        for s in subjects {
            let next = match &s {
                Subject::Incident(id) => self.incidents.get_mut(id).and_then(|i| {
                    i.refresh(&self.cfg, self.cfg_seq);
                    i.next_wake(&self.cfg)
                }),
                Subject::Maintenance(id) => self
                    .maintenances
                    .get(id)
                    .and_then(|m| m.next_wake(&self.cfg)),
                Subject::Inquiry(id) => self.inquiries.get(id).and_then(|q| q.next_wake(&self.cfg)),
                Subject::Report(m) => Some(availability::due(&self.cfg, *m)),
                Subject::Directory(o) => self.directory.get(o).and_then(|d| d.next_wake(&self.cfg)),
            };
            if let Some(t) = next {
                self.timers.insert((t, s.clone()));
                self.timer_of.insert(s, t);
            }
        }
    }

    /// Apply one event at `now`. On error nothing changed.
    /// Apply one event at `at`. Deadlines before `at` fire first (`advance_to`); an `at`
    /// before the engine's clock is taken as the clock (time never goes backwards).
    pub fn handle(&mut self, at: Time, ev: Event) -> Result<(), Refusal> {
        self.advance_to(at);
        self.touched = Some(Vec::new());
        self.dir_news = directory::News::default();
        let now = self.clock.map_or(at, |c| c.max(at));
        check_times(&ev, now)?;
        // The directory's events are not cases: the report's history begins with a case.
        let is_case = !ev.type_name().starts_with("directory.");
        let applied = match ev {
            Event::IncidentOpen(e) => self.incident_open(now, e),
            Event::IncidentUpdate(e) => self.incident_update(now, e),
            Event::IncidentResolve(e) => {
                self.incident_resolve(now, &e.id, e.resolved_at.map(|t| t.0))
            }
            Event::IncidentAck(e) => {
                let inc = self.open_incident_mut(&e.id)?;
                inc.acked = true;
                self.settle(&Subject::Incident(e.id), now);
                Ok(())
            }
            Event::Reply(e) => self.reply(now, e),
            Event::Alert(a) => self.alert(now, a),
            Event::MaintenanceAdd(e) => self.maintenance_add(now, e),
            Event::MaintenanceChange(e) => self.maintenance_change(now, e),
            Event::MaintenanceCancel(e) => self.maintenance_cancel(now, &e.id),
            Event::InquiryReceived(e) => self.inquiry_received(now, e),
            Event::InquiryAnswered(e) => {
                if !self.known(Subject::Inquiry(e.id.clone()))? {
                    return Ok(());
                }
                let Some(q) = self.inquiries.get_mut(&e.id) else {
                    return Ok(());
                };
                q.answered_at.get_or_insert(now);
                self.settle(&Subject::Inquiry(e.id), now);
                Ok(())
            }
            Event::DirectoryConfig(e) => self.directory_config(now, e),
            Event::DirectoryConfirm(e) => self.directory_confirm(now, e),
            Event::DirectoryPropose(e) => self.directory_propose(now, e),
            Event::DirectoryVerify(e) => self.directory_verify(now, e),
            Event::DirectoryBounce(e) => self.directory_bounce(now, e),
            Event::DirectorySet(e) => self.directory_set(now, e),
            Event::DirectoryAsk(e) => {
                let d = self.entry(&e.org)?;
                let to = vec![d.held.meldingsansvarlig.clone()];
                d.start_round(now, directory::RoundReason::Routine, to);
                self.settle(&Subject::Directory(e.org), now);
                Ok(())
            }
        };
        if applied.is_ok() && is_case && self.history.first.is_none() {
            // The first record: reports are due from this month on.
            self.history.first = Some(now);
            let m = availability::Month::of(&self.cfg, now);
            let s = Subject::Report(m);
            let t = availability::due(&self.cfg, m);
            self.timers.insert((t, s.clone()));
            self.timer_of.insert(s, t);
        }
        applied
    }

    // ------------------------------------------------------------ scheduling

    /// The cases the last event touched, by their key prefix (`INC-1`, `maintenance/VED-1`,
    /// `inquiry/MAIL-1`: `About::key_prefix`, which their outbox keys start with).
    pub fn take_touched(&mut self) -> Vec<String> {
        self.touched
            .take()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|s| match s {
                Subject::Incident(id) => Some(About::Incident(id).key_prefix()),
                Subject::Maintenance(id) => Some(About::Maintenance(id).key_prefix()),
                Subject::Inquiry(id) => Some(About::Inquiry(id).key_prefix()),
                Subject::Directory(o) => Some(About::Directory(o).key_prefix()),
                Subject::Report(_) => None,
            })
            .collect()
    }

    /// Fire what `s` has due at `now`, then file its next deadline (or retire it).
    fn settle(&mut self, s: &Subject, now: Time) {
        if let Some(t) = self.touched.as_mut() {
            if !t.contains(s) {
                t.push(s.clone());
            }
        }
        // Borrowed, not cloned: the count shares its cache line with what the writer thread
        // of `simulate` reads, and an increment per settle was a sixtieth of the engine's time.
        let cfg = &self.cfg;
        let mut out = Vec::new();
        let (next, finished) = match s {
            Subject::Report(m) => {
                let report = availability::monthly(cfg, &self.history, *m, now);
                self.out.push_back(Action {
                    at: now,
                    key: format!("report/{m}/monthly"),
                    about: About::Report(m.to_string()),
                    body: ActionBody::Report(Box::new(ReportMail {
                        to: cfg.report.recipients.clone(),
                        report,
                    })),
                });
                // Then the next month's, due on the first working day after it.
                let next = Subject::Report(m.next());
                let t = availability::due(cfg, m.next());
                self.timers.insert((t, next.clone()));
                self.timer_of.insert(next, t);
                (None, true)
            }
            Subject::Directory(o) => match self.directory.get_mut(o) {
                Some(d) => {
                    self.dir_generation += 1;
                    d.step(cfg, now, &mut out);
                    (d.next_wake(cfg), false)
                }
                None => (None, true),
            },
            Subject::Incident(id) => match self.incidents.get_mut(id) {
                Some(inc) => {
                    inc.refresh(cfg, self.cfg_seq);
                    inc.step(cfg, now, &mut out);
                    directory_events::remember(&mut inc.book, cfg, &out);
                    let severe = inc.is_open() && inc.priority(cfg) <= 2;
                    let inputs = Some(inc.record_inputs(severe));
                    if inc.recorded != inputs {
                        use std::collections::hash_map::Entry;
                        let h = &mut self.history.incidents;
                        // A kept input means the record exists (only settle writes a live
                        // case's record): found without cloning the id; else made.
                        match inc.recorded.and_then(|_| h.get_mut(id)) {
                            Some(r) => inc.update_record(r, severe),
                            None => match h.entry(id.clone()) {
                                Entry::Occupied(r) => inc.update_record(r.into_mut(), severe),
                                Entry::Vacant(v) => {
                                    v.insert(inc.record(severe));
                                }
                            },
                        }
                        inc.recorded = inputs;
                    }
                    (inc.next_wake(cfg), inc.finished(cfg))
                }
                None => (None, true),
            },
            Subject::Maintenance(id) => {
                // `release_suppressed` below takes the whole engine.
                let cfg = Arc::clone(cfg);
                let fired = match self.maintenances.get_mut(id) {
                    Some(m) => {
                        self.history.maintenances.insert(id.clone(), m.record());
                        let fired = m.step(&cfg, now, &mut out);
                        directory_events::remember(&mut m.book, &cfg, &out);
                        fired
                    }
                    None => Vec::new(),
                };
                self.out.extend(out.drain(..));
                if fired.contains(&maintenance::Deadline::Overrun) {
                    self.release_suppressed(id, now, true);
                }
                match self.maintenances.get(id) {
                    Some(m) => {
                        let next = m.next_wake(&cfg);
                        (next, m.cancelled || (m.overrun_checked && next.is_none()))
                    }
                    None => (None, true),
                }
            }
            Subject::Inquiry(id) => match self.inquiries.get_mut(id) {
                Some(q) => {
                    q.step(cfg, now, &mut out);
                    (q.next_wake(cfg), q.finished())
                }
                None => (None, true),
            },
        };
        self.out.extend(out);
        let next = if finished {
            None
        } else {
            // `step` fired everything due at `now`, and firing moves a deadline past it
            // (validated config keeps every interval positive). Should that promise ever
            // break, wait a second rather than spin.
            next.map(|t| {
                debug_assert!(t > now, "{s:?}: next deadline {t} not after {now}");
                if t <= now {
                    now + chrono::Duration::seconds(1)
                } else {
                    t
                }
            })
        };
        let old = self.timer_of.get(s).copied();
        // A deadline that did not move stays where it is (most settles move none).
        if old != next {
            if let Some(old) = old {
                self.timers.remove(&(old, s.clone()));
                self.timer_of.remove(s);
            }
            if let Some(t) = next {
                self.timers.insert((t, s.clone()));
                self.timer_of.insert(s.clone(), t);
            }
        }
        if finished {
            self.retire(s);
        }
    }

    /// Incident `id`, opened for alert `group`, is no longer that group's: the group's next
    /// alert opens a new one. Without its group (kept by an older version), every group is
    /// looked at (a pass over all of them was a thirtieth of a busy year's engine time).
    fn ungroup(&mut self, id: &str, group: Option<GroupKey>) {
        match group {
            Some(k) => {
                if self.groups.get(&k).is_some_and(|v| v == id) {
                    self.groups.remove(&k);
                }
            }
            None => self.groups.retain(|_, v| v != id),
        }
    }

    fn retire(&mut self, s: &Subject) {
        match s {
            Subject::Incident(id) => {
                // Only an incident alerts opened is any alert group's (`alerts.rs`).
                if let Some(i) = self.incidents.remove(id).filter(|i| i.from_alerts) {
                    self.ungroup(id, i.group);
                }
            }
            Subject::Maintenance(id) => {
                self.maintenances.remove(id);
            }
            Subject::Inquiry(id) => {
                self.inquiries.remove(id);
            }
            // A month's report is done once sent; nothing can refer to it later. An
            // organization's entry lives as long as the directory.
            Subject::Report(_) | Subject::Directory(_) => return,
        }
        self.retired.insert(s.clone());
    }

    // ------------------------------------------------------------ alerts

    fn inquiry_received(&mut self, now: Time, e: InquiryReceived) -> Result<(), Refusal> {
        self.check_new_id("inquiry", Subject::Inquiry(e.id.clone()), &e.id)?;
        self.check_org("org", &e.org, now)?;
        if e.subject
            .as_deref()
            .is_some_and(inquiry::about_planned_downtime)
        {
            // Not answered (seeds/004 §1); remembered so the id stays taken.
            self.retired.insert(Subject::Inquiry(e.id));
            return Ok(());
        }
        let q = Inquiry {
            id: e.id.clone(),
            org: e.org,
            subject: e.subject,
            received_at: now,
            answered_at: None,
            reminded: false,
            overdue_reported: false,
        };
        self.inquiries.insert(e.id.clone(), q);
        self.settle(&Subject::Inquiry(e.id), now);
        Ok(())
    }
}
