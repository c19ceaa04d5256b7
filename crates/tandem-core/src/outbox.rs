//! The outbox dispatcher: claims due entries, sends them through their channel adapter,
//! and records the outcome. Retries with exponential backoff (or the platform's
//! `retry_after`), keeps order per conversation and destination (the store only hands out
//! the oldest unfinished entry of a conversation for one destination: the customer's
//! channel or a desk, so a desk that is down never delays a reply), and survives restarts (entries whose sender
//! died are reclaimed when their lease expires).
//!
//! Leases are short (10 s by default) and renewed every third of a lease while a send is
//! in flight, so a send cut off by a crash is retried within seconds of the restart, and
//! the conversation's later replies wait no longer than that.
//!
//! Before each send, [`crate::gate`] checks reachability, the messaging window and the
//! channel's pacing.
//!
//! This is the one place that logs delivery failures: WARN when retrying, ERROR when
//! giving up.

use crate::engine::Command;
use crate::router::Core;
use crate::store::OutboxEntry;
use std::sync::Arc;
use std::time::Duration;
use tandem_sdk::{AdapterError, ErrorKind};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, error, warn};

pub use crate::config::OutboxConfig;

/// Renews the claim on `id` every third of a lease while its delivery runs (the caller
/// drops this future when the delivery ends). Stops renewing once the claim is lost;
/// never returns.
async fn heartbeat(core: &Core, config: &OutboxConfig, id: &tandem_model::OutboxId, claim: &str) {
    let every = (config.lease / 3).max(Duration::from_millis(100));
    loop {
        tokio::time::sleep(every).await;
        let until = core.inner.clock.now() + config.lease;
        match core.inner.store.renew_outbox(id, claim, until).await {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                static RENEW_FAILED: tandem_sdk::telemetry::Throttle =
                    tandem_sdk::telemetry::Throttle::new(Duration::from_secs(10));
                if let Some(suppressed) = RENEW_FAILED.check() {
                    warn!(error = %e, suppressed, "Renewing a send's lease failed; another sender may take it over.");
                }
            }
        }
    }
    std::future::pending::<()>().await;
}

async fn send(
    adapter: &dyn tandem_sdk::ChannelAdapter,
    message: tandem_model::OutboundMessage,
    timeout: Duration,
) -> Result<tandem_model::Delivery, AdapterError> {
    match tokio::time::timeout(timeout, adapter.send(message)).await {
        Ok(result) => result,
        Err(_) => Err(AdapterError::transient("send timed out")),
    }
}

async fn deliver(core: &Core, config: &OutboxConfig, entry: OutboxEntry) {
    let store = &core.inner.store;
    let channel = entry.message.channel.clone();
    let claim = entry.claim.clone().unwrap_or_default();
    let Some(adapter) = core.adapter(&channel) else {
        error!(channel.id = %channel, "Outbox entry targets a channel that is not configured; parked as failed.");
        core.inner.metrics.failure(channel.as_str(), "no_channel");
        let _ = store
            .fail_outbox(
                &entry.id,
                &claim,
                "channel not configured",
                core.inner.clock.now(),
            )
            .await;
        return;
    };
    let gate = crate::gate::check(core, config, &entry, adapter.as_ref()).await;
    let (message, window, customer_name) = match gate {
        crate::gate::Gate::Send {
            message,
            window,
            customer_name,
        } => (*message, window, customer_name),
        crate::gate::Gate::Fail { kind, error } => {
            warn!(%error, channel.id = %channel, "Message not sent.");
            core.inner.metrics.failure(channel.as_str(), kind);
            let now = core.inner.clock.now();
            match store.fail_outbox(&entry.id, &claim, &error, now).await {
                Err(e) => {
                    warn!(error = %e, "Recording an undeliverable message failed; it will be checked again after its lease.");
                }
                Ok(true) if entry.message.from == tandem_model::Party::Agent => {
                    if let Ok(Some(failed)) = store.outbox_entry(&entry.id).await {
                        core.tell_desk_about_reply(&failed).await;
                    }
                }
                Ok(_) => {}
            }
            return;
        }
        crate::gate::Gate::Later { at, reason } => {
            if let Err(e) = store.retry_outbox(&entry.id, &claim, at, &reason).await {
                warn!(error = %e, "Giving back a held message failed; it will be taken over after its lease.");
            }
            return;
        }
    };
    let mut outcome = send(adapter.as_ref(), message.clone(), config.send_timeout).await;
    if let Err(e) = &outcome
        && e.kind() == ErrorKind::WindowClosed
        && let Some(retry) = crate::gate::window_fallback(
            core,
            adapter.capabilities(),
            window,
            customer_name.as_deref(),
            &message,
        )
    {
        outcome = send(adapter.as_ref(), retry, config.send_timeout).await;
    }
    if let Err(e) = &outcome {
        crate::gate::after_failure(core, &message, e).await;
    }
    let now = core.inner.clock.now();
    let recorded = match outcome {
        Ok(delivery) => {
            core.inner.metrics.message_out(channel.as_str());
            debug!("Delivered.");
            let recorded = store
                .complete_outbox(&entry.id, &claim, &delivery, now)
                .await;
            if crate::handoff::desk_of(&channel).is_some()
                && crate::handoff::is_open_op(&entry.message.content.text)
            {
                let opened = Command::DeskDeliveryResult {
                    conversation: entry.message.conversation_id.clone(),
                    handoff_id: entry.message.recipient.clone(),
                };
                let _ = core.execute(opened).await;
            }
            recorded
        }
        Err(e) if e.is_retryable() && entry.attempts < config.max_attempts => {
            let delay = e.retry_after().map_or_else(
                || config.backoff(entry.attempts),
                |hint| hint.max(Duration::from_millis(100)),
            );
            warn!(error = %e, attempt = entry.attempts, delay_ms = delay.as_millis() as u64, channel.id = %channel, "Delivery failed, will retry.");
            core.inner.metrics.retry(channel.as_str());
            let next = now + delay;
            store
                .retry_outbox(&entry.id, &claim, next, &e.to_string())
                .await
        }
        Err(e) => {
            let kind = if e.is_retryable() {
                "exhausted"
            } else {
                e.kind().as_str()
            };
            if e.kind() == ErrorKind::Auth {
                error!(error = %e, channel.id = %channel, "Delivery refused: channel credentials rejected; an operator must fix them.");
            } else {
                error!(error = %e, attempt = entry.attempts, channel.id = %channel, "Delivery failed for good.");
            }
            core.inner.metrics.failure(channel.as_str(), kind);
            store
                .fail_outbox(&entry.id, &claim, &crate::gate::failure_text(&e), now)
                .await
        }
    };
    match recorded {
        Ok(true) => {
            if entry.message.from == tandem_model::Party::Agent
                && let Ok(Some(now)) = store.outbox_entry(&entry.id).await
            {
                core.tell_desk_about_reply(&now).await;
            }
        }
        Ok(false) => {
            warn!("Outbox claim expired before the outcome was recorded; the entry was taken over.")
        }
        Err(e) => {
            warn!(error = %e, "Recording a delivery outcome failed; the entry will be retried after its lease.")
        }
    }
}

impl Core {
    pub(crate) async fn run_dispatcher(self, stop: CancellationToken) {
        let core = self;
        let config = core.inner.config.outbox.clone();
        let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
        let tracker = TaskTracker::new();
        loop {
            if stop.is_cancelled() {
                break;
            }
            let available = permits.available_permits();
            let mut claimed = 0usize;
            if available > 0 {
                let now = core.inner.clock.now();
                match core
                    .inner
                    .store
                    .claim_outbox(now, available.min(64), config.lease)
                    .await
                {
                    Ok(entries) => {
                        claimed = entries.len();
                        for entry in entries {
                            let Ok(permit) = permits.clone().acquire_owned().await else {
                                break;
                            };
                            let core = core.clone();
                            let config = config.clone();
                            let span = tracing::debug_span!(
                                "deliver",
                                outbox.id = %entry.id,
                                attempt = entry.attempts,
                                channel.id = %entry.message.channel,
                            );
                            tracker.spawn(
                                async move {
                                    let (id, claim) =
                                        (entry.id.clone(), entry.claim.clone().unwrap_or_default());
                                    tokio::select! {
                                        () = deliver(&core, &config, entry) => {}
                                        () = heartbeat(&core, &config, &id, &claim) => {}
                                    }
                                    drop(permit);
                                    core.inner.outbox_wakeup.notify_one();
                                }
                                .instrument(span),
                            );
                        }
                    }
                    Err(e) => warn!(error = %e, "Claiming outbox entries failed."),
                }
            }
            if let Ok(depth) = core.inner.store.outbox_depth().await {
                core.inner.metrics.set_outbox_depth(depth);
            }
            if claimed > 0 {
                continue;
            }
            let wait = match core.inner.store.next_outbox_due().await {
                Ok(Some(due)) => {
                    let ms = (due - core.inner.clock.now())
                        .whole_milliseconds()
                        .clamp(0, 1000);
                    Duration::from_millis(ms as u64)
                }
                _ => Duration::from_secs(1),
            };
            tokio::select! {
                () = core.inner.outbox_wakeup.notified() => {}
                () = tokio::time::sleep(wait) => {}
                () = stop.cancelled() => break,
            }
        }
        // Let in-flight sends finish; their outcome is recorded before we return.
        tracker.close();
        tracker.wait().await;
    }
}
