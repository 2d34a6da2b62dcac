//! `[self]`, `[[service]]`, `[[ks_ekomp]]` and `[[organization]]` (with its includes).

use super::super::*;
use super::Validator;
use crate::config::raw::*;
use crate::tpath;
use std::collections::BTreeSet;

impl Validator<'_> {
    pub(super) fn self_org(&mut self, self_: Option<RawSelf>) -> SelfOrg {
        // [self]
        let s = match self_ {
            Some(s) => s,
            None => {
                self.err(0, vec![], "missing required table [self]");
                RawSelf::default()
            }
        };
        let sp = || tpath!["self"];
        let self_org = SelfOrg {
            id: self.required(0, sp(), "id", s.id),
            name: self.required(0, sp(), "name", s.name),
            from: self.required(0, sp(), "from", s.from),
            meldingsansvarlig: self.required(0, sp(), "meldingsansvarlig", s.meldingsansvarlig),
            phone: self.required(0, sp(), "phone", s.phone),
            ops: s.ops,
            region: s.region,
            oncall: Vec::new(),
        };
        if !self_org.from.is_empty() && mailbox_address(&self_org.from).is_none() {
            self.err(
                0,
                tpath!["self", "from"],
                format!(
                    "malformed sender {:?}: write \"Name <address>\" or an address",
                    self_org.from
                ),
            );
        }
        self.email(
            0,
            tpath!["self", "meldingsansvarlig"],
            &self_org.meldingsansvarlig.clone(),
        );
        if self_org.ops.is_empty() {
            self.err(
                0,
                tpath!["self"],
                "`ops` must list at least one address for reminders and warnings",
            );
        }
        for (i, a) in self_org.ops.clone().iter().enumerate() {
            self.email(0, tpath!["self", "ops", i], a);
        }
        if let Some(r) = self_org.region.clone() {
            self.email(0, tpath!["self", "region"], &r);
        }
        let mut self_org = self_org;
        for (i, n) in s.oncall.iter().enumerate() {
            match phone_number(n) {
                Some(n) if !self_org.oncall.contains(&n) => self_org.oncall.push(n),
                Some(_) => self.err(0, tpath!["self", "oncall", i], format!("{n:?} is listed twice")),
                None => self.err(
                    0,
                    tpath!["self", "oncall", i],
                    format!("{n:?} is not a phone number for SMS: write it with its country code, e.g. \"+47 912 34 567\""),
                ),
            }
        }
        self_org
    }

    pub(super) fn services(
        &mut self,
        services: Vec<RawService>,
    ) -> (Vec<Service>, crate::config::Index) {
        // [[service]]
        let mut svc_out = Vec::new();
        let mut svc_index = crate::config::Index::default();
        for (i, r) in services.into_iter().enumerate() {
            let id = self.required(0, tpath!["service", i], "id", r.id);
            if id.is_empty() {
                continue;
            }
            if svc_index.contains_key(&id) {
                self.err(
                    0,
                    tpath!["service", i, "id"],
                    format!("duplicate service id {id:?}"),
                );
                continue;
            }
            svc_index.insert(id.clone(), svc_out.len());
            svc_out.push(Service {
                name: r.name.unwrap_or_else(|| id.clone()),
                id,
                component: r.component,
            });
        }
        (svc_out, svc_index)
    }

    pub(super) fn ks_ekomp(&mut self, ks: Vec<RawKs>) -> Vec<KsEkomp> {
        // [[ks_ekomp]]
        let mut ks_out: Vec<KsEkomp> = Vec::new();
        for (i, r) in ks.into_iter().enumerate() {
            let area = self.required(0, tpath!["ks_ekomp", i], "area", r.area);
            let email = self.required(0, tpath!["ks_ekomp", i], "email", r.email);
            self.email(0, tpath!["ks_ekomp", i, "email"], &email);
            if !area.is_empty() && ks_out.iter().any(|k| k.area == area) {
                self.err(
                    0,
                    tpath!["ks_ekomp", i, "area"],
                    format!("duplicate KS e-Komp area {area:?}: one representative per area"),
                );
                continue;
            }
            ks_out.push(KsEkomp {
                name: r.name.unwrap_or_else(|| format!("KS e-Komp {area}")),
                area,
                email,
            });
        }
        ks_out
    }

    pub(super) fn organizations(
        &mut self,
        orgs: Vec<(usize, usize, RawOrg)>,
        self_id: &str,
        svc_index: &crate::config::Index,
        ks_out: &[KsEkomp],
    ) -> (Vec<Organization>, crate::config::Index) {
        let areas: BTreeSet<String> = ks_out.iter().map(|k| k.area.clone()).collect();
        // [[organization]] (main file and includes)
        let mut org_out: Vec<Organization> = Vec::new();
        let mut org_src: Vec<(usize, usize)> = Vec::new();
        let mut org_index = crate::config::Index::default();
        for (src, j, r) in orgs {
            let op = || tpath!["organization", j];
            let id = self.required(src, op(), "id", r.id);
            let name = self.required(src, op(), "name", r.name);
            let kind_s = self.required(src, op(), "kind", r.kind);
            let kind = match kind_s.as_str() {
                "kommune" => OrgKind::Kommune,
                "hf" => OrgKind::Hf,
                "other" => OrgKind::Other,
                "" => OrgKind::Other,
                other => {
                    self.err(
                        src,
                        tpath!["organization", j, "kind"],
                        format!(
                            "unknown kind {other:?}: expected \"kommune\", \"hf\" or \"other\""
                        ),
                    );
                    OrgKind::Other
                }
            };
            let ma = self.required(src, op(), "meldingsansvarlig", r.meldingsansvarlig);
            self.email(src, tpath!["organization", j, "meldingsansvarlig"], &ma);
            for (k, a) in r.extra_addresses.iter().enumerate() {
                self.email(src, tpath!["organization", j, "extra_addresses", k], a);
            }
            if id.is_empty() {
                continue;
            }
            if id == "self" || id == self_id {
                self.err(
                    src,
                    tpath!["organization", j, "id"],
                    format!("organization id {id:?} is reserved for [self]"),
                );
                continue;
            }
            if org_index.contains_key(&id) {
                self.err(
                    src,
                    tpath!["organization", j, "id"],
                    format!("duplicate organization id {id:?}"),
                );
                continue;
            }
            // Organization ids become parts of generated incident ids (`AM-{org}-…`), outbox
            // keys and file names (SPEC §4.14).
            if id.len() > 40 || !crate::text::id::valid_id(&id) {
                self.err(
                    src,
                    tpath!["organization", j, "id"],
                    "an organization id must be 1–40 characters, each a letter A–Z or a–z, a digit, '.', '_', ':' or '-'".to_string(),
                );
                continue;
            }
            for (k, sv) in r.services.iter().enumerate() {
                if !svc_index.contains_key(sv) {
                    self.err(
                        src,
                        tpath!["organization", j, "services", k],
                        format!("unknown service {sv:?}: declare it as [[service]] id = {sv:?}"),
                    );
                }
            }
            org_index.insert(id.clone(), org_out.len());
            org_src.push((src, j));
            org_out.push(Organization {
                id,
                name,
                kind,
                meldingsansvarlig: ma,
                extra_addresses: r.extra_addresses,
                phone: r.phone,
                area: r.area,
                hf: r.hf,
                services: r.services,
                retired_at: None,
            });
        }
        // Cross references need every organization first.
        for (o, &(src, j)) in org_out.iter().zip(org_src.iter()) {
            if let Some(hf) = &o.hf {
                match org_index.get(hf).map(|&i| &org_out[i]) {
                    None => self.err(
                        src,
                        tpath!["organization", j, "hf"],
                        format!("hf {hf:?} is not an organization id"),
                    ),
                    Some(h) if h.kind != OrgKind::Hf => self.err(
                        src,
                        tpath!["organization", j, "hf"],
                        format!(
                            "hf {hf:?} names an organization of kind {:?}, not \"hf\"",
                            h.kind
                        ),
                    ),
                    _ => {}
                }
            }
            match (&o.area, o.kind) {
                (Some(a), OrgKind::Kommune) if !areas.contains(a) => self.err(
                    src,
                    tpath!["organization", j, "area"],
                    format!("municipality {:?} is in area {a:?}, which has no KS e-Komp representative (add [[ks_ekomp]] area = {a:?})", o.id),
                ),
                (Some(a), _) if !areas.contains(a) => self.err(
                    src,
                    tpath!["organization", j, "area"],
                    format!("area {a:?} does not exist (areas: {})", areas.iter().cloned().collect::<Vec<_>>().join(", ")),
                ),
                (None, OrgKind::Kommune) => {
                    let w = self.sources[src].error_path(
                        &tpath!["organization", j],
                        false,
                        format!("warning: municipality {:?} has no `area`, so no KS e-Komp representative goes on copy of its inquiries and escalations", o.id),
                    );
                    self.warnings.push(w);
                }
                _ => {}
            }
        }
        (org_out, org_index)
    }
}

/// An on-call number as gateways take it: `+`, the country code and the number, 8 to 15
/// digits in all (E.164), spaces and hyphens dropped. `None`: not such a number.
pub(crate) fn phone_number(s: &str) -> Option<String> {
    let rest = s.trim().strip_prefix('+')?;
    let digits: String = rest.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let ok = (8..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0');
    ok.then(|| format!("+{digits}"))
}
