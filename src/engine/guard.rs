//! The personal-data guard (SPEC §4.12; seeds/001 §2.1, seeds/000 §2.1): nothing that leaves
//! the daemon may carry a Norwegian national identity number (fødselsnummer) or D-number:
//! 11 digits that pass both mod-11 check digits.
//!
//! The check sees through how people and editors write numbers. The text is first normalised
//! (NFKC, so fullwidth and other compatibility digit forms become ASCII digits); then digits
//! are read in **groups** separated by separators only — spaces of every kind (one or several,
//! no-break and narrow no-break included), zero-width characters, `.`, `-`, `/` and the
//! Unicode dashes. Any run of consecutive groups holding exactly 11 digits is tested, so
//! `150765 00565`, `15 07 65 00565`, `15.07.65.00565` and `+47 73 00 00 00 15076500565` are
//! caught, while a 12-digit reference number is not an identity number.
//!
//! It runs at every door, over the raw input before it is parsed (`check_json`), so it sees
//! every field of every input kind — ids, free text, phone numbers, subjects, alert labels and
//! annotations, even fields that are then refused as unknown — and a refusal names the field
//! but never echoes the value.

use crate::engine::model::Refusal;
use unicode_normalization::UnicodeNormalization;

const K1: [u32; 9] = [3, 7, 6, 1, 8, 9, 4, 5, 2];
const K2: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

fn check_digit(digits: &[u32], weights: &[u32]) -> Option<u32> {
    let s: u32 = digits.iter().zip(weights).map(|(d, w)| d * w).sum();
    match 11 - s % 11 {
        11 => Some(0),
        10 => None,
        k => Some(k),
    }
}

/// Whether 11 digits pass both mod-11 checks.
pub fn is_identity_number(d: &[u32; 11]) -> bool {
    check_digit(&d[..9], &K1) == Some(d[9]) && check_digit(&d[..10], &K2) == Some(d[10])
}

/// Characters that may stand between the digit groups of one written number.
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '.' | '-'
                | '/'
                | '\u{00AD}' // soft hyphen
                | '\u{200B}'..='\u{200D}' // zero-width space, (non-)joiner
                | '\u{2060}' // word joiner
                | '\u{FEFF}' // zero-width no-break space
                | '\u{2010}'..='\u{2015}' // hyphens and dashes
                | '\u{2212}' // minus sign
        )
}

/// Whether `text` contains something that looks like a national identity number or D-number.
pub fn contains_identity_number(text: &str) -> bool {
    // Fast path: fewer than 11 digit-like characters cannot hold one.
    if text.chars().filter(|c| c.is_numeric()).count() < 11 {
        return false;
    }
    let norm: String = text.nfkc().collect();
    // Runs of digit groups: a run ends at any character that is neither digit nor separator.
    let mut groups: Vec<Vec<u32>> = Vec::new();
    let mut cur: Vec<u32> = Vec::new();
    let flush = |groups: &mut Vec<Vec<u32>>, cur: &mut Vec<u32>| {
        if !cur.is_empty() {
            groups.push(std::mem::take(cur));
        }
    };
    for c in norm.chars() {
        if let Some(d) = c.to_digit(10).filter(|_| c.is_ascii_digit()) {
            cur.push(d);
        } else if is_separator(c) {
            flush(&mut groups, &mut cur);
        } else {
            flush(&mut groups, &mut cur);
            if run_has_number(&groups) {
                return true;
            }
            groups.clear();
        }
    }
    flush(&mut groups, &mut cur);
    run_has_number(&groups)
}

/// Any consecutive groups with exactly 11 digits between them that pass the checks.
fn run_has_number(groups: &[Vec<u32>]) -> bool {
    for i in 0..groups.len() {
        let mut digits: Vec<u32> = Vec::with_capacity(11);
        for g in &groups[i..] {
            digits.extend_from_slice(g);
            if digits.len() >= 11 {
                break;
            }
        }
        if let Ok(arr) = <[u32; 11]>::try_from(digits.as_slice()) {
            if is_identity_number(&arr) {
                return true;
            }
        }
    }
    false
}

fn is_timestamp(s: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

/// A raw input tree (JSON from the API, TOML from a scenario), as the guard walks it.
enum Shape<'a, T> {
    Text(&'a str),
    Number(String),
    List(&'a [T]),
    Map(Box<dyn Iterator<Item = (&'a str, &'a T)> + 'a>),
    Other,
}

trait Tree: Sized {
    fn shape(&self) -> Shape<'_, Self>;
}

impl Tree for serde_json::Value {
    fn shape(&self) -> Shape<'_, Self> {
        use serde_json::Value;
        match self {
            Value::String(s) => Shape::Text(s),
            Value::Number(n) => Shape::Number(n.to_string()),
            Value::Array(a) => Shape::List(a),
            Value::Object(o) => Shape::Map(Box::new(o.iter().map(|(k, v)| (k.as_str(), v)))),
            _ => Shape::Other,
        }
    }
}

impl Tree for toml::Value {
    fn shape(&self) -> Shape<'_, Self> {
        use toml::Value;
        match self {
            Value::String(s) => Shape::Text(s),
            Value::Integer(n) => Shape::Number(n.to_string()),
            // As JSON writes it, so a scenario and the API judge the same number alike.
            Value::Float(f) => Shape::Number(
                serde_json::Number::from_f64(*f).map_or_else(|| f.to_string(), |n| n.to_string()),
            ),
            Value::Datetime(_) => Shape::Other,
            Value::Array(a) => Shape::List(a),
            Value::Table(t) => Shape::Map(Box::new(t.iter().map(|(k, v)| (k.as_str(), v)))),
            Value::Boolean(_) => Shape::Other,
        }
    }
}

/// The path of the first field that holds a number, if any.
fn find<T: Tree>(v: &T, path: &mut String) -> Option<String> {
    match v.shape() {
        // A whole RFC 3339 timestamp is read as a time and its text never shown; its
        // fraction of a second (`34.567890123`) must not read as a number.
        Shape::Text(s) if is_timestamp(s) => None,
        Shape::Text(s) if contains_identity_number(s) => Some(path.clone()),
        Shape::Number(n) if contains_identity_number(&n) => Some(path.clone()),
        Shape::List(a) => a.iter().enumerate().find_map(|(i, x)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let found = find(x, path);
            path.truncate(len);
            found
        }),
        Shape::Map(mut o) => o.find_map(|(k, x)| {
            let len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            if contains_identity_number(k) {
                path.push_str("(a field name)");
                return Some(path.clone());
            }
            path.push_str(k);
            let found = find(x, path);
            path.truncate(len);
            found
        }),
        _ => None,
    }
}

fn verdict(found: Option<String>) -> Result<(), Refusal> {
    match found {
        None => Ok(()),
        Some(p) if p.is_empty() => Err(Refusal::PersonalData {
            field: "(the value)".into(),
        }),
        Some(field) => Err(Refusal::PersonalData { field }),
    }
}

/// Check every string (and number, and object key) of a raw JSON input. On a find, the path
/// of the field (`labels.patient`, `orgs[2]`), never the value.
pub fn check_json(v: &serde_json::Value) -> Result<(), Refusal> {
    verdict(find(v, &mut String::new()))
}

/// The same check over a scenario's TOML event (no conversion to JSON first).
pub fn check_toml(v: &toml::Value) -> Result<(), Refusal> {
    verdict(find(v, &mut String::new()))
}

#[cfg(test)]
mod tests {
    /// Nanosecond timestamps (chrono's `to_rfc3339`) hold 11-digit runs such as
    /// `34.567890123`; one in about a hundred passes both checks. A whole timestamp is a time,
    /// not text, and is let through; the same digits in free text are still caught.
    #[test]
    fn a_timestamp_with_nanoseconds_is_not_personal_data() {
        let digits = "15076500565";
        let ts = format!("2026-12-03T10:12:{}.{}+00:00", &digits[..2], &digits[2..]);
        assert!(
            contains_identity_number(&ts),
            "the digits alone would be caught"
        );
        let v = serde_json::json!({ "from": ts, "text": format!("se {ts}") });
        assert!(matches!(
            check_json(&v),
            Err(Refusal::PersonalData { field }) if field == "text"
        ));
        assert!(check_json(&serde_json::json!({ "from": ts })).is_ok());
    }

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_valid_numbers_are_caught() {
        // Synthetic numbers with valid check digits, computed for this test; not real
        // persons.
        for s in ["01010112377", "15076500565", "41010112360", "31039912360"] {
            let d: Vec<u32> = s.chars().map(|c| c.to_digit(10).unwrap()).collect();
            assert!(is_identity_number(&d.clone().try_into().unwrap()), "{s}");
        }
        for t in [
            "Pasient 15076500565 mangler epikrise",
            "fnr: 150765 00565.",
            "D-nr 41010112360",
            "150765  00565",
            "150765\u{00A0}00565",
            "150765\u{200B}00565",
            "15.07.65.00565",
            "15 07 65 00565",
            "15/07/65-00565",
            "\u{FF11}\u{FF15}\u{FF10}\u{FF17}\u{FF16}\u{FF15}\u{FF10}\u{FF10}\u{FF15}\u{FF16}\u{FF15}",
            "Ring +47 73 00 00 00 15076500565",
            "INC-15076500565",
        ] {
            assert!(contains_identity_number(t), "{t:?}");
        }
    }

    #[test]
    fn ordinary_numbers_pass() {
        assert!(!contains_identity_number(
            "Ring +47 73 00 00 00 ved spørsmål"
        ));
        assert!(!contains_identity_number("Sak 12345678901 hos leverandør")); // fails check digits
        assert!(!contains_identity_number("150765005651")); // 12 digits: not an identity number
        assert!(!contains_identity_number(
            "Kontaktet leverandør kl. 14:30, æøå"
        ));
        assert!(!contains_identity_number("2026-11-20T14:30:00+01:00"));
    }

    #[test]
    fn json_refusal_names_the_field_not_the_number() {
        let v = serde_json::json!({"id": "I1", "labels": {"alertname": "X", "patient": "150765 00565"}});
        let field = |v| match check_json(&v) {
            Err(Refusal::PersonalData { field }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(v), "labels.patient");
        let v = serde_json::json!({"orgs": ["malvik", "15076500565"]});
        assert_eq!(field(v), "orgs[1]");
        assert!(check_json(&serde_json::json!({"measures": "Kontaktet leverandør"})).is_ok());
    }

    /// A random valid identity number (any day of 1900–2039, D-numbers too).
    fn valid_number() -> impl Strategy<Value = String> {
        (1u32..=28, 1u32..=12, 0u32..=99, 0u32..=999, any::<bool>()).prop_filter_map(
            "check digit 10",
            |(d, m, y, ind, dnr)| {
                let day = if dnr { d + 40 } else { d };
                let mut digits: Vec<u32> = format!("{day:02}{m:02}{y:02}{ind:03}")
                    .chars()
                    .map(|c| c.to_digit(10).unwrap())
                    .collect();
                let k1 = check_digit(&digits, &K1)?;
                digits.push(k1);
                let k2 = check_digit(&digits, &K2)?;
                digits.push(k2);
                Some(digits.iter().map(|d| char::from(b'0' + *d as u8)).collect())
            },
        )
    }

    /// One valid input of each kind with every string field that can leave the daemon, as
    /// (reported path, JSON pointer).
    #[allow(clippy::type_complexity)]
    fn inputs() -> Vec<(
        &'static str,
        serde_json::Value,
        Vec<(&'static str, &'static str)>,
    )> {
        use serde_json::json;
        vec![
            (
                "incident.open",
                json!({"id": "I1", "kind": "feil", "at_org": "self", "orgs": ["malvik"], "services": ["PLO"], "category": "B", "measures": "m", "text": "t", "environment": "produksjon"}),
                vec![
                    ("id", "/id"),
                    ("at_org", "/at_org"),
                    ("orgs[0]", "/orgs/0"),
                    ("services[0]", "/services/0"),
                    ("measures", "/measures"),
                    ("text", "/text"),
                    ("kind", "/kind"),
                    ("category", "/category"),
                ],
            ),
            (
                "incident.update",
                json!({"id": "I1", "measures": "m", "text": "t", "impact": "hoy"}),
                vec![
                    ("id", "/id"),
                    ("measures", "/measures"),
                    ("text", "/text"),
                    ("impact", "/impact"),
                ],
            ),
            (
                "reply",
                json!({"id": "I1", "org": "malvik"}),
                vec![("id", "/id"), ("org", "/org")],
            ),
            (
                "maintenance.add",
                json!({"id": "M1", "source": "self", "orgs": ["malvik"], "services": ["PLO"], "from": "2026-11-22T23:00:00+01:00", "to": "2026-11-23T03:00:00+01:00", "measures": "m", "phone": "+47 73 00 00 00"}),
                vec![
                    ("id", "/id"),
                    ("source", "/source"),
                    ("orgs[0]", "/orgs/0"),
                    ("measures", "/measures"),
                    ("phone", "/phone"),
                    ("from", "/from"),
                ],
            ),
            (
                "maintenance.change",
                json!({"id": "M1", "measures": "m", "phone": "p"}),
                vec![
                    ("id", "/id"),
                    ("measures", "/measures"),
                    ("phone", "/phone"),
                ],
            ),
            (
                "inquiry.received",
                json!({"id": "Q1", "org": "malvik", "subject": "s"}),
                vec![("id", "/id"), ("org", "/org"), ("subject", "/subject")],
            ),
            (
                "alert",
                json!({"status": "firing", "labels": {"alertname": "A", "org": "malvik", "service": "PLO"}, "annotations": {"summary": "s", "description": "d"}, "startsAt": "2026-11-20T14:00:00Z", "fingerprint": "f", "generatorURL": "http://prom"}),
                vec![
                    ("labels.alertname", "/labels/alertname"),
                    ("labels.org", "/labels/org"),
                    ("annotations.summary", "/annotations/summary"),
                    ("annotations.description", "/annotations/description"),
                    ("fingerprint", "/fingerprint"),
                    ("generatorURL", "/generatorURL"),
                ],
            ),
        ]
    }

    /// Write the number as people and editors do: groups split by random separators, digits
    /// sometimes in fullwidth form.
    fn disguise(n: &str, cuts: &[usize], seps: &[&str], wide: bool) -> String {
        let mut out = String::new();
        for (i, c) in n.chars().enumerate() {
            if cuts.contains(&i) && i > 0 {
                out.push_str(seps[i % seps.len()]);
            }
            if wide {
                out.push(char::from_u32(0xFF10 + c.to_digit(10).unwrap()).unwrap());
            } else {
                out.push(c);
            }
        }
        out
    }

    const SEPS: [&str; 10] = [
        " ", "  ", "\u{00A0}", "\u{202F}", "\u{200B}", ".", "-", "/", "\u{2013}", " - ",
    ];

    /// A valid number and the same number as people and editors write it: cut into groups,
    /// with separators, perhaps in fullwidth digits.
    fn disguised() -> impl Strategy<Value = (String, String)> {
        (
            valid_number(),
            proptest::collection::vec(1usize..11, 0..5),
            proptest::collection::vec(proptest::sample::select(&SEPS[..]), 1..4),
            any::<bool>(),
        )
            .prop_map(|(n, cuts, seps, wide)| {
                let text = disguise(&n, &cuts, &seps, wide);
                (n, text)
            })
    }

    proptest! {
        #[test]
        fn disguised_numbers_are_caught(
            (_n, hidden) in disguised(),
            before in "[a-zA-ZæøåÆØÅ:,()]{0,8}",
            after in "[a-zA-ZæøåÆØÅ:,()]{0,8}",
        ) {
            let text = format!("{before} {hidden} {after}");
            prop_assert!(contains_identity_number(&text), "{:?}", text);
        }

        /// Every string field of every input kind (SPEC §5.2 events and the Alertmanager
        /// payload): a disguised number placed there is refused, naming exactly that field,
        /// and the refusal's message does not carry it.
        #[test]
        fn every_field_of_every_input_is_guarded(
            (n, disguised) in disguised(),
            which in any::<proptest::sample::Index>(),
            field_ix in any::<proptest::sample::Index>(),
            prefix in "[A-Za-zæøå ]{0,6}",
        ) {
            let inputs = inputs();
            let (kind, base, fields) = &inputs[which.index(inputs.len())];
            let (path, pointer) = fields[field_ix.index(fields.len())];
            let mut v = base.clone();
            let hidden = format!("{prefix}{disguised}");
            *v.pointer_mut(pointer).unwrap() = serde_json::Value::String(hidden);
            let field = check_json(&v);
            prop_assert_eq!(field, Err(Refusal::PersonalData { field: path.to_string() }), "{} {}", kind, v);
            let msg = crate::engine::model::Refusal::PersonalData { field: path.into() }.to_string();
            prop_assert!(!contains_identity_number(&msg) && !msg.contains(&n[6..]), "{}", msg);
        }

        #[test]
        fn eleven_digits_failing_the_checks_pass(digits in "[0-9]{11}") {
            let d: Vec<u32> = digits.chars().map(|c| c.to_digit(10).unwrap()).collect();
            let arr: [u32; 11] = d.try_into().unwrap();
            prop_assume!(!is_identity_number(&arr));
            let text = format!("Sak {} hos leverandør", digits);
            prop_assert!(!contains_identity_number(&text));
        }
    }
}

#[cfg(test)]
mod toml_tests {
    use super::*;

    /// A scenario's TOML is judged as the same input sent as JSON would be.
    #[test]
    fn toml_and_json_inputs_are_judged_alike() {
        for src in [
            "text = \"pasient 15076500565\"",
            "labels = { patient = \"150765 00565\" }",
            "orgs = [\"malvik\", \"15076500565\"]",
            "n = 15076500565",
            "x = 1.5076500565e10",
            "from = \"2026-12-03T10:12:15.076500565+00:00\"",
            "text = \"ok\"\nn = 3",
            "\"15076500565\" = \"name\"",
        ] {
            let t: toml::Value = toml::from_str(src).unwrap();
            let j = serde_json::to_value(&t).unwrap();
            assert_eq!(
                format!("{:?}", check_toml(&t)),
                format!("{:?}", check_json(&j)),
                "{src}"
            );
        }
        assert!(check_toml(&toml::from_str("n = 15076500565").unwrap()).is_err());
    }
}
