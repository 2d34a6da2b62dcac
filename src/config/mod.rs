//! Configuration: load the TOML file (and its included organization files), validate all of
//! it, and report every problem as `FILE:LINE:COL: message` (SPEC §5.3, §5.1 `check`).
//!
//! Invariant: a `Config` value is always valid — every id it refers to exists — so the engine
//! can index into it without failing.

pub mod locate;
mod raw;

use crate::calendar::{Calendar, Freeze};
use crate::tpath;
use chrono::{Duration, NaiveDate, NaiveTime};
use locate::{from_ignored, path_text, ConfigError, Seg, Source};
use raw::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrgKind {
    Kommune,
    Hf,
    Other,
}

#[derive(Debug, Clone)]
pub struct SelfOrg {
    pub id: String,
    pub name: String,
    pub from: String,
    pub meldingsansvarlig: String,
    pub phone: String,
    pub ops: Vec<String>,
    pub region: Option<String>,
}

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
    pub fn active_at(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        self.retired_at.is_none_or(|r| now < r)
    }
}

#[derive(Debug, Clone)]
pub struct Service {
    pub id: String,
    pub name: String,
    pub component: Option<String>,
}

#[derive(Debug, Clone)]
pub struct KsEkomp {
    pub area: String,
    pub name: String,
    pub email: String,
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

/// How e-mail leaves the daemon.
#[derive(Debug, Clone, PartialEq)]
pub enum MailTransport {
    /// `.eml` files in `{state_dir}/mail` (the embedded default).
    Files,
    Smtp {
        host: String,
        port: u16,
        /// "starttls", "tls" or "none".
        security: String,
        username: Option<String>,
        password_file: Option<PathBuf>,
        password_env: Option<String>,
        timeout: Duration,
    },
}

/// The daemon's own settings (`[storage]`, `[http]`, `[smtp]`).
#[derive(Debug, Clone)]
pub struct DaemonSettings {
    pub state_dir: PathBuf,
    pub listen: std::net::SocketAddr,
    pub alert_token_file: Option<PathBuf>,
    pub operator_token_file: Option<PathBuf>,
    pub max_body: usize,
    /// Open HTTP connections at most (SPEC §6 "Bounded under abuse"); keep it below the
    /// file-descriptor limit (the unit's `LimitNOFILE=4096`).
    pub max_connections: usize,
    pub mail: MailTransport,
    pub maintenance_dir: PathBuf,
    pub maintenance_horizon: Duration,
    pub delivery_warn_after: Duration,
    pub statuspage: Option<StatuspageSettings>,
    /// Alertmanager base URL and silence duration, when silences are enabled.
    pub alertmanager: Option<(String, Duration)>,
    pub imap: Option<ImapSettings>,
}

/// The watched mailbox (`[imap]`).
#[derive(Debug, Clone)]
pub struct ImapSettings {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub username: String,
    pub password_file: Option<PathBuf>,
    pub password_env: Option<String>,
    pub inbox: String,
    pub sent: String,
    pub poll: Duration,
}

/// Atlassian Statuspage (`[statuspage]`).
#[derive(Debug, Clone)]
pub struct StatuspageSettings {
    pub base_url: String,
    pub page_id: Option<String>,
    pub test_page_id: Option<String>,
    pub api_key_file: Option<PathBuf>,
    pub api_key_env: Option<String>,
    pub min_interval: Duration,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub self_: SelfOrg,
    pub orgs: Vec<Organization>,
    pub services: Vec<Service>,
    pub ks_ekomp: Vec<KsEkomp>,
    pub policy: Policy,
    pub calendar: Calendar,
    pub labels: AlertLabels,
    pub templates_dir: Option<PathBuf>,
    pub daemon: DaemonSettings,
    /// Problems that do not stop the daemon (printed by `check`).
    pub warnings: Vec<ConfigError>,
    org_index: HashMap<String, usize>,
    service_index: HashMap<String, usize>,
}

/// Read a text input file (configuration, include, maintenance file, scenario) with a bound:
/// only regular files, at most `MAX_INPUT` bytes, so `--config /dev/zero` or a runaway file
/// gets an error instead of exhausting memory.
pub const MAX_INPUT: u64 = 64 << 20;

pub fn read_input(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let f = std::fs::File::open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut text = String::new();
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
    pub fn org(&self, id: &str) -> Option<&Organization> {
        self.org_index.get(id).map(|&i| &self.orgs[i])
    }

    /// Keep organizations that are no longer configured but still named by open cases
    /// (`retired_at` set). Ones the configuration has (again) are left to the configuration.
    pub fn retain_orgs(&mut self, kept: &[Organization]) {
        for o in kept {
            if self.org_index.contains_key(&o.id) {
                continue;
            }
            self.org_index.insert(o.id.clone(), self.orgs.len());
            self.orgs.push(o.clone());
        }
    }
    pub fn service(&self, id: &str) -> Option<&Service> {
        self.service_index.get(id).map(|&i| &self.services[i])
    }
    pub fn ks_for_area(&self, area: &str) -> Option<&KsEkomp> {
        self.ks_ekomp.iter().find(|k| k.area == area)
    }
    /// Whether `id` names this daemon's own organization (`"self"` or the configured id).
    pub fn is_self(&self, id: &str) -> bool {
        id == "self" || id == self.self_.id
    }
    /// Areas that have a KS e-Komp representative.
    pub fn areas(&self) -> BTreeSet<&str> {
        self.ks_ekomp.iter().map(|k| k.area.as_str()).collect()
    }

    /// Load and validate; on failure, every problem found.
    pub fn load(path: &Path) -> Result<Config, Vec<ConfigError>> {
        let text = read_input(path).map_err(|e| {
            vec![ConfigError {
                file: path.to_path_buf(),
                line: 1,
                col: 1,
                message: format!("cannot read configuration: {e}"),
            }]
        })?;
        Self::from_str_at(path, text)
    }

    /// Validate a configuration given as text; `path` names it in errors and anchors includes.
    pub fn from_str_at(path: &Path, text: String) -> Result<Config, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let main = parse_source::<RawConfig>(path, text, &mut errors);
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
                if let Some((src, inc)) = parse_source::<RawInclude>(&m, t, &mut errors) {
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
        let mut raw = raw;
        let mut all_orgs: Vec<(usize, usize, RawOrg)> = std::mem::take(&mut raw.organization)
            .into_iter()
            .enumerate()
            .map(|(j, o)| (0, j, o))
            .collect();
        all_orgs.extend(orgs);
        let v = Validator {
            sources: &sources,
            errors: &mut errors,
            warnings: Vec::new(),
        };
        let cfg = v.validate(path, raw, all_orgs);
        if errors.is_empty() {
            cfg.ok_or_else(Vec::new)
        } else {
            Err(errors)
        }
    }
}

/// Parse one file: syntax errors, type errors and every unknown key.
fn parse_source<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: String,
    errors: &mut Vec<ConfigError>,
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
            for p in unknown {
                let name = path_text(&p);
                errors.push(src.error_path(&p, true, format!("unknown key `{name}`")));
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
pub fn valid_email(s: &str) -> bool {
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
pub fn mailbox_address(s: &str) -> Option<&str> {
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

struct Validator<'a> {
    sources: &'a [Source],
    errors: &'a mut Vec<ConfigError>,
    warnings: Vec<ConfigError>,
}

impl Validator<'_> {
    fn daemon_settings(
        &mut self,
        path: &Path,
        smtp: RawSmtp,
        http: RawHttp,
        storage: RawStorage,
    ) -> DaemonSettings {
        let base = path.parent().unwrap_or(Path::new("."));
        // Explicit paths are relative to this file; the default state directory is systemd's
        // StateDirectory when set, else ./var.
        let state_dir = match storage.dir {
            Some(d) => base.join(d),
            None => std::env::var_os("STATE_DIRECTORY")
                .map(|s| {
                    PathBuf::from(
                        s.to_string_lossy()
                            .split(':')
                            .next()
                            .unwrap_or("var")
                            .to_string(),
                    )
                })
                .unwrap_or_else(|| PathBuf::from("var")),
        };
        let listen_s = http.listen.unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen = listen_s.parse().unwrap_or_else(|_| {
            self.err(
                0,
                tpath!["http", "listen"],
                format!(
                    "invalid listen address {listen_s:?}: write host:port, e.g. \"127.0.0.1:8080\""
                ),
            );
            std::net::SocketAddr::from(([127, 0, 0, 1], 8080))
        });
        let max_connections = http.max_connections.unwrap_or(512);
        if !(8..=65536).contains(&max_connections) {
            self.err(
                0,
                tpath!["http", "max_connections"],
                "max_connections must be between 8 and 65536 (and below the open-file limit)",
            );
        }
        let max_body = http.max_body.unwrap_or(1 << 20);
        if max_body < 1024 {
            self.err(
                0,
                tpath!["http", "max_body"],
                "max_body below 1024 bytes cannot hold an Alertmanager webhook",
            );
        }
        let warn_after = smtp
            .warn_after
            .map(|d| d.0)
            .unwrap_or(Duration::minutes(10));
        let mail = match smtp.transport.as_deref() {
            None | Some("file") => MailTransport::Files,
            Some("smtp") => {
                let host = match smtp.host {
                    Some(h) => h,
                    None => {
                        self.err(
                            0,
                            tpath!["smtp"],
                            "missing required key `host` for transport = \"smtp\"",
                        );
                        String::new()
                    }
                };
                let security = smtp.security.unwrap_or_else(|| "starttls".into());
                let loopback = host == "localhost"
                    || host
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback());
                match security.as_str() {
                    "starttls" | "tls" => {}
                    "none" if loopback || host.is_empty() => {}
                    "none" => self.err(0, tpath!["smtp", "security"], format!("security = \"none\" sends mail unencrypted; it is allowed only to a loopback host, not {host:?}")),
                    other => self.err(0, tpath!["smtp", "security"], format!("unknown security {other:?}: expected \"starttls\", \"tls\" or \"none\"")),
                }
                let default_port = match security.as_str() {
                    "tls" => 465,
                    "none" => 25,
                    _ => 587,
                };
                if smtp.username.is_some()
                    && smtp.password_file.is_none()
                    && smtp.password_env.is_none()
                {
                    self.err(0, tpath!["smtp", "username"], "a username needs `password_file` (e.g. a systemd credential) or `password_env`; passwords never live in this file");
                }
                MailTransport::Smtp {
                    host,
                    port: smtp.port.unwrap_or(default_port),
                    security,
                    username: smtp.username,
                    password_file: smtp.password_file.map(|p| base.join(p)),
                    password_env: smtp.password_env,
                    timeout: smtp.timeout.map(|d| d.0).unwrap_or(Duration::seconds(30)),
                }
            }
            Some(other) => {
                self.err(
                    0,
                    tpath!["smtp", "transport"],
                    format!("unknown transport {other:?}: expected \"file\" or \"smtp\""),
                );
                MailTransport::Files
            }
        };
        DaemonSettings {
            state_dir,
            listen,
            alert_token_file: http.alert_token_file.map(|p| base.join(p)),
            operator_token_file: http.operator_token_file.map(|p| base.join(p)),
            max_body,
            max_connections,
            mail,
            maintenance_dir: PathBuf::from("maintenance.d"),
            maintenance_horizon: Duration::days(14),
            delivery_warn_after: warn_after,
            statuspage: None,
            alertmanager: None,
            imap: None,
        }
    }

    fn err(&mut self, src: usize, path: Vec<Seg>, msg: impl Into<String>) {
        let e = self.sources[src].error_path(&path, false, msg);
        self.errors.push(e);
    }

    fn required(&mut self, src: usize, table: Vec<Seg>, key: &str, v: Option<String>) -> String {
        match v {
            Some(s) if !s.trim().is_empty() => s,
            Some(_) => {
                let mut p = table;
                p.push(key.into());
                self.err(src, p, format!("`{key}` must not be empty"));
                String::new()
            }
            None => {
                let name = path_text(&table);
                self.err(
                    src,
                    table,
                    format!("missing required key `{key}` in [{name}]"),
                );
                String::new()
            }
        }
    }

    fn email(&mut self, src: usize, path: Vec<Seg>, v: &str) {
        if !v.is_empty() && !valid_email(v) {
            self.err(src, path, format!("malformed e-mail address {v:?}"));
        }
    }

    fn time(&mut self, path: Vec<Seg>, v: Option<String>, default: NaiveTime) -> NaiveTime {
        match v {
            None => default,
            Some(s) => NaiveTime::parse_from_str(&s, "%H:%M").unwrap_or_else(|_| {
                self.err(0, path, format!("invalid time {s:?}: write HH:MM"));
                default
            }),
        }
    }

    fn date(&mut self, path: Vec<Seg>, s: &str) -> Option<NaiveDate> {
        let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        if d.is_none() {
            self.err(0, path, format!("invalid date {s:?}: write YYYY-MM-DD"));
        }
        d
    }

    /// Validate everything; `orgs` are the organizations of the main file and the includes
    /// with (source, index) for error places (`raw.organization` has been moved into them).
    fn validate(
        mut self,
        path: &Path,
        raw: RawConfig,
        orgs: Vec<(usize, usize, RawOrg)>,
    ) -> Option<Config> {
        let RawConfig {
            self_,
            service: services,
            ks_ekomp: ks,
            policy,
            calendar,
            alerts,
            templates,
            smtp,
            http,
            storage,
            maintenance,
            statuspage,
            alertmanager,
            imap,
            ..
        } = raw;
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

        // [[service]]
        let mut svc_out = Vec::new();
        let mut svc_index = HashMap::new();
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
        let areas: BTreeSet<String> = ks_out.iter().map(|k| k.area.clone()).collect();

        // [[organization]] (main file and includes)
        let mut org_out: Vec<Organization> = Vec::new();
        let mut org_src: Vec<(usize, usize)> = Vec::new();
        let mut org_index: HashMap<String, usize> = HashMap::new();
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
            if id == "self" || id == self_org.id {
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
            if id.len() > 40 || !crate::engine::model::valid_id(&id) {
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

        // [policy]
        let mut pol = Policy::default();
        macro_rules! dur {
            ($f:ident) => {
                if let Some(Dur(d)) = policy.$f {
                    pol.$f = d;
                }
            };
        }
        dur!(publish_delay);
        dur!(statuspage_update_interval);
        dur!(unplanned_notice_after);
        dur!(planned_notice_threshold);
        dur!(notice_lead);
        dur!(followup_after);
        dur!(maintenance_grace);
        dur!(ack_priority1);
        dur!(ack_priority2);
        if let Some(b) = policy.test_environment_mail {
            pol.test_environment_mail = b;
        }
        if pol.publish_delay > Duration::minutes(15) {
            self.err(0, tpath!["policy", "publish_delay"], "publish_delay may not exceed 15 minutes (driftsmelding within 15 minutes, seeds/002 §5.3)");
        }
        if pol.statuspage_update_interval > Duration::minutes(30)
            || pol.statuspage_update_interval < Duration::minutes(1)
        {
            self.err(
                0,
                tpath!["policy", "statuspage_update_interval"],
                "statuspage_update_interval must be between 1 and 30 minutes (seeds/002 §5.3)",
            );
        }
        if let Some(ps) = policy.publish_priorities {
            pol.publish_priorities.clear();
            for (i, p) in ps.into_iter().enumerate() {
                if (1..=4).contains(&p) {
                    pol.publish_priorities.insert(p as u8);
                } else {
                    self.err(
                        0,
                        tpath!["policy", "publish_priorities", i],
                        format!("priority {p} does not exist: priorities are 1 to 4"),
                    );
                }
            }
        }

        // [calendar]
        let mut cal = Calendar::default();
        if let Some(tz) = calendar.timezone {
            match tz.parse::<chrono_tz::Tz>() {
                Ok(t) => cal.tz = t,
                Err(_) => self.err(
                    0,
                    tpath!["calendar", "timezone"],
                    format!("unknown time zone {tz:?} (e.g. \"Europe/Oslo\")"),
                ),
            }
        }
        cal.business_start = self.time(
            tpath!["calendar", "business_start"],
            calendar.business_start,
            cal.business_start,
        );
        cal.business_end = self.time(
            tpath!["calendar", "business_end"],
            calendar.business_end,
            cal.business_end,
        );
        cal.half_day_end = self.time(
            tpath!["calendar", "half_day_end"],
            calendar.half_day_end,
            cal.half_day_end,
        );
        if cal.business_end <= cal.business_start {
            self.err(
                0,
                tpath!["calendar", "business_end"],
                "business_end must be after business_start",
            );
        }
        if cal.half_day_end <= cal.business_start || cal.half_day_end > cal.business_end {
            self.err(
                0,
                tpath!["calendar", "half_day_end"],
                "half_day_end must lie between business_start and business_end",
            );
        }
        let mut closed = BTreeMap::new();
        for (i, s) in calendar.closed_days.iter().enumerate() {
            if let Some(d) = self.date(tpath!["calendar", "closed_days", i], s) {
                closed.insert(d, "stengt (konfigurert)".to_string());
            }
        }
        cal.extra_closed = closed;
        let mut halves = BTreeMap::new();
        for (i, s) in calendar.half_days.iter().enumerate() {
            if let Some(d) = self.date(tpath!["calendar", "half_days", i], s) {
                halves.insert(d, "halv dag (konfigurert)".to_string());
            }
        }
        cal.extra_half_days = halves;
        for (i, f) in calendar.freeze.into_iter().enumerate() {
            let fp = || tpath!["calendar", "freeze", i];
            let from = self.required(0, fp(), "from", f.from);
            let to = self.required(0, fp(), "to", f.to);
            let a = if from.is_empty() {
                None
            } else {
                self.date(tpath!["calendar", "freeze", i, "from"], &from)
            };
            let b = if to.is_empty() {
                None
            } else {
                self.date(tpath!["calendar", "freeze", i, "to"], &to)
            };
            if let (Some(a), Some(b)) = (a, b) {
                if b < a {
                    self.err(
                        0,
                        tpath!["calendar", "freeze", i, "to"],
                        "freeze ends before it starts",
                    );
                }
                cal.freezes.push(Freeze {
                    name: f.name.unwrap_or_else(|| "frysperiode".into()),
                    from: a,
                    to: b,
                });
            }
        }

        // [alerts.labels]
        let mut labels = AlertLabels::default();
        let l = alerts.labels;
        for (dst, v) in [
            (&mut labels.org, l.org),
            (&mut labels.service, l.service),
            (&mut labels.kind, l.kind),
            (&mut labels.severity, l.severity),
            (&mut labels.impact, l.impact),
            (&mut labels.environment, l.environment),
        ] {
            if let Some(v) = v {
                *dst = v;
            }
        }

        let templates_dir = templates
            .dir
            .map(|d| path.parent().unwrap_or(Path::new(".")).join(d));
        if let Some(d) = &templates_dir {
            if !d.is_dir() {
                self.err(
                    0,
                    tpath!["templates", "dir"],
                    format!("template folder {} does not exist", d.display()),
                );
            }
        }

        let mut daemon = self.daemon_settings(path, smtp, http, storage);
        let base = path.parent().unwrap_or(Path::new("."));
        daemon.maintenance_dir =
            base.join(maintenance.dir.unwrap_or_else(|| "maintenance.d".into()));
        daemon.maintenance_horizon = maintenance
            .horizon
            .map(|d| d.0)
            .unwrap_or(Duration::days(14));
        if let Some(host) = imap.host {
            let security = imap.security.unwrap_or_else(|| "tls".into());
            let loopback = host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            match security.as_str() {
                "tls" => {}
                "none" if loopback => {}
                "none" => self.err(
                    0,
                    tpath!["imap", "security"],
                    format!("security = \"none\" is allowed only to a loopback host, not {host:?}"),
                ),
                other => self.err(
                    0,
                    tpath!["imap", "security"],
                    format!("unknown security {other:?}: expected \"tls\" or \"none\""),
                ),
            }
            let username = imap.username.unwrap_or_default();
            if username.is_empty() {
                self.err(
                    0,
                    tpath!["imap"],
                    "missing required key `username` in [imap]",
                );
            }
            if imap.password_file.is_none() && imap.password_env.is_none() {
                self.err(0, tpath!["imap"], "[imap] needs `password_file` (e.g. a systemd credential) or `password_env`; passwords never live in this file");
            }
            daemon.imap = Some(ImapSettings {
                port: imap
                    .port
                    .unwrap_or(if security == "tls" { 993 } else { 143 }),
                tls: security == "tls",
                host,
                username,
                password_file: imap.password_file.map(|p| base.join(p)),
                password_env: imap.password_env,
                inbox: imap.inbox.unwrap_or_else(|| "INBOX".into()),
                sent: imap.sent.unwrap_or_else(|| "Sent".into()),
                poll: imap.poll.map(|d| d.0).unwrap_or(Duration::seconds(30)),
            });
        }
        if let Some(url) = alertmanager.url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                self.err(
                    0,
                    tpath!["alertmanager", "url"],
                    format!("invalid URL {url:?}: write e.g. \"http://127.0.0.1:9093\""),
                );
            }
            let d = alertmanager
                .silence_duration
                .map(|d| d.0)
                .unwrap_or(Duration::hours(24));
            if d < Duration::minutes(10) {
                self.err(
                    0,
                    tpath!["alertmanager", "silence_duration"],
                    "silence_duration must be at least 10 minutes",
                );
            }
            daemon.alertmanager = Some((url, d));
        }
        if statuspage.page_id.is_some() || statuspage.test_page_id.is_some() {
            if statuspage.api_key_file.is_none() && statuspage.api_key_env.is_none() {
                self.err(0, tpath!["statuspage"], "a Statuspage page needs `api_key_file` (e.g. a systemd credential) or `api_key_env`; keys never live in this file");
            }
            let missing: Vec<&str> = svc_out
                .iter()
                .filter(|s| s.component.is_none())
                .map(|s| s.id.as_str())
                .collect();
            if !missing.is_empty() {
                let w = self.sources[0].error_path(
                    &tpath!["statuspage"],
                    false,
                    format!(
                        "warning: services without `component` do not show on Statuspage: {}",
                        missing.join(", ")
                    ),
                );
                self.warnings.push(w);
            }
            daemon.statuspage = Some(StatuspageSettings {
                base_url: statuspage
                    .base_url
                    .unwrap_or_else(|| "https://api.statuspage.io/v1".into()),
                page_id: statuspage.page_id,
                test_page_id: statuspage.test_page_id,
                api_key_file: statuspage.api_key_file.map(|p| base.join(p)),
                api_key_env: statuspage.api_key_env,
                min_interval: statuspage
                    .min_interval
                    .map(|d| d.0)
                    .unwrap_or(Duration::seconds(1)),
            });
        }

        Some(Config {
            daemon,
            path: path.to_path_buf(),
            self_: self_org,
            orgs: org_out,
            services: svc_out,
            ks_ekomp: ks_out,
            policy: pol,
            calendar: cal,
            labels,
            templates_dir,
            warnings: std::mem::take(&mut self.warnings),
            org_index,
            service_index: svc_index,
        })
    }
}

#[cfg(test)]
mod tests;
