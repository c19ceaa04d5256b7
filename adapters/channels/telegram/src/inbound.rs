//! `POST /webhooks/telegram`: check `X-Telegram-Bot-Api-Secret-Token` (constant time)
//! → parse the update → normalize → record → answer. Also [`deliver`], shared with the
//! polling worker: it hands one normalized update to the core and answers callback
//! queries once recorded.
//!
//! Answers: 200 once recorded; 401 for a missing or wrong secret token (nothing
//! recorded); 400 for a body that is not an update; 503 when the store is unavailable
//! (Telegram redelivers; the `update_id` deduplicates).

use crate::api::{Bot, Requester, Update};
use crate::normalize::{self, Normalized};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use tandem_sdk::model::ChannelId;
use tandem_sdk::signature;
use tandem_sdk::{InboundError, InboundSink, Secret, telemetry};
use tracing::{Instrument, debug, warn};

/// The webhook path.
pub(crate) const PATH: &str = "/webhooks/telegram";

#[derive(Clone)]
struct InState {
    secret: Secret,
    sink: InboundSink,
    bot: Bot,
}

pub(crate) fn routes(secret: Secret, sink: InboundSink, bot: Bot) -> Router {
    Router::new()
        .route(PATH, post(receive))
        .with_state(InState { secret, sink, bot })
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    tandem_sdk::http::json_error(status, code, message)
}

/// Parses one update: its JSON, and teloxide's typed view of it; when teloxide cannot
/// read it, the JSON alone (leniently: what is known is kept).
pub(crate) fn parse(body: &[u8], channel: &ChannelId) -> Result<Normalized, String> {
    let raw: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    if !raw.is_object() {
        return Err("an update is a JSON object".into());
    }
    // From the bytes, not from `raw`: teloxide's update-kind visitor needs borrowed keys.
    match serde_json::from_slice::<Update>(body) {
        Ok(update) => Ok(normalize::update(update, &raw, channel)),
        Err(_) => Ok(normalize::untyped(&raw, channel)),
    }
}

/// Whether the request carries exactly the configured secret token (constant time; a
/// token with extra whitespace, or any token when none is configured, is refused).
pub(crate) fn secret_ok(headers: &HeaderMap, secret: &str) -> bool {
    signature::header_secret_ok(headers, "x-telegram-bot-api-secret-token", secret)
}

async fn receive(State(st): State<InState>, headers: HeaderMap, body: Bytes) -> Response {
    if !secret_ok(&headers, st.secret.expose()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "bad_secret_token",
            "missing or wrong X-Telegram-Bot-Api-Secret-Token",
        );
    }
    let normalized = match parse(&body, st.sink.channel()) {
        Ok(n) => n,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_body", &e),
    };
    match deliver(&st.sink, &st.bot, normalized).await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"ok": true}))).into_response(),
        Err(InboundError::Rejected(reason)) => error(StatusCode::BAD_REQUEST, "rejected", &reason),
        Err(InboundError::Unavailable(_)) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "not recorded; deliver it again",
        ),
    }
}

/// Records one normalized update; answers a callback query once it is recorded.
pub(crate) async fn deliver(
    sink: &InboundSink,
    bot: &Bot,
    normalized: Normalized,
) -> Result<(), InboundError> {
    match normalized {
        Normalized::Message { message, callback } => {
            let span = tracing::debug_span!(
                telemetry::SPAN_INBOUND,
                channel.kind = crate::KIND,
                channel.id = %message.channel,
                message.platform_id = %message.platform_message_id,
            );
            let accepted = async {
                let kind = message.content.kind();
                let accepted = sink.accept(*message).await?;
                debug!(
                    content = kind,
                    duplicate = accepted.duplicate,
                    "Inbound update recorded."
                );
                Ok::<_, InboundError>(accepted)
            }
            .instrument(span)
            .await?;
            // A redelivered tap was answered when it was first recorded.
            if let Some(id) = callback.filter(|_| !accepted.duplicate) {
                answer_callback(bot.clone(), id);
            }
            Ok(())
        }
        Normalized::Reachability {
            subject,
            reachability,
        } => {
            let reachable = reachability.reachable;
            sink.reachability(&subject, reachability).await?;
            debug!(channel.id = %sink.channel(), reachable, "Customer reachability recorded.");
            Ok(())
        }
        Normalized::Ignored(why) => {
            debug!(channel.id = %sink.channel(), reason = why, "Update acknowledged; nothing to record.");
            Ok(())
        }
    }
}

/// Stops the client's spinner on the tapped button. Best effort, in the background: a
/// failure only leaves the spinner, and nobody else could act on it, so it is logged
/// here (without user data).
fn answer_callback(bot: Bot, id: crate::api::CallbackQueryId) {
    tokio::spawn(async move {
        if let Err(e) = bot.answer_callback_query(id).await {
            let error = crate::api::classify(e);
            warn!(%error, "Answering a callback query failed.");
        }
    });
}
