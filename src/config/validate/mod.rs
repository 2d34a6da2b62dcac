//! Validation: the raw file (`raw.rs`) becomes a [`Config`] whose every reference holds, one
//! function per table, every problem reported with its place (`FILE:LINE:COL: message`).
//! The tables of the daemon live in `daemon.rs`; each sink validates its own table in its
//! folder (`sinks/*/config.rs`) through the helpers here.

mod daemon;
pub(crate) use daemon::is_loopback;
mod orgs;
mod rules;

use super::locate::{path_text, ConfigError, Seg, Source};
use super::raw::*;
use super::secret::Secret;
use super::{valid_email, Config};
use crate::tpath;
use chrono::{NaiveDate, NaiveTime};
use std::path::Path;

/// Checks the raw file table by table and gathers every problem with its place.
pub(crate) struct Validator<'a> {
    pub(super) sources: &'a [Source],
    pub(super) errors: &'a mut Vec<ConfigError>,
    pub(super) warnings: Vec<ConfigError>,
    /// The main file's folder: relative paths in it are relative to it.
    pub(crate) base: &'a Path,
    /// For each reader of the main file (the core, then each section), the keys it passed
    /// by; a key every reader passed is unknown (`section::unknown`).
    pub(super) passed: Vec<Vec<Vec<Seg>>>,
}

impl Validator<'_> {
    pub(crate) fn err(&mut self, src: usize, path: Vec<Seg>, msg: impl Into<String>) {
        let e = self.sources[src].error_path(&path, false, msg);
        self.errors.push(e);
    }

    pub(crate) fn required(
        &mut self,
        src: usize,
        table: Vec<Seg>,
        key: &str,
        v: Option<String>,
    ) -> String {
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

    pub(crate) fn email(&mut self, src: usize, path: Vec<Seg>, v: &str) {
        if !v.is_empty() && !valid_email(v) {
            self.err(src, path, format!("malformed e-mail address {v:?}"));
        }
    }

    pub(crate) fn time(
        &mut self,
        path: Vec<Seg>,
        v: Option<String>,
        default: NaiveTime,
    ) -> NaiveTime {
        match v {
            None => default,
            Some(s) => NaiveTime::parse_from_str(&s, "%H:%M").unwrap_or_else(|_| {
                self.err(0, path, format!("invalid time {s:?}: write HH:MM"));
                default
            }),
        }
    }

    pub(crate) fn date(&mut self, path: Vec<Seg>, s: &str) -> Option<NaiveDate> {
        let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        if d.is_none() {
            self.err(0, path, format!("invalid date {s:?}: write YYYY-MM-DD"));
        }
        d
    }

    /// A warning: printed by `check`, does not stop the daemon.
    pub(crate) fn warn(&mut self, src: usize, path: Vec<Seg>, msg: impl Into<String>) {
        let w = self.sources[src].error_path(&path, false, msg);
        self.warnings.push(w);
    }

    /// The secret of `[table]` named by `*_file` (relative to the main file) or `*_env`;
    /// `needed` says what it is for when both are missing and `required` holds.
    pub(crate) fn secret(
        &mut self,
        table: &'static str,
        file: Option<String>,
        env: Option<String>,
        needed: Option<&str>,
    ) -> Option<Secret> {
        let s = Secret::from_keys(file.map(|f| self.base.join(f)), env);
        if let (None, Some(msg)) = (&s, needed) {
            self.err(0, tpath![table], msg.to_string());
        }
        s
    }

    /// An `http://` or `https://` URL; `example` goes into the error.
    pub(crate) fn url(&mut self, path: Vec<Seg>, url: &str, example: &str) -> bool {
        let ok = (url.starts_with("http://") || url.starts_with("https://"))
            && reqwest::Url::parse(url).is_ok();
        if !ok {
            self.err(
                0,
                path,
                format!("invalid URL {url:?}: write e.g. \"{example}\""),
            );
        }
        ok
    }

    /// An endpoint that will carry `what`: a URL as [`Validator::url`] wants it, and
    /// `http://` only to a loopback host (anything else would send `what` unencrypted).
    pub(crate) fn endpoint(&mut self, path: Vec<Seg>, url: &str, example: &str, what: &str) {
        if !self.url(path.clone(), url, example) || !url.starts_with("http://") {
            return;
        }
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(|h| h.trim_matches(['[', ']']).to_string()))
            .unwrap_or_default();
        if !is_loopback(&host) {
            self.err(
                0,
                path,
                format!("http:// sends {what} unencrypted; it is allowed only to a loopback host, not {host:?}: use https://"),
            );
        }
    }

    /// Validate everything; `orgs` are the organizations of the main file and the includes
    /// with (source, index) for error places (`raw.organization` has been moved into them).
    pub(super) fn validate(
        &mut self,
        path: &Path,
        raw: RawConfig,
        orgs: Vec<(usize, usize, RawOrg)>,
    ) -> Option<Config> {
        let RawConfig {
            self_,
            service,
            ks_ekomp,
            policy,
            calendar,
            alerts,
            templates,
            http,
            storage,
            maintenance,
            imap,
            report,
            console,
            audit,
            directory,
            ..
        } = raw;
        let self_org = self.self_org(self_);
        let (services, service_index) = self.services(service);
        let ks_ekomp = self.ks_ekomp(ks_ekomp);
        let (orgs, org_index) = self.organizations(orgs, &self_org.id, &service_index, &ks_ekomp);
        let policy = self.policy(policy);
        let report = self.report(report, &self_org.ops);
        let directory = self.directory(directory);
        let calendar = self.calendar(calendar);
        let labels = labels(alerts);
        let templates_dir = self.templates(templates);
        let mut daemon = self.daemon_settings(http, storage, maintenance, imap);
        daemon.console = self.console(console);
        daemon.audit_retention = self.audit_retention(audit);
        // The directory's links (SPEC §4.16) go to organizations outside this host, and
        // subscribers' links (SPEC §4.17, on unless `[subscribers] enabled = false`) to anyone.
        let local = ["://127.", "://localhost", "://[::1]"];
        if directory.rounds && local.iter().any(|l| daemon.public_url.contains(l)) {
            self.warn(
                0,
                tpath!["http", "public_url"],
                format!(
                    "the organizations' confirmation links and the subscribers' links will point to {} — set [http] public_url to where they reach this daemon",
                    daemon.public_url
                ),
            );
        }
        Some(Config {
            daemon,
            sections: Default::default(),
            path: path.to_path_buf(),
            self_: self_org,
            orgs,
            services,
            ks_ekomp,
            policy,
            report,
            directory,
            calendar,
            labels,
            templates_dir,
            warnings: std::mem::take(&mut self.warnings),
            org_index,
            service_index,
            org_addresses: Default::default(),
        })
    }
}

/// `[alerts.labels]`: the label names alerts carry.
fn labels(alerts: RawAlerts) -> super::AlertLabels {
    let mut labels = super::AlertLabels::default();
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
    labels
}
