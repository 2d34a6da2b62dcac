//! Link flags for the `meldingsvakt` binary.

fn main() {
    // Relative relocations packed (`DT_RELR`, glibc ≥ 2.36, binutils ≥ 2.38; Debian 12 has
    // both). The position-independent binary had 1 MiB of `.rela.dyn`, read once by the loader
    // at start and then resident for nothing: the idle daemon's memory (issue #32). Only the
    // binaries are linked with it; ASLR is unchanged.
    let linux_gnu = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    if linux_gnu {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
