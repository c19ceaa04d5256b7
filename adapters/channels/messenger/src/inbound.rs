//! `GET /webhooks/messenger` (Meta's verification handshake) and `POST
//! /webhooks/messenger` (signed events): verify the signature over the raw bytes →
//! parse → normalize → hand messages and receipts to the core → answer.
//!
//! Answers: 200 once everything is durably recorded (events of other objects and
//! events that cannot be read included: the readable ones are recorded, the others kept
//! as `messenger:unparsable`); 401 for a missing or bad `X-Hub-Signature-256` (nothing
//! recorded); 400 for a body that is not JSON; 503 when the store is unavailable (Meta
//! redelivers; recorded messages deduplicate on `mid`).

use crate::api::{Entry, Notification};
use crate::config::MessengerConfig;
use crate::normalize::{self, Parsed, Settings};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Arc;
use tandem_sdk::model::ChannelId;
use tandem_sdk::telemetry;
use tandem_sdk::{InboundError, InboundSink};
use tracing::{Instrument, debug, warn};

/// The webhook path.
pub(crate) const PATH: &str = "/webhooks/messenger";

#[derive(Clone)]
struct InState {
    config: Arc<MessengerConfig>,
    sink: InboundSink,
}

pub(crate) fn routes(config: Arc<MessengerConfig>, sink: InboundSink) -> Router {
    Router::new()
        .route(PATH, get(verify).post(receive))
        .with_state(InState { config, sink })
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    tandem_sdk::http::json_error(status, code, message)
}

/// Meta's handshake: echo `hub.challenge` when the mode and token match.
async fn verify(State(st): State<InState>, Query(q): Query<HashMap<String, String>>) -> Response {
    tandem_sdk::meta::subscription_handshake(&q, st.config.verify_token.expose())
}

/// Checks `X-Hub-Signature-256: sha256=<hex>` over the raw body.
pub(crate) fn signature_ok(app_secret: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    tandem_sdk::meta::hub_signature_ok(app_secret, headers, body)
}

/// Parses a notification body into what Tandem records, event by event. Only a body
/// that is not a JSON object is an error; another `object` (Instagram, a Page's feed)
/// carries nothing for this channel.
pub(crate) fn parse(
    body: &[u8],
    channel: &ChannelId,
    settings: Settings<'_>,
) -> Result<Parsed, String> {
    let notification: Notification = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut parsed = Parsed::default();
    if notification.object != "page" {
        parsed.other_object = true;
        return Ok(parsed);
    }
    for raw in &notification.entry {
        let entry: Entry = tandem_sdk::lenient::event(raw).unwrap_or_default();
        for e in &entry.messaging {
            normalize::raw_event(e, false, channel, settings, &mut parsed);
        }
        for e in &entry.standby {
            normalize::raw_event(e, true, channel, settings, &mut parsed);
        }
    }
    Ok(parsed)
}

async fn receive(State(st): State<InState>, headers: HeaderMap, body: Bytes) -> Response {
    if !signature_ok(st.config.app_secret.expose(), &headers, &body) {
        return error(
            StatusCode::UNAUTHORIZED,
            "bad_signature",
            "missing or invalid X-Hub-Signature-256",
        );
    }
    let channel = st.sink.channel().clone();
    let parsed = match parse(&body, &channel, st.config.settings()) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_body", &e),
    };
    if parsed.echoes > 0 {
        debug!(channel.id = %channel, echoes = parsed.echoes, "Echoes of our own messages ignored.");
    }
    if parsed.other_object {
        debug!(channel.id = %channel, "Notification for another object acknowledged; nothing for this channel.");
    }
    if parsed.unreadable > 0 {
        debug!(channel.id = %channel, events = parsed.unreadable, "Events without a readable sender acknowledged, not recorded.");
    }
    for action in &parsed.policy_actions {
        // Meta restricted (or restored) the Page's messaging: operators must know.
        warn!(channel.id = %channel, action = %action, "Meta policy enforcement on the Page (messaging may be blocked).");
    }
    match record(&st.sink, parsed).await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"ok": true}))).into_response(),
        Err(InboundError::Rejected(reason)) => error(StatusCode::BAD_REQUEST, "rejected", &reason),
        Err(InboundError::Unavailable(_)) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "not recorded; deliver it again",
        ),
    }
}

/// Hands messages and receipts to the core, in order.
async fn record(sink: &InboundSink, parsed: Parsed) -> Result<(), InboundError> {
    for msg in parsed.messages {
        let span = tracing::debug_span!(
            telemetry::SPAN_INBOUND,
            channel.kind = crate::KIND,
            channel.id = %msg.channel,
            message.platform_id = %msg.platform_message_id,
        );
        async {
            let kind = msg.content.kind();
            let accepted = sink.accept(msg).await?;
            debug!(
                content = kind,
                duplicate = accepted.duplicate,
                "Inbound message recorded."
            );
            Ok::<_, InboundError>(())
        }
        .instrument(span)
        .await?;
    }
    for update in parsed.statuses {
        sink.delivery_status(update).await?;
    }
    Ok(())
}

/// The parser with the default Get Started payload, for the unit tests.
#[cfg(test)]
pub(crate) fn parse_for_tests(body: &[u8]) -> Result<Parsed, String> {
    parse(
        body,
        &ChannelId::new("messenger"),
        Settings {
            get_started: "GET_STARTED",
            app_id: Some("1234567890123456"),
        },
    )
}
