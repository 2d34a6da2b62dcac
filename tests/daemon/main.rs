//! The daemon against real parts: a real SMTP server (Debian's python3-aiosmtpd, installed by
//! scripts/test.sh), Debian's Alertmanager and Dovecot, headless Chromium, real sockets,
//! SIGKILL in the middle of a fan-out. One file per story; `harness` and `tests/support` hold
//! what they share.

#[path = "../support/mod.rs"]
mod support;

mod harness;

mod alertmanager;
mod audit;
mod bad_input;
mod calendar;
mod console;
mod directory;
mod fanout;
mod kontakt;
mod kvittering;
mod mailbox;
mod maintenance_files;
mod no_echo;
mod oidc;
#[cfg(feature = "test-clock")]
mod people;
mod postfix;
mod report;
mod roles;
mod rotation;
mod shift;
mod smtp_tls;
mod status_page;
mod statuspage_api;
mod subscribers;
mod systemd;
mod timeline;
