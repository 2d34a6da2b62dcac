//! Every `tests/scenarios/*.toml` is simulated and compared line by line with its `.jsonl`.
//! After a deliberate rule change: `UPDATE_SCENARIOS=1 cargo test --test scenarios`, then read
//! the diff of the `.jsonl` files before committing.

use std::path::Path;

#[test]
fn scenarios_match_expected_output() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 15,
        "expected at least 15 scenarios, found {}",
        paths.len()
    );
    let update = std::env::var_os("UPDATE_SCENARIOS").is_some();
    let mut failures = Vec::new();
    for p in &paths {
        let got = meldingsvakt::sim::run(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let expected_path = p.with_extension("jsonl");
        if update {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("missing {}", expected_path.display()));
        if got != want {
            let (g, w): (Vec<_>, Vec<_>) = (got.lines().collect(), want.lines().collect());
            let i = (0..g.len().max(w.len()))
                .find(|&i| g.get(i) != w.get(i))
                .unwrap_or(0);
            failures.push(format!(
                "{}: line {} differs\n  want: {}\n  got:  {}",
                p.display(),
                i + 1,
                w.get(i).unwrap_or(&"<none>"),
                g.get(i).unwrap_or(&"<none>")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
