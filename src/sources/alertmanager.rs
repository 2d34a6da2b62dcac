//! Alertmanager as a source (SPEC §5.4 `POST /api/v1/alerts`, webhook version 4): the
//! payload's `alerts` list, and each alert through the door SPEC §4.12 sets for monitoring.
//! The daemon's HTTP room only routes the request here and hands the inputs to the engine;
//! what an alert means (its labels read as organization, service, kind, category …) is the
//! engine's (`engine::alerts::interpret`).

use crate::engine::events::{Input, Origin};
use crate::engine::model::{Event, Refusal, Time};

/// Why a webhook body is not an Alertmanager payload (400; nothing is applied).
#[derive(Debug, thiserror::Error)]
pub(crate) enum BadPayload {
    #[error("invalid JSON: {0}")]
    Json(serde_json::Error),
    #[error("`alerts`: missing; expected an Alertmanager webhook (version 4) payload")]
    NoAlerts,
}

/// The raw alerts of a webhook body, each to go through [`door`] on its own.
pub(crate) fn alerts(body: &[u8]) -> Result<Vec<serde_json::Value>, BadPayload> {
    let mut v: serde_json::Value = serde_json::from_slice(body).map_err(BadPayload::Json)?;
    match v.get_mut("alerts").map(serde_json::Value::take) {
        Some(serde_json::Value::Array(list)) => Ok(list),
        _ => Err(BadPayload::NoAlerts),
    }
}

/// An alert after the webhook's door ([`door`]).
#[derive(Debug)]
pub(crate) struct AlertDoor {
    /// The alert as it will be applied, or why it cannot be.
    pub input: Result<Input, Refusal>,
    /// The fields a personal number was removed from (paths, never values).
    pub redacted: Vec<String>,
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
pub(crate) fn door(fields: &serde_json::Value, now: Time) -> AlertDoor {
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
                crate::text::guard::contains_identity_number(&decoded)
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
                let key = match crate::text::guard::redact(&k) {
                    Some(r) => {
                        redacted.push(format!("{table}.(a field name)"));
                        r
                    }
                    None => k,
                };
                if let Some(r) = v.as_str().and_then(crate::text::guard::redact) {
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
    // Alertmanager's wire names map to the engine's `Alert` (its aliases); what the webhook
    // carries beyond that is not kept.
    let input = match Event::from_parts("alert", &fields) {
        Ok(Event::Alert(alert)) => Ok(Input::monitoring(alert, Origin::Alert)),
        Ok(_) => Err(Refusal::Malformed("not an alert".into())),
        Err(e) => Err(e),
    };
    AlertDoor { input, redacted }
}

#[cfg(test)]
mod tests {
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
            let passed = super::door(&alert, now);
            // The source link carries the number too: it is dropped whole.
            assert_eq!(
                passed.redacted,
                ["generatorURL", "annotations.summary"],
                "{form:?}"
            );
            let input = passed.input.expect("the alert is applied");
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
        let passed = super::door(&alert, now);
        assert!(passed.redacted.is_empty(), "percent-encoding is not digits");
        assert!(passed.input.unwrap().log.body.contains("prom:9090/graph"));
        // An encoded number is still a number.
        let alert = serde_json::json!({
            "status": "firing",
            "labels": {"alertname": "A", "org": "malvik"},
            "generatorURL": "http://prom:9090/graph?g0.expr=pasient%3D%22130575%2000020%22",
        });
        assert_eq!(door(&alert, now).redacted, ["generatorURL"]);
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
        let passed = super::door(&alert, now);
        let input = passed.input.expect("the alert is applied");
        let v: serde_json::Value = serde_json::from_str(&input.log.body).unwrap();
        // Logged in the engine's names, not Alertmanager's.
        assert!(v.get("startsAt").is_none(), "{v}");
        let started =
            chrono::DateTime::parse_from_rfc3339(v["started_at"].as_str().unwrap()).unwrap();
        assert!(now - started.with_timezone(&chrono::Utc) <= chrono::Duration::days(365));
        assert!(v["annotations"]["meldingsvakt"]
            .as_str()
            .unwrap()
            .contains("før meldingsvakts horisont"));
    }

    /// An alert logged by an earlier version (Alertmanager's names) and one logged now (the
    /// engine's names) replay to the same alert.
    #[test]
    fn old_and_new_logged_alerts_replay_alike() {
        use crate::engine::model::Event;
        let wire = serde_json::json!({
            "status": "firing",
            "labels": {"alertname": "A", "org": "malvik"},
            "startsAt": "2026-11-20T14:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prom/graph",
            "fingerprint": "c48986956851b19a",
        });
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-20T15:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let logged = super::door(&wire, now).input.unwrap().log.body;
        let (Ok(Event::Alert(old)), Ok(Event::Alert(new))) = (
            Event::from_parts("alert", &wire),
            Event::from_parts(
                "alert",
                &serde_json::from_str::<serde_json::Value>(&logged).unwrap(),
            ),
        ) else {
            panic!("not alerts")
        };
        assert_eq!(format!("{old:?}"), format!("{new:?}"));
        assert_eq!(new.source_link.as_deref(), Some("http://prom/graph"));
        assert_eq!(
            new.started_at.map(|t| t.0.to_rfc3339()).as_deref(),
            Some("2026-11-20T14:00:00+00:00")
        );
    }
}
