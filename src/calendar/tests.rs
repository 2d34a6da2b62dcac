use super::*;
use proptest::prelude::*;

fn cal() -> Calendar {
    Calendar::default()
}
fn oslo(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}
fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, dd).unwrap()
}

#[test]
fn easter_dates_known_years() {
    // Published Easter Sundays.
    assert_eq!(easter(2024), d(2024, 3, 31));
    assert_eq!(easter(2025), d(2025, 4, 20));
    assert_eq!(easter(2026), d(2026, 4, 5));
    assert_eq!(easter(2027), d(2027, 3, 28));
    assert_eq!(easter(2038), d(2038, 4, 25));
}

#[test]
fn holidays_2027_are_the_norwegian_ones() {
    let h: Vec<NaiveDate> = holidays(2027).into_iter().map(|(d, _)| d).collect();
    assert_eq!(
        h,
        vec![
            d(2027, 1, 1),
            d(2027, 3, 25), // skjærtorsdag
            d(2027, 3, 26), // langfredag
            d(2027, 3, 28),
            d(2027, 3, 29), // 2. påskedag
            d(2027, 5, 1),
            d(2027, 5, 6), // Kristi himmelfart
            d(2027, 5, 16),
            d(2027, 5, 17), // grunnlovsdag and 2. pinsedag coincide
            d(2027, 5, 17),
            d(2027, 12, 25),
            d(2027, 12, 26),
        ]
    );
    assert_eq!(
        cal().day_kind(d(2027, 3, 24)),
        DayKind::HalfDay("Onsdag før skjærtorsdag".into())
    );
}

#[test]
fn working_days_2026_count() {
    // 2026: 261 weekdays; holidays on weekdays: 1.1 (Thu), 2.4, 3.4, 6.4, 1.5 (Fri), 14.5,
    // 25.5, 25.12 (Fri); 17.5 and 26.12 fall on Sun/Sat -> 261 - 8 = 253.
    assert_eq!(cal().working_days_in_year(2026), 253);
}

#[test]
fn friday_afternoon_to_monday_morning() {
    // SPEC §4.6 example: detected Friday 14:30 -> sent Monday 09:30.
    let c = cal();
    let t = c.add_business(oslo("2026-11-20T14:30:00+01:00"), Duration::hours(2));
    assert_eq!(t, oslo("2026-11-23T09:30:00+01:00"));
}

#[test]
fn easter_skips_thursday_to_monday() {
    let c = cal();
    // Wednesday before Maundy Thursday 2027 is a half day (ends 12:00).
    let t = c.add_business(oslo("2027-03-24T11:00:00+01:00"), Duration::hours(2));
    // 1 h on Wednesday, then Thu, Fri, Sat, Sun, Mon (2. påskedag) closed -> Tue 30.03 09:00 (DST now).
    assert_eq!(t, oslo("2027-03-30T09:00:00+02:00"));
}

#[test]
fn christmas_eve_half_day() {
    let c = cal();
    // 24.12.2026 is a Thursday half day; 25, 26 holidays; 27 Sunday.
    let t = c.add_business(oslo("2026-12-24T11:30:00+01:00"), Duration::hours(2));
    assert_eq!(t, oslo("2026-12-28T09:30:00+01:00"));
    assert_eq!(
        c.end_of_first_working_day_after(oslo("2026-12-23T10:00:00+01:00")),
        oslo("2026-12-24T12:00:00+01:00")
    );
}

#[test]
fn outside_hours_starts_counting_next_morning() {
    let c = cal();
    let t = c.add_business(oslo("2026-11-17T22:00:00+01:00"), Duration::hours(2));
    assert_eq!(t, oslo("2026-11-18T10:00:00+01:00"));
    let t = c.add_business(oslo("2026-11-17T06:00:00+01:00"), Duration::zero());
    assert_eq!(t, oslo("2026-11-17T08:00:00+01:00"));
}

#[test]
fn dst_spring_and_autumn_keep_wall_clock() {
    let c = cal();
    // Friday 27.03.2026 14:00 CET + 2h -> Monday 30.03.2026 09:00 CEST (clocks went forward Sunday).
    let t = c.add_business(oslo("2026-03-27T14:00:00+01:00"), Duration::hours(2));
    assert_eq!(t, oslo("2026-03-30T09:00:00+02:00"));
    // Friday 23.10.2026 14:00 CEST + 2h -> Monday 26.10.2026 09:00 CET.
    let t = c.add_business(oslo("2026-10-23T14:00:00+02:00"), Duration::hours(2));
    assert_eq!(t, oslo("2026-10-26T09:00:00+01:00"));
    // Reply deadline across the autumn change stays at 15:00 local.
    assert_eq!(
        c.end_of_first_working_day_after(oslo("2026-10-23T09:00:00+02:00")),
        oslo("2026-10-26T15:00:00+01:00")
    );
}

#[test]
fn last_working_day_before_and_reminder_start() {
    let c = cal();
    // Maintenance Monday 23.11.2026 -> reminder Friday 20.11 08:00.
    assert_eq!(
        c.start_of_last_working_day_before(oslo("2026-11-23T06:00:00+01:00")),
        oslo("2026-11-20T08:00:00+01:00")
    );
    // Maintenance Tuesday after Easter 2027 -> Wednesday 24.03 08:00.
    assert_eq!(
        c.start_of_last_working_day_before(oslo("2027-03-30T10:00:00+02:00")),
        oslo("2027-03-24T08:00:00+01:00")
    );
}

#[test]
fn standard_window_and_freeze() {
    let mut c = cal();
    assert!(c.in_standard_window(
        oslo("2026-11-22T23:00:00+01:00"),
        oslo("2026-11-23T03:00:00+01:00")
    ));
    assert!(!c.in_standard_window(
        oslo("2026-11-24T23:00:00+01:00"),
        oslo("2026-11-25T03:00:00+01:00")
    ));
    assert!(!c.in_standard_window(
        oslo("2026-11-22T22:00:00+01:00"),
        oslo("2026-11-23T03:00:00+01:00")
    ));
    c.freezes.push(Freeze {
        name: "jul".into(),
        from: d(2026, 12, 15),
        to: d(2027, 1, 5),
    });
    assert!(c
        .freeze_overlapping(
            oslo("2026-12-20T10:00:00+01:00"),
            oslo("2026-12-20T12:00:00+01:00")
        )
        .is_some());
    assert!(c
        .freeze_overlapping(
            oslo("2026-12-10T10:00:00+01:00"),
            oslo("2026-12-10T12:00:00+01:00")
        )
        .is_none());
}

#[test]
fn extra_closed_day_is_skipped() {
    let mut c = cal();
    c.extra_closed.insert(d(2026, 11, 23), "stengt".into());
    let t = c.add_business(oslo("2026-11-20T14:30:00+01:00"), Duration::hours(2));
    assert_eq!(t, oslo("2026-11-24T09:30:00+01:00"));
}

/// Reference: count business minutes one by one.
fn add_by_minutes(c: &Calendar, t: DateTime<Utc>, minutes: i64) -> DateTime<Utc> {
    let inside = |x: DateTime<Utc>| {
        c.business_window(c.local_date(x))
            .is_some_and(|(s, e)| s <= x && x < e)
    };
    // Align to the first business instant at or after t.
    let mut cur = c.add_business(t, Duration::zero());
    let mut left = minutes;
    while left > 0 {
        if inside(cur) {
            left -= 1;
            cur += Duration::minutes(1);
        } else {
            cur = c.add_business(cur, Duration::zero());
        }
    }
    cur
}

fn arb_instant() -> impl Strategy<Value = DateTime<Utc>> {
    // 2025-01-01 .. 2028-12-31, minute resolution; covers DST changes, Easter, Christmas.
    (0i64..(4 * 366 * 24 * 60))
        .prop_map(|m| oslo("2025-01-01T00:00:00+01:00") + Duration::minutes(m))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn add_business_lands_inside_business_hours(t in arb_instant(), mins in 0i64..(3 * 7 * 60)) {
        let c = cal();
        let r = c.add_business(t, Duration::minutes(mins));
        let (s, e) = c.business_window(c.local_date(r)).expect("result on a working day");
        prop_assert!(s <= r && r <= e, "{r} outside {s}..{e}");
        prop_assert!(r >= t);
    }

    #[test]
    fn add_business_is_monotonic(t in arb_instant(), a in 0i64..600, b in 0i64..600, dt in 0i64..3000) {
        let c = cal();
        let (lo, hi) = (a.min(b), a.max(b));
        prop_assert!(c.add_business(t, Duration::minutes(lo)) <= c.add_business(t, Duration::minutes(hi)));
        prop_assert!(c.add_business(t, Duration::minutes(lo)) <= c.add_business(t + Duration::minutes(dt), Duration::minutes(lo)));
    }

    #[test]
    fn add_business_equals_minute_counting(t in arb_instant(), mins in 1i64..(2 * 7 * 60)) {
        let c = cal();
        prop_assert_eq!(c.add_business(t, Duration::minutes(mins)), add_by_minutes(&c, t, mins));
    }

    #[test]
    fn windows_are_wall_clock_length(days in 0i64..1500) {
        let c = cal();
        let date = d(2025, 1, 1) + Duration::days(days);
        if let Some((s, e)) = c.business_window(date) {
            let len = e - s;
            prop_assert!(len == Duration::hours(7) || len == Duration::hours(4), "{date}: {len}");
        }
    }
}

proptest! {
    #[test]
    fn fast_lookup_agrees_with_the_lists(days in 0i64..(40 * 366)) {
        let date = d(2000, 1, 1) + Duration::days(days);
        let listed = holidays(date.year()).into_iter().any(|(x, _)| x == date);
        prop_assert_eq!(holiday_name(date).is_some(), listed, "{}", date);
        let half = half_days(date.year()).into_iter().any(|(x, _)| x == date);
        prop_assert_eq!(half_day_name(date).is_some(), half, "{}", date);
    }
}
