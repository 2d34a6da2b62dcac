//! meldingsvakt: outage notifications for Norwegian health IT. See ARCHITECTURE.md.
pub mod audit;
pub mod calendar;
pub mod client;
pub mod clock;
pub mod config;
pub mod console;
pub mod daemon;
pub mod engine;
pub mod manual;
pub mod render;
pub mod report;
pub mod sim;
pub mod sinks;
pub mod sources;
pub mod status;
pub mod stdout;
pub mod store;
#[cfg(test)]
pub(crate) mod testutil;
pub mod text;
pub mod tls;
