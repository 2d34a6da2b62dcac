//! Inputs other than the HTTP API: maintenance declared in files (`maintenance_files.rs`).
//! Alertmanager's webhook and the operator API live in `daemon/http.rs`; the IMAP watcher
//! follows in its own issue.

pub mod mailbox;
pub mod maintenance_files;
