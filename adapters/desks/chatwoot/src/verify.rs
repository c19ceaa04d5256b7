//! Chatwoot webhook signatures (Chatwoot with PR #13573, Feb 2026):
//! `X-Chatwoot-Signature: sha256=<hex HMAC-SHA256(webhook_secret, timestamp + "." + raw
//! body)>` with `X-Chatwoot-Timestamp` (unix seconds, within five minutes of now, either
//! side), compared in constant time.

use axum::http::HeaderMap;
use tandem_sdk::signature::{self, CHATWOOT};

pub(crate) use tandem_sdk::signature::Refusal;

/// Seconds since the Unix epoch.
pub(crate) fn now_secs() -> i64 {
    signature::unix_now()
}

/// Checks a signed request at time `now` (the shared scheme in `tandem_sdk::signature`).
pub(crate) fn verify(
    secret: &[u8],
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<i64, Refusal> {
    signature::verified_timestamp(&CHATWOOT, secret, headers, body, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const SECRET: &[u8] = b"test_webhook_secret";
    const TS: i64 = 1_767_261_726;

    /// The regression values of the fixtures' README.
    const VECTORS: &[(&str, &[u8], &str)] = &[
        (
            "webhook_conversation_status_changed_resolved.json",
            include_bytes!("../tests/fixtures/webhook_conversation_status_changed_resolved.json"),
            "sha256=a46526e0bfb4ceb340db51e5a1b2aab19a09f60d51de9e653e44cc05d2d63717",
        ),
        (
            "webhook_message_created_incoming_to_agent_bot.json",
            include_bytes!("../tests/fixtures/webhook_message_created_incoming_to_agent_bot.json"),
            "sha256=a12f19ed8e93585973414d080617e532b1269dd5e51381376ffc4c3929a1d75c",
        ),
        (
            "webhook_message_created_outgoing_agent.json",
            include_bytes!("../tests/fixtures/webhook_message_created_outgoing_agent.json"),
            "sha256=83a734609659e85ff0edc4a12653310ecd8a065b23a72795d92cb409b4352ee2",
        ),
        (
            "webhook_message_created_private_note.json",
            include_bytes!("../tests/fixtures/webhook_message_created_private_note.json"),
            "sha256=0d5cdf500f4b66def68e28226366dfb0a8603d807dd39ea23b84bf518caf1f39",
        ),
    ];

    fn headers(ts: &str, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-chatwoot-timestamp", HeaderValue::from_str(ts).unwrap());
        h.insert("x-chatwoot-signature", HeaderValue::from_str(sig).unwrap());
        h
    }

    #[test]
    fn fixture_regression_values_verify() {
        for (name, body, sig) in VECTORS {
            let h = headers(&TS.to_string(), sig);
            assert_eq!(verify(SECRET, &h, body, TS), Ok(TS), "{name}");
            assert_eq!(verify(SECRET, &h, body, TS + 300), Ok(TS), "{name}");
            assert_eq!(
                verify(b"other", &h, body, TS),
                Err(Refusal::Mismatch),
                "{name}"
            );
        }
    }

    #[test]
    fn extreme_timestamps_and_padded_secrets_are_refused() {
        let (_, body, _) = VECTORS[2];
        for ts in signature::refused_timestamps(TS) {
            let sig = signature::hmac_sha256_hex(SECRET, &[ts.to_string().as_bytes(), b".", body]);
            let h = headers(&ts.to_string(), &format!("sha256={sig}"));
            assert!(verify(SECRET, &h, body, TS).is_err(), "{ts}");
        }
        let (_, body, sig) = VECTORS[2];
        let h = headers(&TS.to_string(), sig);
        assert_eq!(
            verify(b"test_webhook_secret ", &h, body, TS),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            verify(b" test_webhook_secret", &h, body, TS),
            Err(Refusal::Mismatch)
        );
    }

    #[test]
    fn stale_tampered_and_missing_are_refused() {
        let (_, body, sig) = VECTORS[2];
        let h = headers(&TS.to_string(), sig);
        assert_eq!(verify(SECRET, &h, body, TS + 301), Err(Refusal::Stale));
        assert_eq!(verify(SECRET, &h, body, TS - 301), Err(Refusal::Stale));
        let mut tampered = body.to_vec();
        tampered[20] ^= 1;
        assert_eq!(verify(SECRET, &h, &tampered, TS), Err(Refusal::Mismatch));
        let moved = headers(&(TS - 1).to_string(), sig);
        assert_eq!(verify(SECRET, &moved, body, TS), Err(Refusal::Mismatch));
        assert_eq!(
            verify(SECRET, &HeaderMap::new(), body, TS),
            Err(Refusal::Missing)
        );
        let bare = headers(&TS.to_string(), sig.trim_start_matches("sha256="));
        assert_eq!(verify(SECRET, &bare, body, TS), Err(Refusal::Missing));
    }
}
