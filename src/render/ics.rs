//! RFC 5545 calendars (SPEC §5.9): the feeds `/calendar.ics` and `/calendar-test.ics`, and
//! the `text/calendar` attachment of planned-maintenance e-mails. Pure: what goes in is
//! decided elsewhere (the engine keeps each maintenance's sequence, cancellation and times in
//! its view; the calendar its freezes; seeds/003 §6.3.2.2 the standard window).
//!
//! Times are local with `TZID=Europe/Oslo` and its VTIMEZONE when the calendar's zone is
//! Europe/Oslo (the product's zone); under any other configured zone they are written in UTC,
//! which every reader understands without a VTIMEZONE.

use super::context::{org_name, services_text};
use crate::config::Config;
use crate::engine::model::{EmailKind, MaintenanceView, Time};
use chrono::{DateTime, NaiveDate, Utc};

/// One VEVENT.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IcsEvent {
    /// `{kind}-{id}@{self.id}`.
    pub uid: String,
    /// Raised on every change.
    pub sequence: u32,
    pub summary: String,
    pub description: String,
    pub when: When,
    pub cancelled: bool,
    /// LAST-MODIFIED (and DTSTAMP, unless the calendar gives its own).
    pub updated_at: Option<DateTime<Utc>>,
    pub url: Option<String>,
    /// An `RRULE` value (the standard window: `FREQ=WEEKLY;BYDAY=SU`).
    pub rrule: Option<String>,
}

/// When an event is: local times in Europe/Oslo, instants in UTC, or whole days.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum When {
    Local(chrono::NaiveDateTime, chrono::NaiveDateTime),
    Utc(DateTime<Utc>, DateTime<Utc>),
    /// First day and the day after the last (DTEND is exclusive).
    Days(NaiveDate, NaiveDate),
}

/// Europe/Oslo as a VTIMEZONE (the EU rule since 1996: last Sunday of March 01:00 UTC to
/// summer time, last Sunday of October back).
const VTIMEZONE: &str = "BEGIN:VTIMEZONE\r\nTZID:Europe/Oslo\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n";

/// TEXT as RFC 5545 §3.3.11 escapes it.
fn text(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            ';' => o.push_str("\\;"),
            ',' => o.push_str("\\,"),
            '\n' => o.push_str("\\n"),
            '\r' => {}
            c => o.push(c),
        }
    }
    o
}

/// One content line, folded at 75 octets (never inside a UTF-8 character), CRLF-ended.
fn line(out: &mut String, l: &str) {
    let mut width = 0;
    for c in l.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// A whole VCALENDAR: `method` is `PUBLISH` or `CANCEL` (an e-mail's attachment, which also
/// names its `organizer`); a feed has `None`. `stamp` is the DTSTAMP of events that have no
/// time of their own (the configuration's).
pub(crate) fn calendar(
    name: &str,
    method: Option<(&str, &str)>,
    stamp: DateTime<Utc>,
    events: &[IcsEvent],
) -> String {
    let mut o = String::new();
    line(&mut o, "BEGIN:VCALENDAR");
    line(&mut o, "VERSION:2.0");
    line(&mut o, "PRODID:-//meldingsvakt//NONSGML meldingsvakt//NB");
    line(&mut o, "CALSCALE:GREGORIAN");
    if let Some((m, _)) = method {
        line(&mut o, &format!("METHOD:{m}"));
    }
    line(&mut o, &format!("X-WR-CALNAME:{}", text(name)));
    if events.iter().any(|e| matches!(e.when, When::Local(..))) {
        line(&mut o, "X-WR-TIMEZONE:Europe/Oslo");
        o.push_str(VTIMEZONE);
    }
    for e in events {
        line(&mut o, "BEGIN:VEVENT");
        line(&mut o, &format!("UID:{}", e.uid));
        line(
            &mut o,
            &format!("DTSTAMP:{}", utc(e.updated_at.unwrap_or(stamp))),
        );
        if let Some(t) = e.updated_at {
            line(&mut o, &format!("LAST-MODIFIED:{}", utc(t)));
        }
        line(&mut o, &format!("SEQUENCE:{}", e.sequence));
        if let Some((_, organizer)) = method {
            line(&mut o, &format!("ORGANIZER:mailto:{organizer}"));
        }
        match &e.when {
            When::Local(a, b) => {
                line(
                    &mut o,
                    &format!("DTSTART;TZID=Europe/Oslo:{}", a.format("%Y%m%dT%H%M%S")),
                );
                line(
                    &mut o,
                    &format!("DTEND;TZID=Europe/Oslo:{}", b.format("%Y%m%dT%H%M%S")),
                );
            }
            When::Utc(a, b) => {
                line(&mut o, &format!("DTSTART:{}", utc(*a)));
                line(&mut o, &format!("DTEND:{}", utc(*b)));
            }
            When::Days(a, b) => {
                line(
                    &mut o,
                    &format!("DTSTART;VALUE=DATE:{}", a.format("%Y%m%d")),
                );
                line(&mut o, &format!("DTEND;VALUE=DATE:{}", b.format("%Y%m%d")));
            }
        }
        if let Some(r) = &e.rrule {
            line(&mut o, &format!("RRULE:{r}"));
        }
        line(&mut o, &format!("SUMMARY:{}", text(&e.summary)));
        line(&mut o, &format!("DESCRIPTION:{}", text(&e.description)));
        if let Some(u) = &e.url {
            line(&mut o, &format!("URL:{u}"));
        }
        line(
            &mut o,
            if e.cancelled {
                "STATUS:CANCELLED"
            } else {
                "STATUS:CONFIRMED"
            },
        );
        line(&mut o, "TRANSP:OPAQUE");
        line(&mut o, "END:VEVENT");
    }
    line(&mut o, "END:VCALENDAR");
    o
}

/// `from`–`to` as the calendar writes them: local Oslo times, or UTC under another zone.
fn when(cfg: &Config, from: Time, to: Time) -> When {
    if cfg.calendar.tz == chrono_tz::Europe::Oslo {
        let l = |t: Time| t.with_timezone(&chrono_tz::Europe::Oslo).naive_local();
        When::Local(l(from), l(to))
    } else {
        When::Utc(from, to)
    }
}

/// The status page's address: the events' `URL`.
fn page_url(cfg: &Config) -> String {
    format!("{}/", cfg.daemon.public_url.trim_end_matches('/'))
}

/// A maintenance as a VEVENT: `UID:maintenance-{id}@{self.id}`, the planned notice's subject
/// as `SUMMARY`, services, organizations and measures in `DESCRIPTION`.
pub(crate) fn maintenance_event(
    cfg: &Config,
    r: &super::Renderer,
    m: &MaintenanceView,
) -> IcsEvent {
    let planned = crate::engine::model::Email {
        maintenance: Some(std::sync::Arc::new(m.clone())),
        ..crate::engine::model::Email::new(EmailKind::Planned, "region".into(), vec![])
    };
    let at = m.modified_at.unwrap_or(m.from);
    let summary = match r.email(cfg, &planned, at, None) {
        Ok(x) => x.subject,
        Err(e) => {
            tracing::warn!(error = %e, maintenance = %m.id, "the planned subject could not be rendered for the calendar");
            format!("Planlagt stopp {}", super::window_text(cfg, m.from, m.to))
        }
    };
    let source = m
        .source
        .as_deref()
        .map(|s| org_name(cfg, s))
        .unwrap_or_else(|| cfg.self_.name.clone());
    let mut description = format!(
        "Tjenester: {}\nBerørte virksomheter: {}\nAnsvarlig: {source}",
        services_text(cfg, &m.services),
        if m.orgs.is_empty() {
            "alle som bruker tjenestene".to_string()
        } else {
            m.orgs
                .iter()
                .map(|o| org_name(cfg, o))
                .collect::<Vec<_>>()
                .join(", ")
        },
    );
    if let Some(x) = &m.measures {
        description.push_str("\nTiltak: ");
        description.push_str(x);
    }
    if m.cancelled {
        description.insert_str(0, "AVLYST\n");
    }
    IcsEvent {
        uid: format!("maintenance-{}@{}", m.id, cfg.self_.id),
        sequence: m.sequence,
        summary,
        description,
        when: when(cfg, m.from, m.to),
        cancelled: m.cancelled,
        updated_at: m.modified_at.or(m.registered_at),
        url: Some(page_url(cfg)),
        rrule: None,
    }
}

/// The configured freeze periods, as whole-day events.
fn freezes(cfg: &Config) -> Vec<IcsEvent> {
    cfg.calendar
        .freezes
        .iter()
        .map(|f| IcsEvent {
            uid: format!("freeze-{}@{}", f.from.format("%Y%m%d"), cfg.self_.id),
            sequence: 0,
            summary: format!("Frysperiode: {}", f.name),
            description: format!(
                "Frysperiode {} – {}: ingen planlagte endringer.",
                f.from.format("%d.%m.%Y"),
                f.to.format("%d.%m.%Y")
            ),
            when: When::Days(f.from, f.to + chrono::Duration::days(1)),
            cancelled: false,
            updated_at: None,
            url: Some(page_url(cfg)),
            rrule: None,
        })
        .collect()
}

/// The standard maintenance window, Sunday 23:00 – Monday 08:00 every week (seeds/003
/// §6.3.2.2), from its first Sunday in 2026.
fn standard_window(cfg: &Config) -> IcsEvent {
    let at = |d: u32, h: u32| {
        let date = NaiveDate::from_ymd_opt(2026, 1, d).unwrap_or_default();
        cfg.calendar.at_local(
            date,
            chrono::NaiveTime::MIN + chrono::Duration::hours(h.into()),
        )
    };
    let when = when(cfg, at(4, 23), at(5, 8));
    IcsEvent {
        uid: format!("window-standard@{}", cfg.self_.id),
        sequence: 0,
        summary: "Standard vedlikeholdsvindu".into(),
        description: "Planlagt vedlikehold legges til søndag kl. 23:00 – mandag kl. 08:00.".into(),
        when,
        cancelled: false,
        updated_at: None,
        url: Some(page_url(cfg)),
        rrule: Some("FREQ=WEEKLY;BYDAY=SU".into()),
    }
}

/// What a feed is narrowed to (`?service=ID`, `?org=ID`).
#[derive(Debug, Default, Clone)]
pub(crate) struct Filter {
    pub service: Option<String>,
    pub org: Option<String>,
}

impl Filter {
    fn keeps(&self, m: &MaintenanceView) -> bool {
        let svc = self
            .service
            .as_ref()
            .is_none_or(|s| m.services.is_empty() || m.services.contains(s));
        let org = self
            .org
            .as_ref()
            .is_none_or(|o| m.orgs.contains(o) || m.source.as_ref() == Some(o));
        svc && org
    }
}

/// A feed (SPEC §5.9): the given maintenances the filter keeps, then the freezes and the
/// standard window, which concern everyone. `test` names the test environment's feed, which
/// has no maintenance of its own (a maintenance is production's, SPEC §4.5).
pub(crate) fn feed(
    cfg: &Config,
    r: &super::Renderer,
    maintenances: &[MaintenanceView],
    filter: &Filter,
    test: bool,
    now: Time,
) -> String {
    let mut events: Vec<IcsEvent> = if test {
        Vec::new()
    } else {
        maintenances
            .iter()
            .filter(|m| filter.keeps(m))
            .map(|m| maintenance_event(cfg, r, m))
            .collect()
    };
    events.extend(freezes(cfg));
    events.push(standard_window(cfg));
    let name = format!(
        "{} – planlagt vedlikehold{}",
        cfg.self_.name,
        if test { " (testmiljø)" } else { "" }
    );
    calendar(&name, None, now, &events)
}

/// The attachment of a planned-maintenance e-mail: `METHOD:PUBLISH`, or `METHOD:CANCEL` for
/// the cancellation, with the feed's UID and sequence; `None` for other e-mails.
pub(crate) fn attachment(
    cfg: &Config,
    r: &super::Renderer,
    kind: EmailKind,
    m: &MaintenanceView,
    now: Time,
) -> Option<(&'static str, String)> {
    let method = match kind {
        EmailKind::Planned | EmailKind::PlannedChange | EmailKind::PlannedReminder => "PUBLISH",
        EmailKind::PlannedCancel => "CANCEL",
        _ => return None,
    };
    let name = format!("{} – planlagt vedlikehold", cfg.self_.name);
    let organizer = crate::config::mailbox_address(&cfg.self_.from)
        .unwrap_or(cfg.self_.from.trim())
        .to_string();
    let e = maintenance_event(cfg, r, m);
    Some((
        method,
        calendar(&name, Some((method, &organizer)), now, &[e]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_folded_at_75_octets_and_text_is_escaped() {
        let e = IcsEvent {
            uid: "maintenance-VED-1@hemit".into(),
            sequence: 2,
            summary: "Planlagt stopp; PLO, helsestasjon".into(),
            description: "Æ".repeat(60),
            when: When::Local(
                "2026-11-29T23:00:00".parse().unwrap(),
                "2026-11-30T03:00:00".parse().unwrap(),
            ),
            cancelled: true,
            updated_at: Some("2026-11-20T12:00:00Z".parse().unwrap()),
            url: Some("https://status.example/".into()),
            rrule: None,
        };
        let c = calendar(
            "Hemit HF",
            None,
            "2026-11-21T00:00:00Z".parse().unwrap(),
            &[e],
        );
        assert!(c.ends_with("END:VCALENDAR\r\n"));
        for l in c.split("\r\n") {
            assert!(l.len() <= 75, "{l:?}");
            assert!(!l.contains('\n'));
        }
        assert!(c.contains("SUMMARY:Planlagt stopp\\; PLO\\, helsestasjon"));
        assert!(c.contains("DTSTART;TZID=Europe/Oslo:20261129T230000"));
        assert!(c.contains("STATUS:CANCELLED\r\n"));
    }
}
