//! meldingsvakt: outage notifications for Norwegian health IT. See ARCHITECTURE.md.
pub mod calendar;
pub mod config;
pub mod engine;
pub mod render;
pub mod sim;
