//! The monthly availability report's figures (SPEC §4.13; seeds/002 §4, §8; seeds/003 §6.3.2.1).
//!
//! A pure function of the case history the engine keeps (`History`): per service and
//! calendar month in the configured time zone (so a month has its true length, 743 or 745
//! hours across DST), production only:
//!
//! - downtime is the union of `[detected_at, resolved_at)` of every incident on our side that
//!   affects the service and had priority 1 or 2 at any time while open; an incident still
//!   open counts to the month's end (or to `now`, for the month in progress);
//! - time inside one of our own planned maintenances of that service (not cancelled) is not
//!   downtime;
//! - availability = 100 × (1 − downtime / month length), to three decimals; the 12-month
//!   figure is 100 × (1 − Σ downtime / Σ length) over the months ending with this one that are
//!   not wholly before the first record.
//!
//! Decisions where SPEC is silent (written in ARCHITECTURE.md too): an incident that names no
//! service counts against every service; a maintenance that names no service covers every
//! service; only our own maintenances (source `self`) excuse our downtime; per-incident
//! minutes are that incident's own (clipped to the month, less maintenance), so they may add up
//! to more than the service's downtime when incidents overlap.
//!
//! The figures are part of the rules: the engine keeps the history and decides the monthly
//! report e-mail (`report monthly`). How people read them (CSV, HTML, month and duration
//! words) and where a report's history comes from are `report/`.

use crate::config::Config;
use crate::engine::model::Time;
use chrono::{Datelike, Duration, NaiveDate, TimeZone};
use serde::Serialize;
use std::collections::BTreeMap;

pub(crate) use super::downtime::downtime;
use super::downtime::{down_spans, measure, minutes, Relevant, Span};

/// What the report needs of an incident; kept by the engine for live and retired incidents.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct IncidentRecord {
    pub id: String,
    /// Empty: every service.
    pub services: Vec<String>,
    pub detected_at: Time,
    pub resolved_at: Option<Time>,
    /// Whether it counts against our availability: on our side, in production, and of
    /// priority 1 or 2 at any time while open (decided by the engine, `Incident::record`).
    pub counts: bool,
    /// The most severe priority it had while open (0: recorded before this was kept).
    #[serde(default)]
    pub priority: u8,
    /// Its kind (`feil`, `kvittering`, `info`), for the title in the report.
    #[serde(default)]
    pub kind: String,
}

/// What the report needs of a maintenance.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct MaintenanceRecord {
    pub id: String,
    /// Empty: every service.
    pub services: Vec<String>,
    pub from: Time,
    pub to: Time,
    /// Whether its window is not downtime: our own (source `self`) and not cancelled.
    pub excuses: bool,
    /// What the calendar feed shows of it (SPEC §5.9); `None` in history written before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<crate::engine::model::MaintenanceView>,
}

/// The case history: every incident and maintenance the engine has seen, and when the first
/// record was made.
///
/// The incidents are a hash map (a busy year is 37,000 of them, and a B-tree walk of string
/// compares for each record's update was a tenth of `simulate`'s engine thread, issue #32).
/// Nothing depends on its order: every reader sorts what it shows, and it is written sorted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct History {
    pub first: Option<Time>,
    #[serde(serialize_with = "sorted")]
    pub incidents: Records<IncidentRecord>,
    pub maintenances: BTreeMap<String, MaintenanceRecord>,
}

/// Records by case id, in no order. Seeded, as the engine's maps: the ids come through the
/// API and the webhook.
pub type Records<V> = std::collections::HashMap<String, V, foldhash::fast::RandomState>;

/// `m` written in the order of its keys, as when it was a B-tree.
fn sorted<S: serde::Serializer, V: Serialize>(m: &Records<V>, s: S) -> Result<S::Ok, S::Error> {
    let mut entries: Vec<(&String, &V)> = m.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    s.collect_map(entries)
}

/// A calendar month, `YYYY-MM`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
/// A calendar month (`2026-11`).
pub struct Month {
    pub year: i32,
    pub month: u32,
}

/// A month that could not be read (`YYYY-MM`).
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0:?} is not a month: expected YYYY-MM, e.g. 2027-03")]
pub struct BadMonth(pub String);

impl std::str::FromStr for Month {
    type Err = BadMonth;
    fn from_str(s: &str) -> Result<Month, BadMonth> {
        let bad = || BadMonth(s.to_string());
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        let (year, month) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if y.len() != 4 || m.len() != 2 || !(1..=12).contains(&month) {
            return Err(bad());
        }
        Ok(Month { year, month })
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl Month {
    /// The month of `t` in the calendar's zone.
    pub fn of(cfg: &Config, t: Time) -> Month {
        let d = cfg.calendar.local_date(t);
        Month {
            year: d.year(),
            month: d.month(),
        }
    }
    /// The month after.
    pub fn next(self) -> Month {
        match self.month {
            12 => Month {
                year: self.year + 1,
                month: 1,
            },
            m => Month {
                year: self.year,
                month: m + 1,
            },
        }
    }
    /// The month before.
    pub fn prev(self) -> Month {
        match self.month {
            1 => Month {
                year: self.year - 1,
                month: 12,
            },
            m => Month {
                year: self.year,
                month: m - 1,
            },
        }
    }
    fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or_default()
    }
    /// `[start, end)` in UTC: local midnight of the first day to that of the next month.
    pub fn bounds(self, cfg: &Config) -> (Time, Time) {
        (
            midnight(cfg, self.first_day()),
            midnight(cfg, self.next().first_day()),
        )
    }
}

/// The start of a local day, in UTC.
fn midnight(cfg: &Config, d: NaiveDate) -> Time {
    let local = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    cfg.calendar
        .tz
        .from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_default()
}

/// One service's last days for the status page (SPEC §5.8): downtime minutes per local day,
/// oldest first, ending with today (`None`: wholly before the first record, no data); and the
/// availability over the days with data (a day with any record counts whole, as a month does).
#[derive(Debug, Clone, PartialEq)]
pub struct DailyUptime {
    pub service: String,
    pub name: String,
    pub days: Vec<(NaiveDate, Option<f64>)>,
    pub availability: f64,
}

/// The last `n` local days up to `now`'s, per service, by the report's rules.
pub fn daily(cfg: &Config, h: &History, n: u32, now: Time) -> Vec<DailyUptime> {
    let today = cfg.calendar.local_date(now);
    let first = today - Duration::days(i64::from(n) - 1);
    cfg.services
        .iter()
        .map(|svc| {
            let mut days = Vec::with_capacity(n as usize);
            let (mut down, mut len) = (Duration::zero(), Duration::zero());
            let mut d = first;
            while d <= today {
                let (a, b) = (midnight(cfg, d), midnight(cfg, d + Duration::days(1)));
                match h.first {
                    Some(f) if f < b => {
                        let (dd, _) = downtime(h, &svc.id, (a, b), now, false);
                        days.push((d, Some(minutes(&[(a, a + dd)]))));
                        down += dd;
                        // As for months: a day with any record counts whole (up to now).
                        len += b.min(now) - a;
                    }
                    _ => days.push((d, None)),
                }
                d += Duration::days(1);
            }
            DailyUptime {
                service: svc.id.clone(),
                name: svc.name.clone(),
                days,
                availability: if len > Duration::zero() {
                    percent(down, len)
                } else {
                    100.0
                },
            }
        })
        .collect()
}

/// What of `h` can still matter after `since` (the status page keeps this much).
pub fn recent(h: &History, since: Time) -> History {
    History {
        first: h.first,
        incidents: h
            .incidents
            .iter()
            .filter(|(_, i)| i.counts && i.resolved_at.is_none_or(|r| r > since))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        maintenances: h
            .maintenances
            .iter()
            .filter(|(_, m)| m.excuses && m.to > since)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

/// The report for a month, to `report.recipients` (the `report monthly` action); the figures
/// are computed when it is decided.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct ReportMail {
    pub to: Vec<String>,
    pub report: Report,
}

/// The report of one month (SPEC §5.8's JSON; extra fields allowed).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Report {
    pub month: String,
    pub hours: i64,
    pub services: Vec<ServiceReport>,
    /// `final` (the month is over), `preliminary` (in progress: figures up to
    /// `generated_at`), or `no_data` (wholly before the first record: no figures to claim).
    #[serde(default)]
    pub state: ReportState,
    /// When the figures were computed (local RFC 3339).
    #[serde(default)]
    pub generated_at: String,
    /// Our planned maintenance in the month whose window is not downtime.
    #[serde(default)]
    pub excluded_maintenance: Vec<Excluded>,
}

/// How far a report's figures can be trusted.
#[derive(Debug, Clone, Copy, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ReportState {
    #[default]
    Final,
    Preliminary,
    NoData,
}

/// A maintenance the report leaves out of the downtime; times local RFC 3339.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Excluded {
    pub id: String,
    pub services: Vec<String>,
    pub from: String,
    pub to: String,
}

/// Why a month has no report: it has not begun.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0} has not begun; there is no report for it yet")]
pub struct FutureMonth(pub Month);

/// The report for `month` as of `now`, refusing a month that has not begun.
pub fn monthly_checked(
    cfg: &Config,
    h: &History,
    month: Month,
    now: Time,
) -> Result<Report, FutureMonth> {
    if month.bounds(cfg).0 > now {
        return Err(FutureMonth(month));
    }
    Ok(monthly(cfg, h, month, now))
}

/// One service's figures for the month.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct ServiceReport {
    pub service: String,
    pub name: String,
    pub downtime_minutes: f64,
    pub availability: f64,
    pub target: f64,
    pub met: bool,
    pub rolling_12m: Rolling,
    pub incidents: Vec<Counted>,
}

/// The figure over the 12 months ending with the month.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Rolling {
    pub months: u32,
    pub availability: f64,
    pub target: f64,
    pub met: bool,
}

/// An incident's part of a service's month; times are local RFC 3339.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Counted {
    pub id: String,
    pub from: String,
    pub to: String,
    pub minutes: f64,
    /// Still open when the report was made: `to` is then the report's time, not an end.
    #[serde(default)]
    pub open: bool,
    /// Its most severe priority while open (0: unknown).
    #[serde(default)]
    pub priority: u8,
    /// What it was, as its notice's subject says (`Feil i meldingsutveksling`, …).
    #[serde(default)]
    pub title: String,
}

/// The title of an incident of `kind` (SPEC §4 subjects).
pub fn kind_title(kind: &str) -> &'static str {
    match kind {
        "kvittering" => "Manglende kvittering",
        "info" => "Viktig informasjon vedrørende meldingsutveksling",
        _ => "Feil i meldingsutveksling",
    }
}

pub(crate) fn percent(down: Duration, len: Duration) -> f64 {
    let a = 100.0 * (1.0 - down.num_milliseconds() as f64 / len.num_milliseconds() as f64);
    let a = a.clamp(0.0, 100.0);
    (a * 1000.0).round() / 1000.0
}

/// The report for `month` as of `now` (the engine's clock).
pub fn monthly(cfg: &Config, h: &History, month: Month, now: Time) -> Report {
    let (start, end) = month.bounds(cfg);
    let len = end - start;
    let tz = cfg.calendar.tz;
    // The 12 months ending with this one, leaving out those wholly before the first record.
    // One pass over the history for all 12 (was one per month).
    let bounds: Vec<Span> = std::iter::successors(Some(month), |m| Some(m.prev()))
        .take(12)
        .map(|m| m.bounds(cfg))
        .filter(|&(_, e)| h.first.is_some_and(|f| e > f))
        .collect();
    let rolling_span = bounds.last().map(|&(first, _)| (first, end));
    let twelve = rolling_span.map(|span| Relevant::of(h, span));
    // The month's records are among the twelve months' (when there are any): taken from
    // those, not from the history again.
    let this_month = match &twelve {
        Some(t) => t.within((start, end)),
        None => Relevant::of(h, (start, end)),
    };
    let services = cfg
        .services
        .iter()
        .map(|svc| {
            let (spans, parts) = down_spans(&this_month, &svc.id, (start, end), now, true);
            let down = measure(&spans, (start, end));
            let availability = percent(down, len);
            let (mut months, mut down12, mut len12) = (0u32, Duration::zero(), Duration::zero());
            if let (Some(span), Some(twelve)) = (rolling_span, &twelve) {
                let (spans, _) = down_spans(twelve, &svc.id, span, now, false);
                for &(s, e) in &bounds {
                    months += 1;
                    down12 += measure(&spans, (s, e));
                    len12 += e - s;
                }
            }
            let rolling = if months == 0 {
                100.0
            } else {
                percent(down12, len12)
            };
            let mut incidents: Vec<Counted> = parts
                .into_iter()
                .map(|(id, (a, b), counted, open)| {
                    let rec = h.incidents.get(&id);
                    Counted {
                        from: a.with_timezone(&tz).to_rfc3339(),
                        to: b.with_timezone(&tz).to_rfc3339(),
                        minutes: minutes(&counted),
                        open,
                        priority: rec.map_or(0, |r| r.priority),
                        title: kind_title(rec.map_or("", |r| r.kind.as_str())).to_string(),
                        id,
                    }
                })
                .collect();
            // Local RFC 3339 strings of one month sort as their instants, but for the hour
            // repeated in October; sort by the parsed instant.
            incidents.sort_by_key(|c| {
                (
                    chrono::DateTime::parse_from_rfc3339(&c.from).ok(),
                    c.id.clone(),
                )
            });
            ServiceReport {
                service: svc.id.clone(),
                name: svc.name.clone(),
                downtime_minutes: minutes(&[(start, start + down)]),
                availability,
                target: cfg.report.target_month,
                met: availability >= cfg.report.target_month,
                rolling_12m: Rolling {
                    months,
                    availability: rolling,
                    target: cfg.report.target_12m,
                    met: rolling >= cfg.report.target_12m,
                },
                incidents,
            }
        })
        .collect();
    let state = if h.first.is_none_or(|f| f >= end) {
        ReportState::NoData
    } else if now < end {
        ReportState::Preliminary
    } else {
        ReportState::Final
    };
    let mut excluded: Vec<Excluded> = h
        .maintenances
        .values()
        .filter(|m| m.excuses && m.from < end && m.to > start && m.from < now)
        .map(|m| Excluded {
            id: m.id.clone(),
            services: m.services.clone(),
            from: m.from.with_timezone(&tz).to_rfc3339(),
            to: m.to.with_timezone(&tz).to_rfc3339(),
        })
        .collect();
    excluded.sort_by(|a, b| (&a.from, &a.id).cmp(&(&b.from, &b.id)));
    Report {
        month: month.to_string(),
        hours: len.num_hours(),
        services,
        state,
        generated_at: now.with_timezone(&tz).to_rfc3339(),
        excluded_maintenance: excluded,
    }
}

/// When the report for `month` goes out: the start of business hours on the first working day
/// of the next month (SPEC §4.13).
pub fn due(cfg: &Config, month: Month) -> Time {
    let (_, end) = month.bounds(cfg);
    let first = month.next().first_day();
    let day = if cfg.calendar.is_working_day(first) {
        first
    } else {
        cfg.calendar.first_working_day_after(first)
    };
    cfg.calendar
        .business_window(day)
        .map_or(end, |(start, _)| start.max(end))
}
