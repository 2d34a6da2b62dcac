//! On-call texts through an HTTP SMS gateway (SPEC §4.18).
//!
//! The rules decide each text whole (`engine::page`: at most 160 GSM-7 characters, the case
//! id and the console link); this sink only carries it out, one request per number:
//!
//! - **Only on-call.** A number is texted only while `[self] oncall` lists it (a number
//!   removed by a reload before its text went out is skipped): organizations never get SMS.
//! - **The guard** (SPEC §4.12) runs over the text once more before it leaves; a number that
//!   looks like a personal one is replaced by `[fjernet]`.
//! - **Retries with the outbox.** 2xx is sent (Sveve: and its JSON counts the message as
//!   accepted); network errors, timeouts, 408, 429 and 5xx are retried with the outbox's
//!   backoff; any other answer is permanent (logged as an error, retried every 5 minutes).
//!   The numbers already texted are kept in the sink's state under the row's key, so a retry
//!   after a partial success texts only the rest, and every attempt for one number carries
//!   the same `ref`. A kill between the gateway's answer and that record can repeat one
//!   text to one number: SMS gateways take no idempotency key (at least once, never lost).

mod config;
pub(crate) use config::SECTION;
pub(crate) use config::{Auth, Escape, Settings};

use crate::config::Config;
use crate::engine::model::ActionBody;
use crate::sinks::{BuildError, Ctx, Failure, Sink};
use crate::store::OutboxRow;
use std::sync::Arc;

/// The sink's name: its outbox kind and its key in the sink state.
const NAME: &str = "sms";

/// The SMS gateway sink.
pub(crate) struct SmsGateway {
    http: reqwest::Client,
    settings: Settings,
    /// The secret as read at build (a reload reads it again).
    secret: Option<String>,
    body: handlebars::Handlebars<'static>,
}

/// The sink, when `[sms]` is configured; the credential is read here.
pub(crate) fn build(cfg: &Config) -> Result<Option<Arc<dyn Sink>>, BuildError> {
    let Some(s) = cfg.sections.get::<Settings>() else {
        return Ok(None);
    };
    let err = BuildError::of("sms");
    let secret = match &s.secret {
        Some(secret) => Some(
            secret
                .read("SMS gateway credential")
                .map_err(|e| err(&e))?
                .expose()
                .to_string(),
        ),
        None => None,
    };
    let http = crate::sinks::http_client(s.timeout).map_err(|e| err(&e))?;
    let mut body = handlebars::Handlebars::new();
    body.set_strict_mode(true);
    match s.escape {
        Escape::Json => body.register_escape_fn(json_escape),
        Escape::Form => body.register_escape_fn(percent_encode),
        Escape::Raw => body.register_escape_fn(handlebars::no_escape),
    }
    body.register_template_string("body", &s.body)
        .map_err(|e| err(&e))?;
    Ok(Some(Arc::new(SmsGateway {
        http,
        settings: s.clone(),
        secret,
        body,
    })))
}

/// A JSON string's contents (without the quotes).
fn json_escape(v: &str) -> String {
    let quoted = serde_json::Value::String(v.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

/// RFC 3986 percent-encoding of everything but the unreserved characters (a form value or
/// a query parameter).
fn percent_encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The same for every attempt of one text to one number (Sveve's `ref`: at most 36).
fn reference(key: &str, number: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, format!("{key}\n{number}").as_bytes());
    d.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl SmsGateway {
    /// The request for one number.
    fn request(
        &self,
        to: &str,
        text: &str,
        r#ref: &str,
    ) -> Result<reqwest::RequestBuilder, Failure> {
        let s = &self.settings;
        let password = (s.auth == Auth::Body)
            .then(|| self.secret.clone())
            .flatten();
        let values = serde_json::json!({
            "to": to, "text": text, "ref": r#ref,
            "from": s.from, "user": s.user, "password": password,
        });
        let body = self
            .body
            .render("body", &values)
            .map_err(|e| Failure::Permanent(format!("[sms] body: {e}")))?;
        let mut req = if s.get {
            let sep = if s.url.contains('?') { '&' } else { '?' };
            self.http.get(format!("{}{sep}{body}", s.url))
        } else {
            self.http
                .post(&s.url)
                .header("Content-Type", &s.content_type)
                .body(body)
        };
        req = match (s.auth, &self.secret) {
            (Auth::Bearer, Some(t)) => req.bearer_auth(t),
            (Auth::Basic, Some(p)) => req.basic_auth(s.user.clone().unwrap_or_default(), Some(p)),
            _ => req,
        };
        Ok(req)
    }

    /// Text one number.
    async fn send(&self, to: &str, text: &str, r#ref: &str) -> Result<(), Failure> {
        let resp = self.request(to, text, r#ref)?.send().await.map_err(|e| {
            Failure::Transient(format!(
                "SMS gateway {}: {}",
                self.settings.url,
                e.without_url()
            ))
        })?;
        let status = resp.status().as_u16();
        let answer: String = resp
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        let msg = || {
            format!(
                "SMS gateway {} answered HTTP {status}: {answer}",
                self.settings.url
            )
        };
        match status {
            200..=299 if self.settings.sveve => sveve_answer(&answer),
            200..=299 => Ok(()),
            408 | 429 | 500..=599 => Err(Failure::Transient(msg())),
            _ => Err(Failure::Permanent(msg())),
        }
    }
}

/// Sveve answers 200 with `{"response": {"msgOkCount": 1, …}}`, or with `fatalError` or
/// `errors` when it sent nothing.
fn sveve_answer(answer: &str) -> Result<(), Failure> {
    let v: serde_json::Value = serde_json::from_str(answer)
        .map_err(|_| Failure::Permanent(format!("Sveve's answer is not JSON: {answer}")))?;
    let r = &v["response"];
    if r["msgOkCount"].as_u64().unwrap_or(0) >= 1 {
        return Ok(());
    }
    let why = r["fatalError"]
        .as_str()
        .map(str::to_string)
        .or_else(|| r["errors"].get(0).map(|e| e["message"].to_string()))
        .unwrap_or_else(|| answer.to_string());
    Err(Failure::Permanent(format!("Sveve sent nothing: {why}")))
}

#[async_trait::async_trait]
impl Sink for SmsGateway {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn deliver(&self, ctx: &Ctx<'_>, row: &OutboxRow) -> Result<(), Failure> {
        let ActionBody::Sms(sms) = &row.action.body else {
            return Err(Failure::Permanent(format!("{} is not a text", row.key)));
        };
        let text = match crate::engine::guard::redact(&sms.text) {
            Some(redacted) => {
                tracing::warn!(key = %row.key, "a number like a personal one was removed from the text before it was sent");
                redacted
            }
            None => sms.text.clone(),
        };
        let mut done: Vec<String> = ctx
            .state
            .get(NAME, &row.key)
            .and_then(|v| serde_json::from_str(&v).ok())
            .unwrap_or_default();
        for to in &sms.to {
            if done.contains(to) {
                continue;
            }
            if !ctx.cfg.self_.oncall.contains(to) {
                tracing::warn!(key = %row.key, "a number is no longer in [self] oncall; it is not texted");
                continue;
            }
            self.send(to, &text, &reference(&row.key, to)).await?;
            done.push(to.clone());
            let record = serde_json::to_string(&done).unwrap_or_default();
            ctx.state.put(NAME, &row.key, &record);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_for_json() {
        assert_eq!(json_escape("a \"b\"\n\\"), "a \\\"b\\\"\\n\\\\");
        assert_eq!(json_escape("Løst – æøå"), "Løst – æøå");
    }

    #[test]
    fn values_are_percent_encoded_for_forms() {
        assert_eq!(percent_encode("+47 912 æ&="), "%2B47%20912%20%C3%A6%26%3D");
    }

    #[test]
    fn sveve_answers_are_read() {
        assert!(sveve_answer(r#"{"response":{"msgOkCount":1,"stdSMSCount":1,"ids":[1]}}"#).is_ok());
        let e =
            sveve_answer(r#"{"response":{"msgOkCount":0,"fatalError":"Feil brukernavn/passord"}}"#)
                .unwrap_err();
        assert!(e.to_string().contains("Feil brukernavn/passord"), "{e}");
        assert!(sveve_answer("<html>").is_err());
    }

    #[test]
    fn a_reference_is_stable_per_text_and_number() {
        assert_eq!(
            reference("INC-1/sms/new", "+4791234567"),
            reference("INC-1/sms/new", "+4791234567")
        );
        assert_ne!(
            reference("INC-1/sms/new", "+4791234567"),
            reference("INC-1/sms/new", "+4798765432")
        );
        assert_eq!(reference("k", "n").len(), 32);
    }
}
