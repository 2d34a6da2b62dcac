//! What every string of the daemon must pass, on the floor everything stands on: the
//! personal-number guard (`guard`, SPEC §4.12) and the id rule (`id`, SPEC §4.14). Pure text,
//! no other room.

pub(crate) mod guard;
pub(crate) mod id;
