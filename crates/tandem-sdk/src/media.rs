//! Media both ways: the signed, short-lived links under which Tandem serves a customer's
//! images and files to desks (`GET /media/{token}`), and what a channel answers when
//! Tandem fetches media from its platform ([`crate::ChannelAdapter::fetch_media`]).
//!
//! A token is `base64url(payload) + "." + base64url(HMAC-SHA256(secret, base64url(payload)))`,
//! the payload a small JSON object naming the channel instance, the platform's media
//! reference, the MIME type when known and the expiry (unix seconds). Nothing but the
//! holder of the secret can mint one; verification is constant-time and checks the expiry
//! last, so a tampered token is always "bad signature", never "expired".

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::AdapterError;

type HmacSha256 = Hmac<Sha256>;

/// The route prefix media links are served under.
pub const MEDIA_PATH: &str = "/media/";

/// The pseudo-channel of media Tandem itself stores (web chat and console uploads).
pub const STORED_MEDIA_CHANNEL: &str = "tandem:files";

/// The prefix of a [`tandem_model::Content::Media`] reference that names a file Tandem
/// keeps ([`MediaFiles`]) rather than one on the channel's platform.
pub const STORED_MEDIA_PREFIX: &str = "tandem:files:";

/// The channel and reference a link to the media `reference` of `channel` names: files
/// Tandem keeps are served from [`STORED_MEDIA_CHANNEL`], the rest from the channel.
pub fn link_target<'a>(channel: &'a str, reference: &'a str) -> (&'a str, &'a str) {
    match reference.strip_prefix(STORED_MEDIA_PREFIX) {
        Some(stored) => (STORED_MEDIA_CHANNEL, stored),
        None => (channel, reference),
    }
}

/// What a media token grants: one media item of one channel instance, until `expires`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaClaim {
    /// The channel instance whose platform holds the media (or [`STORED_MEDIA_CHANNEL`]).
    #[serde(rename = "c")]
    pub channel: String,
    /// The platform's media reference (a media id, a file id, a URL).
    #[serde(rename = "r")]
    pub reference: String,
    /// The MIME type when known.
    #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Expiry, unix seconds.
    #[serde(rename = "e")]
    pub expires: u64,
}

/// Why a media token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token at all (shape, encoding, payload).
    #[error("malformed media token")]
    Malformed,
    /// The signature does not match: forged or altered.
    #[error("bad media token signature")]
    BadSignature,
    /// Genuine, but past its expiry.
    #[error("media link expired")]
    Expired,
}

/// Mints and checks media links. Cheap to clone.
#[derive(Clone)]
pub struct MediaLinks {
    secret: std::sync::Arc<[u8]>,
    /// Shared by every clone, so the server can name its bound address once it knows it.
    base: std::sync::Arc<std::sync::RwLock<url::Url>>,
    ttl_secs: u64,
}

impl std::fmt::Debug for MediaLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaLinks")
            .field("base", &self.base().as_str())
            .field("ttl_secs", &self.ttl_secs)
            .finish_non_exhaustive()
    }
}

impl MediaLinks {
    /// Links under `public_base` (Tandem's public URL), signed with `secret`, valid for
    /// `ttl_secs` from when they are minted.
    pub fn new(secret: &[u8], public_base: url::Url, ttl_secs: u64) -> Self {
        Self {
            secret: secret.into(),
            base: std::sync::Arc::new(std::sync::RwLock::new(public_base)),
            ttl_secs,
        }
    }

    /// The public base URL links are minted under.
    pub fn base(&self) -> url::Url {
        match self.base.read() {
            Ok(b) => b.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Changes the public base URL (for this and every clone): the server's bound
    /// address when no public URL is configured and it listens on port 0.
    pub fn set_base(&self, public_base: url::Url) {
        match self.base.write() {
            Ok(mut b) => *b = public_base,
            Err(poisoned) => *poisoned.into_inner() = public_base,
        }
    }

    /// How long a link stays valid, in seconds.
    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// The token for `claim`.
    pub fn sign(&self, claim: &MediaClaim) -> String {
        let payload = serde_json::to_vec(claim).expect("media claims always serialize");
        let payload = URL_SAFE_NO_PAD.encode(payload);
        let tag = URL_SAFE_NO_PAD.encode(self.mac(payload.as_bytes()));
        format!("{payload}.{tag}")
    }

    /// A link to `reference` on `channel`, valid for the TTL from `now_unix`.
    pub fn link(
        &self,
        channel: &str,
        reference: &str,
        mime_type: Option<&str>,
        now_unix: u64,
    ) -> url::Url {
        let token = self.sign(&MediaClaim {
            channel: channel.to_owned(),
            reference: reference.to_owned(),
            mime_type: mime_type.map(str::to_owned),
            expires: now_unix.saturating_add(self.ttl_secs),
        });
        self.url_of(&token)
    }

    /// The public URL serving `token`.
    pub fn url_of(&self, token: &str) -> url::Url {
        let mut url = self.base();
        let path = format!("{}{}{token}", url.path().trim_end_matches('/'), MEDIA_PATH);
        url.set_path(&path);
        url.set_query(None);
        url
    }

    /// The claim of a genuine, unexpired `token` at `now_unix`.
    pub fn verify(&self, token: &str, now_unix: u64) -> Result<MediaClaim, TokenError> {
        let (payload, tag) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| TokenError::Malformed)?;
        let expected = self.mac(payload.as_bytes());
        if !bool::from(expected.as_slice().ct_eq(&tag)) {
            return Err(TokenError::BadSignature);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed)?;
        let claim: MediaClaim =
            serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)?;
        if claim.expires <= now_unix {
            return Err(TokenError::Expired);
        }
        Ok(claim)
    }

    fn mac(&self, data: &[u8]) -> Vec<u8> {
        let mut mac =
            HmacSha256::new_from_slice(&self.secret).expect("HMAC accepts keys of any length");
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Media fetched from a platform (or from Tandem's own files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedMedia {
    /// The content.
    pub bytes: Vec<u8>,
    /// Its MIME type, when the platform says.
    pub mime_type: Option<String>,
    /// Its file name, when the platform says.
    pub filename: Option<String>,
}

impl FetchedMedia {
    /// Names the file after the last segment of the URL it came from when the platform
    /// named none (a CDN path such as `…/box_damage.jpg`).
    pub fn or_named_after(mut self, url: &url::Url) -> Self {
        if self.filename.is_none() {
            self.filename = url
                .path_segments()
                .and_then(|mut s| s.next_back())
                .filter(|name| !name.is_empty())
                .map(str::to_owned);
        }
        self
    }
}

/// Why media could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The channel cannot fetch media (the default of `fetch_media`).
    #[error("this channel cannot fetch media")]
    Unsupported,
    /// The platform does not know the reference (any more).
    #[error("media not found")]
    NotFound,
    /// The media is larger than the limit.
    #[error("media larger than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// Tandem's own file storage failed.
    #[error("media storage failed: {0}")]
    Storage(String),
    /// The platform failed or refused.
    #[error(transparent)]
    Platform(#[from] AdapterError),
}

/// Files Tandem keeps itself: uploads by web chat customers and console agents, served
/// under links to [`STORED_MEDIA_CHANNEL`]. Kept by `scope` (the customer's id), so that
/// erasing a customer removes their files.
#[async_trait::async_trait]
pub trait MediaFiles: Send + Sync + 'static {
    /// Keeps `file` under `scope`; returns its reference (for links and
    /// [`MediaFiles::get`]).
    async fn put(&self, scope: &str, file: FetchedMedia) -> Result<String, MediaError>;

    /// The file kept under `reference`.
    async fn get(&self, reference: &str) -> Result<FetchedMedia, MediaError>;

    /// Removes every file of `scope`.
    async fn erase(&self, scope: &str) -> Result<(), MediaError>;
}

/// Sends `request` and reads the answer's body, refusing more than `max_bytes` (from the
/// announced `Content-Length` before reading, else while reading). 404 and 410 are
/// [`MediaError::NotFound`], other failures classified like a send.
pub async fn download(
    request: reqwest::RequestBuilder,
    max_bytes: usize,
) -> Result<FetchedMedia, MediaError> {
    let mut response = request
        .send()
        .await
        .map_err(|e| AdapterError::transient("media download failed").with_source(e))?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
        return Err(MediaError::NotFound);
    }
    if !status.is_success() {
        return Err(MediaError::Platform(match status.as_u16() {
            401 | 403 => AdapterError::auth("media download refused"),
            429 => AdapterError::transient("media download rate limited"),
            s if s >= 500 => AdapterError::transient("media download failed"),
            _ => AdapterError::rejected("media download refused"),
        }));
    }
    if response
        .content_length()
        .is_some_and(|len| len > max_bytes as u64)
    {
        return Err(MediaError::TooLarge { limit: max_bytes });
    }
    let mime_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let filename = response
        .headers()
        .get(reqwest::header::CONTENT_DISPOSITION)
        .and_then(|v| v.to_str().ok())
        .and_then(disposition_filename);
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| AdapterError::transient("media download cut off").with_source(e))?
    {
        if bytes.len() + chunk.len() > max_bytes {
            return Err(MediaError::TooLarge { limit: max_bytes });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(FetchedMedia {
        bytes,
        mime_type,
        filename,
    })
}

/// The `filename="…"` of a `Content-Disposition` header.
fn disposition_filename(value: &str) -> Option<String> {
    value.split(';').find_map(|part| {
        let v = part.trim().strip_prefix("filename=")?;
        let v = v.trim_matches('"');
        (!v.is_empty()).then(|| v.to_owned())
    })
}

/// Whether `mime` is a type a browser may show inline from Tandem's origin without
/// risk (images, audio, video, PDF). Anything else is served as an attachment.
pub fn is_inline_safe(mime: &str) -> bool {
    let mime = mime.split(';').next().unwrap_or_default().trim();
    (mime.starts_with("image/") && mime != "image/svg+xml")
        || mime.starts_with("audio/")
        || mime.starts_with("video/")
        || mime == "application/pdf"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links() -> MediaLinks {
        MediaLinks::new(
            b"media-secret",
            url::Url::parse("https://tandem.example.com/base/").expect("url"),
            900,
        )
    }

    #[test]
    fn a_link_verifies_until_it_expires() {
        let l = links();
        let url = l.link("whatsapp", "1234567890", Some("image/jpeg"), 1_000);
        assert!(
            url.as_str()
                .starts_with("https://tandem.example.com/base/media/")
        );
        let token = url.path().rsplit('/').next().expect("token");
        let claim = l.verify(token, 1_000).expect("valid");
        assert_eq!(claim.channel, "whatsapp");
        assert_eq!(claim.reference, "1234567890");
        assert_eq!(claim.mime_type.as_deref(), Some("image/jpeg"));
        assert_eq!(claim.expires, 1_900);
        assert!(l.verify(token, 1_899).is_ok());
        assert_eq!(l.verify(token, 1_900), Err(TokenError::Expired));
    }

    #[test]
    fn tampered_or_foreign_tokens_are_refused() {
        let l = links();
        let token = l.sign(&MediaClaim {
            channel: "whatsapp".into(),
            reference: "a".into(),
            mime_type: None,
            expires: 10_000,
        });
        // Another reference under the same signature.
        let forged_payload = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&MediaClaim {
                channel: "whatsapp".into(),
                reference: "b".into(),
                mime_type: None,
                expires: 10_000,
            })
            .expect("json"),
        );
        let tag = token.split_once('.').expect("dot").1;
        assert_eq!(
            l.verify(&format!("{forged_payload}.{tag}"), 0),
            Err(TokenError::BadSignature)
        );
        // Another secret.
        let other = MediaLinks::new(b"other", url::Url::parse("https://x/").expect("url"), 9);
        assert_eq!(other.verify(&token, 0), Err(TokenError::BadSignature));
        // An expired token that was altered is a bad signature, not "expired".
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).expect("ascii");
        assert_eq!(l.verify(&flipped, 20_000), Err(TokenError::BadSignature));
        for junk in ["", ".", "abc", "a.b", "%%%.***"] {
            assert!(l.verify(junk, 0).is_err(), "{junk}");
        }
    }

    #[test]
    fn inline_types_exclude_scriptable_ones() {
        assert!(is_inline_safe("image/jpeg"));
        assert!(is_inline_safe("application/pdf"));
        assert!(!is_inline_safe("image/svg+xml"));
        assert!(!is_inline_safe("text/html"));
    }

    #[test]
    fn disposition_names_the_file() {
        assert_eq!(
            disposition_filename(r#"attachment; filename="invoice.pdf""#).as_deref(),
            Some("invoice.pdf")
        );
        assert_eq!(disposition_filename("inline"), None);
    }
}
