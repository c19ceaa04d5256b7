//! HMAC-SHA256 signing and constant-time verification helpers shared by adapters.

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
/// Upper- or lower-case hex is accepted; anything that is not hex fails.
pub fn verify_hmac_sha256_hex(key: &[u8], parts: &[&[u8]], received_hex: &str) -> bool {
    let Ok(received) = hex::decode(received_hex.trim()) else {
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
    max_skew_secs: 300,
};

/// Chatwoot webhooks: `sha256=hex(HMAC(secret, ts + "." + body))`.
pub const CHATWOOT: TimestampedScheme = TimestampedScheme {
    timestamp_header: "x-chatwoot-timestamp",
    signature_header: "x-chatwoot-signature",
    prefix: "sha256=",
    before: b"",
    between: b".",
    max_skew_secs: 300,
};

/// Tandem's own signed webhooks (handoff contract v1, the generic webhook channel):
/// `sha256=hex(HMAC(secret, ts + "." + body))`.
pub const TANDEM: TimestampedScheme = TimestampedScheme {
    timestamp_header: "x-tandem-timestamp",
    signature_header: "x-tandem-signature",
    prefix: "sha256=",
    before: b"",
    between: b".",
    max_skew_secs: 300,
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

/// Checks a request signed with `scheme` at time `now` (unix seconds), in constant time.
pub fn verify_timestamped(
    scheme: &TimestampedScheme,
    secret: &[u8],
    headers: &axum::http::HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), Refusal> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let ts = header(scheme.timestamp_header).ok_or(Refusal::Missing)?;
    let ts_num: i64 = ts.parse().map_err(|_| Refusal::Missing)?;
    if (now - ts_num).abs() > scheme.max_skew_secs {
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
        Ok(())
    } else {
        Err(Refusal::Mismatch)
    }
}

/// Constant-time equality of two secrets given as text (e.g. a shared header token).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
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

    #[test]
    fn token_compare() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }
}
