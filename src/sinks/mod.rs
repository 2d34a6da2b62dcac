//! Where actions go: e-mail (SMTP or files). Status pages and Alertmanager silences follow in
//! their own issues; until then the dispatcher records those actions as done with a log line.

pub mod email;
pub mod silence;
pub mod statuspage;
