//! The smallest complete Tandem channel adapter, annotated: start here to add a channel.
//!
//! A channel kind is a [`ChannelFactory`]: a `KIND` name, a config type, a pure `validate`
//! and a `build` that returns the sending half ([`ChannelAdapter`]) and the routes that
//! receive. This "echo" channel receives `POST /webhooks/echo` with
//! `{"id":"..","from":"..","text":".."}` (authenticated by a shared token header, compared
//! in constant time), and "sends" by keeping each recipient's replies in memory, readable at
//! `GET /webhooks/echo/{recipient}`: handy for trying a bot locally with curl.
//!
//! The rules every adapter follows (crates/tandem-sdk/SPEC.md):
//! - answer the platform 2xx only after `InboundSink::accept` returned `Ok` (it resolves
//!   once the message is durably recorded); 5xx otherwise, so the platform redelivers;
//! - give every message the platform's own id: the core deduplicates on it;
//! - never retry in `send`: classify the failure in `AdapterError` and the outbox retries;
//! - never log message text or sender ids at INFO or above.

use async_trait::async_trait;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tandem_sdk::model::{
    Capabilities, Content, Delivery, DeliveryState, ExternalIdentity, InboundMessage,
    OutboundMessage, PlatformMessageId,
};
use tandem_sdk::signature::constant_time_eq;
use tandem_sdk::{
    AdapterError, BuiltChannel, ChannelAdapter, ChannelContext, ChannelFactory, ConfigErrors,
    InboundError, InboundSink, Secret,
};

/// `[channels.echo]`: the shared token clients send in `X-Echo-Token`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EchoConfig {
    /// The shared token.
    pub token: Secret,
}

/// The `echo` channel kind.
#[derive(Debug, Clone, Copy)]
pub struct Echo;

impl ChannelFactory for Echo {
    const KIND: &'static str = "echo";
    type Config = EchoConfig;

    // Pure: no I/O, no environment, no clock. `tandem check` runs it.
    fn validate(config: &Self::Config) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::default();
        if config.token.expose().len() < 8 {
            errors.push("token", "must be at least 8 characters");
        }
        errors.into_result()
    }

    async fn build(config: Self::Config, cx: ChannelContext) -> Result<BuiltChannel, AdapterError> {
        let outbox = Arc::new(Mutex::new(HashMap::new()));
        let state = EchoState {
            token: config.token,
            sink: cx.inbound.clone(),
            outbox: outbox.clone(),
        };
        let routes = Router::new()
            .route("/webhooks/echo", post(receive))
            .route("/webhooks/echo/{recipient}", get(replies))
            .with_state(state);
        Ok(BuiltChannel {
            adapter: Arc::new(EchoAdapter {
                outbox,
                caps: Capabilities::text_only(1000),
            }),
            routes: Some(routes),
            worker: None,
        })
    }
}

type Replies = Arc<Mutex<HashMap<String, Vec<String>>>>;

#[derive(Clone)]
struct EchoState {
    token: Secret,
    sink: InboundSink,
    outbox: Replies,
}

#[derive(Deserialize)]
struct EchoIn {
    id: String,
    from: String,
    text: String,
}

async fn receive(
    State(st): State<EchoState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let token = headers
        .get("x-echo-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !constant_time_eq(token, st.token.expose()) {
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(msg) = serde_json::from_slice::<EchoIn>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let channel = st.sink.channel().clone();
    let inbound = InboundMessage {
        sender: ExternalIdentity::new(channel.clone(), msg.from),
        channel,
        platform_message_id: PlatformMessageId::new(msg.id),
        sent_at: tandem_sdk::model::now(),
        content: Content::Text { text: msg.text },
    };
    match st.sink.accept(inbound).await {
        Ok(_) => StatusCode::OK,
        Err(InboundError::Rejected(_)) => StatusCode::BAD_REQUEST,
        Err(InboundError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

async fn replies(
    State(st): State<EchoState>,
    headers: HeaderMap,
    Path(recipient): Path<String>,
) -> Result<Json<Vec<String>>, StatusCode> {
    let token = headers
        .get("x-echo-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !constant_time_eq(token, st.token.expose()) {
        return Err(StatusCode::UNAUTHORIZED);
    }
    let outbox = st
        .outbox
        .lock()
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(Json(outbox.get(&recipient).cloned().unwrap_or_default()))
}

/// The sending half.
struct EchoAdapter {
    outbox: Replies,
    caps: Capabilities,
}

#[async_trait]
impl ChannelAdapter for EchoAdapter {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn send(&self, msg: OutboundMessage) -> Result<Delivery, AdapterError> {
        // Capabilities promise no buttons, and the core shapes replies to fit; content we
        // cannot render is an error, never a silent drop.
        if !msg.content.buttons.is_empty() {
            return Err(AdapterError::unsupported("echo renders text only"));
        }
        let mut outbox = self
            .outbox
            .lock()
            .map_err(|_| AdapterError::transient("reply store poisoned"))?;
        outbox
            .entry(msg.recipient)
            .or_default()
            .push(msg.content.text);
        Ok(Delivery {
            platform_message_id: None,
            state: DeliveryState::Delivered,
        })
    }
}

#[cfg(test)]
mod tests;
