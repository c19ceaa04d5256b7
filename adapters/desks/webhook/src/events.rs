//! `POST /desks/webhook/events`: agent actions from the desk, verified and recorded.

use crate::config::WebhookDeskConfig;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use std::sync::Arc;
use tandem_sdk::handoff::DeskEventBody;
use tandem_sdk::signature;
use tandem_sdk::{
    DeskAnswer, DeskEvent, DeskEventKind, DeskEventSink, InboundError, TransferTarget,
};

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

/// The verified timestamp of a correctly signed, fresh request at `now`.
fn verified(secret: &[u8], headers: &HeaderMap, body: &[u8], now: i64) -> Option<i64> {
    signature::verified_timestamp(&signature::TANDEM, secret, headers, body, now).ok()
}

async fn receive(State(st): State<EventsState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(ts) = verified(
        st.config.secret.expose().as_bytes(),
        &headers,
        &body,
        signature::unix_now(),
    ) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "bad_signature",
            "missing, stale or invalid X-Tandem-Signature",
        );
    };
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
        "handoff.transferred" => {
            let to = match (parsed.to_agent, parsed.to_queue) {
                (Some(agent), _) if !agent.id.trim().is_empty() => TransferTarget::Agent(agent),
                (_, Some(queue)) if !queue.trim().is_empty() => TransferTarget::Queue(queue),
                _ => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "bad_body",
                        "handoff.transferred needs to_agent.id or to_queue",
                    );
                }
            };
            DeskEventKind::Transferred { to }
        }
        other => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_body",
                &format!("unknown event type {other:?}"),
            );
        }
    };
    // Deduplicated on what the signature covers, never on the unsigned X-Tandem-Delivery
    // header: a captured request replayed with another header maps to the same key.
    let dedupe = match parsed.event_id.as_deref().map(str::trim) {
        Some(id) if !id.is_empty() && id.len() <= 200 => format!("event:{id}"),
        _ => signature::signed_request_key(ts, &body),
    };
    let event = DeskEvent {
        handoff_id: parsed.handoff_id,
        kind,
        agent: parsed.agent,
    };
    match st.sink.submit(&dedupe, event).await {
        Ok(DeskAnswer::Recorded(a)) => (
            StatusCode::OK,
            Json(serde_json::json!({"ok": true, "duplicate": a.duplicate})),
        )
            .into_response(),
        Ok(DeskAnswer::Refused(r)) => (
            StatusCode::CONFLICT,
            Json(serde_json::json!({"error": r.code, "message": r.message, "owner": r.owner})),
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(ts: i64, body: &[u8], key: &[u8]) -> HeaderMap {
        let sig = signature::hmac_sha256_hex(key, &[ts.to_string().as_bytes(), b".", body]);
        let mut h = HeaderMap::new();
        h.insert(
            "x-tandem-timestamp",
            HeaderValue::from_str(&ts.to_string()).unwrap(),
        );
        h.insert(
            "x-tandem-signature",
            HeaderValue::from_str(&format!("sha256={sig}")).unwrap(),
        );
        h
    }

    #[test]
    fn extreme_and_stale_timestamps_and_padded_secrets_are_refused() {
        let body = br#"{"type":"handoff.accepted","handoff_id":"ho_1"}"#;
        let now = 1_700_000_000;
        assert_eq!(
            verified(b"k", &headers(now, body, b"k"), body, now),
            Some(now)
        );
        for ts in signature::refused_timestamps(now) {
            assert_eq!(
                verified(b"k", &headers(ts, body, b"k"), body, now),
                None,
                "{ts}"
            );
        }
        assert_eq!(verified(b"k ", &headers(now, body, b"k"), body, now), None);
        assert_eq!(verified(b"k", &headers(now, body, b" k"), body, now), None);
    }
}
