//! On-call paging by SMS (SPEC §4.18; seeds/000 §1.2: serious incidents are phoned to the
//! operations centre at any hour, on-call is called when alarms fire).
//!
//! The rules decide every text whole, so `simulate` prints what the phone shows: a new
//! priority-1 incident (`new`), the unacknowledged reminder of §4.10 (`reminder`) and the
//! dispatcher's late-delivery warning (`warning`). Organizations never get SMS.
//!
//! A text is at most [`LIMIT`] GSM-7 characters and is never split: characters outside the
//! GSM 03.38 alphabet are written with ones inside it (`–` → `-`, `“` → `"`), and a text too
//! long is cut inside its middle part with `…`, so the case id at the front and the console
//! link at the end always survive. Decision (SPEC §4.18 asks for both "GSM-7" and `…`): the
//! cut mark `…` is the one character outside the alphabet a text may carry, and it counts
//! as one; characters of the alphabet's extension table (`€ [ ] { } \ ~ ^ |`) count as two,
//! as they take two septets on the air.

use super::model::*;
use crate::config::Config;

/// Characters in one text, at most (one SMS, GSM-7).
pub(crate) const LIMIT: usize = 160;

/// The cut mark.
const CUT: char = '…';

/// GSM 03.38's basic alphabet (one septet each), less the control characters.
const BASIC: &str = "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡\
ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà\n";

/// The extension table (two septets each).
const EXTENDED: &str = "^{}\\[~]|€";

/// Septets `c` takes; `None`: not in GSM-7.
fn septets(c: char) -> Option<usize> {
    if BASIC.contains(c) {
        Some(1)
    } else if EXTENDED.contains(c) {
        Some(2)
    } else if c == CUT {
        Some(1)
    } else {
        None
    }
}

/// `s` in the GSM-7 alphabet: look-alikes for common typography, `?` for the rest.
pub(crate) fn gsm7(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c != CUT && septets(c).is_some() {
            out.push(c);
            continue;
        }
        let r = match c {
            '–' | '—' | '‐' | '−' => "-",
            '“' | '”' | '„' | '«' | '»' => "\"",
            '‘' | '’' | '‚' | '´' | '`' => "'",
            '…' => "...",
            '\t' | '\r' | '\u{a0}' | '\u{202f}' | '\u{2009}' => " ",
            'á' | 'â' | 'ã' => "a",
            'Á' | 'À' | 'Â' | 'Ã' => "A",
            'ê' | 'ë' => "e",
            'È' | 'Ê' | 'Ë' => "E",
            'í' | 'î' | 'ï' => "i",
            'ó' | 'ô' | 'õ' => "o",
            'ú' | 'û' => "u",
            'ç' => "Ç",
            'š' => "s",
            'Š' => "S",
            'č' => "c",
            'ž' => "z",
            _ => "?",
        };
        out.push_str(r);
    }
    out
}

/// Length in GSM-7 characters (septets), the way [`LIMIT`] counts.
pub fn length(s: &str) -> usize {
    s.chars().map(|c| septets(c).unwrap_or(2)).sum()
}

/// `head middle tail` in at most [`LIMIT`] characters: `middle` is cut with `…` first;
/// only when `head` and `tail` alone do not fit is the whole cut at the end.
pub(crate) fn fit(head: &str, middle: &str, tail: &str) -> String {
    let (head, middle, tail) = (gsm7(head), gsm7(middle), gsm7(tail));
    let whole = join(&[&head, &middle, &tail]);
    if length(&whole) <= LIMIT {
        return whole;
    }
    let fixed = length(&join(&[&head, "", &tail])) + 1; // + the space before the middle
    if fixed + 1 < LIMIT {
        let room = LIMIT - fixed - 1; // - the cut mark
        let cut = take(&middle, room);
        return join(&[&head, &format!("{}{CUT}", cut.trim_end()), &tail]);
    }
    format!("{}{CUT}", take(&whole, LIMIT - 1))
}

fn join(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The longest prefix of `s` within `room` characters.
fn take(s: &str, room: usize) -> &str {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        used += septets(c).unwrap_or(2);
        if used > room {
            return &s[..i];
        }
    }
    s
}

/// The console page of a case, as the text's last word.
fn link(cfg: &Config, about: &About) -> String {
    let base = cfg.daemon.public_url.trim_end_matches('/');
    match about {
        About::Incident(id) => format!("{base}/ops/incidents/{id}"),
        About::Maintenance(id) => format!("{base}/ops/maintenances/{id}"),
        About::Inquiry(id) => format!("{base}/ops/inquiries/{id}"),
        About::Report(_) => format!("{base}/ops/"),
        About::Directory(_) => format!("{base}/ops/directory"),
    }
}

/// The text to the on-call numbers, as an action keyed `{prefix}/sms/{what}`; `None` when
/// `self.oncall` lists no number (the rules then page nobody).
pub(crate) fn sms(
    cfg: &Config,
    at: Time,
    about: &About,
    what: &str,
    message: SmsKind,
    (head, middle): (String, String),
) -> Option<Action> {
    if cfg.self_.oncall.is_empty() {
        return None;
    }
    let text = fit(&head, &middle, &link(cfg, about));
    Some(Action {
        at,
        key: format!("{}/sms/{what}", about.key_prefix()),
        about: about.clone(),
        body: ActionBody::Sms(Box::new(Sms {
            message,
            to: cfg.self_.oncall.clone(),
            text,
        })),
    })
}

/// What an incident is, in a few words: its kind, services and organizations.
pub(crate) fn incident_words(cfg: &Config, v: &IncidentView) -> String {
    let kind = match v.kind {
        Kind::Feil => "Feil i meldingsutveksling",
        Kind::Kvittering => "Manglende kvittering",
        Kind::Info => "Viktig informasjon",
    };
    let services = if v.services.is_empty() {
        "alle tjenester".to_string()
    } else {
        v.services.join(", ")
    };
    let place = match &v.at_org {
        Some(o) => format!("hos {}", cfg.org(o).map_or(o.as_str(), |o| o.name.as_str())),
        None => match &v.orgs[..] {
            [] => "alle organisasjoner".to_string(),
            [one] => cfg.org(one).map_or(one.clone(), |o| o.name.clone()),
            many => format!("{} organisasjoner", many.len()),
        },
    };
    format!("{kind}, {services}, {place}.")
}

/// `P1 INC-1` (with `TEST` before it for the test environment).
pub(crate) fn incident_head(v: &IncidentView) -> String {
    let test = if v.environment == Environment::Test {
        "TEST "
    } else {
        ""
    };
    format!("{test}P{} {}", v.priority, v.id)
}

/// `05.12. kl. 03:12` in the calendar's zone.
pub(crate) fn short_time(cfg: &Config, t: Time) -> String {
    t.with_timezone(&cfg.calendar.tz)
        .format("%d.%m. kl. %H:%M")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_text_is_kept_whole() {
        assert_eq!(
            fit("P1 INC-1:", "Feil.", "http://x/1"),
            "P1 INC-1: Feil. http://x/1"
        );
    }

    #[test]
    fn a_long_text_is_cut_in_the_middle_and_keeps_id_and_link() {
        let middle = "Feil i meldingsutveksling, ".repeat(10);
        let t = fit(
            "P1 INC-1:",
            &middle,
            "https://meldingsvakt.example/ops/incidents/INC-1",
        );
        assert_eq!(length(&t), LIMIT, "{t}");
        assert!(t.starts_with("P1 INC-1: Feil"), "{t}");
        assert!(t.contains("… https://"), "{t}");
        assert!(t.ends_with("/ops/incidents/INC-1"), "{t}");
    }

    #[test]
    fn typography_becomes_gsm7_and_norwegian_letters_stay() {
        assert_eq!(gsm7("Løst – «æøå» ÆØÅ…"), "Løst - \"æøå\" ÆØÅ...");
        assert_eq!(length("€["), 4);
    }

    #[test]
    fn a_text_with_extension_characters_counts_them_twice() {
        let t = fit("", &"{".repeat(100), "");
        assert!(length(&t) <= LIMIT, "{}", length(&t));
        assert!(t.ends_with(CUT));
    }

    #[test]
    fn a_head_and_link_too_long_are_cut_at_the_end() {
        let t = fit(&"P".repeat(100), "midt", &"l".repeat(100));
        assert_eq!(length(&t), LIMIT);
        assert!(t.ends_with(CUT));
    }
}
