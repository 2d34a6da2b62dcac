//! The console's words (SPEC §5.6, Norwegian bokmål): instants as operators say them, each
//! pending deadline as a sentence ("Oppfølging sendes til Malvik kommune mandag 23.11 kl.
//! 09:30"), delivery states and timeline entries.

use crate::config::Config;
use crate::engine::deadline::AT_ONCE;
use crate::engine::incident::Deadline;
use crate::engine::model::{IncidentView, Time};
use crate::store::Delivery;
use chrono::{Datelike, Timelike};

const WEEKDAYS: [&str; 7] = [
    "mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag",
];

/// "mandag 23.11 kl. 09:30" in the calendar's zone; "straks" for what is due at once.
pub(crate) fn when(cfg: &Config, t: Time) -> String {
    if t == AT_ONCE {
        return "straks".into();
    }
    let l = t.with_timezone(&cfg.calendar.tz);
    format!(
        "{} {:02}.{:02} kl. {:02}:{:02}",
        WEEKDAYS[l.weekday().num_days_from_monday() as usize],
        l.day(),
        l.month(),
        l.hour(),
        l.minute()
    )
}

/// "23.11.2026 kl. 09:30": a full date, for facts and timelines (as the e-mails write it).
pub(crate) use crate::render::oslo_fmt as date_time;

/// An organization's name (its id when unknown); `self` is our own name.
pub(crate) fn org_name(cfg: &Config, id: &str) -> String {
    if id == "self" || id == cfg.self_.id {
        return cfg.self_.name.clone();
    }
    cfg.org(id)
        .map_or_else(|| id.to_string(), |o| o.name.clone())
}

/// A recipient organization's name; `region` is the region's shared address.
pub(crate) fn recipient(cfg: &Config, org: &str) -> String {
    if org == "region" {
        "regionens felles adresse".into()
    } else {
        org_name(cfg, org)
    }
}

/// Service names, or "alle tjenester" when none is named.
pub(crate) fn services(cfg: &Config, ids: &[String]) -> String {
    if ids.is_empty() {
        return "alle tjenester".into();
    }
    ids.iter()
        .map(|s| cfg.service(s).map_or(s.as_str(), |x| x.name.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Names in a sentence: "A", "A og B", "A, B og C", "A, B og 63 andre".
pub(crate) fn names(cfg: &Config, ids: &[String]) -> String {
    let n: Vec<String> = ids.iter().map(|i| org_name(cfg, i)).collect();
    match n.len() {
        0 => "ingen".into(),
        1 => n[0].clone(),
        2 | 3 => format!("{} og {}", n[..n.len() - 1].join(", "), n[n.len() - 1]),
        k => format!("{}, {} og {} andre", n[0], n[1], k - 2),
    }
}

/// Where the fault is: "hos oss (Hemit HF)" or "hos Malvik kommune".
pub(crate) fn fault_at(cfg: &Config, at_org: Option<&str>) -> String {
    match at_org {
        None => format!("hos oss ({})", cfg.self_.name),
        Some(o) => format!("hos {}", org_name(cfg, o)),
    }
}

/// The KS e-Komp office of the area of `org`.
fn ks_of(cfg: &Config, org: Option<&str>) -> String {
    org.and_then(|o| cfg.org(o))
        .and_then(|o| o.area.as_deref())
        .and_then(|a| cfg.ks_for_area(a))
        .map_or_else(|| "KS e-Komp".into(), |k| k.name.clone())
}

/// "1 organisasjon", "65 organisasjoner": a count with the noun in the right number.
pub(crate) fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// A pending deadline of an incident as a sentence.
pub(crate) fn deadline(cfg: &Config, i: &IncidentView, what: Deadline, at: Time) -> String {
    let w = when(cfg, at);
    let at_org = i.at_org.as_deref();
    let counterpart = at_org.map_or_else(|| "motparten".into(), |o| org_name(cfg, o));
    match what {
        Deadline::Publish => format!("Driftsmelding publiseres på statussiden {w}"),
        Deadline::StatusChange => format!("Statussiden oppdateres med endringene {w}"),
        Deadline::StatusPeriodic => format!("Statussiden oppdateres (halvtimesoppdatering) {w}"),
        Deadline::StatusResolve => format!("Statussiden melder feilen løst {w}"),
        Deadline::Notice => format!(
            "Varsel om driftsstans sendes til {} {w} hvis feilen ikke er rettet",
            names(cfg, &i.orgs)
        ),
        Deadline::NoticeUpdate => format!("Oppdatering sendes til de varslede {w}"),
        Deadline::NoticeResolved => format!("Løst-melding sendes til de varslede {w}"),
        Deadline::Followup => format!("Oppfølging sendes til {counterpart} {w}"),
        Deadline::Escalation => {
            format!("Eskaleres til {} {w} uten svar", ks_of(cfg, at_org))
        }
        Deadline::FollowupResolved => format!("Løst-melding sendes til {counterpart} {w}"),
        Deadline::SilenceExpire => format!("Dempingen i Alertmanager oppheves {w}"),
        Deadline::AckReminder => {
            format!("Driftssenteret purres {w} hvis ingen har kvittert ut saken")
        }
        Deadline::Page => format!("Vakttelefonen får SMS om saken {w}"),
    }
}

/// A pending deadline of a maintenance (`what` as the API names it) as a sentence.
pub(crate) fn maintenance_deadline(cfg: &Config, orgs: usize, what: &str, at: Time) -> String {
    let w = when(cfg, at);
    match what {
        "reminder" => format!(
            "Påminnelse sendes til {} {w}",
            count(orgs, "organisasjon", "organisasjoner")
        ),
        "overrun" => {
            format!("Alarmer som fortsatt varsler etter vinduet, blir uplanlagte hendelser {w}")
        }
        other => format!("{other} {w}"),
    }
}

/// A pending deadline of an inbound inquiry as a sentence.
pub(crate) fn inquiry_deadline(cfg: &Config, what: &str, at: Time) -> String {
    let w = when(cfg, at);
    match what {
        "reminder" => format!("Driftssenteret minnes på henvendelsen {w}"),
        "overdue" => {
            format!("Henvendelsen meldes forfalt til driftssenteret {w} hvis den ikke er besvart")
        }
        other => format!("{other} {w}"),
    }
}

/// A delivery state as the console shows it.
pub(crate) fn state(s: Delivery) -> &'static str {
    match s {
        Delivery::Sent => "sendt",
        Delivery::Failing => "feiler",
        Delivery::Bounced => "returnert",
        Delivery::Due => "venter",
    }
}

/// What a message is, for people.
pub(crate) fn message(kind: &str, message: &str) -> String {
    let m = match (kind, message) {
        ("email", "unplanned") => "E-post: varsel om uplanlagt driftsstans",
        ("email", "update") => "E-post: oppdatering",
        ("email", "resolved") => "E-post: løst",
        ("email", "followup") => "E-post: oppfølging (manglende kvittering)",
        ("email", "escalation") => "E-post: eskalering til KS e-Komp",
        ("email", "planned") => "E-post: varsel om planlagt driftsstans",
        ("email", "planned.reminder") => "E-post: påminnelse om planlagt driftsstans",
        ("email", "planned.change") => "E-post: endret planlagt driftsstans",
        ("email", "planned.cancel") => "E-post: avlyst planlagt driftsstans",
        ("statuspage", m) if m.ends_with(".create") => "Statussiden: ny driftsmelding",
        ("statuspage", m) if m.ends_with(".resolve") || m.ends_with(".cancel") => {
            "Statussiden: avsluttet"
        }
        ("statuspage", _) => "Statussiden: oppdatering",
        ("silence", "create") => "Alertmanager: demping opprettes",
        ("silence", _) => "Alertmanager: demping oppheves",
        ("ops", "warning") => "Advarsel til driftssenteret",
        ("ops", "reminder") => "Påminnelse til driftssenteret",
        ("ops", "overdue") => "Forfalt: melding til driftssenteret",
        ("ops", _) => "Melding til driftssenteret",
        ("report", _) => "Månedsrapport",
        _ => return format!("{kind}: {message}"),
    };
    m.into()
}

/// An event in a timeline: what was done, from where, by whom.
pub(crate) fn event(ty: &str, origin: Option<&str>, by: Option<&str>) -> String {
    let what = match ty {
        "incident.open" => "Hendelse registrert",
        "incident.update" => "Hendelse oppdatert",
        "incident.resolve" => "Hendelse løst",
        "incident.ack" => "Hendelse kvittert ut",
        "reply" => "Svar registrert",
        "alert" => "Alarm mottatt",
        "maintenance.add" => "Vedlikehold registrert",
        "maintenance.change" => "Vedlikehold endret",
        "maintenance.cancel" => "Vedlikehold avlyst",
        "inquiry.received" => "Henvendelse mottatt",
        "inquiry.answered" => "Henvendelse besvart",
        other => other,
    };
    let from = match origin {
        Some("api") => " via API",
        Some("alert") => " fra overvåkingen",
        Some("mailbox") => " fra e-postkassen",
        Some("file") => " fra vedlikeholdsfil",
        Some("console") => " i konsollen",
        _ => "",
    };
    match by {
        Some(b) => format!("{what}{from} av {b}"),
        None => format!("{what}{from}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn deadlines_read_as_operators_say_them() {
        let cfg = crate::testutil::example_config();
        let t = chrono::Utc
            .with_ymd_and_hms(2026, 11, 23, 8, 30, 0)
            .unwrap();
        assert_eq!(when(&cfg, t), "mandag 23.11 kl. 09:30");
        // Summer time: the wall clock, not UTC + 1.
        let s = chrono::Utc.with_ymd_and_hms(2026, 6, 1, 7, 0, 0).unwrap();
        assert_eq!(when(&cfg, s), "mandag 01.06 kl. 09:00");
        assert_eq!(when(&cfg, AT_ONCE), "straks");
        let i = IncidentView {
            id: "I".into(),
            kind: crate::engine::model::Kind::Kvittering,
            category: crate::engine::model::Category::B,
            impact: crate::engine::model::Impact::Medium,
            priority: 2,
            at_org: Some("malvik".into()),
            orgs: vec!["malvik".to_string()].into(),
            services: vec!["PLO".into()],
            started_at: t,
            detected_at: t,
            expected_end: None,
            measures: None,
            text: None,
            note: None,
            environment: crate::engine::model::Environment::Produksjon,
            resolved_at: None,
        };
        assert_eq!(
            deadline(&cfg, &i, Deadline::Followup, t),
            "Oppfølging sendes til Malvik kommune mandag 23.11 kl. 09:30"
        );
        let t2 = chrono::Utc
            .with_ymd_and_hms(2026, 11, 24, 14, 0, 0)
            .unwrap();
        assert_eq!(
            deadline(&cfg, &i, Deadline::Escalation, t2),
            "Eskaleres til KS e-Komp Trøndelag tirsdag 24.11 kl. 15:00 uten svar"
        );
        let many: Vec<String> = cfg.orgs.iter().take(5).map(|o| o.id.clone()).collect();
        assert!(names(&cfg, &many).ends_with(" og 3 andre"));
        assert_eq!(
            event("reply", Some("console"), Some("Kari")),
            "Svar registrert i konsollen av Kari"
        );
    }
}
