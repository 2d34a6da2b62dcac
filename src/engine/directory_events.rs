//! What the directory's events do (SPEC §4.16), the configuration the rules read with the
//! directory's contacts in place, and the address book each case keeps.
//!
//! Decisions where SPEC §4.16 is silent, and why:
//! - The seeding counts as the first confirmation: the configuration is what ops confirmed
//!   when they wrote it, so the first round comes `confirm_every` after it, not at once (a
//!   first start would otherwise mail every organization the next morning).
//! - Any answer on the page — a confirmation or a correction — answers the round.
//! - A correction of the patient phone or the services takes effect at once (the page is
//!   reached only through the organization's own link); a new address only after it follows
//!   its own link (§4.16), and the proposal lapses when that link does (`link_lifetime`).
//! - A bounce of a mail to an address the organization no longer has is history, not news:
//!   it changes nothing.

use super::directory::{plausible_phone, Contacts, Entry, Proposal, RoundReason, BY_CONFIG};
use super::model::*;
use super::{Engine, Subject};
use crate::config::{valid_email, Config};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The addresses each organization was first mailed at in one case (SPEC §4.16: "a case keeps
/// the contacts it was sent with").
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Book(BTreeMap<String, Arc<[String]>>);

impl Book {
    /// The addresses of `org` for this case: as first mailed, else as held now. One list,
    /// shared by every e-mail of the case to it.
    pub(crate) fn addresses(&self, cfg: &Config, org: &str) -> Arc<[String]> {
        match self.0.get(org) {
            Some(a) => Arc::clone(a),
            None => cfg.org_addresses(org),
        }
    }

    /// Its meldingsansvarlig address for this case.
    pub(crate) fn first(&self, cfg: &Config, org: &str) -> String {
        self.addresses(cfg, org)
            .first()
            .cloned()
            .unwrap_or_default()
    }
}

/// After a case's step: the organizations its new e-mails went to (and their HFs, copied on
/// followups) keep the addresses they were sent at.
pub(crate) fn remember(book: &mut Book, cfg: &Config, out: &[Action]) {
    for a in out {
        let ActionBody::Email(e) = &a.body else {
            continue;
        };
        // A fan-out mails each organization once per message: look up, clone only what is new.
        let Some(o) = cfg.org(&e.org) else {
            continue;
        };
        for org in std::iter::once(o.id.as_str()).chain(o.hf.as_deref()) {
            if !book.0.contains_key(org) && cfg.org(org).is_some() {
                book.0.insert(org.to_string(), cfg.org_addresses(org));
            }
        }
    }
}

/// `base` with each organization's contacts as the directory holds them.
pub(crate) fn overlay(base: &Arc<Config>, dir: &BTreeMap<String, Entry>) -> Arc<Config> {
    let differs = dir
        .values()
        .any(|e| base.org(&e.org).is_some_and(|o| Contacts::of(o) != e.held));
    if !differs {
        return Arc::clone(base);
    }
    let mut cfg = (**base).clone();
    for o in cfg.orgs.iter_mut() {
        if let Some(e) = dir.get(&o.id) {
            e.held.apply(o);
        }
    }
    cfg.organizations_changed();
    Arc::new(cfg)
}

impl Engine {
    /// The directory as held.
    pub fn directory(&self) -> &BTreeMap<String, Entry> {
        &self.directory
    }

    /// Raised whenever the directory may have changed.
    pub(crate) fn directory_generation(&self) -> u64 {
        self.dir_generation
    }

    /// The configuration the rules read: the loaded one with the directory's contacts in
    /// place (the same `Arc` as the loaded one while the directory holds what it says).
    pub(crate) fn config_arc(&self) -> Arc<Config> {
        Arc::clone(&self.cfg)
    }

    /// The `directory.config` event that brings the directory up to the configuration as
    /// loaded: the organizations it has not seen, and those whose configured contacts changed
    /// since the last reading. `None` when there is nothing to read.
    pub fn config_reading(&self) -> Option<DirectoryConfig> {
        let orgs: Vec<ConfiguredContacts> = self
            .base
            .orgs
            .iter()
            .filter(|o| o.retired_at.is_none())
            .map(|o| (o, Contacts::of(o)))
            .filter(|(o, c)| self.directory.get(&o.id).is_none_or(|e| &e.config != c))
            .map(|(o, contacts)| ConfiguredContacts {
                org: o.id.clone(),
                contacts,
            })
            .collect();
        (!orgs.is_empty()).then_some(DirectoryConfig { orgs })
    }

    /// Read the configuration into the directory at `at` (`simulate` at the scenario's start;
    /// the daemon logs the same event instead, so replay reads what it read).
    pub fn seed_directory(&mut self, at: Time) -> Result<(), Refusal> {
        match self.config_reading() {
            Some(c) => self.handle(at, Event::DirectoryConfig(c)),
            None => Ok(()),
        }
    }

    /// What the last event did to the directory: organizations seeded, contacts changed.
    pub fn take_directory_news(&mut self) -> super::directory::News {
        std::mem::take(&mut self.dir_news)
    }

    pub(super) fn entry(&mut self, org: &str) -> Result<&mut Entry, Refusal> {
        self.directory
            .get_mut(org)
            .ok_or_else(|| Refusal::UnknownOrg {
                field: "org",
                id: org.to_string(),
            })
    }

    /// After a change: the rules read the new contacts, and the entry's deadlines are filed.
    fn directory_changed(&mut self, org: &str, now: Time) {
        self.set_cfg(overlay(&self.base, &self.directory));
        self.settle(&Subject::Directory(org.to_string()), now);
    }

    fn record(&mut self, org: &str, before: &Contacts) {
        if let Some(e) = self.directory.get(org) {
            if &e.held != before {
                self.dir_news
                    .changed
                    .push((org.to_string(), before.clone(), e.held.clone()));
            }
        }
    }

    pub(super) fn directory_config(
        &mut self,
        now: Time,
        mut e: DirectoryConfig,
    ) -> Result<(), Refusal> {
        // A stored reading replayed under a configuration that no longer has some of its
        // organizations: the others still count.
        e.orgs.retain(|c| self.base.org(&c.org).is_some());
        let new = e
            .orgs
            .iter()
            .filter(|c| !self.directory.contains_key(&c.org))
            .count()
            .max(1) as u32;
        let spread = self.base.directory.spread;
        let mut k = 0u32;
        let orgs: Vec<String> = e.orgs.iter().map(|c| c.org.clone()).collect();
        for c in e.orgs {
            match self.directory.get_mut(&c.org) {
                None => {
                    // Spread the first round of a seeding over `spread` working days.
                    let offset = k * spread / new;
                    k += 1;
                    let entry = Entry::seed(&c.org, c.contacts, now, offset);
                    self.directory.insert(c.org.clone(), entry);
                    self.dir_news.seeded.push(c.org.clone());
                }
                Some(d) => {
                    let before = d.held.clone();
                    d.config = c.contacts.clone();
                    d.change(c.contacts, now, "config", BY_CONFIG);
                    self.record(&c.org, &before);
                }
            }
        }
        // One overlay for the whole reading (356 organizations are one configuration, not
        // 356), then each organization's deadlines.
        self.set_cfg(overlay(&self.base, &self.directory));
        for org in orgs {
            self.settle(&Subject::Directory(org), now);
        }
        Ok(())
    }

    /// The round a link names must be the latest; a confirmation, not yet answered (a
    /// correction may follow a confirmation through the same link).
    fn check_round(&self, org: &str, round: Option<u32>, confirming: bool) -> Result<(), Refusal> {
        let d = self.directory.get(org);
        let latest = d.and_then(|d| d.round.as_ref());
        match (round, latest) {
            (Some(n), Some(r)) if n != r.n => Err(Refusal::invalid("round", Why::NotLatestRound)),
            (Some(_), None) => Err(Refusal::invalid("round", Why::NotLatestRound)),
            (_, Some(r)) if confirming && r.answered_at.is_some() && round.is_some() => {
                Err(Refusal::invalid("round", Why::Answered))
            }
            _ => Ok(()),
        }
    }

    fn answerer(&self, org: &str) -> String {
        let d = &self.directory[org];
        d.open_round()
            .and_then(|r| r.to.first().cloned())
            .unwrap_or_else(|| d.held.meldingsansvarlig.clone())
    }

    pub(super) fn directory_confirm(
        &mut self,
        now: Time,
        e: DirectoryConfirm,
    ) -> Result<(), Refusal> {
        self.entry(&e.org)?;
        self.check_round(&e.org, e.round, true)?;
        let by = self.answerer(&e.org);
        self.entry(&e.org)?.answered(now, &by);
        self.directory_changed(&e.org, now);
        Ok(())
    }

    pub(super) fn directory_propose(
        &mut self,
        now: Time,
        e: DirectoryPropose,
    ) -> Result<(), Refusal> {
        self.entry(&e.org)?;
        self.check_round(&e.org, e.round, false)?;
        if let Some(a) = e.meldingsansvarlig.as_deref() {
            if !valid_email(a.trim()) {
                return Err(Refusal::invalid("meldingsansvarlig", Why::Address));
            }
        }
        if let Some(p) = e.phone.as_deref() {
            if !plausible_phone(p.trim()) {
                return Err(Refusal::invalid("phone", Why::Phone));
            }
        }
        if let Some(s) = &e.services {
            if s.is_empty() {
                return Err(Refusal::invalid("services", Why::Empty));
            }
            self.check_services(s)?;
        }
        let by = self.answerer(&e.org);
        let d = self.entry(&e.org)?;
        let before = d.held.clone();
        let mut next = d.held.clone();
        if let Some(p) = e.phone {
            next.phone = Some(p.trim().to_string());
        }
        if let Some(s) = e.services {
            next.services = s;
        }
        d.change(next, now, "directory", &by);
        let waiting = d.pending.as_ref().map(|p| p.address.to_lowercase());
        match e.meldingsansvarlig.map(|a| a.trim().to_string()) {
            Some(a)
                if !a.eq_ignore_ascii_case(&d.held.meldingsansvarlig)
                    && waiting != Some(a.to_lowercase()) =>
            {
                d.proposals += 1;
                d.pending = Some(Proposal {
                    n: d.proposals,
                    address: a,
                    proposed_at: now,
                    by: by.clone(),
                    sent: false,
                });
            }
            _ => {}
        }
        d.answered(now, &by);
        self.record(&e.org, &before);
        self.directory_changed(&e.org, now);
        Ok(())
    }

    pub(super) fn directory_verify(
        &mut self,
        now: Time,
        e: DirectoryVerify,
    ) -> Result<(), Refusal> {
        let d = self.entry(&e.org)?;
        let Some(p) = d
            .pending
            .clone()
            .filter(|p| e.proposal.is_none_or(|n| n == p.n))
        else {
            return Err(Refusal::invalid("proposal", Why::NoProposal));
        };
        let before = d.held.clone();
        let mut next = d.held.clone();
        next.extra.retain(|a| a != &p.address);
        next.meldingsansvarlig = p.address.clone();
        d.pending = None;
        d.change(next, now, "directory", &p.address);
        // The new address itself confirmed the contacts.
        d.answered(now, &p.address);
        self.record(&e.org, &before);
        self.directory_changed(&e.org, now);
        Ok(())
    }

    pub(super) fn directory_bounce(
        &mut self,
        now: Time,
        e: DirectoryBounce,
    ) -> Result<(), Refusal> {
        let d = self.entry(&e.org)?;
        let address = e.address.trim().to_lowercase();
        let held = d.held.addresses();
        if !held.iter().any(|a| a.to_lowercase() == address) {
            return Ok(());
        }
        // The same bounce again (a mailbox read twice): already told, already asked.
        let again = d
            .open_round()
            .is_some_and(|r| r.reason == RoundReason::Bounce)
            && d.untold
                .iter()
                .chain(d.recent.iter())
                .next_back()
                .and_then(|n| n.bounced.as_deref())
                .is_some_and(|b| b.eq_ignore_ascii_case(&address));
        if again {
            return Ok(());
        }
        let others: Vec<String> = held
            .into_iter()
            .filter(|a| a.to_lowercase() != address)
            .collect();
        let c = d.held.clone();
        d.note(
            now,
            "bounce",
            &e.address,
            c.clone(),
            c,
            Some(e.address.clone()),
        );
        if !others.is_empty() {
            d.start_round(now, RoundReason::Bounce, others);
        }
        self.directory_changed(&e.org, now);
        Ok(())
    }

    pub(super) fn directory_set(&mut self, now: Time, e: DirectorySet) -> Result<(), Refusal> {
        self.entry(&e.org)?;
        let c = &e.contacts;
        for (i, a) in c.addresses().iter().enumerate() {
            if !valid_email(a) {
                let field = if i == 0 {
                    "meldingsansvarlig".into()
                } else {
                    format!("extra[{}]", i - 1)
                };
                return Err(Refusal::invalid(field, Why::Address));
            }
        }
        if c.phone.as_deref().is_some_and(|p| !plausible_phone(p)) {
            return Err(Refusal::invalid("phone", Why::Phone));
        }
        self.check_services(&c.services)?;
        if let Some(h) = c.hf.as_deref() {
            self.check_org("hf", h, now)?;
        }
        let d = self.entry(&e.org)?;
        let before = d.held.clone();
        d.change(e.contacts, now, "console", &e.who);
        self.record(&e.org, &before);
        self.directory_changed(&e.org, now);
        Ok(())
    }
}
