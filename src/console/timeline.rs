//! A case's timeline in words (SPEC §5.8): events and decided messages, oldest first, a
//! fan-out as one line with its recipients behind a disclosure, delivery states counted.

use super::pages::recipients;
use super::words;
use crate::config::Config;
use crate::engine::model::Time;
use crate::store::{Delivery, TimelineEntry};
use serde_json::{json, Value};

pub(super) fn state_class(s: Delivery) -> &'static str {
    match s {
        Delivery::Sent => "ok",
        Delivery::Failing | Delivery::Bounced => "bad",
        Delivery::Due => "",
    }
}

/// The timeline, oldest first, in words. A fan-out (the same message decided at the same
/// instant for many recipients) is one line, "65 × E-post: varsel … – 65 sendt", with its
/// recipients behind a disclosure.
pub(super) fn timeline(cfg: &Config, t: &[TimelineEntry]) -> Vec<Value> {
    /// A fan-out being gathered: its label, its instant, and (recipient, state, detail) each.
    type Fanout = (String, Time, Vec<(String, Delivery, String)>);
    let mut out: Vec<Value> = Vec::new();
    let mut group: Option<Fanout> = None;
    let flush = |out: &mut Vec<Value>, g: Option<Fanout>| {
        let Some((label, at, items)) = g else { return };
        if items.len() == 1 {
            let (to, state, detail) = &items[0];
            out.push(json!({
                "when": words::date_time(cfg, at),
                "text": if to.is_empty() { label } else { format!("{label} til {to}") },
                "state": words::state(*state),
                "state_class": state_class(*state),
                "detail": detail,
            }));
            return;
        }
        out.push(json!({
            "when": words::date_time(cfg, at),
            "text": format!("{} × {label}", items.len()),
            "state": states_summary(items.iter().map(|(_, s, _)| *s)),
            "state_class": if items.iter().any(|(_, s, _)| state_class(*s) == "bad") { "bad" } else if items.iter().all(|(_, s, _)| *s == Delivery::Sent) { "ok" } else { "" },
            "items": items.iter().map(|(to, state, detail)| json!({
                "to": to, "state": words::state(*state), "state_class": state_class(*state), "detail": detail,
            })).collect::<Vec<_>>(),
        }));
    };
    for e in t {
        match e {
            TimelineEntry::Event { at, ty, origin, by } => {
                flush(&mut out, group.take());
                out.push(json!({
                    "when": words::date_time(cfg, *at),
                    "text": words::event(ty, origin.as_deref(), by.as_deref()),
                }));
            }
            TimelineEntry::Action(a) => {
                let (at, action, state, attempts) = (&a.at, &a.action, &a.state, &a.attempts);
                let (sent_at, last_error, bounced_at) = (&a.sent_at, &a.last_error, &a.bounced_at);
                let p = action.parts();
                let detail = match (sent_at, bounced_at, last_error) {
                    (_, Some(b), _) => format!("returnert {}", words::date_time(cfg, *b)),
                    (Some(s), None, _) => words::date_time(cfg, *s),
                    (None, None, Some(e)) => format!("{attempts} forsøk; siste feil: {e}"),
                    _ => String::new(),
                };
                let label = words::message(p.kind, &p.message);
                let to = match p.kind {
                    "statuspage" | "silence" | "ops" | "report" => String::new(),
                    _ => recipients(cfg, action),
                };
                let item = (to, *state, detail);
                match group.as_mut() {
                    Some((l, t0, items)) if *l == label && *t0 == *at && !item.0.is_empty() => {
                        items.push(item)
                    }
                    _ => {
                        flush(&mut out, group.take());
                        group = Some((label, *at, vec![item]));
                    }
                }
            }
        }
    }
    flush(&mut out, group);
    out
}

/// "65 sendt", "60 sendt, 3 feiler, 2 venter": delivery states counted, in a fixed order.
pub(super) fn states_summary(states: impl Iterator<Item = Delivery>) -> String {
    let mut n = [0usize; 4];
    for s in states {
        n[match s {
            Delivery::Sent => 0,
            Delivery::Failing => 1,
            Delivery::Bounced => 2,
            Delivery::Due => 3,
        }] += 1;
    }
    ["sendt", "feiler", "returnert", "venter"]
        .iter()
        .zip(n)
        .filter(|(_, k)| *k > 0)
        .map(|(w, k)| format!("{k} {w}"))
        .collect::<Vec<_>>()
        .join(", ")
}
