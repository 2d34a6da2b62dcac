//! The shipped templates' subject lines written directly (issue #32): what `simulate` prints
//! for nearly every action, without a JSON context or Handlebars. Used only for a template
//! whose subject line is still the shipped one (an operator's own template goes through
//! Handlebars as before), and only when the action carries what the line reads; anything else
//! answers `None` and takes the template path, which gives the same text or the same error.
//! `direct_subject_is_the_template_s` (render/tests.rs) holds the two paths equal.

use super::context::{org_name, services_text};
use super::*;

/// The subject lines written here: these templates' first lines, as shipped.
pub(super) const DIRECT: [&str; 16] = [
    "email/planned",
    "email/planned.reminder",
    "email/planned.change",
    "email/planned.cancel",
    "email/unplanned",
    "email/update",
    "email/resolved",
    "email/followup",
    "email/escalation",
    "email/directory.confirm",
    "email/directory.reminder",
    "email/directory.verify",
    "statuspage/incident",
    "statuspage/maintenance",
    "ops/unacknowledged",
    "report/monthly",
];

/// `email/unplanned`'s (and `email/followup`'s) line: by the incident's kind.
fn unplanned(i: &IncidentView) -> &'static str {
    match i.kind {
        Kind::Kvittering => "Manglende kvittering",
        Kind::Info => "Viktig informasjon vedrørende meldingsutveksling",
        Kind::Feil => "Feil i meldingsutveksling",
    }
}

/// `email/planned`'s line, trimmed as a rendered subject is.
fn planned(cfg: &Config, m: &MaintenanceView) -> String {
    let source = match m.source.as_deref() {
        Some(s) => org_name(cfg, s),
        None => cfg.self_.name.clone(),
    };
    let line = format!(
        "Planlagt stopp/forsinkelse i meldingstrafikk {source} {}",
        window_text(cfg, m.from, m.to)
    );
    trimmed(line)
}

/// A rendered subject is trimmed (`subject_of`).
fn trimmed(line: String) -> String {
    match line.trim() {
        t if t.len() == line.len() => line,
        t => t.to_string(),
    }
}

/// Whether a subject template's text cannot reach the recipient (conservative: any way of
/// reaching the whole context counts as depending on it).
pub(super) fn subject_free_of_recipient(src: &str) -> bool {
    !["recipient", "this", "@root", "lookup", "{{>", "{{#>", "../"]
        .iter()
        .any(|w| src.contains(w))
}

impl Renderer {
    /// Whether `name`'s subject line is the shipped one and written here.
    fn direct(&self, name: &str) -> bool {
        self.direct_lines.contains(name)
    }

    /// The subject of `a` written directly, or `None` for the template path.
    pub(super) fn direct_subject(&self, cfg: &Config, a: &Action) -> Option<String> {
        match &a.body {
            ActionBody::Email(e) => self.direct_email(cfg, e),
            ActionBody::Statuspage(s) => self.direct_status(cfg, s),
            // `ops/unacknowledged`: the reminder for an incident nobody acknowledged, the one
            // ops note of every busy year (a context with the whole incident, for one line).
            ActionBody::Ops(o) if o.reason == OpsReason::Unacknowledged => {
                let i = o.incident.as_ref()?;
                self.direct("ops/unacknowledged").then(|| {
                    format!(
                        "Påminnelse: prioritet {}-hendelse {} er ikke kvittert ut",
                        i.priority, i.id
                    )
                })
            }
            // `report/monthly`: its context is the whole report, tables and all.
            ActionBody::Report(r) => self.direct("report/monthly").then(|| {
                let r = &r.report;
                let preliminary = if r.state == crate::report::ReportState::Preliminary {
                    " (foreløpig)"
                } else {
                    ""
                };
                trimmed(format!(
                    "Tilgjengelighet {} – {}{preliminary}",
                    crate::report::month_name(&r.month),
                    cfg.self_.name
                ))
            }),
            _ => None,
        }
    }

    fn direct_email(&self, cfg: &Config, e: &Email) -> Option<String> {
        let name = format!("email/{}", e.message.as_str());
        if !self.direct(&name) {
            return None;
        }
        let incident = || e.incident.as_deref();
        let base_unplanned = || {
            self.direct("email/unplanned")
                .then(|| incident().map(unplanned))
                .flatten()
        };
        let base_planned = || {
            self.direct("email/planned")
                .then(|| e.maintenance.as_ref().map(|m| planned(cfg, m)))
                .flatten()
        };
        let s = match e.message {
            EmailKind::Unplanned | EmailKind::Followup => unplanned(incident()?).to_string(),
            EmailKind::Update => format!("Oppdatering: {}", base_unplanned()?),
            EmailKind::Resolved => format!("Løst: {}", base_unplanned()?),
            EmailKind::Escalation => {
                let i = incident()?;
                let at = match i.at_org.as_deref() {
                    Some(o) => org_name(cfg, o),
                    None => cfg.self_.name.clone(),
                };
                trimmed(format!(
                    "Eskalering: manglende svar fra {at} – {}",
                    base_unplanned()?
                ))
            }
            EmailKind::Planned => planned(cfg, e.maintenance.as_ref()?),
            EmailKind::PlannedReminder => format!("Påminnelse: {}", base_planned()?),
            EmailKind::PlannedChange => format!("Endret: {}", base_planned()?),
            EmailKind::PlannedCancel => format!("Avlyst: {}", base_planned()?),
            EmailKind::DirectoryConfirm => {
                "Bekreft kontaktinformasjon for meldingsutveksling".into()
            }
            EmailKind::DirectoryReminder => {
                "Påminnelse: Bekreft kontaktinformasjon for meldingsutveksling".into()
            }
            EmailKind::DirectoryVerify => {
                "Bekreft ny adresse for varsler om meldingsutveksling".into()
            }
        };
        // SPEC §4.11, as `subject_of`: a test-environment incident's mail says so first.
        let test = incident().is_some_and(|i| i.environment == Environment::Test);
        Some(if test { format!("TEST: {s}") } else { s })
    }

    fn direct_status(&self, cfg: &Config, s: &StatusPost) -> Option<String> {
        if let Some(i) = &s.incident {
            if !(self.direct("statuspage/incident") && self.direct("email/unplanned")) {
                return None;
            }
            let services = services_text(cfg, &i.services);
            let base = unplanned(i);
            // `{{#if incident.services}}`: an empty text is false.
            return Some(if services.is_empty() {
                base.to_string()
            } else {
                trimmed(format!("{base}: {services}"))
            });
        }
        if !self.direct("statuspage/maintenance") {
            return None;
        }
        let m = s.maintenance.as_ref()?;
        let line = format!("Planlagt vedlikehold: {}", services_text(cfg, &m.services));
        Some(trimmed(line))
    }
}
