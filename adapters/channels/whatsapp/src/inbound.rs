//! `GET /webhooks/whatsapp` (Meta's verification handshake) and `POST /webhooks/whatsapp`
//! (signed notifications): verify the signature over the raw bytes → parse → normalize
//! → hand every message and status report to the core → answer.
//!
//! Answers: 200 once everything in the notification is durably recorded (fields and
//! objects this channel does not use are acknowledged; a message that cannot be read is
//! kept as `whatsapp:unparsable` and the rest of the batch recorded); 401 for a
//! missing or bad `X-Hub-Signature-256` (nothing recorded); 400 for a body that is not
//! JSON;
//! 503 when the store is unavailable (Meta redelivers; what was already recorded is
//! deduplicated on the wamid).

use crate::api::{MessagesValue, Notification};
use crate::config::WhatsAppConfig;
use crate::normalize::{self, Parsed};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tandem_sdk::model::ChannelId;
use tandem_sdk::telemetry;
use tandem_sdk::telemetry::Throttle;
use tandem_sdk::{InboundError, InboundSink};
use tracing::{Instrument, debug, warn};

/// The webhook path.
pub(crate) const PATH: &str = "/webhooks/whatsapp";

#[derive(Clone)]
struct InState {
    config: Arc<WhatsAppConfig>,
    sink: InboundSink,
}

pub(crate) fn routes(config: Arc<WhatsAppConfig>, sink: InboundSink) -> Router {
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

/// Parses a notification body into what Tandem records.
pub(crate) fn parse(
    body: &[u8],
    channel: &ChannelId,
    phone_number_id: &str,
) -> Result<Parsed, String> {
    let notification: Notification = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut parsed = Parsed::default();
    if notification.object != "whatsapp_business_account" {
        parsed
            .ignored_fields
            .push(format!("object:{}", notification.object));
        return Ok(parsed);
    }
    for change in notification.entry.into_iter().flat_map(|e| e.changes) {
        // `smb_message_echoes`: what the business wrote from the WhatsApp Business app.
        if !matches!(change.field.as_str(), "messages" | "smb_message_echoes") {
            parsed.ignored_fields.push(change.field);
            continue;
        }
        let value: MessagesValue = tandem_sdk::lenient::event(&change.value).unwrap_or_default();
        if value.metadata.phone_number_id != phone_number_id {
            parsed.other_numbers += 1;
            continue;
        }
        normalize::messages_value(value, channel, &mut parsed);
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
    let parsed = match parse(&body, &channel, &st.config.phone_number_id) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_body", &e),
    };
    // Repeats of these are one line per period with a count (a flood of signed batches
    // must not become a flood of log lines).
    static OTHER_NUMBERS: Throttle = Throttle::new(Duration::from_secs(60));
    static PLATFORM_ERRORS: Throttle = Throttle::new(Duration::from_secs(60));
    if parsed.other_numbers > 0
        && let Some(suppressed) = OTHER_NUMBERS.check()
    {
        warn!(channel.id = %channel, changes = parsed.other_numbers, suppressed, "Webhook changes for another phone number id ignored; check phone_number_id.");
    }
    for field in &parsed.ignored_fields {
        debug!(channel.id = %channel, field = %field, "Webhook field not handled by this channel; acknowledged.");
    }
    if parsed.unreadable > 0 {
        debug!(channel.id = %channel, items = parsed.unreadable, "Webhook items without a readable sender or id acknowledged, not recorded.");
    }
    // Not tied to a message, so nobody else can report them: logged here, one line for
    // the batch (the first code and how many), at most one per period.
    if let Some(code) = parsed.platform_errors.first()
        && let Some(suppressed) = PLATFORM_ERRORS.check()
    {
        warn!(channel.id = %channel, code = *code, errors = parsed.platform_errors.len(), suppressed, "WhatsApp reported errors not tied to a message.");
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

/// Hands messages and status reports to the core, in order.
async fn record(sink: &InboundSink, parsed: Parsed) -> Result<(), InboundError> {
    // A batch repeating one message is recorded once, not written (and deduplicated by
    // the store) once per copy.
    let mut seen = HashSet::new();
    for msg in parsed.messages {
        if !seen.insert(msg.platform_message_id.as_str().to_owned()) {
            continue;
        }
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

/// Re-exported for the unit tests.
#[cfg(test)]
pub(crate) fn parse_for_tests(body: &[u8]) -> Result<Parsed, String> {
    parse(body, &ChannelId::new("whatsapp"), "109876543210987")
}
