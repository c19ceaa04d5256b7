//! The generic webhook desk: Tandem's open handoff contract, version 1
//! (docs/INTERFACE.md; JSON Schema in `docs/handoff-v1.schema.json`), for contact-center
//! software Tandem has no adapter for.
//!
//! Out: `POST [desks.webhook].url` with the `handoff.requested`, `handoff.message` and
//! `handoff.closed` bodies, signed `X-Tandem-Signature: sha256=<hex HMAC-SHA256(secret,
//! timestamp + "." + body)>` with `X-Tandem-Timestamp`, and `X-Tandem-Delivery` stable
//! across retries. Any 2xx is success; the core's outbox retries everything else with
//! exponential backoff for more than 24 hours.
//!
//! Also out, best effort: `agent.message.status` for each change in how far an
//! `agent.message` got (`sent`, `delivered`, `read`, `failed`, `undeliverable`, with
//! `detail` such as `window closed`), signed the same way, posted once (not retried).
//!
//! In: `POST /desks/webhook/events`, signed the same way with the same secret, body
//! `{"type":"handoff.accepted"|"agent.message"|"handoff.resolved"|"handoff.released"|
//! "handoff.transferred","handoff_id":"..","agent":{"id":"..","name":".."},"text":"..",
//! "to_agent":{"id":".."},"to_queue":"..","event_id":".."}`. Deduplicated on what is
//! signed: the body's `event_id` when present, else the signed timestamp and the body's
//! digest (never the unsigned `X-Tandem-Delivery` header). An action from an agent who
//! does not own the handoff is answered `409 {"error":"not_owner",..}`.

mod config;
mod events;
mod outbound;

pub use config::WebhookDeskConfig;

use std::sync::Arc;
use tandem_sdk::{AdapterError, BuiltDesk, ConfigErrors, DeskContext, DeskFactory};

/// The `webhook` desk kind.
#[derive(Debug, Clone, Copy)]
pub struct WebhookDesk;

impl DeskFactory for WebhookDesk {
    const KIND: &'static str = "webhook";
    type Config = WebhookDeskConfig;

    fn validate(config: &Self::Config) -> Result<(), ConfigErrors> {
        config.validate()
    }

    async fn build(config: Self::Config, cx: DeskContext) -> Result<BuiltDesk, AdapterError> {
        let config = Arc::new(config);
        Ok(BuiltDesk {
            desk: Arc::new(outbound::WebhookDeskClient::new(
                config.clone(),
                cx.http.clone(),
            )),
            routes: Some(events::routes(config, cx.events.clone())),
            worker: None,
        })
    }
}
