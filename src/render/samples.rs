//! Sample actions, one per template, built from the configuration's own organizations. Used by
//! `check` (render every template once, so unknown variables surface there), by `render`
//! previews, and by the snapshot tests.

use crate::config::{Config, OrgKind};
use crate::engine::model::*;
use chrono::{DateTime, Duration, Utc};

fn t(s: &str) -> Time {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn first_kommune(cfg: &Config) -> String {
    cfg.orgs
        .iter()
        .find(|o| o.kind == OrgKind::Kommune)
        .or_else(|| cfg.orgs.first())
        .map(|o| o.id.clone())
        .unwrap_or_else(|| "self".into())
}

/// A sample incident for template previews.
pub(crate) fn incident(cfg: &Config, at_self: bool, kind: Kind) -> IncidentView {
    let org = first_kommune(cfg);
    let svc: Vec<String> = cfg.services.iter().take(1).map(|s| s.id.clone()).collect();
    IncidentView {
        id: "INC-1".into(),
        kind,
        category: Category::B,
        impact: Impact::Medium,
        priority: 2,
        at_org: (!at_self).then(|| org.clone()),
        orgs: vec![org].into(),
        services: svc,
        started_at: t("2026-11-20T14:20:00+01:00"),
        detected_at: t("2026-11-20T14:30:00+01:00"),
        expected_end: Some(t("2026-11-20T18:00:00+01:00")),
        measures: Some("Kontaktet leverandør. Køen på meldingstjeneren tømmes manuelt.".into()),
        text: None,
        note: None,
        environment: Environment::Produksjon,
        resolved_at: Some(t("2026-11-20T17:45:00+01:00")),
    }
}

/// A sample maintenance for template previews.
pub(crate) fn maintenance(cfg: &Config, across_midnight: bool) -> MaintenanceView {
    let org = first_kommune(cfg);
    let (from, to) = if across_midnight {
        (
            t("2026-11-29T23:00:00+01:00"),
            t("2026-11-30T03:00:00+01:00"),
        )
    } else {
        (
            t("2026-11-29T08:00:00+01:00"),
            t("2026-11-29T12:00:00+01:00"),
        )
    };
    MaintenanceView {
        id: "VED-1".into(),
        source: None,
        orgs: vec![org],
        services: cfg.services.iter().take(2).map(|s| s.id.clone()).collect(),
        from,
        to,
        measures: Some(
            "Oppgradering av meldingstjeneren; meldinger køes og sendes når tjenesten er tilbake."
                .into(),
        ),
        phone: None,
        sequence: 0,
        cancelled: false,
        registered_at: Some(t("2026-11-20T10:00:00+01:00")),
        modified_at: Some(t("2026-11-20T10:00:00+01:00")),
    }
}

fn email(cfg: &Config, kind: EmailKind) -> Email {
    let org = first_kommune(cfg);
    let (incident, maintenance, previous) = match kind {
        EmailKind::Planned | EmailKind::PlannedReminder | EmailKind::PlannedCancel => {
            (None, Some(maintenance(cfg, true)), None)
        }
        EmailKind::PlannedChange => {
            let mut m = maintenance(cfg, true);
            m.to += Duration::hours(1);
            (None, Some(m), Some(maintenance(cfg, true)))
        }
        EmailKind::Followup | EmailKind::Escalation => {
            (Some(incident(cfg, false, Kind::Kvittering)), None, None)
        }
        EmailKind::DirectoryConfirm | EmailKind::DirectoryReminder | EmailKind::DirectoryVerify => {
            (None, None, None)
        }
        _ => (Some(incident(cfg, true, Kind::Feil)), None, None),
    };
    Email {
        message: kind,
        org: org.clone(),
        to: cfg
            .org(&org)
            .map(|o| vec![o.meldingsansvarlig.clone()])
            .unwrap_or_default()
            .into(),
        cc: vec![],
        thread: None,
        incident: incident.map(std::sync::Arc::new),
        maintenance: maintenance.map(std::sync::Arc::new),
        previous: previous.map(std::sync::Arc::new),
        inquiry_sent_at: Some(t("2026-11-23T09:30:00+01:00")),
        reply_due: Some(t("2026-11-24T15:00:00+01:00")),
        directory: match kind {
            EmailKind::DirectoryConfirm | EmailKind::DirectoryReminder => {
                Some(Box::new(directory(cfg, Some(2), None, None)))
            }
            EmailKind::DirectoryVerify => Some(Box::new(directory(
                cfg,
                None,
                Some((1, "postmottak@eksempel.kommune.example".into())),
                None,
            ))),
            _ => None,
        },
    }
}

/// A sample directory entry of the first municipality, for the directory's mails and notes.
fn directory(
    cfg: &Config,
    round: Option<u32>,
    proposal: Option<(u32, String)>,
    note: Option<(&str, Option<String>)>,
) -> DirectoryView {
    use crate::engine::directory::{Contacts, Note};
    let org = first_kommune(cfg);
    let contacts = cfg.org(&org).map(Contacts::of).unwrap_or_default();
    let mut after = contacts.clone();
    if note.as_ref().is_some_and(|(_, b)| b.is_none()) {
        after.phone = Some("+47 73 00 00 00".into());
    }
    DirectoryView {
        org,
        contacts: contacts.clone(),
        round,
        proposal,
        note: note.map(|(origin, bounced)| Note {
            n: 1,
            at: t("2026-11-20T10:12:00+01:00"),
            origin: origin.into(),
            by: contacts.meldingsansvarlig.clone(),
            before: contacts.clone(),
            after,
            bounced,
        }),
    }
}

fn ops(cfg: &Config, reason: OpsReason) -> Ops {
    let org = first_kommune(cfg);
    let (message, incident, maintenance, inquiry) = match reason {
        OpsReason::Unacknowledged => (
            OpsKind::Reminder,
            Some(incident(cfg, true, Kind::Feil)),
            None,
            None,
        ),
        OpsReason::InquiryDue | OpsReason::InquiryOverdue => (
            if reason == OpsReason::InquiryDue {
                OpsKind::Reminder
            } else {
                OpsKind::Overdue
            },
            None,
            None,
            Some(InquiryView {
                id: "INQ-1".into(),
                org,
                subject: Some("Mangler svar på PLO-meldinger".into()),
                received_at: t("2026-11-20T16:10:00+01:00"),
                due: t("2026-11-23T15:00:00+01:00"),
            }),
        ),
        OpsReason::DeliveryDelayed
        | OpsReason::Bounce
        | OpsReason::AlertRedacted
        | OpsReason::AlertUnusable
        | OpsReason::BreakGlass => (OpsKind::Warning, None, None, None),
        _ => (OpsKind::Warning, None, Some(maintenance(cfg, false)), None),
    };
    let delivery =
        matches!(reason, OpsReason::DeliveryDelayed | OpsReason::Bounce).then(|| DeliveryView {
            key: "INC-1/unplanned/malvik".into(),
            to: vec!["meldingsansvarlig@malvik.kommune.example".into()],
            failing_since: t("2026-11-20T16:20:00+01:00"),
            delivered_at: t("2026-11-20T16:41:00+01:00"),
            last_error: Some("Connection refused (os error 111)".into()),
            also: vec![],
        });
    let alert = matches!(reason, OpsReason::AlertRedacted | OpsReason::AlertUnusable).then(|| {
        AlertIssueView {
            name: "PLOQueueStuck".into(),
            org: Some("malvik".into()),
            fields: if reason == OpsReason::AlertRedacted {
                vec!["annotations.description".into()]
            } else {
                vec![]
            },
            reason: (reason == OpsReason::AlertUnusable)
                .then(|| "`labels.org`: unknown organization \"malvk\"".into()),
        }
    });
    Ops {
        message,
        reason,
        to: cfg.self_.ops.clone(),
        incident,
        maintenance,
        inquiry,
        delivery,
        alert,
        access: (reason == OpsReason::BreakGlass).then(|| AccessView {
            who: "Kari Nordmann".into(),
            origin: "konsollet".into(),
            at: t("2026-11-20T03:12:00+01:00"),
        }),
        directory: match reason {
            OpsReason::Unconfirmed => Some(directory(cfg, Some(2), None, None)),
            OpsReason::ContactChange => Some(directory(cfg, None, None, Some(("directory", None)))),
            OpsReason::ContactBounce => {
                let a = cfg
                    .org(&first_kommune(cfg))
                    .map(|o| o.meldingsansvarlig.clone());
                Some(directory(cfg, Some(3), None, Some(("bounce", a))))
            }
            _ => None,
        },
    }
}

const OPS_REASONS: [OpsReason; 15] = [
    OpsReason::Unacknowledged,
    OpsReason::LateNotice,
    OpsReason::OutsideWindow,
    OpsReason::Freeze,
    OpsReason::Overrun,
    OpsReason::InquiryDue,
    OpsReason::InquiryOverdue,
    OpsReason::DeliveryDelayed,
    OpsReason::Bounce,
    OpsReason::AlertRedacted,
    OpsReason::AlertUnusable,
    OpsReason::BreakGlass,
    OpsReason::Unconfirmed,
    OpsReason::ContactChange,
    OpsReason::ContactBounce,
];

fn action(body: ActionBody) -> Action {
    Action {
        at: t("2026-11-20T16:20:00+01:00"),
        key: "sample".into(),
        about: About::Incident("INC-1".into()),
        body,
    }
}

/// One sample action per template name (`email/planned`, `ops/freeze`, …).
pub fn all(cfg: &Config) -> Vec<(String, Action)> {
    let mut v = Vec::new();
    for k in EmailKind::ALL {
        v.push((
            format!("email/{}", k.as_str()),
            action(ActionBody::Email(Box::new(email(cfg, k)))),
        ));
    }
    for r in OPS_REASONS {
        v.push((
            format!("ops/{}", r.as_str()),
            action(ActionBody::Ops(Box::new(ops(cfg, r)))),
        ));
    }
    let post = |message, incident, maintenance| StatusPost {
        message,
        environment: Environment::Produksjon,
        status: "investigating".into(),
        periodic: false,
        next_update: Some(t("2026-11-20T16:50:00+01:00")),
        incident,
        maintenance,
    };
    v.push((
        "statuspage/incident".into(),
        action(ActionBody::Statuspage(Box::new(post(
            StatusKind::IncidentCreate,
            Some(incident(cfg, true, Kind::Feil)),
            None,
        )))),
    ));
    v.push((
        "statuspage/maintenance".into(),
        action(ActionBody::Statuspage(Box::new(post(
            StatusKind::MaintenanceCreate,
            None,
            Some(maintenance(cfg, true)),
        )))),
    ));
    v.push(("report/monthly".into(), report(cfg)));
    v
}

/// The March 2027 report of SPEC §5.8: 95 minutes of PLO downtime.
fn report(cfg: &Config) -> Action {
    let mut h = crate::report::History {
        first: Some(t("2027-01-10T09:00:00+01:00")),
        ..Default::default()
    };
    h.incidents.insert(
        "I1".into(),
        crate::report::IncidentRecord {
            id: "I1".into(),
            services: vec!["PLO".into()],
            detected_at: t("2027-03-02T10:00:00+01:00"),
            resolved_at: Some(t("2027-03-02T11:35:00+01:00")),
            counts: true,
            priority: 1,
            kind: "feil".into(),
        },
    );
    h.maintenances.insert(
        "VED-3".into(),
        crate::report::MaintenanceRecord {
            id: "VED-3".into(),
            services: vec!["PLO".into()],
            from: t("2027-03-14T23:00:00+01:00"),
            to: t("2027-03-15T02:00:00+01:00"),
            excuses: true,
            view: None,
        },
    );
    let month = crate::report::Month {
        year: 2027,
        month: 3,
    };
    Action {
        at: t("2027-04-01T08:00:00+02:00"),
        key: "report/2027-03/monthly".into(),
        about: About::Report("2027-03".into()),
        body: ActionBody::Report(Box::new(ReportMail {
            to: cfg.report.recipients.clone(),
            report: crate::report::monthly(cfg, &h, month, t("2027-04-01T08:00:00+02:00")),
        })),
    }
}
