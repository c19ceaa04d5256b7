//! The channel's background workers.
//!
//! Polling mode: long-poll `getUpdates` from the offset stored in the channel's durable
//! key-value space, record every update (deduplicated on `update_id`), then store the
//! next offset. A crash after recording and before storing the offset makes Telegram
//! hand the same updates again, and they are recognised as duplicates: a restart
//! neither loses nor reprocesses updates. Transient failures (network, store) are
//! retried here with a capped backoff; a refused token ends the run with `Auth`.
//!
//! One poller among processes: Telegram allows one `getUpdates` caller per bot, so the
//! worker polls only while it holds the channel's lease `polling`
//! ([`InboundSink::try_lease`], `poll_lease_secs`), renewed every third of it while it
//! polls. A process that does not hold it tries again every third of the lease; when the
//! holder dies its lease runs out and another process takes over; at shutdown the holder
//! releases it. A poll in flight when a renewal fails is abandoned (its updates are not
//! confirmed, so the next holder gets them again).
//!
//! Webhook mode: register `<public_url>/webhooks/telegram` with the secret token
//! (`setWebhook`), then wait for shutdown.

use crate::api::{Bot, GetUpdatesSetters, Request, Requester, SetWebhookSetters, classify};
use crate::inbound::{PATH, deliver};
use crate::normalize;
use std::time::Duration;
use tandem_sdk::{AdapterError, ErrorKind, InboundSink, Secret};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Key of the stored polling offset in the channel's key-value space.
pub(crate) const OFFSET_KEY: &str = "polling.offset";

/// Longest wait between two failed polls.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Name of the lease the polling process holds.
const LEASE: &str = "polling";

/// What the polling worker needs.
#[derive(Clone)]
pub(crate) struct Poller {
    pub(crate) bot: Bot,
    pub(crate) sink: InboundSink,
    pub(crate) shutdown: CancellationToken,
    pub(crate) timeout_secs: u32,
    /// The poller's lease (see the module docs).
    pub(crate) lease: Duration,
}

impl Poller {
    /// Polls until shutdown, while this process holds the polling lease.
    pub(crate) async fn run(self) -> Result<(), AdapterError> {
        let result = self.run_leased().await;
        if let Err(error) = self.sink.release_lease(LEASE).await {
            warn!(%error, "The Telegram polling lease could not be released; another replica takes over when it expires.");
        }
        result
    }

    async fn run_leased(&self) -> Result<(), AdapterError> {
        let mut waiting_logged = false;
        loop {
            if self.shutdown.is_cancelled() {
                return Ok(());
            }
            match self.sink.try_lease(LEASE, self.lease).await {
                Ok(true) => {
                    self.poll_while_held().await?;
                    waiting_logged = false;
                }
                Ok(false) => {
                    if !waiting_logged {
                        info!(channel.id = %self.sink.channel(), "Another replica polls Telegram; standing by.");
                        waiting_logged = true;
                    }
                }
                Err(error) => {
                    warn!(%error, "The Telegram polling lease could not be checked; retrying.");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(self.lease / 3) => {}
                () = self.shutdown.cancelled() => return Ok(()),
            }
        }
    }

    /// Polls until shutdown or until the lease is lost (a renewal refused, or none
    /// succeeded for a whole lease).
    async fn poll_while_held(&self) -> Result<(), AdapterError> {
        let lost = CancellationToken::new();
        let keeper = {
            let (sink, lease, lost, shutdown) = (
                self.sink.clone(),
                self.lease,
                lost.clone(),
                self.shutdown.clone(),
            );
            tokio::spawn(async move {
                let mut renewed = tokio::time::Instant::now();
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(lease / 3) => {}
                        () = shutdown.cancelled() => return,
                        () = lost.cancelled() => return,
                    }
                    match sink.try_lease(LEASE, lease).await {
                        Ok(true) => renewed = tokio::time::Instant::now(),
                        Ok(false) => break,
                        Err(error) => {
                            warn!(%error, "Renewing the Telegram polling lease failed.");
                            if renewed.elapsed() >= lease {
                                break;
                            }
                        }
                    }
                }
                lost.cancel();
            })
        };
        let result = tokio::select! {
            r = self.poll() => r,
            () = lost.cancelled() => {
                warn!(channel.id = %self.sink.channel(), "The Telegram polling lease was lost; polling stops here.");
                Ok(())
            }
        };
        lost.cancel();
        let _ = keeper.await;
        result
    }

    async fn poll(&self) -> Result<(), AdapterError> {
        // Telegram refuses getUpdates while a webhook is set; pending updates are kept.
        let removed = tokio::select! {
            r = self.bot.delete_webhook().send() => r,
            () = self.shutdown.cancelled() => return Ok(()),
        };
        removed.map_err(classify)?;
        info!(channel.id = %self.sink.channel(), "Telegram long polling started.");
        let mut backoff = Duration::from_millis(500);
        loop {
            let outcome = tokio::select! {
                r = self.poll_once() => r,
                () = self.shutdown.cancelled() => return Ok(()),
            };
            match outcome {
                Ok(()) => backoff = Duration::from_millis(500),
                Err(e) if e.kind() == ErrorKind::Auth => return Err(e),
                Err(error) => {
                    let wait = error.retry_after().unwrap_or(backoff);
                    warn!(%error, wait_ms = wait.as_millis() as u64, "Telegram polling failed; retrying.");
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = self.shutdown.cancelled() => return Ok(()),
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// One `getUpdates` round: fetch, record each update, store the next offset.
    async fn poll_once(&self) -> Result<(), AdapterError> {
        let offset = self.offset().await?;
        let updates = self
            .bot
            .get_updates()
            .offset(offset)
            .timeout(self.timeout_secs)
            .limit(100)
            .send()
            .await
            .map_err(classify)?;
        let mut next = offset;
        for update in updates {
            let id = update.id;
            // The typed update is what teloxide parsed; its JSON names unknown kinds.
            let raw = serde_json::to_value(&update).unwrap_or_default();
            let normalized = normalize::update(update, &raw, self.sink.channel());
            deliver(&self.sink, &self.bot, normalized)
                .await
                .map_err(|e| AdapterError::transient(format!("recording an update failed: {e}")))?;
            next = next.max(id.as_offset());
        }
        if next != offset {
            self.sink
                .kv_put(OFFSET_KEY, &next.to_string())
                .await
                .map_err(|e| {
                    AdapterError::transient(format!("storing the polling offset failed: {e}"))
                })?;
        }
        Ok(())
    }

    async fn offset(&self) -> Result<i32, AdapterError> {
        let stored = self.sink.kv_get(OFFSET_KEY).await.map_err(|e| {
            AdapterError::transient(format!("reading the polling offset failed: {e}"))
        })?;
        Ok(stored.and_then(|s| s.parse().ok()).unwrap_or(0))
    }
}

/// Registers the webhook, then waits for shutdown.
pub(crate) async fn register_webhook(
    bot: Bot,
    url: url::Url,
    secret: Secret,
    shutdown: CancellationToken,
) -> Result<(), AdapterError> {
    let request = bot
        .set_webhook(url)
        .secret_token(secret.expose().to_owned());
    let result = tokio::select! {
        r = request.send() => r,
        () = shutdown.cancelled() => return Ok(()),
    };
    result.map_err(classify)?;
    info!(webhook = PATH, "Telegram webhook registered.");
    shutdown.cancelled().await;
    Ok(())
}
