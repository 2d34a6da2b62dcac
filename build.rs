//! Link flags for the `meldingsvakt` binary.

use std::path::Path;

fn main() {
    // Relative relocations packed (`DT_RELR`, glibc ≥ 2.36, binutils ≥ 2.38; Debian 12 has
    // both). The position-independent binary had 1 MiB of `.rela.dyn`, read once by the loader
    // at start and then resident for nothing: the idle daemon's memory (issue #32). Only the
    // binaries are linked with it; ASLR is unchanged.
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let linux_gnu = var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu";
    if linux_gnu {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    // The functions that run from start to idle placed together (`link/startup.order`, written
    // by `scripts/startup-order.py`). The kernel maps code 64 KiB around each page it faults
    // in, so start-up code spread over the binary kept 11 of its 14 MB resident in the idle
    // daemon; placed together it is about 3.5 MiB (issue #32). Rust links with lld on
    // x86_64-unknown-linux-gnu, which reads the list; names it does not find (a list from
    // another compiler version or before a change of the dependencies, the dev profile) cost
    // memory, never correctness. Release-like profiles only: the dev profile's functions are
    // others.
    let order = Path::new(&var("CARGO_MANIFEST_DIR")).join("link/startup.order");
    let lld = linux_gnu && var("CARGO_CFG_TARGET_ARCH") == "x86_64";
    if lld
        && var("PROFILE") == "release"
        && order.is_file()
        && !order.to_string_lossy().contains(',')
    {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
    println!("cargo:rerun-if-changed=link/startup.order");
    println!("cargo:rerun-if-changed=build.rs");
}
