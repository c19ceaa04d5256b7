//! WhatsApp Cloud API channel for Tandem.
//!
//! Inbound: Meta calls `GET /webhooks/whatsapp` once to verify the endpoint (the
//! `hub.verify_token` handshake) and then `POST /webhooks/whatsapp` with notifications
//! signed by `X-Hub-Signature-256` (HMAC-SHA256 of the raw body with the App Secret,
//! compared in constant time). Every message type becomes typed content (text, reply
//! button and list taps, template quick-reply buttons, location, media by id, shared
//! contacts, reactions; anything else `Unsupported { kind }`), every status report
//! (`sent`/`delivered`/`read`/`failed` with its error code) a delivery update.
//!
//! Outbound: `POST {api_base}/{api_version}/{phone_number_id}/messages` with a text,
//! up to three reply buttons, a list of up to ten rows, or an approved template; Graph
//! error codes are classified (130429/131056/80007 rate limit, 131047 window closed, 190
//! auth, 131026 unreachable, …). The 24-hour customer-service window is declared in the
//! capabilities; the core sends the configured `window_template` outside it.
//!
//! Layout: `config` (keys and checks), `inbound` (routes), `normalize` (payload →
//! content), `outbound` (send and error classification), `api` (wire types).

mod api;
mod config;
mod inbound;
mod normalize;
mod outbound;
#[cfg(test)]
mod tests;

pub use config::{TemplateConfig, WhatsAppConfig};

use std::sync::Arc;
use tandem_sdk::model::{Capabilities, WindowPolicy};
use tandem_sdk::{AdapterError, BuiltChannel, ChannelContext, ChannelFactory, ConfigErrors};
use tracing::info;

/// The channel kind.
pub(crate) const KIND: &str = "whatsapp";

/// The `whatsapp` channel kind.
#[derive(Debug, Clone, Copy)]
pub struct WhatsApp;

impl ChannelFactory for WhatsApp {
    const KIND: &'static str = KIND;
    type Config = WhatsAppConfig;

    fn validate(config: &Self::Config) -> Result<(), ConfigErrors> {
        config.validate()
    }

    async fn build(config: Self::Config, cx: ChannelContext) -> Result<BuiltChannel, AdapterError> {
        let caps = capabilities(&config);
        let config = Arc::new(config);
        let adapter = outbound::WhatsAppAdapter::new(config.clone(), cx.http.clone(), caps);
        info!(channel.id = %cx.id, webhook = inbound::PATH, "WhatsApp channel ready.");
        Ok(BuiltChannel {
            adapter: Arc::new(adapter),
            routes: Some(inbound::routes(config, cx.inbound.clone())),
            worker: None,
        })
    }
}

/// What a WhatsApp channel renders (Cloud API limits, docs/platform-contracts.md §1.6).
pub fn capabilities(config: &WhatsAppConfig) -> Capabilities {
    Capabilities {
        max_text_len_with_buttons: 1024,
        max_buttons: 3,
        max_button_title_len: 20,
        max_list_rows: 10,
        max_list_row_title_len: 24,
        max_payload_bytes: 200,
        unique_titles: true,
        window: WindowPolicy::CustomerService {
            hours: 24,
            agent_tag_hours: None,
        },
        window_template: config
            .window_template
            .as_ref()
            .map(config::TemplateConfig::to_template),
        pacing: config.pacing,
        media: true,
        ..Capabilities::text_only(4096)
    }
}
