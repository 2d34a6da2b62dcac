//! The personal-data guard at the doors (SPEC §4.12): people's input is checked over the raw
//! input before it is parsed (`check_json`), so it sees every field of every input kind —
//! ids, free text, phone numbers, subjects, even fields that are then refused as unknown —
//! and a refusal names the field but never echoes the value. Alerts are not refused but
//! redacted: refusing would lose an outage, since Alertmanager does not retry a 4xx.
//!
//! The finder itself (`contains_identity_number`, `find_identity_number`, `redact`) is
//! `text::guard`, on the bottom floor; it is re-exported here.

use crate::engine::model::Refusal;
pub(crate) use crate::text::guard::*;

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
pub(crate) fn check_json(v: &serde_json::Value) -> Result<(), Refusal> {
    verdict(find(v, &mut String::new()))
}

/// The same check over a scenario's TOML event (no conversion to JSON first).
pub(crate) fn check_toml(v: &toml::Value) -> Result<(), Refusal> {
    verdict(find(v, &mut String::new()))
}

#[cfg(test)]
mod tests {
    /// Nanosecond timestamps (chrono's `to_rfc3339`) hold 11-digit runs such as
    /// `34.567890123`; one in about a hundred passes both checks. A whole timestamp is a time,
    /// not text, and is let through; in free text its clock time `hh:mm:ss` is read as a time
    /// too. The same digits written as a number are still caught.
    #[test]
    fn a_timestamp_with_nanoseconds_is_not_personal_data() {
        let digits = "15076500565";
        let ts = format!("2026-12-03T10:12:{}.{}+00:00", &digits[..2], &digits[2..]);
        let v = serde_json::json!({ "from": ts, "text": format!("se {ts}") });
        assert!(check_json(&v).is_ok());
        assert!(!contains_identity_number(&format!("sist sett {ts}")));
        let v = serde_json::json!({ "from": ts, "text": format!("se {}.{}", &digits[..2], &digits[2..]) });
        assert!(matches!(
            check_json(&v),
            Err(Refusal::PersonalData { field }) if field == "text"
        ));
    }

    use super::*;
    use crate::text::guard::{check_digit, is_birth_date, mask_clock_times, mask_ipv4, K1, K2};
    use proptest::prelude::*;
    use unicode_normalization::UnicodeNormalization;

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

    /// The seven written forms the second fault campaign found passing the old guard.
    #[test]
    fn the_seven_forms_that_used_to_pass_are_caught() {
        let n = "13057500020";
        let d: Vec<u32> = n.chars().map(|c| c.to_digit(10).unwrap()).collect();
        assert!(is_identity_number(&d.try_into().unwrap()));
        for t in [
            "Pasient 130575_00020",
            "Pasient 130575,00020",
            "Pasient 130575:00020",
            "Pasient 130575\u{0301}00020",
            "Pasient 130575\u{3002}00020",
            "Pasient \u{0661}\u{0663}\u{0660}\u{0665}\u{0667}\u{0665}\u{0660}\u{0660}\u{0660}\u{0662}\u{0660}",
            "Pasient \u{0967}\u{0969}\u{0966}\u{096B}\u{096D}\u{096B}\u{0966}\u{0966}\u{0966}\u{0968}\u{0966}",
        ] {
            assert!(contains_identity_number(t), "{t:?}");
        }
        // More than three separators between two digits end the number.
        assert!(!contains_identity_number("130575 - - 00020"));
    }

    /// A hash, a date or an address whose digits pass the mod-11 checks is still no identity
    /// number unless its first six digits are a date.
    #[test]
    fn digits_that_are_no_date_pass() {
        // The fingerprint that got 422 before: 48986956851 passes both checks, but 98 is no
        // month (nor an H-number's).
        let d: Vec<u32> = "48986956851"
            .chars()
            .map(|c| c.to_digit(10).unwrap())
            .collect();
        let d: [u32; 11] = d.try_into().unwrap();
        assert!(
            check_digit(&d[..9], &K1) == Some(d[9]) && check_digit(&d[..10], &K2) == Some(d[10])
        );
        assert!(!contains_identity_number("c48986956851b19a"));
        // D- and H-numbers are dates too; both at once is not.
        assert!(is_birth_date(&[4, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0]));
        assert!(is_birth_date(&[0, 1, 4, 1, 0, 1, 0, 0, 0, 0, 0]));
        assert!(!is_birth_date(&[4, 1, 4, 1, 0, 1, 0, 0, 0, 0, 0]));
        assert!(!is_birth_date(&[3, 0, 0, 2, 0, 1, 0, 0, 0, 0, 0]));
        assert!(is_birth_date(&[2, 9, 0, 2, 0, 0, 0, 0, 0, 0, 0]));
        assert!(!is_birth_date(&[2, 9, 0, 2, 0, 1, 0, 0, 0, 0, 0]));
    }

    /// xorshift64*, for the false-positive measurement (deterministic, no dependency).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// What monitoring and operators write that is *not* an identity number: hex
    /// fingerprints, IP address lists, phone numbers, dates and times. The rate at which the
    /// guard mistakes them is measured (printed per million; `GUARD_FP_SAMPLES` raises the
    /// sample) and bounded: at most 100 per million for each kind.
    #[test]
    fn ordinary_texts_are_rarely_mistaken_and_the_rate_is_measured() {
        let n: u64 = std::env::var("GUARD_FP_SAMPLES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(50_000);
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        type Make<'a> = &'a mut dyn FnMut(&mut Rng) -> String;
        let kinds: [(&str, Make); 4] = [
            ("hex fingerprint", &mut |r: &mut Rng| {
                format!("{:016x}", r.next())
            }),
            ("IP address pair", &mut |r: &mut Rng| {
                let ip = |r: &mut Rng| {
                    format!(
                        "{}.{}.{}.{}",
                        r.below(256),
                        r.below(256),
                        r.below(256),
                        r.below(256)
                    )
                };
                format!("{} -> {}:{}", ip(r), ip(r), r.below(65536))
            }),
            ("phone numbers", &mut |r: &mut Rng| {
                format!(
                    "Ring +47 {:08} eller {:02} {:02} {:02} {:02}",
                    r.below(100_000_000),
                    r.below(100),
                    r.below(100),
                    r.below(100),
                    r.below(100)
                )
            }),
            ("dates and times", &mut |r: &mut Rng| {
                let (d, m, y) = (1 + r.below(28), 1 + r.below(12), 2000 + r.below(40));
                let (h, min, sec) = (r.below(24), r.below(60), r.below(60));
                format!(
                    "Startet {d:02}.{m:02}.{y} kl. {h:02}:{min:02}, sist sett {y}-{m:02}-{d:02} {h:02}:{min:02}:{sec:02} ({}), varighet {} min",
                    r.below(1_000_000),
                    r.below(10_000)
                )
            }),
        ];
        for (kind, make) in kinds {
            let hits = (0..n)
                .filter(|_| contains_identity_number(&make(&mut rng)))
                .count() as u64;
            let per_million = hits * 1_000_000 / n;
            eprintln!("false positives, {kind}: {hits} of {n} ({per_million} per million)");
            assert!(per_million <= 100, "{kind}: {per_million} per million");
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
        (1u32..=28, 1u32..=12, 0u32..=99, 0u32..=999, 0u8..3).prop_filter_map(
            "check digit 10",
            |(d, m, y, ind, form)| {
                // 0: fødselsnummer, 1: D-number (day + 40), 2: H-number (month + 40).
                let day = if form == 1 { d + 40 } else { d };
                let m = if form == 2 { m + 40 } else { m };
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

    /// The zero of each script's digits the tests write numbers in: ASCII, fullwidth,
    /// Arabic-Indic, Extended Arabic-Indic, Devanagari, Bengali, Thai, mathematical bold.
    const ZEROS: [u32; 8] = [
        0x30, 0xFF10, 0x0660, 0x06F0, 0x0966, 0x09E6, 0x0E50, 0x1D7CE,
    ];

    /// Write the number as people and editors do: groups split by random separators, digits
    /// in one script.
    fn disguise(n: &str, cuts: &[usize], seps: &[&str], zero: u32) -> String {
        let mut out = String::new();
        for (i, c) in n.chars().enumerate() {
            if cuts.contains(&i) && i > 0 {
                out.push_str(seps[i % seps.len()]);
            }
            out.push(char::from_u32(zero + c.to_digit(10).unwrap()).unwrap());
        }
        out
    }

    const SEPS: [&str; 18] = [
        " ", "  ", "\u{00A0}", "\u{202F}", "\u{200B}", ".", "-", "/", "\u{2013}", " - ", "_", ",",
        ":", ";", "\u{3002}", "\u{0301}", ". ", "\u{2060}",
    ];

    /// A valid number and the same number as people and editors write it: cut into groups,
    /// with separators, perhaps in fullwidth digits.
    fn disguised() -> impl Strategy<Value = (String, String)> {
        (
            valid_number(),
            proptest::collection::vec(1usize..11, 0..5),
            proptest::collection::vec(proptest::sample::select(&SEPS[..]), 1..4),
            proptest::sample::select(&ZEROS[..]),
        )
            .prop_map(|(n, cuts, seps, zero)| {
                let text = disguise(&n, &cuts, &seps, zero);
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
            // Decided: four dotted groups of at most three digits read as an IPv4 address,
            // hh:mm:ss as a clock time.
            let mut masked: Vec<char> = hidden.nfkc().collect();
            mask_ipv4(&mut masked);
            mask_clock_times(&mut masked);
            prop_assume!(!masked.contains(&'x'));
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
