//! The generic webhook channel: any front-end (a mobile app, a kiosk, an in-house
//! messenger) becomes a Tandem channel by speaking signed JSON over HTTP.
//!
//! Inbound: `POST /webhooks/generic` with `{"id":"<message id>","from":{"id":"..","name":".."},
//! "text":".."}` (or `"postback":{"payload":"..","title":".."}` instead of `text`), signed
//! like the handoff contract: `X-Tandem-Timestamp: <unix seconds>` and
//! `X-Tandem-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`.
//! Answers 200 after the durable write, 401 on a bad signature or a timestamp more than
//! five minutes off, 400 on a malformed body, 503 when the store is unavailable.
//!
//! Outbound: `POST <url>` with `{"version":"1","type":"message","id":"<outbox id>",
//! "conversation_id":"..","to":"<sender id>","from":"bot"|"agent"|"system","text":"..",
//! "buttons":[{"title":"..","payload":".."}],"at":"<RFC 3339>"}`, signed the same way,
//! `X-Tandem-Delivery` = the outbox id (stable across retries, so receivers can dedupe).
//! 2xx = delivered; 429 (with `Retry-After`) and 5xx are retried by the outbox; 401/403
//! are auth failures; other 4xx are permanent.

mod api;
mod config;
mod inbound;
mod outbound;

pub use config::WebhookChannelConfig;

use std::sync::Arc;
use tandem_sdk::{AdapterError, BuiltChannel, ChannelContext, ChannelFactory, ConfigErrors};

/// The `webhook` channel kind.
#[derive(Debug, Clone, Copy)]
pub struct WebhookChannel;

impl ChannelFactory for WebhookChannel {
    const KIND: &'static str = "webhook";
    type Config = WebhookChannelConfig;

    fn validate(config: &Self::Config) -> Result<(), ConfigErrors> {
        config.validate()
    }

    async fn build(config: Self::Config, cx: ChannelContext) -> Result<BuiltChannel, AdapterError> {
        let config = Arc::new(config);
        let adapter = outbound::WebhookAdapter::new(config.clone(), cx.http.clone())?;
        Ok(BuiltChannel {
            adapter: Arc::new(adapter),
            routes: Some(inbound::routes(config, cx.inbound.clone())),
            worker: None,
        })
    }
}
