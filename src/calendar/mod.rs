//! Norwegian working-day calendar and business-hours arithmetic (SPEC §4.9).
//!
//! Pure: no clock. Every function takes the instant it reasons about. Instants are UTC;
//! the calendar converts to Europe/Oslo (or the configured zone) to decide which *day* an
//! instant belongs to, and builds each day's business window from local wall-clock times.
//! Business hours (08:00–15:00) never contain a DST transition (those happen at 02:00/03:00),
//! so a window is always exactly its wall-clock length and deadlines never shift by an hour.
//!
//! Sources: holidays — the Norwegian public holidays (helligdager) listed in SPEC §4.9;
//! half days — seeds/002 §5.1 ("Onsdag før skjærtorsdag, Julaften, Nyttårsaften" close at 12:00).

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use std::collections::BTreeMap;

pub mod print;

/// A named date range in which no planned changes should happen (seeds/003 §6.3.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freeze {
    pub name: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// What kind of day a date is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DayKind {
    /// An ordinary working day with full business hours.
    Working,
    /// A working day with business hours ending early (`half_day_end`).
    HalfDay(String),
    Weekend,
    /// A public holiday, with its Norwegian name.
    Holiday(String),
    /// A day closed by configuration.
    Closed,
}

/// Working days, business hours, closed days and freezes, in one time zone.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub tz: Tz,
    pub business_start: NaiveTime,
    pub business_end: NaiveTime,
    pub half_day_end: NaiveTime,
    pub extra_closed: BTreeMap<NaiveDate, String>,
    pub extra_half_days: BTreeMap<NaiveDate, String>,
    pub freezes: Vec<Freeze>,
}

impl Default for Calendar {
    fn default() -> Self {
        Calendar {
            tz: chrono_tz::Europe::Oslo,
            business_start: NaiveTime::from_hms_opt(8, 0, 0).expect("valid time"),
            business_end: NaiveTime::from_hms_opt(15, 0, 0).expect("valid time"),
            half_day_end: NaiveTime::from_hms_opt(12, 0, 0).expect("valid time"),
            extra_closed: BTreeMap::new(),
            extra_half_days: BTreeMap::new(),
            freezes: Vec::new(),
        }
    }
}

/// Easter Sunday (Gregorian) for `year`, from the `computus` crate.
pub(crate) fn easter(year: i32) -> NaiveDate {
    // computus only fails for years before the Gregorian reform; callers use real years,
    // and a fallback keeps this total.
    computus::gregorian_naive(year)
        .unwrap_or_else(|_| NaiveDate::from_ymd_opt(year, 4, 1).unwrap_or(NaiveDate::MIN))
}

fn ymd(year: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, m, d).unwrap_or(NaiveDate::MIN)
}

/// Norwegian public holidays of `year`, in date order, with their names.
pub(crate) fn holidays(year: i32) -> Vec<(NaiveDate, &'static str)> {
    let e = easter(year);
    let mut v = vec![
        (ymd(year, 1, 1), "1. nyttårsdag"),
        (e - Duration::days(3), "Skjærtorsdag"),
        (e - Duration::days(2), "Langfredag"),
        (e, "1. påskedag"),
        (e + Duration::days(1), "2. påskedag"),
        (ymd(year, 5, 1), "Offentlig høytidsdag"),
        (ymd(year, 5, 17), "Grunnlovsdag"),
        (e + Duration::days(39), "Kristi himmelfartsdag"),
        (e + Duration::days(49), "1. pinsedag"),
        (e + Duration::days(50), "2. pinsedag"),
        (ymd(year, 12, 25), "1. juledag"),
        (ymd(year, 12, 26), "2. juledag"),
    ];
    v.sort_by_key(|(d, _)| *d);
    v
}

/// Half days of `year` (seeds/002 §5.1): business hours end at `half_day_end`.
pub(crate) fn half_days(year: i32) -> Vec<(NaiveDate, &'static str)> {
    let e = easter(year);
    vec![
        (e - Duration::days(4), "Onsdag før skjærtorsdag"),
        (ymd(year, 12, 24), "Julaften"),
        (ymd(year, 12, 31), "Nyttårsaften"),
    ]
}

/// The public holiday on `date`, if any, without allocating (hot path of every deadline).
pub(crate) fn holiday_name(date: NaiveDate) -> Option<&'static str> {
    let fixed = match (date.month(), date.day()) {
        (1, 1) => Some("1. nyttårsdag"),
        (5, 1) => Some("Offentlig høytidsdag"),
        (5, 17) => Some("Grunnlovsdag"),
        (12, 25) => Some("1. juledag"),
        (12, 26) => Some("2. juledag"),
        _ => None,
    };
    if fixed.is_some() {
        return fixed;
    }
    // Easter-based holidays lie between 19 March and 14 June.
    if !(3..=6).contains(&date.month()) {
        return None;
    }
    match (date - easter(date.year())).num_days() {
        -3 => Some("Skjærtorsdag"),
        -2 => Some("Langfredag"),
        0 => Some("1. påskedag"),
        1 => Some("2. påskedag"),
        39 => Some("Kristi himmelfartsdag"),
        49 => Some("1. pinsedag"),
        50 => Some("2. pinsedag"),
        _ => None,
    }
}

/// The half day on `date`, if any (seeds/002 §5.1), without allocating.
pub(crate) fn half_day_name(date: NaiveDate) -> Option<&'static str> {
    match (date.month(), date.day()) {
        (12, 24) => return Some("Julaften"),
        (12, 31) => return Some("Nyttårsaften"),
        _ => {}
    }
    if (3..=4).contains(&date.month()) && (date - easter(date.year())).num_days() == -4 {
        return Some("Onsdag før skjærtorsdag");
    }
    None
}

impl Calendar {
    /// The kind of `date`. Configured closed days win over everything; holidays over weekends.
    pub(crate) fn day_kind(&self, date: NaiveDate) -> DayKind {
        if let Some(name) = self.extra_closed.get(&date) {
            let _ = name;
            return DayKind::Closed;
        }
        if let Some(name) = holiday_name(date) {
            return DayKind::Holiday(name.to_string());
        }
        if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            return DayKind::Weekend;
        }
        if let Some(name) = self.extra_half_days.get(&date) {
            return DayKind::HalfDay(name.clone());
        }
        if let Some(name) = half_day_name(date) {
            return DayKind::HalfDay(name.to_string());
        }
        DayKind::Working
    }

    /// Monday–Friday and not a holiday or closed day.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        !self.extra_closed.contains_key(&date)
            && !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
            && holiday_name(date).is_none()
    }

    fn is_half_day(&self, date: NaiveDate) -> bool {
        self.extra_half_days.contains_key(&date) || half_day_name(date).is_some()
    }

    /// The local calendar date of an instant.
    pub fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.tz).date_naive()
    }

    /// The UTC instant of a local wall-clock time. Times inside a DST gap resolve to the
    /// instant just after the gap; ambiguous times to the earlier instant.
    pub fn at_local(&self, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
        let naive = date.and_time(time);
        match self.tz.from_local_datetime(&naive) {
            chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
            chrono::LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
            chrono::LocalResult::None => {
                let later = naive + Duration::hours(1);
                self.tz
                    .from_local_datetime(&later)
                    .earliest()
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or_else(|| Utc.from_utc_datetime(&naive))
            }
        }
    }

    /// Business hours of `date` as a UTC interval, or `None` on a non-working day.
    pub fn business_window(&self, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.is_working_day(date) {
            return None;
        }
        let end = if self.is_half_day(date) {
            self.half_day_end.min(self.business_end)
        } else {
            self.business_end
        };
        if end <= self.business_start {
            return None;
        }
        Some((
            self.at_local(date, self.business_start),
            self.at_local(date, end),
        ))
    }

    /// `t` plus `d` counted only inside business hours. With `d = 0` this is the first
    /// business instant at or after `t`. The result is always inside (or at the closing
    /// edge of) a business window.
    pub fn add_business(&self, t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
        let mut remaining = d.max(Duration::zero());
        let mut day = self.local_date(t);
        // Ten years of days: a calendar with no working day at all is a config error; this
        // bound keeps the function total.
        for _ in 0..3660 {
            if let Some((s, e)) = self.business_window(day) {
                let start = s.max(t);
                if start <= e {
                    let avail = e - start;
                    if remaining <= avail && !(remaining.is_zero() && start == e) {
                        return start + remaining;
                    }
                    remaining -= avail;
                }
            }
            day = day.succ_opt().unwrap_or(day);
        }
        t + d
    }

    /// The first working day strictly after `date`.
    pub fn first_working_day_after(&self, date: NaiveDate) -> NaiveDate {
        self.next_working_day(date, |d| d.succ_opt())
    }

    /// The last working day strictly before `date`.
    pub(crate) fn last_working_day_before(&self, date: NaiveDate) -> NaiveDate {
        self.next_working_day(date, |d| d.pred_opt())
    }

    /// Step from `date` (not included) until a working day; ten years of closed days at most.
    fn next_working_day(
        &self,
        date: NaiveDate,
        step: impl Fn(NaiveDate) -> Option<NaiveDate>,
    ) -> NaiveDate {
        let mut d = date;
        for _ in 0..3660 {
            d = step(d).unwrap_or(d);
            if self.is_working_day(d) {
                return d;
            }
        }
        d
    }

    /// The start of business hours of the first working day whose start is at or after `t`,
    /// then `skip` working days later (SPEC §4.16: a confirmation round goes out "at the
    /// start of business hours on a working day"; `skip` spreads the organizations).
    pub fn working_day_start_from(&self, t: DateTime<Utc>, skip: u32) -> DateTime<Utc> {
        let mut d = self.local_date(t);
        if !self.is_working_day(d) || self.at_local(d, self.business_start) < t {
            d = self.first_working_day_after(d);
        }
        for _ in 0..skip {
            d = self.first_working_day_after(d);
        }
        self.at_local(d, self.business_start)
    }

    /// The start of business hours `n` working days after the local day of `t` (SPEC §4.16:
    /// "no answer after 10 working days").
    pub fn working_days_after(&self, t: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        let mut d = self.local_date(t);
        for _ in 0..n.max(1) {
            d = self.first_working_day_after(d);
        }
        self.at_local(d, self.business_start)
    }

    /// End of business hours on the first working day after the local day of `t`
    /// (SPEC §4.7 reply deadline; 12:00 on half days).
    pub fn end_of_first_working_day_after(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let d = self.first_working_day_after(self.local_date(t));
        self.business_window(d)
            .map(|(_, e)| e)
            .unwrap_or_else(|| self.at_local(d, self.business_end))
    }

    /// Start of business hours on the last working day before the local day of `t`
    /// (SPEC §4.5 planned reminder).
    pub(crate) fn start_of_last_working_day_before(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let d = self.last_working_day_before(self.local_date(t));
        self.at_local(d, self.business_start)
    }

    /// The freeze period overlapping the local days of `[from, to]`, if any.
    pub(crate) fn freeze_overlapping(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Option<&Freeze> {
        let (a, b) = (self.local_date(from), self.local_date(to));
        self.freezes.iter().find(|f| f.from <= b && a <= f.to)
    }

    /// Whether `[from, to]` lies inside one standard maintenance window, Sunday 23:00 –
    /// Monday 08:00 local time (seeds/003 §6.3.2.2).
    pub(crate) fn in_standard_window(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        let lf = from.with_timezone(&self.tz);
        let sunday = match lf.weekday() {
            Weekday::Sun => lf.date_naive(),
            Weekday::Mon => lf.date_naive() - Duration::days(1),
            _ => return false,
        };
        let h = |hh| NaiveTime::from_hms_opt(hh, 0, 0).unwrap_or(NaiveTime::MIN);
        let start = self.at_local(sunday, h(23));
        let end = self.at_local(sunday + Duration::days(1), h(8));
        start <= from && to <= end && from < to
    }

    /// Number of working days (full and half) in `year`.
    pub(crate) fn working_days_in_year(&self, year: i32) -> usize {
        let mut d = ymd(year, 1, 1);
        let mut n = 0;
        while d.year() == year {
            if self.is_working_day(d) {
                n += 1;
            }
            d = d.succ_opt().unwrap_or(NaiveDate::MAX);
        }
        n
    }
}

#[cfg(test)]
mod tests;
