//! The directory's rules (SPEC §4.16; seeds/004, "Forutsetninger": every organization keeps a
//! working meldingsansvarlig address and a patient phone).
//!
//! Each organization's contacts are engine state, changed only by events (`directory.*`), so
//! the event log holds every change with its origin and replay gives the contacts of any
//! instant. The configuration seeds them and, when it changes, changes them (`directory.config`
//! carries what it says; the later change wins). Confirmation rounds are named deadlines like
//! every other rule, so `simulate` shows them:
//!
//! - `Start`: `confirm_every` after the last confirmation (or the last round, or the seeding),
//!   at the start of business hours on a working day; the first round after a seeding is moved
//!   by `offset` working days, so the organizations are spread over `[directory] spread` days.
//! - `Ask`: the request (`directory.confirm`) to the meldingsansvarlig address — or, after a
//!   bounce, to the organization's other addresses.
//! - `Remind`: one reminder (`directory.reminder`) after `reminder_after` working days.
//! - `Report`: ops are told (`directory.unconfirmed`) after `unconfirmed_after` working days.
//! - `Verify`: a proposed new address gets its own link (`directory.verify`); it replaces the
//!   old one only when it follows that link, and the proposal lapses with the link.
//! - `Tell`: ops get one e-mail per change and per bounce.

use super::deadline::{Scheduled, AT_ONCE};
use super::model::*;
use crate::config::{Config, Organization};
use serde::{Deserialize, Serialize};

/// An organization's contacts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Contacts {
    /// The meldingsansvarlig address every notice goes to.
    pub meldingsansvarlig: String,
    /// Further addresses that get the notices too.
    #[serde(default)]
    pub extra: Vec<String>,
    /// The patient phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// The services it exchanges.
    #[serde(default)]
    pub services: Vec<String>,
    /// The health trust on copy.
    #[serde(default)]
    pub hf: Option<String>,
}

impl Contacts {
    /// What the configuration says of `o`.
    pub fn of(o: &Organization) -> Contacts {
        Contacts {
            meldingsansvarlig: o.meldingsansvarlig.clone(),
            extra: o.extra_addresses.clone(),
            phone: o.phone.clone(),
            services: o.services.clone(),
            hf: o.hf.clone(),
        }
    }

    /// As the audit log writes it.
    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Every address: meldingsansvarlig first.
    pub fn addresses(&self) -> Vec<String> {
        let mut v = vec![self.meldingsansvarlig.clone()];
        v.extend(self.extra.iter().cloned());
        v
    }

    /// `o` with these contacts.
    pub(crate) fn apply(&self, o: &mut Organization) {
        o.meldingsansvarlig = self.meldingsansvarlig.clone();
        o.extra_addresses = self.extra.clone();
        o.phone = self.phone.clone();
        o.services = self.services.clone();
        o.hf = self.hf.clone();
    }
}

/// What one event did to the directory, for its audit entries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct News {
    /// Organizations seen for the first time.
    pub seeded: Vec<String>,
    /// Organizations whose contacts changed: (organization, before, after).
    pub changed: Vec<(String, Contacts, Contacts)>,
}

/// Why a round asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoundReason {
    /// `confirm_every` passed.
    Routine,
    /// A mail to one of its addresses bounced: the others are asked.
    Bounce,
}

/// One confirmation round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Round {
    /// Its number (the link names it).
    pub n: u32,
    pub started_at: Time,
    pub reason: RoundReason,
    /// Who is asked.
    pub to: Vec<String>,
    pub sent: bool,
    pub reminded: bool,
    pub reported: bool,
    /// When the organization answered (confirmed or corrected).
    pub answered_at: Option<Time>,
}

impl Round {
    fn open(&self) -> bool {
        self.answered_at.is_none()
    }
}

/// A new meldingsansvarlig address waiting for its own confirmation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub n: u32,
    pub address: String,
    pub proposed_at: Time,
    /// The address that proposed it.
    pub by: String,
    pub sent: bool,
}

/// What ops are told once: a change of contacts, or a bounce.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub n: u32,
    pub at: Time,
    /// `config`, `directory` or `console`; `bounce` for a bounce.
    pub origin: String,
    pub by: String,
    pub before: Contacts,
    pub after: Contacts,
    /// The address that bounced.
    #[serde(default)]
    pub bounced: Option<String>,
}

/// One organization in the directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub org: String,
    /// The contacts as held: what notices use.
    pub held: Contacts,
    /// What the configuration said when last read.
    pub config: Contacts,
    pub seeded_at: Time,
    /// Working days the first round is moved, to spread the organizations.
    pub offset: u32,
    pub changed_at: Time,
    pub origin: String,
    pub by: String,
    pub confirmed_at: Option<Time>,
    pub confirmed_by: Option<String>,
    /// Rounds started so far; `round` is the latest.
    pub rounds: u32,
    pub round: Option<Round>,
    /// Proposals made so far; `pending` is the one waiting.
    pub proposals: u32,
    pub pending: Option<Proposal>,
    /// Notes made so far; `untold` are not yet mailed to ops.
    pub notes: u32,
    pub untold: Vec<Note>,
    /// The last notes, newest last (the console shows them), at most `KEPT_NOTES`.
    pub recent: Vec<Note>,
}

/// How many past notes an entry keeps for the console.
const KEPT_NOTES: usize = 10;

/// Who changes the directory when the configuration does.
pub const BY_CONFIG: &str = "konfigurasjonen";

impl Entry {
    /// A new entry for `org`, seeded from the configuration at `now`.
    pub(crate) fn seed(org: &str, c: Contacts, now: Time, offset: u32) -> Entry {
        Entry {
            org: org.to_string(),
            held: c.clone(),
            config: c,
            seeded_at: now,
            offset,
            changed_at: now,
            origin: "config".into(),
            by: BY_CONFIG.into(),
            confirmed_at: None,
            confirmed_by: None,
            rounds: 0,
            round: None,
            proposals: 0,
            pending: None,
            notes: 0,
            untold: Vec::new(),
            recent: Vec::new(),
        }
    }

    /// The open round, if any.
    pub fn open_round(&self) -> Option<&Round> {
        self.round.as_ref().filter(|r| r.open())
    }

    /// Change the held contacts, noted for ops; `false` when nothing changed.
    pub(crate) fn change(&mut self, to: Contacts, now: Time, origin: &str, by: &str) -> bool {
        if to == self.held {
            return false;
        }
        let before = std::mem::replace(&mut self.held, to.clone());
        self.changed_at = now;
        self.origin = origin.into();
        self.by = by.into();
        self.note(now, origin, by, before, to, None);
        true
    }

    pub(crate) fn note(
        &mut self,
        at: Time,
        origin: &str,
        by: &str,
        before: Contacts,
        after: Contacts,
        bounced: Option<String>,
    ) {
        self.notes += 1;
        self.untold.push(Note {
            n: self.notes,
            at,
            origin: origin.into(),
            by: by.into(),
            before,
            after,
            bounced,
        });
    }

    /// The round answered at `now` by `by` (a confirmation or a correction).
    pub(crate) fn answered(&mut self, now: Time, by: &str) {
        if let Some(r) = self.round.as_mut().filter(|r| r.open()) {
            r.answered_at = Some(now);
        }
        self.confirmed_at = Some(now);
        self.confirmed_by = Some(by.to_string());
    }

    /// Open a round at `now` asking `to`.
    pub(crate) fn start_round(&mut self, now: Time, reason: RoundReason, to: Vec<String>) {
        self.rounds += 1;
        self.round = Some(Round {
            n: self.rounds,
            started_at: now,
            reason,
            to,
            sent: false,
            reminded: false,
            reported: false,
            answered_at: None,
        });
    }

    fn key(&self, what: &str, n: u32) -> String {
        format!("directory/{}/{what}/{n}", self.org)
    }

    fn view(&self, round: Option<u32>) -> DirectoryView {
        DirectoryView {
            org: self.org.clone(),
            contacts: self.held.clone(),
            round,
            proposal: None,
            note: None,
        }
    }

    fn mail(
        &self,
        now: Time,
        kind: EmailKind,
        key: String,
        to: Vec<String>,
        d: DirectoryView,
    ) -> Action {
        Action {
            at: now,
            key,
            about: About::Directory(self.org.clone()),
            body: ActionBody::Email(Box::new(Email {
                directory: Some(Box::new(d)),
                ..Email::new(kind, self.org.clone(), to)
            })),
        }
    }

    fn ops(
        &self,
        cfg: &Config,
        now: Time,
        kind: OpsKind,
        reason: OpsReason,
        key: String,
        d: DirectoryView,
    ) -> Action {
        Action {
            at: now,
            key,
            about: About::Directory(self.org.clone()),
            body: ActionBody::Ops(Box::new(Ops {
                directory: Some(d),
                ..Ops::new(kind, reason, cfg.self_.ops.clone())
            })),
        }
    }
}

/// What a directory e-mail or ops note carries: the organization, its contacts as held, the
/// round or proposal its link is for, the change or bounce it tells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DirectoryView {
    pub org: String,
    pub contacts: Contacts,
    /// The round the link is for (`directory.confirm`, `directory.reminder`).
    #[serde(default)]
    pub round: Option<u32>,
    /// The proposal the link is for (`directory.verify`), with its address.
    #[serde(default)]
    pub proposal: Option<(u32, String)>,
    /// The change or bounce told to ops.
    #[serde(default)]
    pub note: Option<Note>,
}

/// The named deadlines of an organization in the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Deadline {
    Start,
    Ask,
    Remind,
    Report,
    Verify,
    Expire,
    Tell,
}

impl Scheduled for Entry {
    type Deadline = Deadline;
    const ORDER: &'static [Deadline] = &[
        Deadline::Tell,
        Deadline::Expire,
        Deadline::Verify,
        Deadline::Start,
        Deadline::Ask,
        Deadline::Remind,
        Deadline::Report,
    ];

    fn due(&self, d: Deadline, cfg: &Config) -> Option<Time> {
        let dir = &cfg.directory;
        // An organization no longer configured is asked nothing more; what it was told
        // and its proposal's lapse still happen.
        let active = cfg.org(&self.org).is_some_and(|o| o.retired_at.is_none());
        if !active && !matches!(d, Deadline::Tell | Deadline::Expire) {
            return None;
        }
        let open = self.open_round();
        match d {
            Deadline::Start => {
                if !dir.rounds || open.is_some_and(|r| !r.reported) {
                    return None;
                }
                let last_round = self.round.as_ref().map(|r| r.started_at);
                let anchor = [Some(self.seeded_at), self.confirmed_at, last_round]
                    .into_iter()
                    .flatten()
                    .max()?;
                // Only the first round after a seeding is spread: later ones follow each
                // organization's own answer, which spreads them by itself.
                let skip = if self.confirmed_at.is_none() && last_round.is_none() {
                    self.offset
                } else {
                    0
                };
                Some(
                    cfg.calendar.working_day_start_from(
                        dir.confirm_every.after(anchor, &cfg.calendar),
                        skip,
                    ),
                )
            }
            Deadline::Ask => open.filter(|r| !r.sent).map(|_| AT_ONCE),
            Deadline::Remind => open.filter(|r| r.sent && !r.reminded).map(|r| {
                cfg.calendar
                    .working_days_after(r.started_at, dir.reminder_after)
            }),
            Deadline::Report => open.filter(|r| !r.reported).map(|r| {
                cfg.calendar
                    .working_days_after(r.started_at, dir.unconfirmed_after)
            }),
            Deadline::Verify => self.pending.as_ref().filter(|p| !p.sent).map(|_| AT_ONCE),
            Deadline::Expire => self
                .pending
                .as_ref()
                .map(|p| p.proposed_at + dir.link_lifetime),
            Deadline::Tell => (!self.untold.is_empty()).then_some(AT_ONCE),
        }
    }

    fn fire(&mut self, d: Deadline, cfg: &Config, now: Time, out: &mut Vec<Action>) {
        match d {
            Deadline::Start => {
                let to = vec![self.held.meldingsansvarlig.clone()];
                self.start_round(now, RoundReason::Routine, to);
            }
            Deadline::Ask | Deadline::Remind => {
                let Some(r) = self.round.clone() else { return };
                let (kind, what) = if d == Deadline::Ask {
                    (EmailKind::DirectoryConfirm, "confirm")
                } else {
                    (EmailKind::DirectoryReminder, "reminder")
                };
                let view = self.view(Some(r.n));
                out.push(self.mail(now, kind, self.key(what, r.n), r.to.clone(), view));
                if let Some(r) = self.round.as_mut() {
                    if d == Deadline::Ask {
                        r.sent = true;
                    } else {
                        r.reminded = true;
                    }
                }
            }
            Deadline::Report => {
                let Some(r) = self.round.clone() else { return };
                let view = self.view(Some(r.n));
                out.push(self.ops(
                    cfg,
                    now,
                    OpsKind::DirectoryUnconfirmed,
                    OpsReason::Unconfirmed,
                    self.key("unconfirmed", r.n),
                    view,
                ));
                if let Some(r) = self.round.as_mut() {
                    r.reported = true;
                }
            }
            Deadline::Verify => {
                let Some(p) = self.pending.clone() else {
                    return;
                };
                let mut view = self.view(None);
                view.proposal = Some((p.n, p.address.clone()));
                out.push(self.mail(
                    now,
                    EmailKind::DirectoryVerify,
                    self.key("verify", p.n),
                    vec![p.address],
                    view,
                ));
                if let Some(p) = self.pending.as_mut() {
                    p.sent = true;
                }
            }
            Deadline::Expire => self.pending = None,
            Deadline::Tell => {
                for note in std::mem::take(&mut self.untold) {
                    let (kind, reason, what) = match note.bounced {
                        Some(_) => (OpsKind::DirectoryBounce, OpsReason::ContactBounce, "bounce"),
                        None => (OpsKind::DirectoryChange, OpsReason::ContactChange, "change"),
                    };
                    let mut view = self.view(None);
                    view.note = Some(note.clone());
                    out.push(self.ops(cfg, now, kind, reason, self.key(what, note.n), view));
                    self.recent.push(note);
                }
                let over = self.recent.len().saturating_sub(KEPT_NOTES);
                self.recent.drain(..over);
            }
        }
    }
}

/// A patient phone as people write it: digits, spaces, `+`, `-`, with 5–15 digits.
pub(crate) fn plausible_phone(s: &str) -> bool {
    let digits = s.chars().filter(char::is_ascii_digit).count();
    (5..=15).contains(&digits)
        && s.len() <= 30
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-'))
}

#[cfg(test)]
mod tests;
