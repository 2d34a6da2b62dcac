//! Inputs other than the operators' API: Alertmanager's webhook payload and its door
//! (`alertmanager.rs`), maintenance declared in files (`maintenance_files.rs`), and what a
//! message in our mailbox is (`mailbox.rs`, for the IMAP watcher in `daemon/mailbox.rs`).
//! Each turns the outside world into `engine::events::Input`s; none decides anything.

pub(crate) mod alertmanager;
pub(crate) mod mailbox;
pub mod maintenance_files;
