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
    fn token_compare() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }
}
