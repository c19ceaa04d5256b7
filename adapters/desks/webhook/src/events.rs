//! `POST /desks/webhook/events`: agent actions from the desk, verified and recorded.

use crate::config::WebhookDeskConfig;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tandem_sdk::handoff::DeskEventBody;
use tandem_sdk::signature;
use tandem_sdk::{DeskEvent, DeskEventKind, DeskEventSink, InboundError};

#[derive(Clone)]
struct EventsState {
    config: Arc<WebhookDeskConfig>,
    sink: DeskEventSink,
}

pub(crate) fn routes(config: Arc<WebhookDeskConfig>, sink: DeskEventSink) -> Router {
    Router::new()
        .route("/desks/webhook/events", post(receive))
        .with_state(EventsState { config, sink })
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    tandem_sdk::http::json_error(status, code, message)
}

fn verified(secret: &[u8], headers: &HeaderMap, body: &[u8]) -> bool {
    signature::verify_timestamped(
        &signature::TANDEM,
        secret,
        headers,
        body,
        signature::unix_now(),
    )
    .is_ok()
}

async fn receive(State(st): State<EventsState>, headers: HeaderMap, body: Bytes) -> Response {
    if !verified(st.config.secret.expose().as_bytes(), &headers, &body) {
        return error(
            StatusCode::UNAUTHORIZED,
            "bad_signature",
            "missing, stale or invalid X-Tandem-Signature",
        );
    }
    let parsed: DeskEventBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_body", &e.to_string()),
    };
    let kind = match parsed.kind.as_str() {
        "handoff.accepted" => DeskEventKind::Accepted,
        "agent.message" => match parsed.text.filter(|t| !t.trim().is_empty()) {
            Some(text) => DeskEventKind::AgentMessage { text },
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "bad_body",
                    "agent.message needs a non-empty text",
                );
            }
        },
        "handoff.resolved" => DeskEventKind::Resolved,
        "handoff.released" => DeskEventKind::Released,
        other => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_body",
                &format!("unknown event type {other:?}"),
            );
        }
    };
    let dedupe = headers
        .get("x-tandem-delivery")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 200)
        .map(str::to_owned)
        .unwrap_or_else(|| hex::encode(Sha256::digest(&body)));
    let event = DeskEvent {
        handoff_id: parsed.handoff_id,
        kind,
        agent: parsed.agent,
    };
    match st.sink.submit(&dedupe, event).await {
        Ok(a) => (
            StatusCode::OK,
            Json(serde_json::json!({"ok": true, "duplicate": a.duplicate})),
        )
            .into_response(),
        Err(InboundError::Rejected(reason)) => error(StatusCode::BAD_REQUEST, "rejected", &reason),
        Err(InboundError::Unavailable(_)) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "not recorded; send it again",
        ),
    }
}
