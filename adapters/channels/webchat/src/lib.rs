//! Web chat: Tandem's reference channel adapter. A browser widget talks to Tandem over a
//! WebSocket at `/webchat/ws` with the JSON protocol of docs/INTERFACE.md; the widget itself is
//! served at `/webchat/widget.js` and a demo page at `/`.
//!
//! What it does: verifies web users (a `user_token` JWT or an HMAC of the user id with
//! `identity_secret`; see `identity.rs`), issues
//! signed session tokens so a visitor can resume (history replayed), turns `message` and
//! `postback` frames into inbound messages (acknowledged only after the core's durable
//! write), and pushes outbound messages to the visitor's live sockets. A message for a
//! visitor with no open socket is stored: the transcript replays it on resume.
//!
//! What it does not: retry, persist conversations, or resolve identities across channels.

mod config;
mod hub;
mod identity;
mod inbound;
mod outbound;
mod protocol;
mod session;

pub use config::WebChatConfig;

use std::sync::Arc;
use tandem_sdk::model::{Capabilities, WindowPolicy};
use tandem_sdk::{AdapterError, BuiltChannel, ChannelContext, ChannelFactory, ConfigErrors};

/// Largest frame accepted from a client, in bytes (docs/INTERFACE.md). Larger frames get an
/// `error` frame with code `frame_too_large`, then close code 1009.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// The `webchat` channel kind.
#[derive(Debug, Clone, Copy)]
pub struct WebChat;

impl ChannelFactory for WebChat {
    const KIND: &'static str = "webchat";
    type Config = WebChatConfig;

    fn validate(config: &Self::Config) -> Result<(), ConfigErrors> {
        config.validate()
    }

    async fn build(config: Self::Config, cx: ChannelContext) -> Result<BuiltChannel, AdapterError> {
        let key = session::load_or_create_key(&cx.inbound).await?;
        let hub = Arc::new(hub::Hub::default());
        let session_limits = Arc::new(tandem_sdk::limit::KeyedLimiter::new(
            config
                .rate_limit
                .unwrap_or(config::DEFAULT_SESSION_RATE_LIMIT),
        ));
        let address_limits = Arc::new(tandem_sdk::limit::KeyedLimiter::new(
            config
                .address_rate_limit
                .unwrap_or(config::DEFAULT_ADDRESS_RATE_LIMIT),
        ));
        // The adapter keeps a sink only when other processes share the store: the sink
        // leads back to the core, which holds the adapter, and that cycle would keep the
        // embedded store open past shutdown (its WAL then never checkpointed and removed).
        let share = match cx.inbound.shared_updates() {
            Some(updates) => {
                tokio::spawn(outbound::follow_shared(
                    hub.clone(),
                    updates,
                    cx.shutdown.clone(),
                ));
                Some(cx.inbound.clone())
            }
            None => None,
        };
        let state = inbound::WsState {
            session_limits,
            address_limits,
            config: Arc::new(config),
            sessions: session::SessionSigner::new(key),
            hub: hub.clone(),
            sink: cx.inbound.clone(),
            shutdown: cx.shutdown.clone(),
        };
        Ok(BuiltChannel {
            adapter: Arc::new(outbound::WebChatAdapter::new(hub, capabilities(), share)),
            routes: Some(inbound::routes(state)),
            worker: None,
        })
    }
}

/// What web chat renders.
pub fn capabilities() -> Capabilities {
    Capabilities {
        max_buttons: 10,
        max_button_title_len: 64,
        typing: true,
        media: false,
        window: WindowPolicy::None,
        ..Capabilities::text_only(20_000)
    }
}
