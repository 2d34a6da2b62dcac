//! The operator console (SPEC §5.6): pages for the operators on call, server-rendered in
//! Norwegian bokmål. This folder is pure (no I/O): sessions and CSRF tokens (`session`), the
//! words operators read (`words`), forms to events and refusals back to fields (`forms`), and
//! the pages (`pages`, handlebars templates in `templates/console/`; the case list `cases`, the preview `preview`, a case `case`). The daemon's HTTP side
//! is `daemon/console.rs`.

pub(crate) mod admin;
pub(crate) mod case;
pub(crate) mod cases;
pub(crate) mod directory;
pub(crate) mod forms;
pub(crate) mod kontakt;
pub(crate) mod pages;
pub(crate) mod preview;
pub(crate) mod session;
mod timeline;
pub(crate) mod words;

#[cfg(test)]
mod tests;
