//! The plain `[[event]]` block, read without the TOML parser (issue #32: a year of events spent
//! a fifth of `simulate` in `toml::de`). A block is read here only when every line is one of
//! the few shapes generated and hand-written scenarios use — `key = "text"`, `key = ["a", "b"]`,
//! `key = { k = "v" }` (an alert's labels), `key = 12`, `key = true` — with bare keys, no
//! escapes, no comments after a value and no key twice. Anything else (an escape, a datetime,
//! a nested table, a dotted key, a duplicate …) answers `None`, and the block goes to the TOML
//! parser, which reads it or says what is wrong exactly as before. What is read here is what
//! TOML reads: `reads_what_toml_reads` checks.

use toml::{Table, Value};

/// The `[[event]]` block `block` as the table TOML makes of it (`{event = [{…}]}`), or `None`.
pub(super) fn simple_block(block: &str) -> Option<Table> {
    let mut lines = block.split_inclusive('\n').map(line_body);
    // The header first (blank lines and comments before it are not in a block).
    match lines.next()?? {
        "[[event]]" | "[[ event ]]" => {}
        _ => return None,
    }
    let mut event = Table::new();
    for line in lines {
        let line = line?;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=')?;
        let key = key.trim_end_matches([' ', '\t']);
        if !bare_key(key) || event.contains_key(key) {
            return None;
        }
        event.insert(key.to_string(), value_of(value.trim_matches([' ', '\t']))?);
    }
    let mut root = Table::new();
    root.insert("event".into(), Value::Array(vec![Value::Table(event)]));
    Some(root)
}

/// A line without its end and surrounding blanks; `None` for a carriage return that does not
/// end the line (TOML refuses it).
fn line_body(line: &str) -> Option<&str> {
    let l = line.strip_suffix('\n').unwrap_or(line);
    let l = l.strip_suffix('\r').unwrap_or(l);
    (!l.contains('\r')).then(|| l.trim_matches([' ', '\t']))
}

fn value_of(v: &str) -> Option<Value> {
    match v {
        "true" => return Some(Value::Boolean(true)),
        "false" => return Some(Value::Boolean(false)),
        _ => {}
    }
    if let Some(s) = plain_string(v) {
        return Some(Value::String(s.to_string()));
    }
    if let Some(inner) = v.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
        let inner = inner.trim_matches([' ', '\t']);
        if inner.is_empty() {
            return Some(Value::Array(Vec::new()));
        }
        // No trailing comma, no nesting: each item a plain string.
        return inner
            .split(',')
            .map(|item| {
                plain_string(item.trim_matches([' ', '\t'])).map(|s| Value::String(s.into()))
            })
            .collect::<Option<Vec<_>>>()
            .map(Value::Array);
    }
    if let Some(inner) = v.strip_prefix('{').and_then(|v| v.strip_suffix('}')) {
        return inline_table(inner.trim_matches([' ', '\t'])).map(Value::Table);
    }
    // A decimal integer without sign, underscores or leading zeros.
    let digits = v.bytes().all(|b| b.is_ascii_digit());
    if digits && !v.is_empty() && (v == "0" || !v.starts_with('0')) {
        return v.parse::<i64>().ok().map(Value::Integer);
    }
    None
}

/// `k = "v", k2 = "v2"` (an alert's labels): bare keys, each once, plain strings, no
/// trailing comma.
fn inline_table(inner: &str) -> Option<Table> {
    let mut t = Table::new();
    if inner.is_empty() {
        return Some(t);
    }
    for pair in inner.split(',') {
        let (k, v) = pair.split_once('=')?;
        let k = k.trim_matches([' ', '\t']);
        if !bare_key(k) || t.contains_key(k) {
            return None;
        }
        let v = plain_string(v.trim_matches([' ', '\t']))?;
        t.insert(k.to_string(), Value::String(v.to_string()));
    }
    Some(t)
}

/// `A-Za-z0-9_-`, at least one.
fn bare_key(k: &str) -> bool {
    !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The text of `"…"` with no escape, quote or control character inside.
fn plain_string(v: &str) -> Option<&str> {
    let s = v.strip_prefix('"')?.strip_suffix('"')?;
    s.chars()
        .all(|c| c != '"' && c != '\\' && (c == '\t' || !c.is_control()))
        .then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toml_reads(block: &str) -> Table {
        toml::from_str::<Table>(block).expect("valid TOML")
    }

    #[test]
    fn reads_what_toml_reads() {
        for block in [
            "[[event]]\nat = \"2026-01-01T00:10:54Z\"\ntype = \"incident.open\"\nid = \"I1\"\n",
            "[[event]]\r\nat = \"2026-01-01T00:10:54Z\"\r\norgs = [\"a\", \"b\" ,\"c\"]\r\n\r\n",
            "[[ event ]]\n  kind\t=  \"kvittering\"  \nservices = []\n# a comment\nn = 0\nm = 42\nx = true\ny = false\n",
            "[[event]]\ntext = \"Æ ø å – «sitat» \ttab\"\nempty = \"\"\n",
            "[[event]]\nlabels = { org = \"meraker\", service = \"epikrise\",kind=\"kvittering\" }\nx = {}\n",
        ] {
            assert_eq!(simple_block(block), Some(toml_reads(block)), "{block:?}");
        }
    }

    #[test]
    fn leaves_everything_else_to_toml() {
        for block in [
            "[[event]]\ntext = \"a \\\"b\\\"\"\n",    // escapes
            "[[event]]\nat = 2026-01-01T00:10:54Z\n", // a datetime
            "[[event]]\nid = \"I1\" # why\n",         // a comment after the value
            "[[event]]\nid = \"I1\"\nid = \"I2\"\n",  // a key twice (TOML refuses)
            "[[event]]\na.b = \"x\"\n",               // a dotted key
            "[[event]]\n\"id\" = \"x\"\n",            // a quoted key
            "[[event]]\nid = 'x'\n",                  // a literal string
            "[[event]]\nn = 012\n",                   // a leading zero (TOML refuses)
            "[[event]]\nn = -1\n",                    // a sign
            "[[event]]\nn = 1_000\n",                 // an underscore
            "[[event]]\norgs = [\"a\", \"b\",]\n",    // a trailing comma
            "[[event]]\norgs = [\"a\", [\"b\"]]\n",   // nesting
            "[[event]]\nx = { a = 1 }\n",             // an inline table
            "[[event]]\n[event.sub]\n",               // a table header
            "[[event]]\nid = \"a\rb\"\n",             // a bare carriage return
            "[[event]]\nid = \"\"\"x\"\"\"\n",        // a multi-line string
            "[[event]]\nid\n",                        // no value
            "id = \"x\"\n",                           // no header
        ] {
            assert_eq!(simple_block(block), None, "{block:?}");
        }
    }

    /// The search for `[[` finds the header lines that going through every line finds.
    #[test]
    fn event_headers_are_found_as_lines_are() {
        fn by_lines(text: &str) -> Vec<usize> {
            let mut starts = Vec::new();
            let mut offset = 0;
            for line in text.split_inclusive('\n') {
                let l = line.trim_start();
                if l.starts_with("[[event]]") || l.starts_with("[[ event ]]") {
                    starts.push(offset);
                }
                offset += line.len();
            }
            starts
        }
        let texts = [
            "config = \"c.toml\"\n\n[[event]]\nat = \"x\"\n  [[event]]\n\t[[ event ]]\n",
            "[[event]]\ntext = \"a [[event]] in a string\"\n[[events]]\n[[event]] # c\n",
            "[[[event]]\n x[[event]]\n\r\n\u{a0}[[event]]\n[[ event]]\n[[event]]",
            "",
            "no headers at all [[ ]] [[",
        ];
        for t in texts {
            assert_eq!(
                crate::sim::event_starts(t).collect::<Vec<_>>(),
                by_lines(t),
                "{t:?}"
            );
        }
        // The texts hold headers to find.
        assert_eq!(crate::sim::event_starts(texts[0]).count(), 3);
    }
}
