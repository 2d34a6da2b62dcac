//! `meldingsvakt calendar YEAR`: the year as ops should check it.

use super::{half_days, holidays, Calendar, DayKind};
use chrono::{Datelike, NaiveDate};
use std::fmt::Write;

fn weekday_nb(d: NaiveDate) -> &'static str {
    [
        "mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag",
    ][d.weekday().num_days_from_monday() as usize]
}

/// The year as text: holidays, half days, configured closed days and freezes, working-day count.
pub fn year_text(cal: &Calendar, year: i32) -> String {
    let mut s = String::new();
    let t = |x: chrono::NaiveTime| x.format("%H:%M").to_string();
    let _ = writeln!(
        s,
        "Calendar {year} ({}), business hours {}–{}, half days until {}",
        cal.tz,
        t(cal.business_start),
        t(cal.business_end),
        t(cal.half_day_end)
    );
    let _ = writeln!(s, "\nPublic holidays:");
    // Two holidays can share a date (17 May and Whit Monday in 2027): one line, both names.
    let mut merged: Vec<(NaiveDate, String)> = Vec::new();
    for (d, name) in holidays(year) {
        match merged.last_mut() {
            Some((ld, ln)) if *ld == d => {
                ln.push_str(" / ");
                ln.push_str(name);
            }
            _ => merged.push((d, name.to_string())),
        }
    }
    for (d, name) in merged {
        let _ = writeln!(
            s,
            "  {}  {:<8} {}",
            d.format("%d.%m.%Y"),
            weekday_nb(d),
            name
        );
    }
    let _ = writeln!(
        s,
        "\nHalf days (business hours end {}):",
        t(cal.half_day_end)
    );
    let mut halves: Vec<(NaiveDate, String)> = half_days(year)
        .into_iter()
        .map(|(d, n)| (d, n.to_string()))
        .chain(
            cal.extra_half_days
                .iter()
                .filter(|(d, _)| d.year() == year)
                .map(|(d, n)| (*d, n.clone())),
        )
        .collect();
    halves.sort();
    for (d, name) in halves {
        let note = match cal.day_kind(d) {
            DayKind::HalfDay(_) => "",
            _ => " (not a working day this year)",
        };
        let _ = writeln!(
            s,
            "  {}  {:<8} {}{}",
            d.format("%d.%m.%Y"),
            weekday_nb(d),
            name,
            note
        );
    }
    let closed: Vec<_> = cal
        .extra_closed
        .iter()
        .filter(|(d, _)| d.year() == year)
        .collect();
    if !closed.is_empty() {
        let _ = writeln!(s, "\nExtra closed days (configured):");
        for (d, name) in closed {
            let _ = writeln!(
                s,
                "  {}  {:<8} {}",
                d.format("%d.%m.%Y"),
                weekday_nb(*d),
                name
            );
        }
    }
    let freezes: Vec<_> = cal
        .freezes
        .iter()
        .filter(|f| f.from.year() <= year && year <= f.to.year())
        .collect();
    if !freezes.is_empty() {
        let _ = writeln!(s, "\nFreeze periods (configured):");
        for f in freezes {
            let _ = writeln!(
                s,
                "  {} – {}  {}",
                f.from.format("%d.%m.%Y"),
                f.to.format("%d.%m.%Y"),
                f.name
            );
        }
    }
    let mut half = 0;
    let mut d = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(NaiveDate::MIN);
    while d.year() == year {
        if matches!(cal.day_kind(d), DayKind::HalfDay(_)) {
            half += 1;
        }
        d = d.succ_opt().unwrap_or(NaiveDate::MAX);
    }
    let _ = writeln!(
        s,
        "\nWorking days: {} (of which {} half days)",
        cal.working_days_in_year(year),
        half
    );
    s
}
