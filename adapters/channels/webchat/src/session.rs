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

/// Longest hex payload of an upload token.
const MAX_UPLOAD_TOKEN: usize = 4096;

/// A file a visitor uploaded, as its upload token names it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Upload {
    /// The uploader's subject.
    #[serde(rename = "s")]
    pub(crate) subject: String,
    /// The stored reference (`tandem:files:...`).
    #[serde(rename = "r")]
    pub(crate) reference: String,
    /// The MIME type.
    #[serde(rename = "m")]
    pub(crate) mime_type: String,
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

    /// A token for a file `subject` uploaded: `u1.<hex payload>.<hmac>`, where the payload
    /// names the uploader, the stored reference, the MIME type and the file name. The
    /// widget sends it back with the message that carries the file; only the uploader's
    /// own session can use it (see [`Self::verify_upload`]).
    pub(crate) fn issue_upload(&self, upload: &Upload) -> String {
        let payload = hex::encode(serde_json::to_vec(upload).unwrap_or_default());
        let sig = hmac_sha256_hex(&self.key, &[b"upload", payload.as_bytes()]);
        format!("u1.{payload}.{sig}")
    }

    /// The upload a valid upload token names.
    pub(crate) fn verify_upload(&self, token: &str) -> Option<Upload> {
        let rest = token.strip_prefix("u1.")?;
        let (payload, sig) = rest.rsplit_once('.')?;
        if payload.is_empty() || payload.len() > MAX_UPLOAD_TOKEN {
            return None;
        }
        if !verify_hmac_sha256_hex(&self.key, &[b"upload", payload.as_bytes()], sig) {
            return None;
        }
        serde_json::from_slice(&hex::decode(payload).ok()?).ok()
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
    fn upload_tokens_round_trip_and_resist_forgery() {
        let signer = SessionSigner::new(vec![7; 32]);
        let upload = Upload {
            subject: "anon:abc".into(),
            reference: "tandem:files:id-1/f".into(),
            mime_type: "image/png".into(),
        };
        let token = signer.issue_upload(&upload);
        assert_eq!(signer.verify_upload(&token), Some(upload.clone()));
        // Another key, a changed payload, a session token: refused.
        assert_eq!(SessionSigner::new(vec![8; 32]).verify_upload(&token), None);
        let forged = Upload {
            subject: "anon:other".into(),
            ..upload
        };
        let forged_payload = hex::encode(serde_json::to_vec(&forged).unwrap());
        let sig = token.rsplit_once('.').unwrap().1;
        assert_eq!(
            signer.verify_upload(&format!("u1.{forged_payload}.{sig}")),
            None
        );
        assert_eq!(signer.verify_upload(&signer.issue("anon:abc")), None);
        assert_eq!(signer.verify(&token), None, "an upload token is no session");
        assert_eq!(signer.verify_upload("u1..x"), None);
    }

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
