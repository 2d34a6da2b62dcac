//! meldingsvakt: outage notifications for Norwegian health IT. See ARCHITECTURE.md.
pub mod calendar;
pub mod config;
