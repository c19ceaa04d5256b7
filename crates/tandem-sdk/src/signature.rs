//! HMAC-SHA256 signing and constant-time verification helpers shared by adapters: the one
//! verifier every timestamped scheme (Slack, Chatwoot, Tandem's webhooks) goes through,
//! Meta's body signature, and exact constant-time comparison of shared tokens.
//!
//! Everything is exact: header values are not trimmed, hex must be hex, a timestamp is
//! ASCII digits only, and its distance from now is computed with checked arithmetic (an
//! overflow is a refusal, never a wrap into the window).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Lower-case hex of HMAC-SHA256(key, parts concatenated).
pub fn hmac_sha256_hex(key: &[u8], parts: &[&[u8]]) -> String {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// Compares a received hex signature with HMAC-SHA256(key, parts) in constant time.
/// Upper- or lower-case hex is accepted; anything else (whitespace included) fails.
pub fn verify_hmac_sha256_hex(key: &[u8], parts: &[&[u8]], received_hex: &str) -> bool {
    let Ok(received) = hex::decode(received_hex) else {
        return false;
    };
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    let expected = mac.finalize().into_bytes();
    expected.as_slice().ct_eq(&received).into()
}

/// A timestamped HMAC-SHA256 signature scheme: the signed string is
/// `before + timestamp + between + raw body`, the signature header carries
/// `prefix + hex`, and the timestamp header must be within `max_skew_secs` of now (either
/// side). Slack, Chatwoot and Tandem's own webhooks are instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampedScheme {
    /// Header with the unix-seconds timestamp.
    pub timestamp_header: &'static str,
    /// Header with the signature.
    pub signature_header: &'static str,
    /// Prefix of the signature value (`v0=`, `sha256=`).
    pub prefix: &'static str,
    /// Signed bytes before the timestamp.
    pub before: &'static [u8],
    /// Signed bytes between the timestamp and the body.
    pub between: &'static [u8],
    /// Largest distance between the timestamp and now.
    pub max_skew_secs: i64,
}

/// Slack's v0 request signing: `v0=hex(HMAC(secret, "v0:" + ts + ":" + body))`.
pub const SLACK_V0: TimestampedScheme = TimestampedScheme {
    timestamp_header: "x-slack-request-timestamp",
    signature_header: "x-slack-signature",
    prefix: "v0=",
    before: b"v0:",
    between: b":",
    max_skew_secs: MAX_SKEW_SECS,
};

/// Chatwoot webhooks: `sha256=hex(HMAC(secret, ts + "." + body))`.
pub const CHATWOOT: TimestampedScheme = TimestampedScheme {
    timestamp_header: "x-chatwoot-timestamp",
    signature_header: "x-chatwoot-signature",
    prefix: "sha256=",
    before: b"",
    between: b".",
    max_skew_secs: MAX_SKEW_SECS,
};

/// Tandem's own signed webhooks (handoff contract v1, the generic webhook channel):
/// `sha256=hex(HMAC(secret, ts + "." + body))`.
pub const TANDEM: TimestampedScheme = TimestampedScheme {
    timestamp_header: "x-tandem-timestamp",
    signature_header: "x-tandem-signature",
    prefix: "sha256=",
    before: b"",
    between: b".",
    max_skew_secs: MAX_SKEW_SECS,
};

/// Why a timestamped signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A header is missing or malformed.
    Missing,
    /// The timestamp is too far from now (a replay, or a badly wrong clock).
    Stale,
    /// The signature does not match.
    Mismatch,
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// The largest distance between a signed timestamp and now on every timestamped surface.
pub const MAX_SKEW_SECS: i64 = 300;

/// Reads a unix-seconds timestamp: ASCII digits only (no sign, no spaces), at most 19
/// of them. `None` otherwise.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Whether `ts` is within `max_skew_secs` of `now`, either side. Checked arithmetic: a
/// difference that overflows (timestamps near `i64::MIN` or `i64::MAX`) is stale.
pub fn timestamp_fresh(ts: i64, now: i64, max_skew_secs: i64) -> bool {
    now.checked_sub(ts)
        .and_then(i64::checked_abs)
        .is_some_and(|d| d <= max_skew_secs)
}

/// Checks a request signed with `scheme` at time `now` (unix seconds), in constant time.
pub fn verify_timestamped(
    scheme: &TimestampedScheme,
    secret: &[u8],
    headers: &axum::http::HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), Refusal> {
    verified_timestamp(scheme, secret, headers, body, now).map(|_| ())
}

/// [`verify_timestamped`], returning the verified timestamp (part of what is signed:
/// with a digest of the body it identifies the request, so a replay is recognised
/// whatever unsigned headers it carries).
pub fn verified_timestamp(
    scheme: &TimestampedScheme,
    secret: &[u8],
    headers: &axum::http::HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<i64, Refusal> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let ts = header(scheme.timestamp_header).ok_or(Refusal::Missing)?;
    let ts_num = parse_timestamp(ts).ok_or(Refusal::Missing)?;
    if !timestamp_fresh(ts_num, now, scheme.max_skew_secs) {
        return Err(Refusal::Stale);
    }
    let sig = header(scheme.signature_header)
        .and_then(|s| s.strip_prefix(scheme.prefix))
        .ok_or(Refusal::Missing)?;
    if verify_hmac_sha256_hex(
        secret,
        &[scheme.before, ts.as_bytes(), scheme.between, body],
        sig,
    ) {
        Ok(ts_num)
    } else {
        Err(Refusal::Mismatch)
    }
}

/// Constant-time equality of two secrets given as text (e.g. a shared header token):
/// exact bytes, so a token with extra whitespace is a different token.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Whether header `name` carries exactly `secret` (constant time). An empty secret
/// matches nothing.
pub fn header_secret_ok(headers: &axum::http::HeaderMap, name: &str, secret: &str) -> bool {
    !secret.is_empty()
        && headers
            .get(name)
            .is_some_and(|v| bool::from(v.as_bytes().ct_eq(secret.as_bytes())))
}

/// `sha256:<hex>` of the signed timestamp and the body: the dedupe key of a verified
/// request whose body carries no event id of its own.
pub fn signed_request_key(ts: i64, body: &[u8]) -> String {
    use sha2::Digest;
    let mut hasher = Sha256::new();
    hasher.update(ts.to_string().as_bytes());
    hasher.update(b".");
    hasher.update(body);
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

/// Edge cases every signed surface is tested against (unit tests of each adapter):
/// timestamps that must be refused relative to `now`.
pub fn refused_timestamps(now: i64) -> [i64; 4] {
    [
        i64::MIN,
        i64::MAX,
        now.saturating_sub(MAX_SKEW_SECS + 1),
        now.saturating_add(MAX_SKEW_SECS + 1),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4231_case_2() {
        // RFC 4231 test case 2.
        let sig = hmac_sha256_hex(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            sig,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(verify_hmac_sha256_hex(
            b"Jefe",
            &[b"what do ya want for nothing?"],
            &sig.to_uppercase()
        ));
        assert!(!verify_hmac_sha256_hex(
            b"Jefe",
            &[b"what do ya want for nothing!"],
            &sig
        ));
        assert!(!verify_hmac_sha256_hex(b"Jefe", &[b"x"], "zz"));
    }

    #[test]
    fn timestamped_schemes() {
        use axum::http::{HeaderMap, HeaderValue};
        let body = br#"{"a":1}"#;
        let sig = hmac_sha256_hex(b"k", &[b"1700000000", b".", body]);
        let mut h = HeaderMap::new();
        h.insert("x-tandem-timestamp", HeaderValue::from_static("1700000000"));
        h.insert(
            "x-tandem-signature",
            HeaderValue::from_str(&format!("sha256={sig}")).unwrap(),
        );
        assert_eq!(
            verify_timestamped(&TANDEM, b"k", &h, body, 1_700_000_100),
            Ok(())
        );
        assert_eq!(
            verify_timestamped(&TANDEM, b"k", &h, body, 1_700_000_301),
            Err(Refusal::Stale)
        );
        assert_eq!(
            verify_timestamped(&TANDEM, b"x", &h, body, 1_700_000_000),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            verify_timestamped(&CHATWOOT, b"k", &h, body, 1_700_000_000),
            Err(Refusal::Missing)
        );
    }

    fn signed(ts: &str, body: &[u8], key: &[u8]) -> axum::http::HeaderMap {
        use axum::http::HeaderValue;
        let sig = hmac_sha256_hex(key, &[ts.as_bytes(), b".", body]);
        let mut h = axum::http::HeaderMap::new();
        h.insert("x-tandem-timestamp", HeaderValue::from_str(ts).unwrap());
        h.insert(
            "x-tandem-signature",
            HeaderValue::from_str(&format!("sha256={sig}")).unwrap(),
        );
        h
    }

    #[test]
    fn correctly_signed_but_extreme_or_stale_timestamps_are_refused() {
        let body = b"{}";
        for now in [0, 1_700_000_000] {
            for ts in refused_timestamps(now) {
                // Negative ones are not digits: refused as malformed before any arithmetic.
                let h = signed(&ts.to_string(), body, b"k");
                let verdict = verify_timestamped(&TANDEM, b"k", &h, body, now);
                let expected = if ts < 0 {
                    Refusal::Missing
                } else {
                    Refusal::Stale
                };
                assert_eq!(verdict, Err(expected), "ts {ts} now {now}");
                assert!(
                    !timestamp_fresh(ts, now, MAX_SKEW_SECS),
                    "ts {ts} now {now}"
                );
            }
        }
        // The wrap the age check used to have: now - i64::MIN overflows.
        assert!(!timestamp_fresh(i64::MIN, 1_700_000_000, MAX_SKEW_SECS));
        assert!(!timestamp_fresh(i64::MAX, -1, MAX_SKEW_SECS));
        assert!(!timestamp_fresh(i64::MIN + 1, 1, MAX_SKEW_SECS));
        assert!(timestamp_fresh(1_700_000_300, 1_700_000_000, MAX_SKEW_SECS));
        assert!(timestamp_fresh(1_699_999_700, 1_700_000_000, MAX_SKEW_SECS));
    }

    #[test]
    fn timestamps_and_signatures_are_exact() {
        let body = b"{}";
        let now = 1_700_000_000;
        for ts in [
            " 1700000000",
            "1700000000 ",
            "+1700000000",
            "1e9",
            "",
            "17000000000000000000",
        ] {
            let h = signed(ts, body, b"k");
            assert_eq!(
                verify_timestamped(&TANDEM, b"k", &h, body, now),
                Err(Refusal::Missing),
                "{ts:?}"
            );
        }
        let mut h = signed("1700000000", body, b"k");
        let padded = format!("{} ", h["x-tandem-signature"].to_str().unwrap());
        h.insert(
            "x-tandem-signature",
            axum::http::HeaderValue::from_str(&padded).unwrap(),
        );
        assert_eq!(
            verify_timestamped(&TANDEM, b"k", &h, body, now),
            Err(Refusal::Mismatch)
        );
        // A key with extra whitespace is another key.
        let h = signed("1700000000", body, b"k");
        assert_eq!(
            verify_timestamped(&TANDEM, b"k ", &h, body, now),
            Err(Refusal::Mismatch)
        );
        assert_eq!(verified_timestamp(&TANDEM, b"k", &h, body, now), Ok(now));
    }

    #[test]
    fn header_secrets_are_exact() {
        use axum::http::{HeaderMap, HeaderValue};
        let mut h = HeaderMap::new();
        h.insert("x-token", HeaderValue::from_static("s3cret"));
        assert!(header_secret_ok(&h, "x-token", "s3cret"));
        assert!(!header_secret_ok(&h, "x-token", "s3cret "));
        assert!(!header_secret_ok(&h, "x-token", ""));
        h.insert("x-token", HeaderValue::from_static("s3cret "));
        assert!(!header_secret_ok(&h, "x-token", "s3cret"));
        assert!(!header_secret_ok(&HeaderMap::new(), "x-token", "s3cret"));
    }

    #[test]
    fn signed_request_keys_name_the_request() {
        assert_eq!(signed_request_key(1, b"a"), signed_request_key(1, b"a"));
        assert_ne!(signed_request_key(1, b"a"), signed_request_key(2, b"a"));
        assert_ne!(signed_request_key(1, b"a"), signed_request_key(1, b"b"));
    }

    #[test]
    fn token_compare() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }
}
