//! The daemon's wall clock. Normal builds: `Utc::now()`. Test builds (`--features test-clock`)
//! add an offset read from the file named by `MELDINGSVAKT_TEST_CLOCK_FILE` (whole seconds),
//! so end-to-end tests can move time forward across business hours and days. The offset file
//! is read on every call; release builds do not contain this code.

use chrono::{DateTime, Utc};

/// The daemon's now (with `test-clock`, moved by the tests' offset file).
pub(crate) fn now() -> DateTime<Utc> {
    #[cfg(feature = "test-clock")]
    {
        if let Some(secs) = std::env::var_os("MELDINGSVAKT_TEST_CLOCK_FILE")
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|s| s.trim().parse::<i64>().ok())
        {
            return Utc::now() + chrono::Duration::seconds(secs);
        }
    }
    Utc::now()
}

/// The longest the engine sleeps before looking at the clock again.
pub(crate) fn max_sleep() -> std::time::Duration {
    if cfg!(feature = "test-clock") {
        std::time::Duration::from_millis(200)
    } else {
        std::time::Duration::from_secs(60)
    }
}
