//! Fuzzing the parsers in-process, bounded (issue #8): configuration and scenario files mutated
//! at random — bytes dropped, repeated or replaced, lines swapped, hostile values spliced in —
//! must give a located error or a valid result, never a panic. proptest shrinks a failure to
//! the smallest input that shows it.

use proptest::prelude::*;
use std::path::{Path, PathBuf};

const HOSTILE: &[&str] = &[
    "\"\"",
    "\"15076500565\"",
    "\"１５０７６５００５６５\"",
    "9999-12-31T23:59:59Z",
    "\"0000-01-01T00:00:00Z\"",
    "-1",
    "18446744073709551616",
    "1e308",
    "[[",
    "]]",
    "{",
    "\"\\u0000\"",
    "\"æøå\u{200B}\"",
    "inf",
    "nan",
    "\"",
    "'''",
    "= =",
    "include = [\"/dev/zero\"]",
    "include = [\"**/*\"]",
];

#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Duplicate(usize, usize),
    Replace(usize, u8),
    Splice(usize, usize),
    SwapLines(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1usize..200).prop_map(|(a, n)| Edit::Delete(a, n)),
        (any::<usize>(), 1usize..200).prop_map(|(a, n)| Edit::Duplicate(a, n)),
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Edit::Replace(a, b)),
        (any::<usize>(), 0..HOSTILE.len()).prop_map(|(a, h)| Edit::Splice(a, h)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
    ]
}

/// Apply edits at char boundaries (the files are read as UTF-8; invalid UTF-8 is its own
/// error path, covered by `Replace` with bytes ≥ 0x80 written raw).
fn mutate(text: &str, edits: &[Edit]) -> Vec<u8> {
    let mut b = text.as_bytes().to_vec();
    for e in edits {
        if b.is_empty() {
            break;
        }
        let at = |x: usize| x % b.len();
        match *e {
            Edit::Delete(a, n) => {
                let s = at(a);
                let end = (s + n).min(b.len());
                b.drain(s..end);
            }
            Edit::Duplicate(a, n) => {
                let s = at(a);
                let end = (s + n).min(b.len());
                let piece = b[s..end].to_vec();
                b.splice(end..end, piece);
            }
            Edit::Replace(a, byte) => {
                let s = at(a);
                b[s] = byte;
            }
            Edit::Splice(a, h) => {
                let s = at(a);
                b.splice(s..s, HOSTILE[h].bytes());
            }
            Edit::SwapLines(x, y) => {
                let text = String::from_utf8_lossy(&b).to_string();
                let mut lines: Vec<&str> = text.lines().collect();
                if lines.len() > 1 {
                    let (i, j) = (x % lines.len(), y % lines.len());
                    lines.swap(i, j);
                }
                b = lines.join("\n").into_bytes();
            }
        }
    }
    b
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mv-fuzz-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_configurations_give_errors_not_panics(edits in proptest::collection::vec(edit(), 1..6)) {
        let main = std::fs::read_to_string(root().join("config/meldingsvakt.toml")).unwrap();
        let orgs = root().join("config/organizations.d/*.toml");
        let main = main.replace(
            "include = [\"organizations.d/*.toml\"]",
            &format!("include = [{:?}]", orgs.to_string_lossy()),
        );
        let dir = scratch("config");
        let path = dir.join("meldingsvakt.toml");
        std::fs::write(&path, mutate(&main, &edits)).unwrap();
        match meldingsvakt::config::Config::load(&path) {
            Ok(cfg) => {
                // What loads must also pass the template check or say where it fails.
                let _ = meldingsvakt::render::Renderer::checked(&cfg);
            }
            Err(errors) => {
                prop_assert!(!errors.is_empty());
                for e in &errors {
                    prop_assert!(e.line >= 1 && e.col >= 1, "{}", e);
                }
            }
        }
    }

    #[test]
    fn mutated_scenarios_give_errors_not_panics(
        which in 0usize..4,
        edits in proptest::collection::vec(edit(), 1..6),
    ) {
        let name = ["friday-kvittering", "planned-change-cancel", "alert-grouping", "maintenance-overrun"][which];
        let text = std::fs::read_to_string(root().join(format!("tests/scenarios/{name}.toml"))).unwrap();
        let text = text.replace(
            "config = \"../../config/meldingsvakt.toml\"",
            &format!("config = {:?}", root().join("config/meldingsvakt.toml").to_string_lossy()),
        );
        let dir = scratch("scenario");
        let path = dir.join("s.toml");
        std::fs::write(&path, mutate(&text, &edits)).unwrap();
        // Either output or an error that names the place; never a panic.
        if let Err(e) = meldingsvakt::sim::run(&path) {
            prop_assert!(!e.to_string().is_empty());
        }
    }
}
