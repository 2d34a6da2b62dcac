//! `[directory]`: the rounds that keep organizations' contacts right (SPEC §4.16).

use super::raw::RawDirectory;
use super::validate::Validator;
use crate::tpath;
use chrono::{DateTime, Duration, Months, Utc};

/// How long after an organization last confirmed its contacts the next round asks again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Every {
    /// Calendar months ("6 months": 20 May after 20 November).
    Months(u32),
    /// A fixed span ("90d").
    Span(Duration),
}

impl Every {
    /// `t` plus this span; months are counted on the wall clock of `cal` (08:00 in March is
    /// 08:00 in June, across the change to summer time), and a month that lacks the day ends
    /// at its last day.
    pub fn after(self, t: DateTime<Utc>, cal: &crate::calendar::Calendar) -> DateTime<Utc> {
        match self {
            Every::Months(m) => {
                let local = t.with_timezone(&cal.tz).naive_local();
                match local.checked_add_months(Months::new(m)) {
                    Some(l) => cal.at_local(l.date(), l.time()),
                    None => t,
                }
            }
            Every::Span(d) => t + d,
        }
    }

    /// Read `"6 months"`, `"6months"`, `"1 month"` (and ISO 8601's `"P6M"`, `"P1Y"`) as
    /// calendar months; anything else in the humantime syntax of every other duration
    /// (`"180d"`, or ISO's `"P180D"`, `"P26W"`).
    pub(crate) fn parse(s: &str) -> Result<Every, BadEvery> {
        let t = s.trim();
        if let Some(iso) = t.strip_prefix('P').filter(|r| r.len() >= 2) {
            let (n, unit) = iso.split_at(iso.len() - 1);
            if let Some(n) = n.parse::<u32>().ok().filter(|&n| n > 0) {
                match unit {
                    "Y" => return Ok(Every::Months(n.saturating_mul(12))),
                    "M" => return Ok(Every::Months(n)),
                    "W" => return Ok(Every::Span(Duration::weeks(i64::from(n)))),
                    "D" => return Ok(Every::Span(Duration::days(i64::from(n)))),
                    _ => {}
                }
            }
        }
        let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
        let unit = t[digits.len()..].trim();
        if !digits.is_empty() && matches!(unit, "month" | "months") {
            return digits
                .parse::<u32>()
                .ok()
                .filter(|&n| n > 0)
                .map(Every::Months)
                .ok_or_else(|| BadEvery(format!("invalid number of months in {s:?}")));
        }
        humantime::parse_duration(t)
            .ok()
            .and_then(|d| Duration::from_std(d).ok())
            .map(Every::Span)
            .ok_or_else(|| {
                BadEvery(format!(
                    "invalid duration {s:?} (write e.g. \"6 months\" or \"180d\")"
                ))
            })
    }
}

/// A `confirm_every` that is neither months nor a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadEvery(String);

/// `[directory]` (SPEC §4.16).
#[derive(Debug, Clone)]
pub struct DirectorySettings {
    /// Whether confirmation rounds run (default true).
    pub rounds: bool,
    /// `confirm_every`: the span after the last confirmation (default 6 months).
    pub confirm_every: Every,
    /// Working days without an answer before the one reminder (default 10).
    pub reminder_after: u32,
    /// Working days without an answer before ops are told (default 20).
    pub unconfirmed_after: u32,
    /// The working days the first round of newly seeded organizations is spread over
    /// (default 10), so 65 or 356 requests do not all go out in one morning.
    pub spread: u32,
    /// How long a link in a request stays valid (default 30 days).
    pub link_lifetime: Duration,
}

impl Default for DirectorySettings {
    fn default() -> Self {
        DirectorySettings {
            rounds: true,
            confirm_every: Every::Months(6),
            reminder_after: 10,
            unconfirmed_after: 20,
            spread: 10,
            link_lifetime: Duration::days(30),
        }
    }
}

impl Validator<'_> {
    /// `[directory]`: the reminder comes before ops are told; the spread fits in a round.
    pub(crate) fn directory(&mut self, raw: RawDirectory) -> DirectorySettings {
        let mut d = DirectorySettings::default();
        if let Some(r) = raw.rounds {
            d.rounds = r;
        }
        if let Some(s) = raw.confirm_every {
            match Every::parse(&s) {
                Ok(Every::Span(x)) if x < Duration::days(7) => self.err(
                    0,
                    tpath!["directory", "confirm_every"],
                    "confirm_every must be at least 7 days (6 months is the default)",
                ),
                Ok(e) => d.confirm_every = e,
                Err(m) => self.err(0, tpath!["directory", "confirm_every"], m.to_string()),
            }
        }
        let mut days = |key: &'static str, v: Option<i64>, into: &mut u32, min: i64| {
            if let Some(n) = v {
                if !(min..=250).contains(&n) {
                    self.err(
                        0,
                        tpath!["directory", key],
                        format!("{key} is a number of working days from {min} to 250, not {n}"),
                    );
                } else {
                    *into = n as u32;
                }
            }
        };
        days(
            "reminder_after",
            raw.reminder_after,
            &mut d.reminder_after,
            1,
        );
        days(
            "unconfirmed_after",
            raw.unconfirmed_after,
            &mut d.unconfirmed_after,
            1,
        );
        days("spread", raw.spread, &mut d.spread, 0);
        if d.unconfirmed_after <= d.reminder_after {
            self.err(
                0,
                tpath!["directory", "unconfirmed_after"],
                format!(
                    "unconfirmed_after ({}) must be later than reminder_after ({})",
                    d.unconfirmed_after, d.reminder_after
                ),
            );
        }
        if let Some(l) = raw.link_lifetime {
            if l.0 < Duration::days(1) || l.0 > Duration::days(90) {
                self.err(
                    0,
                    tpath!["directory", "link_lifetime"],
                    "link_lifetime must be from 1 day to 90 days (30 days is the default)",
                );
            } else {
                d.link_lifetime = l.0;
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_calendar_months_and_other_spans_humantime() {
        assert_eq!(Every::parse("6 months"), Ok(Every::Months(6)));
        assert_eq!(Every::parse("1month"), Ok(Every::Months(1)));
        assert_eq!(Every::parse("180d"), Ok(Every::Span(Duration::days(180))));
        assert_eq!(Every::parse("P6M"), Ok(Every::Months(6)));
        assert_eq!(Every::parse("P1Y"), Ok(Every::Months(12)));
        assert_eq!(Every::parse("P180D"), Ok(Every::Span(Duration::days(180))));
        assert!(Every::parse("P0M").is_err());
        assert!(Every::parse("0 months").is_err());
        assert!(Every::parse("soon").is_err());
        let cal = crate::calendar::Calendar::default();
        // 08:00 in Oslo, summer time to winter time, and a day February lacks.
        let t: DateTime<Utc> = "2026-08-31T06:00:00Z".parse().unwrap();
        assert_eq!(
            Every::Months(6).after(t, &cal),
            "2027-02-28T07:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }
}
