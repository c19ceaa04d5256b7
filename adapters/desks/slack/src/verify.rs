//! Slack request signing, version 0: `X-Slack-Signature: v0=<hex HMAC-SHA256(signing
//! secret, "v0:" + X-Slack-Request-Timestamp + ":" + raw body)>`, over the exact bytes
//! received (the form-encoded body for interactivity), compared in constant time, with a
//! five-minute replay window on either side of now (as Slack's Python SDK does).

use axum::http::HeaderMap;
use tandem_sdk::signature::{self, SLACK_V0};

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
) -> Result<(), Refusal> {
    signature::verify_timestamped(&SLACK_V0, secret, headers, body, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const SECRET: &[u8] = b"test_signing_secret";
    const TS: i64 = 1_767_261_700;

    fn headers(ts: &str, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "x-slack-request-timestamp",
            HeaderValue::from_str(ts).unwrap(),
        );
        h.insert("x-slack-signature", HeaderValue::from_str(sig).unwrap());
        h
    }

    /// The regression values of the fixtures' README.
    const VECTORS: &[(&str, &[u8], &str)] = &[
        (
            "url_verification.json",
            include_bytes!("../tests/fixtures/url_verification.json"),
            "v0=5ea273731167ceba0eafe357eba20618cfacac1ee008f65c865ff487ddedd3ed",
        ),
        (
            "event_message_in_thread_from_agent.json",
            include_bytes!("../tests/fixtures/event_message_in_thread_from_agent.json"),
            "v0=780ea5074bdc8c4be7e7ef3b0d077a34d9bd239aa718cbdfae216f7551d7934e",
        ),
        (
            "event_message_own_bot_echo.json",
            include_bytes!("../tests/fixtures/event_message_own_bot_echo.json"),
            "v0=7320dab6f7e2c4ba9381d3cb199a362a07afae77c05df1e03391a43ca7f89e10",
        ),
        (
            "interactivity_block_actions_body.form.txt",
            include_bytes!("../tests/fixtures/interactivity_block_actions_body.form.txt"),
            "v0=fc0dc50cbae4c6d0fa2ee3112fb63f83a380db62e421e4216709c3d79567e6c4",
        ),
    ];

    #[test]
    fn fixture_regression_values_verify() {
        for (name, body, sig) in VECTORS {
            let h = headers(&TS.to_string(), sig);
            assert_eq!(verify(SECRET, &h, body, TS), Ok(()), "{name}");
            assert_eq!(
                verify(SECRET, &h, body, TS + 299),
                Ok(()),
                "{name} within window"
            );
            assert_eq!(
                verify(SECRET, &h, body, TS - 299),
                Ok(()),
                "{name} future within window"
            );
            assert_eq!(
                verify(b"wrong", &h, body, TS),
                Err(Refusal::Mismatch),
                "{name}"
            );
        }
    }

    #[test]
    fn extreme_timestamps_and_padded_secrets_are_refused() {
        let (_, body, sig) = VECTORS[1];
        for ts in signature::refused_timestamps(TS) {
            let sig = signature::hmac_sha256_hex(
                SECRET,
                &[b"v0:", ts.to_string().as_bytes(), b":", body],
            );
            let h = headers(&ts.to_string(), &format!("v0={sig}"));
            assert!(verify(SECRET, &h, body, TS).is_err(), "{ts}");
        }
        let h = headers(&TS.to_string(), sig);
        assert_eq!(verify(SECRET, &h, body, TS), Ok(()));
        for padded in [
            &b"test_signing_secret "[..],
            b" test_signing_secret",
            b"test_signing_secret\n",
        ] {
            assert_eq!(verify(padded, &h, body, TS), Err(Refusal::Mismatch));
        }
    }

    #[test]
    fn slack_documented_vector() {
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let h = headers(
            "1531420618",
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
        );
        assert_eq!(
            verify(b"8f742231b10e8888abcd99yyyzzz85a5", &h, body, 1_531_420_618),
            Ok(())
        );
    }

    #[test]
    fn stale_tampered_and_missing_are_refused() {
        let (_, body, sig) = VECTORS[1];
        let h = headers(&TS.to_string(), sig);
        assert_eq!(verify(SECRET, &h, body, TS + 301), Err(Refusal::Stale));
        assert_eq!(
            verify(SECRET, &h, body, TS - 301),
            Err(Refusal::Stale),
            "abs window"
        );
        let mut tampered = body.to_vec();
        tampered[10] ^= 1;
        assert_eq!(verify(SECRET, &h, &tampered, TS), Err(Refusal::Mismatch));
        let moved = headers(&(TS + 1).to_string(), sig);
        assert_eq!(
            verify(SECRET, &moved, body, TS),
            Err(Refusal::Mismatch),
            "timestamp is signed"
        );
        assert_eq!(
            verify(SECRET, &HeaderMap::new(), body, TS),
            Err(Refusal::Missing)
        );
        let no_prefix = headers(&TS.to_string(), sig.trim_start_matches("v0="));
        assert_eq!(verify(SECRET, &no_prefix, body, TS), Err(Refusal::Missing));
        let junk = headers("soon", sig);
        assert_eq!(verify(SECRET, &junk, body, TS), Err(Refusal::Missing));
    }
}
