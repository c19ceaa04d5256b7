//! Delivery reports and reachability, as the core handles them.
//!
//! A platform's report (WhatsApp `statuses[]`, Messenger receipts) moves the delivery
//! state of the sent outbox entries it names. A report that a message failed after the
//! platform accepted it marks the entry failed, visibly (`undeliverable: window_closed
//! (131047: ..)`), counts it in `tandem_outbox_failures_total`, and reacts: a closed
//! WhatsApp window re-queues the message as the channel's template when one is
//! configured; an unreachable customer is marked so on that channel, and later sends to
//! them fail at once instead of hitting the platform.

use crate::engine;
use crate::executor::Step;
use crate::router::Core;
use crate::store::{ConversationRecord, OutboxEntry, StoreError};
use tandem_model::{
    ChannelId, DeliveryStatus, DeliveryUpdate, FailureKind, Reachability, Timestamp,
};
use tracing::{debug, warn};

/// Queues the channel's window template in place of a message the platform refused
/// because the window was closed (WhatsApp 131047, reported asynchronously).
async fn requeue_as_template(
    core: &Core,
    failed: &OutboxEntry,
    now: Timestamp,
) -> Result<(), StoreError> {
    let message = &failed.message;
    let Some(adapter) = core.adapter(&message.channel) else {
        return Ok(());
    };
    let store = &core.inner.store;
    let adapter = &adapter;
    let decide = |conversation: ConversationRecord| async move {
        let name = store
            .customer(&conversation.customer_id)
            .await?
            .and_then(|c| c.display_name);
        let caps = adapter.capabilities();
        Ok(
            match engine::delivery::resend_as_template(conversation, message, caps, name, now) {
                Some(turn) => Step::Commit(turn, true),
                None => {
                    warn!(
                        outbox.id = %failed.id,
                        channel.id = %message.channel,
                        "Message undeliverable: the messaging window is closed and no template is configured."
                    );
                    Step::Done(false)
                }
            },
        )
    };
    let queued = core
        .apply(
            "queuing a template",
            || store.conversation(&message.conversation_id),
            decide,
        )
        .await?;
    if queued == Some(true) {
        core.inner
            .metrics
            .window_fallback(message.channel.as_str(), "template");
    }
    Ok(())
}

fn status_name(status: &DeliveryStatus) -> &'static str {
    match status {
        DeliveryStatus::Sent => "sent",
        DeliveryStatus::Delivered => "delivered",
        DeliveryStatus::Read => "read",
        DeliveryStatus::Failed { .. } => "failed",
    }
}

impl Core {
    /// Records a delivery report and reacts to failures.
    pub(crate) async fn record_delivery(&self, update: DeliveryUpdate) -> Result<(), StoreError> {
        let core = self;
        let inner = &core.inner;
        let changed = inner.store.record_delivery_status(&update).await?;
        let channel = update.channel.as_str();
        inner
            .metrics
            .delivery_report(channel, status_name(&update.status));
        debug!(channel.id = %update.channel, changed = changed.len(), "Delivery report recorded.");
        for entry in &changed {
            core.tell_desk_about_reply(entry).await;
        }
        let DeliveryStatus::Failed { kind, code, .. } = &update.status else {
            return Ok(());
        };
        for entry in changed {
            inner.metrics.failure(channel, kind.as_str());
            warn!(
                outbox.id = %entry.id,
                channel.id = %update.channel,
                code = code.as_deref().unwrap_or(""),
                kind = kind.as_str(),
                "The platform reported that a message it had accepted was not delivered."
            );
            match kind {
                FailureKind::WindowClosed => requeue_as_template(core, &entry, update.at).await?,
                FailureKind::Unreachable => {
                    let reachability = Reachability {
                        reachable: false,
                        reason: format!("{channel}:{}", code.as_deref().unwrap_or("unreachable")),
                        at: update.at,
                    };
                    core.mark_reachability(&update.channel, &entry.message.recipient, reachability)
                        .await?;
                }
                FailureKind::Other => {}
            }
        }
        Ok(())
    }

    /// Records a reachability report for `subject` on `channel`.
    pub(crate) async fn mark_reachability(
        &self,
        channel: &ChannelId,
        subject: &str,
        reachability: Reachability,
    ) -> Result<(), StoreError> {
        let core = self;
        let reachable = reachability.reachable;
        let applied = core
            .inner
            .store
            .set_reachability(channel, subject, &reachability)
            .await?;
        if applied {
            core.inner.metrics.reachability(channel.as_str(), reachable);
            debug!(channel.id = %channel, reachable, "Customer reachability recorded.");
        }
        Ok(())
    }
}
