//! The rooms of `src/` stand on floors (ARCHITECTURE.md, "Floors"): a room imports only rooms
//! on its own floor or below, and no two rooms import each other, directly or around a
//! circle. A `use` check over `src/`: every `crate::ROOM` (and, in `main.rs`,
//! `meldingsvakt::ROOM`) outside test code is an arrow from the file's room to ROOM.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Bottom to top. A room is a folder of `src/` or a file directly in it.
const FLOORS: &[&[&str]] = &[
    &["audit", "calendar", "clock", "stdout", "text", "tls"],
    &["config"],
    &["engine"],
    &["render", "report", "store"],
    &["sinks", "sources", "status", "console", "sim", "client"],
    &["daemon"],
    &["main", "manual"],
];

/// Rooms that are not part of the building: the crate root, and what only tests use.
const OUTSIDE: &[&str] = &["lib", "testutil"];

fn floor(room: &str) -> Option<usize> {
    FLOORS.iter().position(|f| f.contains(&room))
}

/// The code of a file without its test module and its comments.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every arrow between rooms: (from, to) → the files that draw it.
fn arrows() -> BTreeMap<(String, String), BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut out: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for f in all {
        let rel = f.strip_prefix(&src).unwrap();
        let name = rel.to_string_lossy().to_string();
        if rel.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let room = match rel.components().count() {
            1 => rel.file_stem().unwrap().to_string_lossy().to_string(),
            _ => rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy()
                .to_string(),
        };
        if OUTSIDE.contains(&room.as_str()) {
            continue;
        }
        let text = code(&std::fs::read_to_string(&f).unwrap());
        for prefix in ["crate::", "meldingsvakt::"] {
            for (i, _) in text.match_indices(prefix) {
                // `$crate::` in a macro is the crate too; `x::crate::` is not a path start.
                let before = text[..i].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let target: String = text[i + prefix.len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if target.is_empty() || target == room || OUTSIDE.contains(&target.as_str()) {
                    continue;
                }
                // Macros exported at the crate root (`crate::tpath!`) live in their room.
                let target = match target.as_str() {
                    "tpath" | "section" => "config".to_string(),
                    "out" | "outln" => "stdout".to_string(),
                    _ => target,
                };
                if target == room {
                    continue;
                }
                out.entry((room.clone(), target))
                    .or_default()
                    .insert(name.clone());
            }
        }
    }
    out
}

#[test]
fn no_room_imports_one_above_it() {
    let mut wrong = Vec::new();
    for ((from, to), files) in arrows() {
        let (Some(a), Some(b)) = (floor(&from), floor(&to)) else {
            wrong.push(format!("{from} -> {to}: a room with no floor ({files:?})"));
            continue;
        };
        if b > a {
            wrong.push(format!(
                "{from} (floor {a}) -> {to} (floor {b}) in {files:?}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "arrows that run up:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_rooms_import_each_other() {
    let arrows = arrows();
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in arrows.keys() {
        next.entry(from).or_default().push(to);
    }
    // Depth-first search for a circle.
    fn visit<'a>(
        n: &'a str,
        next: &BTreeMap<&'a str, Vec<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<&'a str>> {
        if let Some(i) = path.iter().position(|p| *p == n) {
            let mut c = path[i..].to_vec();
            c.push(n);
            return Some(c);
        }
        if !done.insert(n) {
            return None;
        }
        path.push(n);
        for m in next.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, next, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for n in next.keys() {
        if let Some(c) = visit(n, &next, &mut Vec::new(), &mut done) {
            let how: Vec<String> = c
                .windows(2)
                .map(|w| {
                    format!(
                        "{} -> {} {:?}",
                        w[0],
                        w[1],
                        arrows[&(w[0].to_string(), w[1].to_string())]
                    )
                })
                .collect();
            panic!("a circle of rooms:\n{}", how.join("\n"));
        }
    }
}

/// A file a newcomer can read: none in `src/` is over 600 lines.
#[test]
fn no_file_is_over_600_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let long: Vec<String> = all
        .iter()
        .map(|f| (f, std::fs::read_to_string(f).unwrap().lines().count()))
        .filter(|(_, n)| *n > 600)
        .map(|(f, n)| format!("{} ({n} lines)", f.display()))
        .collect();
    assert!(long.is_empty(), "split these: {long:?}");
}

/// Errors are types that say what went wrong, never a bare `String`.
#[test]
fn no_error_is_a_bare_string() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut found = Vec::new();
    for f in &all {
        let text = std::fs::read_to_string(f).unwrap();
        for (i, line) in text.lines().enumerate() {
            let l = line.replace(' ', "");
            if l.contains("Result<")
                && l.contains(",String>")
                && !l.contains("BTreeMap<String,String>")
            {
                found.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "Result<_, String>:\n{}", found.join("\n"));
}

/// Every `pub` item outside test code (function, type, trait, constant, static) says in a
/// doc comment what it is.
#[test]
fn every_pub_item_has_a_doc_comment() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let kinds = [
        "pub fn ",
        "pub async fn ",
        "pub const fn ",
        "pub struct ",
        "pub enum ",
        "pub trait ",
        "pub type ",
        "pub const ",
        "pub static ",
    ];
    let mut missing = Vec::new();
    for f in all.iter().filter(|f| !f.ends_with("tests.rs")) {
        let text = std::fs::read_to_string(f).unwrap();
        let text = match text.find("#[cfg(test)]") {
            Some(i) => &text[..i],
            None => &text[..],
        };
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let l = line.trim_start();
            if !kinds.iter().any(|k| l.starts_with(k)) {
                continue;
            }
            let mut j = i;
            while j > 0 && lines[j - 1].trim_start().starts_with("#[") {
                j -= 1;
            }
            if j == 0 || !lines[j - 1].trim_start().starts_with("///") {
                missing.push(format!("{}:{}: {}", f.display(), i + 1, l));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "pub items without a doc comment:\n{}",
        missing.join("\n")
    );
}
