//! The outbound webhook (issue #9): every decided action, as JSON, to a ticket system.
//!
//! - **Body**: the action as `simulate` prints it (SPEC §5.2: `at`, `action`, `message`,
//!   `incident`/`maintenance`/`inquiry`, `org`, `to`, `cc`, `subject`, `key`) plus `id` and
//!   `sender` (our `[self] id`). The same action gives the same body on every attempt.
//! - **Headers**: `X-Meldingsvakt-Id` — the action's key, the same on every retry, so the
//!   receiver can drop repeats; `X-Meldingsvakt-Signature: sha256=<hex>` — HMAC-SHA256 of
//!   the exact body bytes with the secret; `X-Meldingsvakt-Attempt` (1, 2, …; not signed).
//! - **Delivery**: through the outbox like every sink — each action is its own row
//!   (`{key}#webhook`), written with the decision, retried with backoff. 2xx is done;
//!   network errors, timeouts, 408, 429 and 5xx are retried with backoff; any other 4xx is
//!   permanent (the receiver refuses it: logged as an error, retried every 5 minutes).

mod config;
pub(crate) use config::Settings;
pub(crate) use config::SECTION;

use crate::config::{Config, SecretValue};
use crate::engine::model::Action;
use crate::sinks::{BuildError, Ctx, Failure, Sink};
use crate::store::OutboxRow;
use std::sync::Arc;

/// The outbound webhook sink.
pub(crate) struct Webhook {
    http: reqwest::Client,
    url: String,
    key: ring::hmac::Key,
    kinds: Vec<String>,
}

/// The sink, when `[webhook] url` is set; the secret is read here.
pub(crate) fn build(cfg: &Config) -> Result<Option<Arc<dyn Sink>>, BuildError> {
    let Some(s) = cfg.sections.get::<Settings>() else {
        return Ok(None);
    };
    let err = BuildError::of("webhook");
    let secret = s.secret.read("webhook secret").map_err(|e| err(&e))?;
    let http = crate::sinks::http_client(s.timeout).map_err(|e| err(&e))?;
    Ok(Some(Arc::new(Webhook {
        http,
        url: s.url.clone(),
        key: signing_key(&secret),
        kinds: s.kinds.clone(),
    })))
}

fn signing_key(secret: &SecretValue) -> ring::hmac::Key {
    ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.expose().as_bytes())
}

/// `sha256=<lower-case hex of HMAC-SHA256(secret, body)>`.
pub(crate) fn signature(key: &ring::hmac::Key, body: &[u8]) -> String {
    let tag = ring::hmac::sign(key, body);
    let mut out = String::from("sha256=");
    for b in tag.as_ref() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The JSON body for an action.
pub(crate) fn body(
    cfg: &Config,
    r: &crate::render::Renderer,
    a: &Action,
) -> Result<Vec<u8>, Failure> {
    let mut line =
        crate::sim::ActionLine::new(cfg, r, a).map_err(|e| Failure::Permanent(e.to_string()))?;
    line.extra = Some((&a.key, &cfg.self_.id));
    serde_json::to_vec(&line).map_err(|e| Failure::Permanent(e.to_string()))
}

#[async_trait::async_trait]
impl Sink for Webhook {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn copies(&self, action: &Action) -> bool {
        self.kinds.iter().any(|k| k == action.body.kind())
    }

    async fn deliver(&self, ctx: &Ctx<'_>, row: &OutboxRow) -> Result<(), Failure> {
        let body = body(ctx.cfg, ctx.renderer, &row.action)?;
        let resp = self
            .http
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("X-Meldingsvakt-Id", &row.action.key)
            .header("X-Meldingsvakt-Signature", signature(&self.key, &body))
            .header("X-Meldingsvakt-Attempt", (row.attempts + 1).to_string())
            .body(body)
            .send()
            .await
            .map_err(|e| Failure::Transient(format!("webhook {}: {e}", self.url)))?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let text: String = resp
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect();
        let msg = format!("webhook {} answered HTTP {status}: {text}", self.url);
        match status {
            408 | 429 | 500..=599 => Err(Failure::Transient(msg)),
            _ => Err(Failure::Permanent(msg)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2: the signature is standard HMAC-SHA256, so any receiver's
    /// library checks it.
    #[test]
    fn signature_is_standard_hmac_sha256() {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"Jefe");
        assert_eq!(
            signature(&key, b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
