//! The personal-data guard (SPEC §4.12; seeds/001 §2.1, seeds/000 §2.1): nothing that leaves
//! the daemon may carry a Norwegian national identity number (fødselsnummer), D-number or
//! H-number: 11 digits whose first six are a date (`ddmmyy`; a D-number adds 4 to the first
//! digit, an H-number adds 4 to the third) and that pass both mod-11 check digits.
//!
//! The check sees through how people and editors write numbers. The text is normalised (NFKC:
//! fullwidth, superscript and mathematical digits become ASCII), and a digit is then any
//! character of Unicode's numeric classes, read for its decimal value, so Arabic-Indic,
//! Devanagari and every other script's digits count (NFKC does not fold those). Digits are
//! read in **groups**: between two digits of one written number may stand at most three
//! characters that are neither letters nor digits (spaces of every kind, zero-width
//! characters, combining marks, any punctuation: `. , : ; _ - – / 。`). Any run of
//! consecutive groups holding exactly 11 digits is tested, so `150765 00565`,
//! `15 07 65 00565`, `130575_00020` and `+47 73 00 00 00 15076500565` are caught, while a
//! 12-digit reference number is not an identity number, and `c48986956851b19a` (a hash: its
//! 11 digits are no date) is left alone.
//!
//! The door-level checks over whole inputs (`check_json`, `check_toml`: a refusal that names
//! the field, never the value) live in `engine::guard`; this room is the bottom floor, so the
//! configuration, the engine and every sink use the same finder.

use unicode_normalization::UnicodeNormalization;

pub(crate) const K1: [u32; 9] = [3, 7, 6, 1, 8, 9, 4, 5, 2];
pub(crate) const K2: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

pub(crate) fn check_digit(digits: &[u32], weights: &[u32]) -> Option<u32> {
    let s: u32 = digits.iter().zip(weights).map(|(d, w)| d * w).sum();
    match 11 - s % 11 {
        11 => Some(0),
        10 => None,
        k => Some(k),
    }
}

/// Whether the first six digits are a birth date `ddmmyy`, or one as a D-number (day + 40)
/// or an H-number (month + 40) writes it. February 29 is a date when `yy` is a leap year in
/// some century (every `yy` divisible by 4: 2000 was one).
pub(crate) fn is_birth_date(d: &[u32; 11]) -> bool {
    let (mut day, mut month, yy) = (d[0] * 10 + d[1], d[2] * 10 + d[3], d[4] * 10 + d[5]);
    let d_number = day > 40;
    let h_number = month > 40;
    if d_number && h_number {
        return false;
    }
    if d_number {
        day -= 40;
    }
    if h_number {
        month -= 40;
    }
    let last = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if yy % 4 == 0 => 29,
        2 => 28,
        _ => return false,
    };
    (1..=last).contains(&day)
}

/// Whether 11 digits are an identity number, D-number or H-number: a date, and both mod-11
/// checks.
pub(crate) fn is_identity_number(d: &[u32; 11]) -> bool {
    is_birth_date(d)
        && check_digit(&d[..9], &K1) == Some(d[9])
        && check_digit(&d[..10], &K2) == Some(d[10])
}

/// The decimal value of a digit of any script. Unicode's decimal digits come in runs of ten
/// from zero, so the value is the distance from the start of the run of numeric characters
/// it stands in (Arabic-Indic ٠–٩, Devanagari ०–९, …); ASCII directly.
fn digit_value(c: char) -> Option<u32> {
    if c.is_ascii_digit() {
        return c.to_digit(10);
    }
    if !c.is_numeric() {
        return None;
    }
    let code = c as u32;
    let mut start = code;
    while start > 0
        && code - (start - 1) < 100
        && char::from_u32(start - 1).is_some_and(char::is_numeric)
    {
        start -= 1;
    }
    Some((code - start) % 10)
}

/// At most this many characters that are neither letters nor digits may stand between two
/// digits of one written number.
const MAX_SEPARATORS: usize = 3;

/// Whether `text` contains something that looks like a national identity number, D-number
/// or H-number.
pub(crate) fn contains_identity_number(text: &str) -> bool {
    find_identity_number(text).is_some()
}

/// Each character as NFKC folds it when that is one character (fullwidth `１` → `1`,
/// superscript `²` → `2`), else itself; with its byte offset in `text`.
fn folded(text: &str) -> (Vec<char>, Vec<usize>) {
    let mut chars = Vec::with_capacity(text.len());
    let mut at = Vec::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        let f = if c.is_ascii() {
            c
        } else {
            let mut n = std::iter::once(c).nfkc();
            match (n.next(), n.next()) {
                (Some(one), None) => one,
                _ => c,
            }
        };
        chars.push(f);
        at.push(i);
    }
    (chars, at)
}

/// Where in `text` (a byte range, from the first digit to the last) the first thing that
/// looks like an identity number stands.
pub(crate) fn find_identity_number(text: &str) -> Option<std::ops::Range<usize>> {
    // Fast path: fewer than 11 digit-like characters cannot hold one.
    if text.chars().filter(|c| c.is_numeric()).count() < 11 {
        return None;
    }
    let (mut norm, at) = folded(text);
    mask_ipv4(&mut norm);
    mask_clock_times(&mut norm);
    let end_of = |i: usize| {
        text[at[i]..]
            .chars()
            .next()
            .map_or(at[i], |c| at[i] + c.len_utf8())
    };
    // Runs of digit groups (each: digits, first and last char index): a run ends at a letter,
    // or at more than MAX_SEPARATORS other characters in a row.
    let mut groups: Vec<Group> = Vec::new();
    let mut cur = Group::default();
    let mut separators = 0usize;
    for (i, &c) in norm.iter().enumerate() {
        if let Some(d) = digit_value(c) {
            if separators > 0 && !cur.digits.is_empty() {
                groups.push(std::mem::take(&mut cur));
            }
            separators = 0;
            if cur.digits.is_empty() {
                cur.first = i;
            }
            cur.last = i;
            cur.digits.push(d);
        } else if !c.is_alphanumeric() {
            separators += 1;
            if separators > MAX_SEPARATORS {
                if !cur.digits.is_empty() {
                    groups.push(std::mem::take(&mut cur));
                }
                if let Some((f, l)) = run_has_number(&groups) {
                    return Some(at[f]..end_of(l));
                }
                groups.clear();
            }
        } else {
            if !cur.digits.is_empty() {
                groups.push(std::mem::take(&mut cur));
            }
            if let Some((f, l)) = run_has_number(&groups) {
                return Some(at[f]..end_of(l));
            }
            groups.clear();
            separators = 0;
        }
    }
    if !cur.digits.is_empty() {
        groups.push(cur);
    }
    run_has_number(&groups).map(|(f, l)| at[f]..end_of(l))
}

/// `text` with every identity number replaced by `[fjernet]`; `None` when it holds none.
pub(crate) fn redact(text: &str) -> Option<String> {
    let mut out = text.to_string();
    let mut found = false;
    // Each pass removes at least 11 digits, so this ends.
    while let Some(r) = find_identity_number(&out) {
        out.replace_range(r, REDACTED);
        found = true;
    }
    found.then_some(out)
}

/// What stands where a number was removed from an alert.
pub(crate) const REDACTED: &str = "[fjernet]";

#[derive(Default)]
struct Group {
    digits: Vec<u32>,
    first: usize,
    last: usize,
}

/// **Decided** (SPEC §4.12 is silent): an IPv4 address — four groups of one to three ASCII
/// digits, each at most 255, joined by single dots, with no digit or dotted digit on either
/// side — is an address, not part of a number. Its characters are masked (as a letter would,
/// they end a run), so a pair of addresses in an alert's annotation is not read as an
/// identity number. Nobody writes an identity number as four groups of at most three digits.
pub(crate) fn mask_ipv4(text: &mut [char]) {
    let digit = |c: char| c.is_ascii_digit();
    let mut i = 0;
    while i < text.len() {
        let boundary_before = i == 0 || !(digit(text[i - 1]) || text[i - 1] == '.');
        if !(digit(text[i]) && boundary_before) {
            i += 1;
            continue;
        }
        // Read up to four dotted groups from i.
        let mut j = i;
        let mut groups = 0;
        let mut ok = true;
        while groups < 4 {
            let start = j;
            let mut value = 0u32;
            while j < text.len() && digit(text[j]) && j - start < 4 {
                value = value * 10 + text[j].to_digit(10).unwrap_or(0);
                j += 1;
            }
            let len = j - start;
            if len == 0 || len > 3 || value > 255 {
                ok = false;
                break;
            }
            groups += 1;
            if groups < 4 {
                if j < text.len() && text[j] == '.' {
                    j += 1;
                } else {
                    ok = false;
                    break;
                }
            }
        }
        let boundary_after = j >= text.len()
            || !(digit(text[j]) || (text[j] == '.' && text.get(j + 1).copied().is_some_and(digit)));
        if ok && groups == 4 && boundary_after {
            for c in &mut text[i..j] {
                *c = 'x';
            }
            i = j;
        } else {
            // Skip this digit group; an address can only start after a boundary.
            while i < text.len() && digit(text[i]) {
                i += 1;
            }
        }
    }
}

/// **Decided** (SPEC §4.12 is silent): a clock time `hh:mm:ss` (00–23, 00–59, 00–60, two
/// digits each, single colons, no digit or colon on either side) is a time, not part of a
/// number: log lines put them next to other numbers (`14:31:07 (12345)`). Masked like an
/// address. Nobody writes an identity number as a clock time; `130575:00020` is no clock time
/// and is still caught.
pub(crate) fn mask_clock_times(text: &mut [char]) {
    let two = |t: &[char], at: usize, max: u32| -> bool {
        match (
            t.get(at).and_then(|c| c.to_digit(10)),
            t.get(at + 1).and_then(|c| c.to_digit(10)),
        ) {
            (Some(a), Some(b)) => {
                t[at].is_ascii_digit() && t[at + 1].is_ascii_digit() && a * 10 + b <= max
            }
            _ => false,
        }
    };
    let free = |c: Option<&char>| c.is_none_or(|c| !(c.is_ascii_digit() || *c == ':'));
    let mut i = 0;
    while i + 8 <= text.len() {
        let is_time = (i == 0 || free(text.get(i - 1)))
            && two(text, i, 23)
            && text[i + 2] == ':'
            && two(text, i + 3, 59)
            && text[i + 5] == ':'
            && two(text, i + 6, 60)
            && free(text.get(i + 8));
        if is_time {
            for c in &mut text[i..i + 8] {
                *c = 'x';
            }
            i += 8;
        } else {
            i += 1;
        }
    }
}

/// Any consecutive groups with exactly 11 digits between them that pass the checks: the
/// char indices of its first and last digit.
fn run_has_number(groups: &[Group]) -> Option<(usize, usize)> {
    for i in 0..groups.len() {
        let mut digits: Vec<u32> = Vec::with_capacity(11);
        let mut last = groups[i].last;
        for g in &groups[i..] {
            digits.extend_from_slice(&g.digits);
            last = g.last;
            if digits.len() >= 11 {
                break;
            }
        }
        if let Ok(arr) = <[u32; 11]>::try_from(digits.as_slice()) {
            if is_identity_number(&arr) {
                return Some((groups[i].first, last));
            }
        }
    }
    None
}

fn is_timestamp(s: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

/// A raw input tree (JSON from the API, TOML from a scenario), as the guard walks it.
pub(crate) enum Shape<'a, T> {
    Text(&'a str),
    Number(String),
    List(&'a [T]),
    Map(Box<dyn Iterator<Item = (&'a str, &'a T)> + 'a>),
    Other,
}

/// A raw input tree the guard can walk (JSON from the API, TOML from a scenario).
pub(crate) trait Tree: Sized {
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
/// The path of the first field of `v` (a string, a number or a key) that carries a
/// personal number (`labels.patient`, `orgs[2]`; `""` for the whole value).
pub(crate) fn find<T: Tree>(v: &T, path: &mut String) -> Option<String> {
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
