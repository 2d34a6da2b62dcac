//! Helpers shared by the unit tests (compiled only for `cargo test`).
use crate::config::Config;
use std::path::Path;

/// The example configuration shipped in `config/meldingsvakt.toml`.
pub(crate) fn example_config() -> Config {
    Config::load(&example_config_path()).unwrap_or_else(|e| panic!("example config: {e:?}"))
}

/// The checkout's example configuration file.
pub(crate) fn example_config_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/meldingsvakt.toml")
}

/// A fresh directory, removed when the value is dropped.
pub(crate) fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("mv-test-")
        .tempdir()
        .expect("temp dir")
}
