//! What WhatsApp Cloud API and Messenger share (both are Meta Graph APIs): the webhooks'
//! `GET` subscription handshake, the `X-Hub-Signature-256` check over the raw body, and
//! the error body of a refused send.

use crate::signature::{constant_time_eq, verify_hmac_sha256_hex};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

/// Meta's handshake: echo `hub.challenge` when `hub.mode` is `subscribe` and
/// `hub.verify_token` equals `verify_token` (constant time); 403 otherwise.
pub fn subscription_handshake(query: &HashMap<String, String>, verify_token: &str) -> Response {
    let mode_ok = query.get("hub.mode").is_some_and(|m| m == "subscribe");
    let token_ok = query
        .get("hub.verify_token")
        .is_some_and(|t| constant_time_eq(t, verify_token));
    match query.get("hub.challenge") {
        Some(challenge) if mode_ok && token_ok => {
            (StatusCode::OK, challenge.clone()).into_response()
        }
        _ => crate::http::json_error(
            StatusCode::FORBIDDEN,
            "verification_failed",
            "hub.mode or hub.verify_token is wrong",
        ),
    }
}

/// Checks `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app_secret, raw body)>`.
pub fn hub_signature_ok(app_secret: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("sha256="))
        .is_some_and(|sig| verify_hmac_sha256_hex(app_secret.as_bytes(), &[body], sig))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_app_secrets_and_signatures_are_refused() {
        let sig = crate::signature::hmac_sha256_hex(b"app-secret", &[b"body"]);
        let mut h = HeaderMap::new();
        h.insert(
            "x-hub-signature-256",
            axum::http::HeaderValue::from_str(&format!("sha256={sig}")).unwrap(),
        );
        assert!(hub_signature_ok("app-secret", &h, b"body"));
        assert!(!hub_signature_ok("app-secret ", &h, b"body"));
        assert!(!hub_signature_ok(" app-secret", &h, b"body"));
        h.insert(
            "x-hub-signature-256",
            axum::http::HeaderValue::from_str(&format!("sha256={sig} ")).unwrap(),
        );
        assert!(!hub_signature_ok("app-secret", &h, b"body"));
        let q = HashMap::from([
            ("hub.mode".to_owned(), "subscribe".to_owned()),
            ("hub.verify_token".to_owned(), "verify-me ".to_owned()),
            ("hub.challenge".to_owned(), "42".to_owned()),
        ]);
        assert_eq!(
            subscription_handshake(&q, "verify-me").status(),
            StatusCode::FORBIDDEN
        );
    }

    #[test]
    fn handshake_and_signature() {
        let q = |mode: &str, token: &str| {
            HashMap::from([
                ("hub.mode".to_owned(), mode.to_owned()),
                ("hub.verify_token".to_owned(), token.to_owned()),
                ("hub.challenge".to_owned(), "1158201444".to_owned()),
            ])
        };
        assert_eq!(
            subscription_handshake(&q("subscribe", "tok"), "tok").status(),
            StatusCode::OK
        );
        assert_eq!(
            subscription_handshake(&q("subscribe", "bad"), "tok").status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            subscription_handshake(&q("unsubscribe", "tok"), "tok").status(),
            StatusCode::FORBIDDEN
        );
        let mut h = HeaderMap::new();
        let sig = crate::signature::hmac_sha256_hex(b"s", &[b"body"]);
        h.insert(
            "x-hub-signature-256",
            format!("sha256={sig}").parse().unwrap(),
        );
        assert!(hub_signature_ok("s", &h, b"body"));
        assert!(!hub_signature_ok("s", &h, b"bodY"));
        assert!(!hub_signature_ok("s", &HeaderMap::new(), b"body"));
    }
}

/// The `error` of a Graph API answer that is not a success:
/// `{"error": {"code", "error_subcode", "message", ...}}`. Adapters classify by code.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct GraphError {
    /// The Graph error code (e.g. 131047, 613, 190).
    pub code: Option<u64>,
    /// The finer error subcode (e.g. 2018278).
    pub error_subcode: Option<u64>,
}

impl GraphError {
    /// The error of an answer body; empty when the body is not a Graph error.
    pub fn from_body(body: &[u8]) -> Self {
        #[derive(Default, serde::Deserialize)]
        #[serde(default)]
        struct Envelope {
            error: GraphError,
        }
        serde_json::from_slice::<Envelope>(body)
            .unwrap_or_default()
            .error
    }
}

#[cfg(test)]
mod graph_error_tests {
    use super::GraphError;

    #[test]
    fn graph_errors_are_read_and_other_bodies_are_empty() {
        let e = GraphError::from_body(
            br#"{"error":{"message":"(#10) outside window","type":"OAuthException","code":10,"error_subcode":2018278}}"#,
        );
        assert_eq!((e.code, e.error_subcode), (Some(10), Some(2018278)));
        assert_eq!(
            GraphError::from_body(b"<html>bad gateway</html>"),
            GraphError::default()
        );
        assert_eq!(
            GraphError::from_body(br#"{"error":"nope"}"#),
            GraphError::default()
        );
    }
}
