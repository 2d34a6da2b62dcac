//! What an event names, the door's id rule, and the one parser from (type, fields) to a typed
//! [`Event`] that the HTTP API, the mailbox, maintenance files, replay and `simulate` share.

use super::model::*;
use serde::Deserializer;

impl Event {
    /// The id this event names (SPEC §5.2: every event about a case names it with `id`).
    pub fn id(&self) -> Option<&str> {
        match self {
            Event::IncidentOpen(e) => Some(&e.id),
            Event::IncidentUpdate(e) => Some(&e.id),
            Event::IncidentResolve(e) | Event::IncidentAck(e) | Event::InquiryAnswered(e) => {
                Some(&e.id)
            }
            Event::MaintenanceCancel(e) => Some(&e.id),
            Event::Reply(e) => Some(&e.id),
            Event::MaintenanceAdd(e) => Some(&e.id),
            Event::MaintenanceChange(e) => Some(&e.id),
            Event::InquiryReceived(e) => Some(&e.id),
            Event::Alert(_) => None,
        }
    }

    /// The door's id check (SPEC §4.14), run on every new input by the daemon and `simulate`.
    /// Not part of parsing: events stored before the rule existed still replay, so an upgrade
    /// drops no case. The message does not echo the id.
    pub fn check_id(&self) -> Result<(), Refusal> {
        match self.id() {
            Some(id) if !valid_id(id) => Err(Refusal::BadId),
            _ => Ok(()),
        }
    }

    /// Build an event from its type name and fields (any serde source: TOML, JSON).
    pub fn from_parts<'de, D: Deserializer<'de>>(ty: &str, d: D) -> Result<Event, Refusal>
    where
        D::Error: std::fmt::Display,
    {
        fn m<T, E: std::fmt::Display>(
            r: Result<T, serde_path_to_error::Error<E>>,
        ) -> Result<T, Refusal> {
            r.map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner().to_string();
                Refusal::Malformed(
                    if path == "."
                        || inner.contains('`') && inner.starts_with("unknown field")
                        || inner.starts_with("missing field")
                    {
                        inner
                    } else {
                        format!("`{path}`: {inner}")
                    },
                )
            })
        }
        Ok(match ty {
            "incident.open" => {
                Event::IncidentOpen(m(serde_path_to_error::deserialize::<_, IncidentOpen>(d))?)
            }
            "incident.update" => {
                Event::IncidentUpdate(m(serde_path_to_error::deserialize::<_, IncidentUpdate>(d))?)
            }
            "incident.resolve" => {
                Event::IncidentResolve(m(serde_path_to_error::deserialize::<_, IdOnly>(d))?)
            }
            "incident.ack" => {
                Event::IncidentAck(m(serde_path_to_error::deserialize::<_, IdOnly>(d))?)
            }
            "reply" => Event::Reply(m(serde_path_to_error::deserialize::<_, Reply>(d))?),
            "alert" => Event::Alert(m(serde_path_to_error::deserialize::<_, Alert>(d))?),
            "maintenance.add" => {
                Event::MaintenanceAdd(m(serde_path_to_error::deserialize::<_, MaintenanceAdd>(d))?)
            }
            "maintenance.change" => Event::MaintenanceChange(m(
                serde_path_to_error::deserialize::<_, MaintenanceChange>(d),
            )?),
            "maintenance.cancel" => Event::MaintenanceCancel(m(
                serde_path_to_error::deserialize::<_, MaintenanceChange>(d),
            )?),
            "inquiry.received" => Event::InquiryReceived(m(serde_path_to_error::deserialize::<
                _,
                InquiryReceived,
            >(d))?),
            "inquiry.answered" => {
                Event::InquiryAnswered(m(serde_path_to_error::deserialize::<_, IdOnly>(d))?)
            }
            other => {
                return Err(Refusal::Malformed(format!(
                    "unknown event type {other:?}; expected one of: {}",
                    EVENT_TYPES.join(", ")
                )))
            }
        })
    }
}
