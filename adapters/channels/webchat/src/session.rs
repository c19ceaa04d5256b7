//! Session tokens: `v1.<subject>.<hmac>` signed with a key kept in the channel's durable
//! key-value space, so tokens survive restarts and cannot be forged to impersonate
//! another visitor.

use tandem_sdk::signature::{hmac_sha256_hex, verify_hmac_sha256_hex};
use tandem_sdk::{AdapterError, InboundSink};

const KEY_NAME: &str = "session_signing_key";

pub(crate) async fn load_or_create_key(sink: &InboundSink) -> Result<Vec<u8>, AdapterError> {
    let unavailable = |e: tandem_sdk::InboundError| {
        AdapterError::transient("session key unavailable").with_source(e)
    };
    if let Some(hex_key) = sink.kv_get(KEY_NAME).await.map_err(unavailable)?
        && let Ok(key) = hex::decode(hex_key)
        && key.len() == 32
    {
        return Ok(key);
    }
    let key: [u8; 32] = rand::random();
    sink.kv_put(KEY_NAME, &hex::encode(key))
        .await
        .map_err(unavailable)?;
    Ok(key.to_vec())
}

#[derive(Clone)]
pub(crate) struct SessionSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for SessionSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionSigner(***)")
    }
}

impl SessionSigner {
    pub(crate) fn new(key: Vec<u8>) -> Self {
        Self { key }
    }

    pub(crate) fn issue(&self, subject: &str) -> String {
        let sig = hmac_sha256_hex(&self.key, &[subject.as_bytes()]);
        format!("v1.{subject}.{sig}")
    }

    /// The subject of a valid token.
    pub(crate) fn verify(&self, token: &str) -> Option<String> {
        let rest = token.strip_prefix("v1.")?;
        let (subject, sig) = rest.rsplit_once('.')?;
        if subject.is_empty() || subject.len() > 256 {
            return None;
        }
        verify_hmac_sha256_hex(&self.key, &[subject.as_bytes()], sig).then(|| subject.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_resist_forgery() {
        let s = SessionSigner::new(vec![7; 32]);
        let t = s.issue("anon:abc");
        assert_eq!(s.verify(&t).as_deref(), Some("anon:abc"));
        assert_eq!(s.verify(&t.replace("anon:abc", "anon:abd")), None);
        assert_eq!(SessionSigner::new(vec![8; 32]).verify(&t), None);
        assert_eq!(s.verify("garbage"), None);
        assert_eq!(s.verify("v1..00"), None);
    }
}
