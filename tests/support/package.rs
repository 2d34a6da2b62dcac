//! What the two package tests share (tests/package.rs, tests/systemd_package.rs): the source
//! tree, a command that must succeed, and the package built by scripts/package.sh.

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Run `cmd`; its stdout, or a panic with both outputs.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// scripts/package.sh with the package-test profile (and `--deb-version` when given); the
/// one .deb it leaves in target/package.
pub fn package(version: Option<&str>) -> PathBuf {
    let mut cmd = Command::new(root().join("scripts/package.sh"));
    cmd.args(["--profile", "package-test"]).current_dir(root());
    if let Some(v) = version {
        cmd.args(["--deb-version", v]);
    }
    run(&mut cmd);
    std::fs::read_dir(root().join("target/package"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .expect("a .deb in target/package")
}
