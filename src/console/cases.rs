//! The list and search of every case (`/ops/cases`).

use super::pages::{case_url, title_of};
use super::words;
use crate::config::Config;
use crate::engine::model::{About, Time};
use serde_json::{json, Value};

/// At most this many cases are listed at once; a search narrows the rest.
const CASES_SHOWN: usize = 200;

/// The list of all cases (`/ops/cases`), filtered by `q`: every word must match the case's
/// number, kind, services (name or id), organizations, or its date (dd.mm.yyyy).
pub(crate) fn cases(
    cfg: &Config,
    rows: &[crate::engine::views::CaseRow],
    q: &str,
    now: Time,
) -> Value {
    let words_q: Vec<String> = q.split_whitespace().map(norsk_fold).collect();
    let mut shown = Vec::new();
    let mut matched = 0;
    for r in rows {
        let (kind_label, title) = match &r.about {
            About::Incident(_) => (
                "Hendelse",
                r.kind
                    .map(|k| title_of(cfg, k, &r.services))
                    .unwrap_or_else(|| words::services(cfg, &r.services)),
            ),
            About::Maintenance(_) => (
                "Vedlikehold",
                format!("Vedlikehold: {}", words::services(cfg, &r.services)),
            ),
            About::Inquiry(_) => (
                "Henvendelse",
                format!("Henvendelse fra {}", words::names(cfg, &r.orgs)),
            ),
            About::Report(_) | About::Directory(_) => continue,
        };
        let day = r
            .from
            .with_timezone(&cfg.calendar.tz)
            .format("%d.%m.%Y")
            .to_string();
        let hay = norsk_fold(&format!(
            "{} {kind_label} {title} {} {} {day}",
            r.about.id(),
            r.services.join(" "),
            r.orgs
                .iter()
                .map(|o| format!("{o} {}", words::org_name(cfg, o)))
                .collect::<Vec<_>>()
                .join(" "),
        ));
        if !words_q.iter().all(|w| hay.contains(w.as_str())) {
            continue;
        }
        matched += 1;
        if shown.len() >= CASES_SHOWN {
            continue;
        }
        let state = match (&r.about, r.open, r.cancelled) {
            (_, _, true) => "Avlyst",
            (About::Maintenance(_), true, _) if r.to.is_some_and(|t| t <= now) => "Ferdig",
            (About::Maintenance(_), true, _) if r.from <= now => "Pågår",
            (About::Maintenance(_), true, _) => "Planlagt",
            (About::Maintenance(_), false, _) => "Ferdig",
            (About::Inquiry(_), false, _) => "Besvart",
            (_, true, _) => "Åpen",
            (_, false, _) => "Løst",
        };
        shown.push(json!({
            "id": r.about.id(),
            "url": case_url(&r.about),
            "kind": kind_label,
            "title": title,
            "priority": (r.priority > 0).then_some(r.priority),
            "from": words::date_time(cfg, r.from),
            "to": r.to.map(|t| words::date_time(cfg, t)),
            "state": state,
            "open": r.open && !r.cancelled,
        }));
    }
    json!({
        "title": "Alle saker",
        "q": q,
        "cases": shown,
        "count": words::count(matched, "sak", "saker"),
        "more": (matched > CASES_SHOWN).then(|| format!("Viser de {CASES_SHOWN} nyeste; søk for å finne eldre.")),
    })
}

/// Lower case, for matching what people type against names (æøå kept).
fn norsk_fold(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}
