//! `POST /webhooks/generic`: verify, parse, accept, answer.

use crate::api::InboundBody;
use crate::config::WebhookChannelConfig;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use std::sync::Arc;
use tandem_sdk::model::{Content, ExternalIdentity, InboundMessage, PlatformMessageId};
use tandem_sdk::signature;
use tandem_sdk::{InboundError, InboundSink};

#[derive(Clone)]
struct InState {
    config: Arc<WebhookChannelConfig>,
    sink: InboundSink,
}

pub(crate) fn routes(config: Arc<WebhookChannelConfig>, sink: InboundSink) -> Router {
    Router::new()
        .route("/webhooks/generic", post(receive))
        .with_state(InState { config, sink })
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    tandem_sdk::http::json_error(status, code, message)
}

/// Checks `X-Tandem-Timestamp` and `X-Tandem-Signature` over `body`.
pub(crate) fn verify(secret: &[u8], headers: &HeaderMap, body: &[u8], now_unix: i64) -> bool {
    signature::verify_timestamped(&signature::TANDEM, secret, headers, body, now_unix).is_ok()
}

async fn receive(State(st): State<InState>, headers: HeaderMap, body: Bytes) -> Response {
    let now = tandem_sdk::model::now();
    if !verify(
        st.config.secret.expose().as_bytes(),
        &headers,
        &body,
        now.unix_timestamp(),
    ) {
        return error(
            StatusCode::UNAUTHORIZED,
            "bad_signature",
            "missing or invalid X-Tandem-Signature",
        );
    }
    let parsed: InboundBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_body", &e.to_string()),
    };
    if parsed.id.is_empty() || parsed.from.id.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_body",
            "id and from.id are required",
        );
    }
    let content = match (parsed.text, parsed.postback) {
        (Some(text), None) => Content::Text { text },
        (None, Some(p)) => Content::Postback {
            payload: p.payload,
            title: p.title,
        },
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_body",
                "exactly one of text or postback is required",
            );
        }
    };
    let mut sender = ExternalIdentity::new(st.sink.channel().clone(), parsed.from.id);
    sender.display_name = parsed.from.name;
    let msg = InboundMessage {
        channel: st.sink.channel().clone(),
        platform_message_id: PlatformMessageId::new(parsed.id),
        sender,
        sent_at: now,
        content,
    };
    let span = tracing::debug_span!(
        tandem_sdk::telemetry::SPAN_INBOUND,
        channel.kind = "webhook",
        channel.id = %msg.channel,
        message.platform_id = %msg.platform_message_id,
    );
    match tracing::Instrument::instrument(st.sink.accept(msg), span).await {
        Ok(a) => (
            StatusCode::OK,
            Json(serde_json::json!({"ok": true, "duplicate": a.duplicate})),
        )
            .into_response(),
        Err(InboundError::Rejected(reason)) => error(StatusCode::BAD_REQUEST, "rejected", &reason),
        Err(InboundError::Unavailable(_)) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "not recorded; deliver it again",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn signed(ts: i64, key: &[u8], body: &[u8]) -> HeaderMap {
        let ts = ts.to_string();
        let sig = signature::hmac_sha256_hex(key, &[ts.as_bytes(), b".", body]);
        let mut h = HeaderMap::new();
        h.insert("x-tandem-timestamp", HeaderValue::from_str(&ts).unwrap());
        h.insert(
            "x-tandem-signature",
            HeaderValue::from_str(&format!("sha256={sig}")).unwrap(),
        );
        h
    }

    #[test]
    fn extreme_and_stale_timestamps_and_padded_secrets_are_refused() {
        let body = br#"{"id":"m1","from":{"id":"alice"},"text":"hi"}"#;
        let now = 1_700_000_000;
        assert!(verify(b"shh", &signed(now, b"shh", body), body, now));
        for ts in signature::refused_timestamps(now) {
            assert!(
                !verify(b"shh", &signed(ts, b"shh", body), body, now),
                "{ts}"
            );
        }
        assert!(!verify(b"shh ", &signed(now, b"shh", body), body, now));
        assert!(!verify(b"shh", &signed(now, b"shh\n", body), body, now));
    }
}

/// Fuzz targets of the inbound body parser (`TANDEM_FUZZ_CASES`, see `docs/SECURITY.md`).
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;
    use tandem_testkit::fuzz;

    const KEYS: &[&str] = &["id", "from", "name", "text", "postback", "payload", "title"];
    const SEED: &[u8] = br#"{"id":"m1","from":{"id":"alice","name":"Alice"},"text":"hi","postback":{"payload":"p","title":"t"}}"#;

    fn run(bytes: &[u8]) {
        let _ = serde_json::from_slice::<InboundBody>(bytes);
    }

    proptest! {
        #![proptest_config(fuzz::config())]

        #[test]
        fn fuzz_body_parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
            run(&bytes);
        }

        #[test]
        fn fuzz_body_parser_never_panics_on_shaped_json(v in fuzz::json_with_keys(KEYS)) {
            run(v.to_string().as_bytes());
        }

        #[test]
        fn fuzz_body_parser_never_panics_on_mutated_bodies(bytes in fuzz::mutated(SEED)) {
            run(&bytes);
        }
    }
}
