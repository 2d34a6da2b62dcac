//! The times an event may carry (SPEC §6 "times out of range are refused at the door").

use super::model::*;

/// Times an input may carry (SPEC §6: times out of range are refused at the door, not
/// carried into deadlines): a stop began at most a year ago and not more than a day ahead
/// (clock skew); an expected restoration is after the start and within a year; a maintenance
/// lies between a year ago and two years ahead and lasts at most 31 days.
pub(super) fn check_times(ev: &Event, now: Time) -> Result<(), Refusal> {
    use chrono::Duration as D;
    let within = |field: &str, t: Option<Time>, lo: D, hi: D, what: &str| match t {
        Some(t) if t < now - lo || t > now + hi => Err(Refusal::Invalid {
            field: field.to_string(),
            message: format!("out of range: {what}"),
        }),
        _ => Ok(()),
    };
    let year = D::days(366);
    let past = "a stop began at most a year ago and at most a day ahead";
    match ev {
        Event::IncidentOpen(e) => {
            let start = e.started_at.map(|t| t.0);
            within("started_at", start, year, D::days(1), past)?;
            within(
                "detected_at",
                e.detected_at.map(|t| t.0),
                year,
                D::days(1),
                past,
            )?;
            within(
                "expected_end",
                e.expected_end.map(|t| t.0),
                year,
                year,
                "within a year",
            )?;
            if let (Some(s), Some(x)) = (start, e.expected_end) {
                if x.0 < s {
                    return Err(Refusal::Invalid {
                        field: "expected_end".into(),
                        message: "is before `started_at`".into(),
                    });
                }
            }
            Ok(())
        }
        Event::IncidentUpdate(e) => within(
            "expected_end",
            e.expected_end.map(|t| t.0),
            year,
            year,
            "within a year",
        ),
        Event::Alert(a) => within("startsAt", a.starts_at.map(|t| t.0), year, D::days(1), past),
        Event::MaintenanceAdd(MaintenanceAdd { from, to, .. }) => {
            check_window(Some(from.0), Some(to.0), now)
        }
        Event::MaintenanceChange(e) => check_window(e.from.map(|t| t.0), e.to.map(|t| t.0), now),
        _ => Ok(()),
    }
}

fn check_window(from: Option<Time>, to: Option<Time>, now: Time) -> Result<(), Refusal> {
    let (lo, hi) = (
        now - chrono::Duration::days(366),
        now + chrono::Duration::days(731),
    );
    for (field, t) in [("from", from), ("to", to)] {
        if t.is_some_and(|t| t < lo || t > hi) {
            return Err(Refusal::Invalid {
                field: field.into(),
                message: "out of range: a maintenance lies between a year ago and two years ahead"
                    .into(),
            });
        }
    }
    if let (Some(f), Some(t)) = (from, to) {
        if t - f > chrono::Duration::days(31) {
            return Err(Refusal::Invalid {
                field: "to".into(),
                message: "a maintenance window lasts at most 31 days".into(),
            });
        }
    }
    Ok(())
}
