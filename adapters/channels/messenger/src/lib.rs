//! Facebook Messenger channel for Tandem.
//!
//! Inbound: Meta calls `GET /webhooks/messenger` to verify the endpoint and then `POST
//! /webhooks/messenger` with Page events signed by `X-Hub-Signature-256` (HMAC-SHA256 of
//! the raw body with the App Secret, compared in constant time). Messages, quick-reply
//! taps and postbacks become typed content; Get Started (with the m.me referral `ref`)
//! and referral events become `Start { payload }` for identity linking; delivery and
//! read watermarks become delivery reports; echoes of our own sends are ignored;
//! handover events are recorded as events; anything else is `Unsupported { kind }`.
//!
//! Outbound: the Send API (`POST {api_base}/{api_version}/me/messages`) with text,
//! quick replies or a button template. The 24-hour window is declared in the
//! capabilities with the 7-day `HUMAN_AGENT` extension for agents' messages: the core
//! tags those, and marks everything else outside the window undeliverable.
//!
//! Layout: `config` (keys and checks), `inbound` (routes), `normalize` (events →
//! content), `outbound` (send and error classification), `api` (wire types).

mod api;
mod config;
mod inbound;
mod normalize;
mod outbound;
#[cfg(test)]
mod tests;

pub use config::MessengerConfig;

use std::sync::Arc;
use tandem_sdk::model::{Capabilities, WindowPolicy};
use tandem_sdk::{AdapterError, BuiltChannel, ChannelContext, ChannelFactory, ConfigErrors};
use tracing::info;

/// The channel kind.
pub(crate) const KIND: &str = "messenger";

/// The `messenger` channel kind.
#[derive(Debug, Clone, Copy)]
pub struct Messenger;

impl ChannelFactory for Messenger {
    const KIND: &'static str = KIND;
    type Config = MessengerConfig;

    fn validate(config: &Self::Config) -> Result<(), ConfigErrors> {
        config.validate()
    }

    async fn build(config: Self::Config, cx: ChannelContext) -> Result<BuiltChannel, AdapterError> {
        let caps = capabilities(&config);
        let config = Arc::new(config);
        let adapter = outbound::MessengerAdapter::new(config.clone(), cx.http.clone(), caps);
        info!(channel.id = %cx.id, webhook = inbound::PATH, "Messenger channel ready.");
        Ok(BuiltChannel {
            adapter: Arc::new(adapter),
            routes: Some(inbound::routes(config, cx.inbound.clone())),
            worker: None,
        })
    }
}

/// What a Messenger channel renders (Send API limits, docs/platform-contracts.md §2.3).
pub fn capabilities(config: &MessengerConfig) -> Capabilities {
    Capabilities {
        max_text_len_with_buttons: 640,
        max_buttons: 3,
        max_button_title_len: 20,
        max_quick_replies: 13,
        max_quick_reply_title_len: 20,
        max_payload_bytes: 1000,
        typing: true,
        window: WindowPolicy::CustomerService {
            hours: 24,
            agent_tag_hours: Some(168),
        },
        pacing: config.pacing,
        ..Capabilities::text_only(2000)
    }
}
