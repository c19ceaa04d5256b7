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
        .layer(tandem_sdk::http::body_limit(
            tandem_sdk::http::DESK_EVENT_MAX_BODY,
        ))
        .with_state(EventsState { config, sink })
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    tandem_sdk::http::json_error(status, code, message)
}

/// A desk event body: the event, and the desk's own event id when it sent a usable one.
fn parse(body: &[u8]) -> Result<(DeskEvent, Option<String>), String> {
    let parsed: DeskEventBody = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let kind = match parsed.kind.as_str() {
        "handoff.accepted" => DeskEventKind::Accepted,
        "agent.message" => match parsed.text.filter(|t| !t.trim().is_empty()) {
            Some(text) => DeskEventKind::AgentMessage { text },
            None => return Err("agent.message needs a non-empty text".into()),
        },
        "handoff.resolved" => DeskEventKind::Resolved,
        "handoff.released" => DeskEventKind::Released,
        "handoff.transferred" => {
            let to = match (parsed.to_agent, parsed.to_queue) {
                (Some(agent), _) if !agent.id.trim().is_empty() => TransferTarget::Agent(agent),
                (_, Some(queue)) if !queue.trim().is_empty() => TransferTarget::Queue(queue),
                _ => return Err("handoff.transferred needs to_agent.id or to_queue".into()),
            };
            DeskEventKind::Transferred { to }
        }
        other => return Err(format!("unknown event type {other:?}")),
    };
    let event_id = parsed
        .event_id
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty() && id.len() <= 200);
    Ok((
        DeskEvent {
            handoff_id: parsed.handoff_id,
            kind,
            agent: parsed.agent,
        },
        event_id,
    ))
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
    let (event, event_id) = match parse(&body) {
        Ok(parsed) => parsed,
        Err(message) => return error(StatusCode::BAD_REQUEST, "bad_body", &message),
    };
    // Deduplicated on what the signature covers, never on the unsigned X-Tandem-Delivery
    // header: a captured request replayed with another header maps to the same key.
    let dedupe = match event_id {
        Some(id) => format!("event:{id}"),
        None => signature::signed_request_key(ts, &body),
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

    proptest::proptest! {
        #![proptest_config(tandem_testkit::fuzz::config())]

        #[test]
        fn fuzz_event_parser_never_panics_on_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1024)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn fuzz_event_parser_never_panics_on_shaped_json(v in tandem_testkit::fuzz::json_with_keys(KEYS)) {
            let _ = parse(v.to_string().as_bytes());
        }

        #[test]
        fn fuzz_event_parser_never_panics_on_mutated_events(bytes in tandem_testkit::fuzz::mutated(SEED)) {
            let _ = parse(&bytes);
        }
    }

    const KEYS: &[&str] = &[
        "type",
        "handoff_id",
        "agent",
        "id",
        "name",
        "text",
        "event_id",
        "to_agent",
        "to_queue",
        "handoff.accepted",
        "agent.message",
        "handoff.resolved",
        "handoff.released",
        "handoff.transferred",
    ];
    const SEED: &[u8] = br#"{"type":"handoff.transferred","handoff_id":"ho_1","agent":{"id":"a1","name":"Sam"},"to_agent":{"id":"b"},"to_queue":"billing","text":"hi","event_id":"e1"}"#;

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
