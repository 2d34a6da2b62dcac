//! What an event names, the door's id rule, and the one parser from (type, fields) to a typed
//! [`Event`] that the HTTP API, the mailbox, maintenance files, replay and `simulate` share.

use super::model::*;
use serde::Deserializer;

/// An event that passed the door (SPEC §4.12, §4.14, §5.2): the personal-data guard over every
/// raw field, the parse into a typed [`Event`], and the id rule. Built where input arrives
/// (HTTP, mailbox, maintenance files); the engine task receives only these, hands `event` to
/// the engine and `log` to the store.
#[derive(Debug, Clone)]
pub struct Input {
    pub event: Event,
    pub log: Logged,
}

/// What the event log keeps of an input: its type, its raw JSON (which replay parses again
/// with [`Event::from_parts`]), where it came from and who (SPEC §5.8).
#[derive(Debug, Clone)]
pub struct Logged {
    pub ty: &'static str,
    pub body: String,
    pub origin: Origin,
    /// Who, when known: the signed-in person, or the operator API's and CLI's optional `by`.
    pub by: Option<String>,
    /// The person (or input) it is audited as, with their role (SPEC §5.10); `None`: an
    /// input no person sent (alerts; the mailbox and files are audited by their origin).
    pub actor: Option<crate::audit::Actor>,
}

/// Where an event came from (SPEC §5.8): `api`, `alert`, `mailbox`, `file` or `console` in
/// the event log and timeline; the audit log's origin is the same type (the CLI's requests are
/// `api` events audited with origin `cli`).
pub use crate::audit::Origin;

impl Input {
    /// Through the door. A `by` field (who did it) is taken out of the fields before they are
    /// parsed and stored; like every field it has passed the personal-data guard.
    pub fn parse(ty: &str, fields: &serde_json::Value) -> Result<Input, Refusal> {
        if ty.starts_with("directory.") {
            // Contacts change only by the directory's own paths (SPEC §4.16): the link page,
            // the console's directory, the configuration, a bounce. Never by the event API.
            return Err(Refusal::Malformed(format!(
                "{ty:?} is not an operator event; contacts change through the directory"
            )));
        }
        Self::internal(ty, fields)
    }

    /// An input from one of the directory's own paths (or any other internal source): the
    /// same door as `parse` without the refusal of `directory.*` types.
    pub(crate) fn internal(ty: &str, fields: &serde_json::Value) -> Result<Input, Refusal> {
        super::guard::check_json(fields)?;
        let mut fields = fields.clone();
        let by = match fields.as_object_mut().and_then(|o| o.remove("by")) {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(b))
                if !b.trim().is_empty()
                    && b.chars().count() <= 100
                    && !b.chars().any(char::is_control) =>
            {
                Some(b.trim().to_string())
            }
            Some(_) => return Err(Refusal::invalid("by", Why::ByName)),
        };
        let event = Event::from_parts(ty, &fields)?;
        event.check_id()?;
        let log = Logged {
            ty: event.type_name(),
            body: fields.to_string(),
            origin: Origin::Api,
            by,
            actor: None,
        };
        Ok(Input { event, log })
    }

    /// An alert from a monitoring source, already mapped to the engine's [`Alert`] and
    /// through that source's door; logged in the engine's names.
    pub fn monitoring(alert: Alert, origin: Origin) -> Input {
        let body = serde_json::to_string(&alert).unwrap_or_default();
        Input {
            log: Logged {
                ty: "alert",
                body,
                origin,
                by: None,
                actor: None,
            },
            event: Event::Alert(alert),
        }
    }

    /// The same input, done by `actor` (who goes into the timeline too).
    pub fn by(mut self, actor: crate::audit::Actor) -> Input {
        self.log.by = Some(actor.who.clone());
        self.log.actor = Some(actor);
        self
    }

    /// The case this input is about, when it names one.
    pub fn about(&self) -> Option<super::model::About> {
        use super::model::About;
        let id = self.event.id()?.to_string();
        Some(match self.log.ty {
            t if t.starts_with("maintenance.") => About::Maintenance(id),
            t if t.starts_with("inquiry.") => About::Inquiry(id),
            _ => About::Incident(id),
        })
    }

    /// The same input, from `origin`.
    pub(crate) fn from(mut self, origin: Origin) -> Input {
        self.log.origin = origin;
        self
    }
}

impl Event {
    /// The event's type name, as in `EVENT_TYPES`, the API and the event log.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Event::IncidentOpen(_) => "incident.open",
            Event::IncidentUpdate(_) => "incident.update",
            Event::IncidentResolve(_) => "incident.resolve",
            Event::IncidentAck(_) => "incident.ack",
            Event::Reply(_) => "reply",
            Event::Alert(_) => "alert",
            Event::MaintenanceAdd(_) => "maintenance.add",
            Event::MaintenanceChange(_) => "maintenance.change",
            Event::MaintenanceCancel(_) => "maintenance.cancel",
            Event::InquiryReceived(_) => "inquiry.received",
            Event::InquiryAnswered(_) => "inquiry.answered",
            Event::DirectoryConfig(_) => "directory.config",
            Event::DirectoryConfirm(_) => "directory.confirm",
            Event::DirectoryPropose(_) => "directory.propose",
            Event::DirectoryVerify(_) => "directory.verify",
            Event::DirectoryBounce(_) => "directory.bounce",
            Event::DirectorySet(_) => "directory.set",
            Event::DirectoryAsk(_) => "directory.ask",
        }
    }

    /// The id this event names (SPEC §5.2: every event about a case names it with `id`).
    pub(crate) fn id(&self) -> Option<&str> {
        match self {
            Event::IncidentOpen(e) => Some(&e.id),
            Event::IncidentUpdate(e) => Some(&e.id),
            Event::IncidentAck(e) | Event::InquiryAnswered(e) => Some(&e.id),
            Event::IncidentResolve(e) => Some(&e.id),
            Event::MaintenanceCancel(e) => Some(&e.id),
            Event::Reply(e) => Some(&e.id),
            Event::MaintenanceAdd(e) => Some(&e.id),
            Event::MaintenanceChange(e) => Some(&e.id),
            Event::InquiryReceived(e) => Some(&e.id),
            Event::Alert(_)
            | Event::DirectoryConfig(_)
            | Event::DirectoryConfirm(_)
            | Event::DirectoryPropose(_)
            | Event::DirectoryVerify(_)
            | Event::DirectoryBounce(_)
            | Event::DirectorySet(_)
            | Event::DirectoryAsk(_) => None,
        }
    }

    /// The door's id check (SPEC §4.14), run on every new input by the daemon and `simulate`.
    /// Not part of parsing: events stored before the rule existed still replay, so an upgrade
    /// drops no case. The message does not echo the id.
    pub(crate) fn check_id(&self) -> Result<(), Refusal> {
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
                Event::IncidentResolve(m(serde_path_to_error::deserialize::<_, Resolve>(d))?)
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
            "directory.config" => Event::DirectoryConfig(m(serde_path_to_error::deserialize(d))?),
            "directory.confirm" => Event::DirectoryConfirm(m(serde_path_to_error::deserialize(d))?),
            "directory.propose" => Event::DirectoryPropose(m(serde_path_to_error::deserialize(d))?),
            "directory.verify" => Event::DirectoryVerify(m(serde_path_to_error::deserialize(d))?),
            "directory.bounce" => Event::DirectoryBounce(m(serde_path_to_error::deserialize(d))?),
            "directory.set" => Event::DirectorySet(m(serde_path_to_error::deserialize(d))?),
            "directory.ask" => Event::DirectoryAsk(m(serde_path_to_error::deserialize(d))?),
            other => {
                return Err(Refusal::Malformed(format!(
                    "unknown event type {other:?}; expected one of: {}",
                    EVENT_TYPES.join(", ")
                )))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names in `EVENT_TYPES`, the parser and `type_name` agree, in both directions.
    #[test]
    fn every_event_type_parses_to_the_variant_that_names_it() {
        for ty in EVENT_TYPES {
            let e = Event::from_parts(ty, &serde_json::json!({}));
            // Empty fields are refused for most types, but never as an unknown type.
            if let Err(Refusal::Malformed(m)) = &e {
                assert!(!m.contains("unknown event type"), "{ty}: {m}");
            }
        }
        let e = Event::from_parts("incident.ack", &serde_json::json!({"id": "I-1"})).unwrap();
        assert_eq!(e.type_name(), "incident.ack");
        assert!(matches!(
            Event::from_parts("incident.close", &serde_json::json!({})),
            Err(Refusal::Malformed(m)) if m.contains("unknown event type")
        ));
    }
}
