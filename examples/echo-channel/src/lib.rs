//! The smallest complete Tandem channel adapter, annotated: start here to add a channel.
//! `docs/ADAPTERS.md` builds it step by step; `tests/conformance.rs` runs the channel
//! conformance kit against it (the rules are in `crates/tandem-sdk/SPEC.md`).
//!
//! A channel kind is a [`ChannelFactory`]: a `KIND` name, a config type, a pure `validate`
//! and a `build` that returns the sending half ([`ChannelAdapter`]) and the routes that
//! receive. The "echo" platform is as small as a messaging platform gets:
//! - it delivers customer messages to `POST /webhooks/echo` with
//!   `{"id":"..","from":"..","text":".."}` (or `"type":"<kind>"` instead of `text` for
//!   content it cannot express as text), authenticated by the shared token in
//!   `X-Echo-Token`;
//! - it takes replies at `POST {api_base}/messages` with `{"to":"..","text":".."}` and
//!   the same token, answering 2xx, or 429 with `Retry-After`, or 401.

use async_trait::async_trait;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde::Deserialize;
use std::sync::Arc;
use tandem_sdk::model::{
    Capabilities, Content, Delivery, DeliveryState, ExternalIdentity, InboundMessage,
    OutboundMessage, PlatformMessageId,
};
use tandem_sdk::signature::header_secret_ok;
use tandem_sdk::{
    AdapterError, BuiltChannel, ChannelAdapter, ChannelContext, ChannelFactory, ConfigErrors,
    InboundError, InboundSink, Secret,
};

/// The longest reply the echo platform takes, in characters.
const MAX_TEXT: usize = 1000;

/// `[channels.echo]`. `deny_unknown_fields`: a typo in the config file is an error with
/// its path, not a silently ignored key (SPEC C2).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EchoConfig {
    /// The shared token: checked on inbound requests, sent with replies.
    pub token: Secret,
    /// Where the platform takes replies; configurable so tests point it at a local fake
    /// (SPEC C4).
    pub api_base: String,
}

/// The `echo` channel kind.
#[derive(Debug, Clone, Copy)]
pub struct Echo;

impl ChannelFactory for Echo {
    const KIND: &'static str = "echo";
    type Config = EchoConfig;

    // Pure: no I/O, no environment, no clock (`tandem check` runs it). Report every
    // problem, each with its key (SPEC C3).
    fn validate(config: &Self::Config) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::default();
        if config.token.expose().len() < 8 {
            errors.push("token", "must be at least 8 characters");
        }
        match url::Url::parse(&config.api_base) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => errors.push("api_base", "must be an http(s) URL"),
        }
        errors.into_result()
    }

    async fn build(config: Self::Config, cx: ChannelContext) -> Result<BuiltChannel, AdapterError> {
        let token = config.token.clone();
        let routes = Router::new()
            .route("/webhooks/echo", post(receive))
            .with_state(Inbound {
                token: token.clone(),
                sink: cx.inbound.clone(),
            });
        let messages = format!("{}/messages", config.api_base.trim_end_matches('/'));
        Ok(BuiltChannel {
            adapter: Arc::new(EchoAdapter {
                http: cx.http.clone(),
                messages,
                token,
                caps: Capabilities::text_only(MAX_TEXT),
            }),
            routes: Some(routes),
            worker: None,
        })
    }
}

#[derive(Clone)]
struct Inbound {
    token: Secret,
    sink: InboundSink,
}

/// What the platform posts. `type` names content that is not text (a sticker, say).
#[derive(Deserialize)]
struct EchoIn {
    id: String,
    from: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

async fn receive(
    State(st): State<Inbound>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    // Authenticity first, on the raw request, in constant time (SPEC I3).
    if !header_secret_ok(&headers, "x-echo-token", st.token.expose()) {
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(msg) = serde_json::from_slice::<EchoIn>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    // Never drop what we do not understand: record it as Unsupported (SPEC I5).
    let content = match (msg.text, msg.kind) {
        (Some(text), _) => Content::Text { text },
        (None, kind) => Content::Unsupported {
            kind: format!("echo:{}", kind.as_deref().unwrap_or("unknown")),
        },
    };
    let channel = st.sink.channel().clone();
    let inbound = InboundMessage {
        sender: ExternalIdentity::new(channel.clone(), msg.from),
        channel: channel.clone(),
        // The platform's own id: the core deduplicates redeliveries on it (SPEC I2).
        platform_message_id: PlatformMessageId::new(msg.id),
        sent_at: tandem_sdk::model::now(),
        content,
    };
    // Ids only in the span, never the text or the sender (SPEC T1, T2).
    let span = tracing::debug_span!(
        tandem_sdk::telemetry::SPAN_INBOUND,
        channel.kind = Echo::KIND,
        channel.id = %channel,
    );
    // Answer 2xx only once the core recorded the message; 5xx makes the platform
    // redeliver (SPEC I4).
    match tracing::Instrument::instrument(st.sink.accept(inbound), span).await {
        Ok(_) => StatusCode::OK,
        Err(InboundError::Rejected(_)) => StatusCode::BAD_REQUEST,
        Err(InboundError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// The sending half.
struct EchoAdapter {
    http: reqwest::Client,
    messages: String,
    token: Secret,
    caps: Capabilities,
}

#[async_trait]
impl ChannelAdapter for EchoAdapter {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn send(&self, msg: OutboundMessage) -> Result<Delivery, AdapterError> {
        // The core shapes replies to the capabilities; anything beyond them is refused
        // before any request, never cut or dropped (SPEC O5).
        if !msg.content.buttons.is_empty() {
            return Err(AdapterError::unsupported("echo renders text only"));
        }
        if msg.content.text.chars().count() > MAX_TEXT {
            return Err(AdapterError::unsupported("text longer than echo takes"));
        }
        // Exactly one request; no retry here: classify, and the core's outbox retries
        // (SPEC O1–O4).
        let response = self
            .http
            .post(&self.messages)
            .header("x-echo-token", self.token.expose())
            .json(&serde_json::json!({"to": msg.recipient, "text": msg.content.text}))
            .send()
            .await
            .map_err(|e| AdapterError::transient("echo platform unreachable").with_source(e))?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = tandem_sdk::http::retry_after(response.headers());
            return Err(AdapterError::from_status(
                status.as_u16(),
                retry_after,
                format!("echo platform answered {status}"),
            ));
        }
        Ok(Delivery {
            platform_message_id: None,
            state: DeliveryState::Sent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_reports_every_problem_with_its_key() {
        let errors = Echo::validate(&EchoConfig {
            token: Secret::new("short"),
            api_base: "ftp://example.com".into(),
        })
        .unwrap_err();
        let paths: Vec<&str> = errors.0.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["token", "api_base"]);
    }
}
