//! The e-mail sink: delivers `email`, `ops` and `report` rows through the configured transport. One
//! transport (and so one pooled SMTP connection) per mail configuration: a reload that
//! changes `[smtp]` builds a new one at the next delivery.

use super::{message, send, SendError, Transport};
use crate::config::Config;
use crate::engine::model::{Action, ActionBody};
use crate::render::Renderer;
use crate::sinks::{BuildError, Ctx, Failure, Sink};
use crate::store::OutboxRow;
use std::sync::{Arc, Mutex};

/// The e-mail sink: delivers `email`, `ops` and `report` rows over the configured transport.
pub(crate) struct EmailSink {
    /// The transport and the mail configuration it was built from.
    transport: Mutex<Option<(super::MailTransport, Arc<Transport>)>>,
    /// `[smtp] warn_after`.
    warn_after: chrono::Duration,
}

/// Always on: e-mail is the routine itself.
pub(crate) fn build(cfg: &Config) -> Result<Option<Arc<dyn Sink>>, BuildError> {
    Ok(Some(Arc::new(EmailSink {
        transport: Mutex::default(),
        warn_after: super::settings(cfg).warn_after,
    })))
}

impl From<SendError> for Failure {
    fn from(e: SendError) -> Failure {
        if e.permanent() {
            Failure::Permanent(e.to_string())
        } else {
            Failure::Transient(e.to_string())
        }
    }
}

impl EmailSink {
    fn transport(&self, cfg: &Config) -> Result<Arc<Transport>, SendError> {
        let mut cache = self.transport.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((for_cfg, t)) = cache.as_ref() {
            if *for_cfg == super::settings(cfg).transport {
                return Ok(Arc::clone(t));
            }
        }
        let t = Arc::new(Transport::new(cfg)?);
        *cache = Some((super::settings(cfg).transport.clone(), Arc::clone(&t)));
        Ok(t)
    }
}

#[async_trait::async_trait]
impl Sink for EmailSink {
    fn name(&self) -> &'static str {
        "email"
    }

    fn warn_after(&self) -> Option<chrono::Duration> {
        Some(self.warn_after)
    }

    fn delivers(&self) -> &'static [&'static str] {
        &["ops", "report"]
    }

    fn stage(
        &self,
        cfg: &Arc<Config>,
        renderer: &Arc<Renderer>,
        action: &Action,
    ) -> Option<crate::sinks::Staging> {
        // The directory's mails wait for the store's key (`deliver`): not staged.
        if matches!(&action.body, ActionBody::Email(e) if e.directory.is_some()) {
            return None;
        }
        let t = self.transport(cfg).ok()?;
        let Transport::Smtp(pool) = t.as_ref() else {
            return None;
        };
        let reserved = pool.reserve(&action.key)?;
        let (cfg, renderer, action) = (Arc::clone(cfg), Arc::clone(renderer), action.clone());
        Some(Box::pin(async move {
            let Transport::Smtp(pool) = t.as_ref() else {
                return;
            };
            if let Ok(Some(m)) = message(&cfg, &renderer, &action, None) {
                pool.begin(reserved, m.envelope().clone(), m.formatted())
                    .await;
            }
        }))
    }

    fn release(&self, claimed: &dyn Fn(&str) -> bool) -> usize {
        let cache = self.transport.lock().unwrap_or_else(|p| p.into_inner());
        match cache.as_ref().map(|(_, t)| t.as_ref()) {
            Some(Transport::Smtp(pool)) => pool.release(claimed),
            _ => 0,
        }
    }

    async fn deliver(&self, ctx: &Ctx<'_>, row: &OutboxRow) -> Result<(), Failure> {
        // The directory's mails carry a signed link: the key is the store's, made by the
        // leader at start; until it is there the mail waits (retried with its backoff).
        let key = match &row.action.body {
            ActionBody::Email(e) if e.directory.is_some() => {
                let (sink, name) = crate::render::link::KEY_PLACE;
                match ctx
                    .state
                    .get(sink, name)
                    .as_deref()
                    .and_then(crate::render::link::decode_key)
                {
                    Some(k) => Some(k),
                    None => {
                        return Err(Failure::Transient(
                            "the key for the directory's links is not in the store yet".into(),
                        ))
                    }
                }
            }
            _ => None,
        };
        let t = self.transport(ctx.cfg)?;
        // A message begun beside its commit (staged.rs) was rendered there: what its send
        // did is the result, and nothing is rendered again while the server takes it.
        if let Transport::Smtp(pool) = t.as_ref() {
            if let Some(result) = pool.staged(&row.action.key).await {
                return result.map_err(Failure::from);
            }
        }
        let Some(m) = message(ctx.cfg, ctx.renderer, &row.action, key.as_deref())? else {
            return Ok(());
        };
        // The action key, not the row key: the Message-ID and the file name are the action's.
        send(&t, &row.action.key, &m).await?;
        Ok(())
    }
}
