//! Telegram channel for Tandem, on teloxide-core (the Bot API client).
//!
//! Two ways to receive, set by `mode`:
//! - **webhook** (default): Telegram POSTs each update to `/webhooks/telegram` with the
//!   `X-Telegram-Bot-Api-Secret-Token` header, compared in constant time (401 when
//!   wrong). The worker registers the webhook (`setWebhook`) at start.
//! - **polling**: the worker long-polls `getUpdates`; the offset lives in the channel's
//!   durable key-value space and moves only after the updates are recorded, so a crash
//!   neither loses nor reprocesses updates (redeliveries deduplicate on `update_id`).
//!
//! Updates become typed content (text, `/start <payload>` for identity linking, shared
//! contacts with the verified phone, locations, media; inline-button taps become
//! postbacks and are answered); `my_chat_member` in a private chat marks the customer
//! unreachable (blocked) or reachable again. Sends are plain text with an inline
//! keyboard for choices; 429 `retry_after` is honoured, 403 blocked is permanent.
//!
//! Layout: `config` (keys and checks), `inbound` (webhook route, recording),
//! `polling` (workers), `normalize` (update → content), `outbound` (send),
//! `api` (the teloxide client and error classification).

mod api;
mod config;
mod inbound;
mod normalize;
mod outbound;
mod polling;
#[cfg(test)]
mod tests;

pub use config::{Mode, TelegramConfig};

use std::sync::Arc;
use tandem_sdk::model::{Capabilities, WindowPolicy};
use tandem_sdk::{
    AdapterError, BuiltChannel, ChannelContext, ChannelFactory, ConfigErrors, WorkerFn,
};
use tracing::info;

/// The channel kind.
pub(crate) const KIND: &str = "telegram";

/// The `telegram` channel kind.
#[derive(Debug, Clone, Copy)]
pub struct Telegram;

impl ChannelFactory for Telegram {
    const KIND: &'static str = KIND;
    type Config = TelegramConfig;

    fn validate(config: &Self::Config) -> Result<(), ConfigErrors> {
        config.validate()
    }

    async fn build(config: Self::Config, cx: ChannelContext) -> Result<BuiltChannel, AdapterError> {
        let bot = api::bot(&config, cx.http.clone())?;
        let adapter = Arc::new(outbound::TelegramAdapter::new(
            bot.clone(),
            capabilities(&config),
        ));
        let (routes, worker): (Option<axum::Router>, Option<WorkerFn>) = match config.mode {
            config::Mode::Webhook => {
                let routes =
                    inbound::routes(config.secret_token.clone(), cx.inbound.clone(), bot.clone());
                let worker: Option<WorkerFn> = if config.register_webhook {
                    let url = cx
                        .public_base_url
                        .join(inbound::PATH.trim_start_matches('/'))
                        .map_err(|e| {
                            AdapterError::rejected("public URL cannot carry the webhook path")
                                .with_source(e)
                        })?;
                    let (secret, shutdown) = (config.secret_token.clone(), cx.shutdown.clone());
                    Some(Box::new(move || {
                        Box::pin(polling::register_webhook(
                            bot.clone(),
                            url.clone(),
                            secret.clone(),
                            shutdown.clone(),
                        ))
                    }))
                } else {
                    None
                };
                (Some(routes), worker)
            }
            config::Mode::Polling => {
                let poller = polling::Poller {
                    bot,
                    sink: cx.inbound.clone(),
                    shutdown: cx.shutdown.clone(),
                    timeout_secs: config.poll_timeout_secs,
                    lease: std::time::Duration::from_secs(u64::from(config.poll_lease_secs)),
                };
                let worker: WorkerFn = Box::new(move || Box::pin(poller.clone().run()));
                (None, Some(worker))
            }
        };
        info!(channel.id = %cx.id, mode = ?config.mode, "Telegram channel ready.");
        Ok(BuiltChannel {
            adapter,
            routes,
            worker,
        })
    }
}

/// What a Telegram channel renders (Bot API limits, docs/platform-contracts.md §3.3).
pub fn capabilities(config: &TelegramConfig) -> Capabilities {
    Capabilities {
        max_buttons: 100,
        max_button_title_len: 64,
        max_payload_bytes: outbound::MAX_CALLBACK_DATA,
        typing: true,
        media: true,
        window: WindowPolicy::None,
        pacing: config.pacing,
        ..Capabilities::text_only(4096)
    }
}
