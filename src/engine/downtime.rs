//! Downtime as spans of time (SPEC §4.13): the arithmetic of the availability figures
//! (`availability`), and which of the history's records can count in a span.

use super::availability::{History, IncidentRecord, MaintenanceRecord};
use crate::engine::model::Time;
use chrono::Duration;

pub(super) type Span = (Time, Time);

/// `spans` merged (sorted, overlaps joined).
fn union(mut spans: Vec<Span>) -> Vec<Span> {
    spans.retain(|(a, b)| a < b);
    spans.sort();
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for (a, b) in spans {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// `spans` less `holes` (both merged).
fn minus(spans: &[Span], holes: &[Span]) -> Vec<Span> {
    let mut out = Vec::new();
    for &(mut a, b) in spans {
        // `holes` is a union: sorted and disjoint, so skip those that end before `a`.
        let first = holes.partition_point(|&(_, h1)| h1 <= a);
        for &(h0, h1) in &holes[first..] {
            if h0 >= b {
                break;
            }
            if h1 <= a {
                continue;
            }
            if h0 > a {
                out.push((a, h0));
            }
            a = a.max(h1);
        }
        if a < b {
            out.push((a, b));
        }
    }
    out
}

pub(super) fn minutes(spans: &[Span]) -> f64 {
    let ms: i64 = spans
        .iter()
        .map(|(a, b)| (*b - *a).num_milliseconds())
        .sum();
    (ms as f64 / 60_000.0 * 10.0).round() / 10.0
}

fn covers(services: &[String], service: &str) -> bool {
    services.is_empty() || services.iter().any(|s| s == service)
}

/// Each incident's part of a downtime: its id, its span, what of it counts, and whether it
/// was still open.
pub(super) type Parts = Vec<(String, Span, Vec<Span>, bool)>;

/// One service's downtime in `[start, end)` (clipped to `now`), with each incident's part.
pub(crate) fn downtime(
    h: &History,
    service: &str,
    span: Span,
    now: Time,
    keep_parts: bool,
) -> (Duration, Parts) {
    let (down, parts) = down_spans(&Relevant::of(h, span), service, span, now, keep_parts);
    (measure(&down, span), parts)
}

/// The records that can count in a span: those that count (or excuse) and overlap it, in
/// the history's order. A report takes them in one pass and gives each service only these
/// (it went through the whole history twice per service).
pub(super) struct Relevant<'a> {
    incidents: Vec<&'a IncidentRecord>,
    maintenances: Vec<&'a MaintenanceRecord>,
}

impl<'a> Relevant<'a> {
    pub(super) fn of(h: &'a History, span: Span) -> Self {
        Relevant {
            incidents: h.incidents.values().filter(|i| i.overlaps(span)).collect(),
            maintenances: h
                .maintenances
                .values()
                .filter(|m| m.overlaps(span))
                .collect(),
        }
    }

    /// Those of them that are relevant to `span`, a part of theirs.
    pub(super) fn within(&self, span: Span) -> Self {
        Relevant {
            incidents: self
                .incidents
                .iter()
                .copied()
                .filter(|i| i.overlaps(span))
                .collect(),
            maintenances: (self.maintenances.iter().copied())
                .filter(|m| m.overlaps(span))
                .collect(),
        }
    }
}

impl IncidentRecord {
    /// It counts, and it was open at some time in `[start, end)`.
    fn overlaps(&self, (start, end): Span) -> bool {
        self.counts && self.detected_at < end && self.resolved_at.is_none_or(|r| r > start)
    }
}

impl MaintenanceRecord {
    /// It excuses, and its window meets `[start, end)`.
    fn overlaps(&self, (start, end): Span) -> bool {
        self.excuses && self.from < end && self.to > start
    }
}

/// How much of `within` the merged `spans` cover.
pub(super) fn measure(spans: &[Span], (start, end): Span) -> Duration {
    let ms: i64 = spans
        .iter()
        .map(|&(a, b)| (b.min(end) - a.max(start)).num_milliseconds().max(0))
        .sum();
    Duration::milliseconds(ms)
}

/// The spans (merged) in `[start, end)` in which `service` was down and it counts, with each
/// incident's part. Clipping commutes with all of it, so the downtime of a month inside
/// `[start, end)` is the measure of these spans clipped to the month.
pub(super) fn down_spans(
    r: &Relevant,
    service: &str,
    (start, end): Span,
    now: Time,
    keep_parts: bool,
) -> (Vec<Span>, Parts) {
    let holes = union(
        r.maintenances
            .iter()
            .filter(|m| covers(&m.services, service))
            .map(|m| (m.from.max(start), m.to.min(end)))
            .collect(),
    );
    let mut parts = Vec::new();
    let mut counted = Vec::new();
    for i in &r.incidents {
        if !covers(&i.services, service) {
            continue;
        }
        let a = i.detected_at.max(start);
        let b = i.resolved_at.unwrap_or(end).min(end).min(now.max(start));
        if a < b {
            let left = minus(&[(a, b)], &holes);
            counted.extend_from_slice(&left);
            if keep_parts {
                parts.push((
                    i.id.clone(),
                    (a, b),
                    left,
                    i.resolved_at.is_none_or(|r| r > now),
                ));
            }
        }
    }
    (union(counted), parts)
}
