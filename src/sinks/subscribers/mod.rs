//! Subscribers (SPEC §4.17) as a sink: it takes a copy of every status-page post
//! subscribers hear of (`render::subscriber::post_of`), and delivering the copy queues one
//! mail per matching subscriber in the subscriber queue (`store::subscribers`), which the
//! daemon's subscriber lane sends after the routine's own mail. The copy is written with the
//! decision, so a crash loses no fan-out; queueing is idempotent per (post, subscriber).

use crate::engine::model::Action;
use crate::sinks::{BuildError, Ctx, Failure, Sink};
use crate::store::OutboxRow;
use std::sync::Arc;

mod config;
pub(crate) use config::{settings, SECTION};

/// Where a copy is queued for the subscribers: the daemon's subscriber queue.
pub(crate) trait FanOut: Send + Sync {
    /// Queue `action` (a post, keyed `job`) for every confirmed subscriber it concerns;
    /// how many mails are new.
    fn fan_out(&self, job: &str, action: &Action) -> Result<usize, Failure>;
}

struct SubscriberSink;

/// On unless `[subscribers] enabled = false`.
pub(crate) fn build(cfg: &crate::config::Config) -> Result<Option<Arc<dyn Sink>>, BuildError> {
    Ok(settings(cfg)
        .enabled
        .then(|| Arc::new(SubscriberSink) as Arc<dyn Sink>))
}

#[async_trait::async_trait]
impl Sink for SubscriberSink {
    fn name(&self) -> &'static str {
        "subscribers"
    }

    fn copies(&self, action: &Action) -> bool {
        crate::render::subscriber::post_of(action).is_some()
    }

    async fn deliver(&self, ctx: &Ctx<'_>, row: &OutboxRow) -> Result<(), Failure> {
        let n = ctx.fan_out.fan_out(&row.action.key, &row.action)?;
        tracing::info!(key = %row.action.key, mails = n, "queued for subscribers");
        Ok(())
    }
}
