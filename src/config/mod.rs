//! Configuration: load the TOML file (and its included organization files), validate all of
//! it, and report every problem as `FILE:LINE:COL: message` (SPEC §5.3, §5.1 `check`).
//!
//! Invariant: a `Config` value is always valid — every id it refers to exists — so the engine
//! can index into it without failing.

mod addresses;
mod console;
pub(crate) mod directory;
pub mod keys;
pub(crate) mod locate;
pub(crate) mod raw;
pub(crate) mod secret;
pub(crate) mod section;
pub(crate) mod validate;

use crate::calendar::{Calendar, Freeze};
use crate::tpath;
use chrono::Duration;
use locate::{from_ignored, path_text, ConfigError, Seg, Source};
use raw::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// An id's place in a list of the configuration. Fx, not SipHash: looked up on every settle
/// of the engine (issue #32, perf), and the keys are the operator's own configuration.
pub(crate) type Index = rustc_hash::FxHashMap<String, usize>;

/// What an organization is: a municipality, a health trust, or another counterpart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrgKind {
    Kommune,
    Hf,
    Other,
}

/// `[self]`: our own organization.
#[derive(Debug, Clone)]
pub struct SelfOrg {
    pub id: String,
    pub name: String,
    pub from: String,
    pub meldingsansvarlig: String,
    pub phone: String,
    pub ops: Vec<String>,
    pub region: Option<String>,
    /// On-call numbers (`+` and digits) the rules page by SMS (SPEC §4.18); empty: no SMS.
    pub oncall: Vec<String>,
}

/// An `[[organization]]`: a counterpart we notify.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub kind: OrgKind,
    pub meldingsansvarlig: String,
    pub extra_addresses: Vec<String>,
    pub phone: Option<String>,
    pub area: Option<String>,
    pub hf: Option<String>,
    pub services: Vec<String>,
    /// Set when the organization was removed from the configuration while open cases still
    /// named it: it is kept, with its addresses, for those cases only (SPEC §6). From this
    /// instant no new case may name it and no recipient list derived from services includes it.
    #[serde(default)]
    pub retired_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Organization {
    /// Whether new cases at `now` may name this organization.
    pub(crate) fn active_at(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        self.retired_at.is_none_or(|r| now < r)
    }
}

/// A `[[service]]`: a message service organizations exchange.
#[derive(Debug, Clone)]
pub struct Service {
    pub id: String,
    pub name: String,
    pub component: Option<String>,
}

/// A `[[ks_ekomp]]`: an area's KS e-Komp representative.
#[derive(Debug, Clone)]
pub struct KsEkomp {
    pub area: String,
    pub name: String,
    pub email: String,
}

/// `[report]` (SPEC §4.13).
#[derive(Debug, Clone, PartialEq)]
pub struct ReportSettings {
    pub target_month: f64,
    pub target_12m: f64,
    pub recipients: Vec<String>,
}

/// Rule durations (SPEC §4); every one has the SPEC's default.
#[derive(Debug, Clone)]
pub struct Policy {
    pub publish_delay: Duration,
    pub publish_priorities: BTreeSet<u8>,
    pub statuspage_update_interval: Duration,
    pub unplanned_notice_after: Duration,
    pub planned_notice_threshold: Duration,
    pub notice_lead: Duration,
    pub followup_after: Duration,
    pub maintenance_grace: Duration,
    pub ack_priority1: Duration,
    pub ack_priority2: Duration,
    /// SPEC §4.11: whether test-environment incidents e-mail organizations (then marked
    /// `TEST: `). Default false: they reach the test status page and ops only.
    pub test_environment_mail: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            publish_delay: Duration::zero(),
            publish_priorities: [1, 2].into_iter().collect(),
            statuspage_update_interval: Duration::minutes(30),
            unplanned_notice_after: Duration::hours(2),
            planned_notice_threshold: Duration::hours(2),
            notice_lead: Duration::days(7),
            followup_after: Duration::hours(2),
            maintenance_grace: Duration::minutes(15),
            ack_priority1: Duration::minutes(30),
            ack_priority2: Duration::minutes(45),
            test_environment_mail: false,
        }
    }
}

/// Alertmanager label names (SPEC §5.2).
#[derive(Debug, Clone)]
pub struct AlertLabels {
    pub org: String,
    pub service: String,
    pub kind: String,
    pub severity: String,
    pub impact: String,
    pub environment: String,
}

impl Default for AlertLabels {
    fn default() -> Self {
        AlertLabels {
            org: "org".into(),
            service: "service".into(),
            kind: "kind".into(),
            severity: "severity".into(),
            impact: "impact".into(),
            environment: "environment".into(),
        }
    }
}

pub use console::{ConsoleSettings, OidcSettings, Roles};
pub use directory::{DirectorySettings, Every};
pub use secret::{Secret, SecretValue};

/// The daemon's own settings (`[storage]`, `[http]`, `[smtp]`).
#[derive(Debug, Clone)]
pub struct DaemonSettings {
    pub state_dir: PathBuf,
    /// `[storage] retention`: older closed cases are compacted away (SPEC §5.8).
    pub retention: Duration,
    pub listen: std::net::SocketAddr,
    /// `[http] public_url`: where people reach this daemon (links in ops e-mails).
    pub public_url: String,
    pub alert_token_file: Option<PathBuf>,
    pub operator_token_file: Option<PathBuf>,
    pub max_body: usize,
    /// Open HTTP connections at most (SPEC §6 "Bounded under abuse"); keep it below the
    /// file-descriptor limit (the unit's `LimitNOFILE=4096`).
    pub max_connections: usize,
    pub maintenance_dir: PathBuf,
    pub maintenance_horizon: Duration,
    pub imap: Option<ImapSettings>,
    /// `[console]`: the operator console (SPEC §5.6).
    pub console: ConsoleSettings,
    /// `[audit] retention`: audit entries older than this are compacted behind the anchor
    /// (SPEC §5.10; default 5 years).
    pub audit_retention: Duration,
}

/// The watched mailbox (`[imap]`).
#[derive(Debug, Clone)]
pub struct ImapSettings {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub username: String,
    pub password: Secret,
    pub inbox: String,
    pub sent: String,
    pub poll: Duration,
}

/// A valid configuration: every id it refers to exists.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub self_: SelfOrg,
    pub orgs: Vec<Organization>,
    pub services: Vec<Service>,
    pub ks_ekomp: Vec<KsEkomp>,
    pub policy: Policy,
    pub report: ReportSettings,
    /// `[directory]` (SPEC §4.16).
    pub directory: DirectorySettings,
    pub calendar: Calendar,
    pub labels: AlertLabels,
    pub templates_dir: Option<PathBuf>,
    pub daemon: DaemonSettings,
    /// The tables the rooms above read themselves (sinks, the PostgreSQL store), by type.
    pub sections: section::Sections,
    /// Problems that do not stop the daemon (printed by `check`).
    pub warnings: Vec<ConfigError>,
    org_index: Index,
    service_index: Index,
    /// Each organization's addresses as one shared list, made at the first ask
    /// (`addresses.rs`).
    org_addresses: std::sync::OnceLock<Vec<std::sync::Arc<[String]>>>,
}

/// Read a text input file (configuration, include, maintenance file, scenario) with a bound:
/// only regular files, at most `MAX_INPUT` bytes, so `--config /dev/zero` or a runaway file
/// gets an error instead of exhausting memory.
pub(crate) const MAX_INPUT: u64 = 64 << 20;

/// The text of an input file, bounded (see [`MAX_INPUT`]).
pub(crate) fn read_input(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let f = std::fs::File::open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    // Sized from the file: a year of scenario events is ~14 MB, read in one piece.
    let mut text = String::with_capacity(meta.len().min(MAX_INPUT) as usize + 1);
    f.take(MAX_INPUT + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_INPUT {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {} MiB", MAX_INPUT >> 20),
        ));
    }
    Ok(text)
}

impl Config {
    /// The organizations an incident or maintenance that names none affects (SPEC §4.4,
    /// §4.5): every active organization but the HFs that exchanges one of `services` (any
    /// service when none is named), less `exclude` (the source).
    pub(crate) fn orgs_exchanging(
        &self,
        services: &[String],
        exclude: Option<&str>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Vec<String> {
        self.orgs
            .iter()
            .filter(|o| o.kind != OrgKind::Hf && Some(o.id.as_str()) != exclude)
            .filter(|o| o.active_at(now))
            .filter(|o| services.is_empty() || o.services.iter().any(|s| services.contains(s)))
            .map(|o| o.id.clone())
            .collect()
    }

    /// An organization by id (including ones kept for open cases).
    pub(crate) fn org(&self, id: &str) -> Option<&Organization> {
        self.org_index.get(id).map(|&i| &self.orgs[i])
    }

    /// Keep organizations that are no longer configured but still named by open cases
    /// (`retired_at` set). Ones the configuration has (again) are left to the configuration.
    pub(crate) fn retain_orgs(&mut self, kept: &[Organization]) {
        for o in kept {
            if self.org_index.contains_key(&o.id) {
                continue;
            }
            self.org_index.insert(o.id.clone(), self.orgs.len());
            self.org_addresses = std::sync::OnceLock::new();
            self.orgs.push(o.clone());
        }
    }
    /// A service by id.
    pub(crate) fn service(&self, id: &str) -> Option<&Service> {
        self.service_index.get(id).map(|&i| &self.services[i])
    }
    /// The KS e-Komp representative of an area.
    pub(crate) fn ks_for_area(&self, area: &str) -> Option<&KsEkomp> {
        self.ks_ekomp.iter().find(|k| k.area == area)
    }
    /// Whether `id` names this daemon's own organization (`"self"` or the configured id).
    pub(crate) fn is_self(&self, id: &str) -> bool {
        id == "self" || id == self.self_.id
    }
    /// Areas that have a KS e-Komp representative.
    pub fn areas(&self) -> BTreeSet<&str> {
        self.ks_ekomp.iter().map(|k| k.area.as_str()).collect()
    }

    /// Load and validate the core (everything but the tables of the rooms above, which are
    /// passed by unread); on failure, every problem found. `simulate` and the reports need no
    /// more; the daemon and `check` use [`Config::load_with`].
    pub fn load(path: &Path) -> Result<Config, Vec<ConfigError>> {
        Self::load_sections(path, None)
    }

    /// Load and validate everything: the core, and each room's table through its
    /// [`section::Section`]; a key that no reader takes is unknown.
    pub(crate) fn load_with(
        path: &Path,
        sections: &[&section::Section],
    ) -> Result<Config, Vec<ConfigError>> {
        Self::load_sections(path, Some(sections))
    }

    fn load_sections(
        path: &Path,
        sections: Option<&[&section::Section]>,
    ) -> Result<Config, Vec<ConfigError>> {
        let text = read_input(path).map_err(|e| {
            vec![ConfigError {
                file: path.to_path_buf(),
                line: 1,
                col: 1,
                message: format!("cannot read configuration: {e}"),
            }]
        })?;
        Self::from_str_with(path, text, sections)
    }

    /// Validate a configuration given as text; `path` names it in errors and anchors includes.
    #[cfg(test)]
    pub(crate) fn from_str_at(path: &Path, text: String) -> Result<Config, Vec<ConfigError>> {
        Self::from_str_with(path, text, None)
    }

    /// As [`Config::from_str_at`], with the rooms' sections (`None`: the core only).
    pub(crate) fn from_str_with(
        path: &Path,
        text: String,
        sections: Option<&[&section::Section]>,
    ) -> Result<Config, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mut passed = Vec::new();
        let main = parse_source::<RawConfig>(path, text, &mut errors, Some(&mut passed));
        let (main_src, raw) = match main {
            Some(x) => x,
            None => return Err(errors),
        };
        let mut sources = vec![main_src];
        // Organizations with (source index, index within that source).
        let mut orgs: Vec<(usize, usize, RawOrg)> = Vec::new();
        let base = path.parent().unwrap_or(Path::new("."));
        for (i, pattern) in raw.include.iter().enumerate() {
            let full = base.join(pattern);
            let full_s = full.to_string_lossy().to_string();
            let matches: Vec<PathBuf> = match glob::glob(&full_s) {
                Ok(paths) => paths.filter_map(Result::ok).collect(),
                Err(e) => {
                    errors.push(sources[0].error_path(
                        &tpath!["include", i],
                        false,
                        format!("bad include pattern {pattern:?}: {e}"),
                    ));
                    continue;
                }
            };
            if matches.is_empty() {
                errors.push(sources[0].error_path(
                    &tpath!["include", i],
                    false,
                    format!("include {pattern:?} matches no file (looked for {full_s})"),
                ));
            }
            let mut matches = matches;
            matches.sort();
            for m in matches {
                let t = match read_input(&m) {
                    Ok(t) => t,
                    Err(e) => {
                        errors.push(sources[0].error_path(
                            &tpath!["include", i],
                            false,
                            format!("cannot read {}: {e}", m.display()),
                        ));
                        continue;
                    }
                };
                if let Some((src, inc)) = parse_source::<RawInclude>(&m, t, &mut errors, None) {
                    sources.push(src);
                    let si = sources.len() - 1;
                    orgs.extend(
                        inc.organization
                            .into_iter()
                            .enumerate()
                            .map(|(j, o)| (si, j, o)),
                    );
                }
            }
        }
        // No string of the configuration may carry a personal number (SPEC §4.12): `[self]
        // phone` is the first line of every e-mail, `[report] recipients` get mail.
        for src in &sources {
            if let Ok(doc) = toml::from_str::<toml::Value>(&src.text) {
                let mut found = Vec::new();
                personal_numbers(&doc, &mut Vec::new(), &mut found);
                for p in found {
                    errors.push(src.error_path(
                        &p,
                        false,
                        "this looks like a national identity number, D-number or H-number; \
                         personal data cannot be in the configuration",
                    ));
                }
            }
        }
        let mut raw = raw;
        let mut all_orgs: Vec<(usize, usize, RawOrg)> = std::mem::take(&mut raw.organization)
            .into_iter()
            .enumerate()
            .map(|(j, o)| (0, j, o))
            .collect();
        all_orgs.extend(orgs);
        let mut v = validate::Validator {
            sources: &sources,
            errors: &mut errors,
            warnings: Vec::new(),
            base,
            passed: vec![passed],
        };
        let mut cfg = v.validate(path, raw, all_orgs);
        if let Some(cfg) = cfg.as_mut() {
            for s in sections.unwrap_or(&[]) {
                if let Some(settings) = (s.load)(&mut v, cfg) {
                    cfg.sections.push(settings);
                }
            }
            cfg.warnings.append(&mut v.warnings);
        }
        let passed = std::mem::take(&mut v.passed);
        for p in section::unknown(&passed) {
            // Without the sections, a table the core does not know may be a room's.
            if sections.is_none() && p.len() == 1 {
                continue;
            }
            let name = path_text(&p);
            errors.push(sources[0].error_path(&p, true, format!("unknown key `{name}`")));
        }
        // In file order, whichever reader found them.
        errors.sort_by(|a, b| (&a.file, a.line, a.col).cmp(&(&b.file, b.line, b.col)));
        if errors.is_empty() {
            cfg.ok_or_else(Vec::new)
        } else {
            Err(errors)
        }
    }
}

/// The paths of every string (or key) in `v` that carries a personal number.
fn personal_numbers(v: &toml::Value, path: &mut Vec<locate::Seg>, out: &mut Vec<Vec<locate::Seg>>) {
    use crate::text::guard::contains_identity_number;
    match v {
        toml::Value::String(s) if contains_identity_number(s) => out.push(path.clone()),
        toml::Value::Integer(n) if contains_identity_number(&n.to_string()) => {
            out.push(path.clone())
        }
        toml::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                path.push(locate::Seg::Index(i));
                personal_numbers(x, path, out);
                path.pop();
            }
        }
        toml::Value::Table(t) => {
            for (k, x) in t {
                path.push(locate::Seg::Key(k.clone()));
                if contains_identity_number(k) {
                    out.push(path.clone());
                } else {
                    personal_numbers(x, path, out);
                }
                path.pop();
            }
        }
        _ => {}
    }
}

/// Parse one file: syntax errors, type errors and every unknown key.
fn parse_source<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: String,
    errors: &mut Vec<ConfigError>,
    passed: Option<&mut Vec<Vec<Seg>>>,
) -> Option<(Source, T)> {
    let src = Source::new(path, text.clone());
    match toml_edit::ImDocument::parse(text.as_str()) {
        Ok(_) => {}
        Err(e) => {
            let msg = e.message().trim().to_string();
            errors.push(src.error_at(
                e.span().map(|r| r.start),
                format!("TOML syntax error: {msg}"),
            ));
            return None;
        }
    }
    let mut unknown: Vec<Vec<Seg>> = Vec::new();
    let de = match toml::Deserializer::parse(&text) {
        Ok(de) => de,
        Err(e) => {
            errors.push(src.error_at(
                e.span().map(|r| r.start),
                format!("TOML syntax error: {}", e.message().trim()),
            ));
            return None;
        }
    };
    match serde_ignored::deserialize(de, |p| unknown.push(from_ignored(&p))) {
        Ok(v) => {
            // The main file's keys the core passed by may be a room's (`section`).
            match passed {
                Some(passed) => *passed = unknown,
                None => {
                    for p in unknown {
                        let name = path_text(&p);
                        errors.push(src.error_path(&p, true, format!("unknown key `{name}`")));
                    }
                }
            }
            Some((src, v))
        }
        Err(e) => {
            let e: toml::de::Error = e;
            errors.push(src.error_at(e.span().map(|r| r.start), e.message().to_string()));
            None
        }
    }
}

/// A plausible e-mail address: one `@`, a non-empty local part, a dotted domain, no spaces.
pub(crate) fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c == '<' || c == '>' || c == ',')
}

/// `Name <addr>` or `addr`; returns the bare address.
pub(crate) fn mailbox_address(s: &str) -> Option<&str> {
    let s = s.trim();
    if let (Some(a), Some(b)) = (s.rfind('<'), s.rfind('>')) {
        if a < b && b == s.len() - 1 {
            let addr = &s[a + 1..b];
            return valid_email(addr).then_some(addr);
        }
        return None;
    }
    valid_email(s).then_some(s)
}

#[cfg(test)]
mod tests;
