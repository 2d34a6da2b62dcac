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

/// An alert after the webhook's door ([`Input::alert`]).
#[derive(Debug)]
pub struct AlertDoor {
    /// The alert as it will be applied, or why it cannot be.
    pub input: Result<Input, Refusal>,
    /// The fields a personal number was removed from (paths, never values).
    pub redacted: Vec<String>,
}

/// What the event log keeps of an input: its type, its raw JSON (which replay parses again
/// with [`Event::from_parts`]), where it came from and who (SPEC §5.8).
#[derive(Debug, Clone)]
pub struct Logged {
    pub ty: &'static str,
    pub body: String,
    pub origin: Origin,
    /// Who, when known: the operator API's and CLI's optional `by`.
    pub by: Option<String>,
}

/// Where an event came from (SPEC §5.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Api,
    Alert,
    Mailbox,
    File,
    Console,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Api => "api",
            Origin::Alert => "alert",
            Origin::Mailbox => "mailbox",
            Origin::File => "file",
            Origin::Console => "console",
        }
    }
}

impl Input {
    /// Through the door. A `by` field (who did it) is taken out of the fields before they are
    /// parsed and stored; like every field it has passed the personal-data guard.
    pub fn parse(ty: &str, fields: &serde_json::Value) -> Result<Input, Refusal> {
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
        };
        Ok(Input { event, log })
    }

    /// An alert from the Alertmanager webhook, through the door SPEC §4.12 sets for
    /// monitoring: refusing it would lose an outage (Alertmanager does not retry a 4xx), so
    /// a personal number in a shown field — a label or an annotation, name or value — is
    /// replaced by `[fjernet]` and the alert goes on. Fields nobody is shown are not looked
    /// at: the `fingerprint` (a hash of the labels, kept as the alert's identity) is kept as
    /// it is, `generatorURL` is not kept at all. A start more than a year before `now` (the
    /// rules' horizon) is moved to the horizon, and an annotation says so. What remains is
    /// parsed like any input; an alert that cannot be used comes back as `input: Err` with
    /// what was removed, so the caller can tell ops about both.
    pub fn alert(fields: &serde_json::Value, now: Time) -> AlertDoor {
        let mut fields = fields.clone();
        let mut redacted = Vec::new();
        if let Some(obj) = fields.as_object_mut() {
            // The link back to the source is shown to operators; one that carries a
            // personal number is dropped whole (a redacted URL would not work anyway). It is
            // checked as people would read it, percent-decoded: `%22` is a quote, not digits
            // that run into an IP address.
            if obj
                .get("generatorURL")
                .and_then(|v| v.as_str())
                .is_some_and(|u| {
                    let decoded = percent_encoding::percent_decode_str(u).decode_utf8_lossy();
                    super::guard::contains_identity_number(&decoded)
                })
            {
                obj.remove("generatorURL");
                redacted.push("generatorURL".to_string());
            }
            for table in ["labels", "annotations"] {
                let Some(map) = obj.get_mut(table).and_then(|m| m.as_object_mut()) else {
                    continue;
                };
                let entries: Vec<(String, serde_json::Value)> =
                    std::mem::take(map).into_iter().collect();
                for (k, mut v) in entries {
                    let key = match super::guard::redact(&k) {
                        Some(r) => {
                            redacted.push(format!("{table}.(a field name)"));
                            r
                        }
                        None => k,
                    };
                    if let Some(r) = v.as_str().and_then(super::guard::redact) {
                        redacted.push(format!("{table}.{key}"));
                        v = serde_json::Value::String(r);
                    }
                    map.insert(key, v);
                }
            }
            let horizon = now - chrono::Duration::days(365);
            let started = obj
                .get("startsAt")
                .and_then(|v| v.as_str())
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&chrono::Utc));
            if let Some(t) = started.filter(|t| *t < horizon) {
                obj.insert(
                    "startsAt".into(),
                    serde_json::Value::String(horizon.to_rfc3339()),
                );
                let note = format!(
                    "Varselet startet {}, før meldingsvakts horisont på ett år; regnet fra {}.",
                    t.to_rfc3339(),
                    horizon.to_rfc3339()
                );
                if let Some(ann) = obj
                    .entry("annotations")
                    .or_insert_with(|| serde_json::json!({}))
                    .as_object_mut()
                {
                    ann.insert("meldingsvakt".into(), serde_json::Value::String(note));
                }
            }
        }
        let input = Event::from_parts("alert", &fields)
            .and_then(|event| event.check_id().map(|()| event))
            .map(|event| Input {
                log: Logged {
                    ty: event.type_name(),
                    body: fields.to_string(),
                    origin: Origin::Alert,
                    by: None,
                },
                event,
            });
        AlertDoor { input, redacted }
    }

    /// The same input, from `origin`.
    pub fn from(mut self, origin: Origin) -> Input {
        self.log.origin = origin;
        self
    }
}

impl Event {
    /// The event's type name, as in `EVENT_TYPES`, the API and the event log.
    pub fn type_name(&self) -> &'static str {
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
        }
    }

    /// The id this event names (SPEC §5.2: every event about a case names it with `id`).
    pub fn id(&self) -> Option<&str> {
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

#[cfg(test)]
mod alert_door_tests {
    use super::*;

    /// The seven written forms the second fault campaign found, in an alert: each is
    /// replaced by `[fjernet]` (not refused), the field is named, and the alert is applied.
    #[test]
    fn the_seven_forms_are_redacted_from_an_alert_and_it_is_kept() {
        let now = chrono::Utc::now();
        for form in [
            "130575_00020",
            "130575,00020",
            "130575:00020",
            "130575\u{0301}00020",
            "130575\u{3002}00020",
            "\u{0661}\u{0663}\u{0660}\u{0665}\u{0667}\u{0665}\u{0660}\u{0660}\u{0660}\u{0662}\u{0660}",
            "\u{0967}\u{0969}\u{0966}\u{096B}\u{096D}\u{096B}\u{0966}\u{0966}\u{0966}\u{0968}\u{0966}",
        ] {
            let alert = serde_json::json!({
                "status": "firing",
                "labels": {"alertname": "A", "org": "malvik", "service": "PLO"},
                "annotations": {"summary": format!("Pasient {form} mangler")},
                "startsAt": now.to_rfc3339(),
                "fingerprint": "c48986956851b19a",
                "generatorURL": "http://prom/graph?g0.expr=13057500020",
            });
            let door = Input::alert(&alert, now);
            // The source link carries the number too: it is dropped whole.
            assert_eq!(
                door.redacted,
                ["generatorURL", "annotations.summary"],
                "{form:?}"
            );
            let input = door.input.expect("the alert is applied");
            assert!(
                input.log.body.contains("Pasient [fjernet] mangler"),
                "{}",
                input.log.body
            );
            assert!(!input.log.body.contains("generatorURL"));
            assert!(input.log.body.contains("c48986956851b19a"), "the fingerprint is kept");
        }
        // A clean source link is kept, for the operator's "open in the source".
        let alert = serde_json::json!({
            "status": "firing",
            "labels": {"alertname": "A", "org": "malvik"},
            "startsAt": now.to_rfc3339(),
            "generatorURL": "http://prom:9090/graph?g0.expr=up%7Binstance%3D%2210.107.172.219%22%7D",
        });
        let door = Input::alert(&alert, now);
        assert!(door.redacted.is_empty(), "percent-encoding is not digits");
        assert!(door.input.unwrap().log.body.contains("prom:9090/graph"));
        // An encoded number is still a number.
        let alert = serde_json::json!({
            "status": "firing",
            "labels": {"alertname": "A", "org": "malvik"},
            "generatorURL": "http://prom:9090/graph?g0.expr=pasient%3D%22130575%2000020%22",
        });
        assert_eq!(Input::alert(&alert, now).redacted, ["generatorURL"]);
    }

    /// A start more than a year ago is moved to the horizon, with a note.
    #[test]
    fn an_ancient_start_is_moved_to_the_horizon() {
        let now = chrono::Utc::now();
        let alert = serde_json::json!({
            "status": "firing",
            "labels": {"alertname": "A", "org": "malvik", "service": "PLO"},
            "startsAt": (now - chrono::Duration::days(800)).to_rfc3339(),
        });
        let door = Input::alert(&alert, now);
        let input = door.input.expect("the alert is applied");
        let v: serde_json::Value = serde_json::from_str(&input.log.body).unwrap();
        let started =
            chrono::DateTime::parse_from_rfc3339(v["startsAt"].as_str().unwrap()).unwrap();
        assert!(now - started.with_timezone(&chrono::Utc) <= chrono::Duration::days(365));
        assert!(v["annotations"]["meldingsvakt"]
            .as_str()
            .unwrap()
            .contains("før meldingsvakts horisont"));
    }
}
