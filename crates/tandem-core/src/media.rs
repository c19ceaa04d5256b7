//! Uploads: files a web chat customer or a console agent sends, kept by the server's
//! [`MediaFiles`] (set with [`Core::set_media_files`]) and served under signed links.
//!
//! Files are kept by scope so that erasing a customer removes them: a customer's own
//! upload under a digest of the identity it came from (the customer may not exist yet
//! when the upload precedes their first message), an agent's upload under the customer
//! id of the handoff's conversation. [`Core::erase_media_of`] removes both.

use crate::router::Core;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tandem_model::{ChannelId, CustomerId, ExternalIdentity, MediaKind, OutboundMedia};
use tandem_sdk::InboundError;
use tandem_sdk::media::{
    FetchedMedia, MediaError, MediaFiles, STORED_MEDIA_CHANNEL, STORED_MEDIA_PREFIX,
};

/// The scope of files uploaded by `identity`: hex of a digest, safe as a path segment.
pub fn identity_scope(channel: &ChannelId, subject: &str) -> String {
    let mut h = Sha256::new();
    h.update(channel.as_str().as_bytes());
    h.update([0]);
    h.update(subject.as_bytes());
    format!("id-{}", &hex::encode(h.finalize())[..40])
}

/// The media kind a MIME type is sent as: images as images, everything else as a file.
pub fn kind_of(mime: Option<&str>) -> MediaKind {
    match mime {
        Some(m) if m.starts_with("image/") => MediaKind::Image,
        Some(m) if m.starts_with("audio/") => MediaKind::Audio,
        Some(m) if m.starts_with("video/") => MediaKind::Video,
        _ => MediaKind::Document,
    }
}

fn storage(e: MediaError) -> InboundError {
    match e {
        MediaError::TooLarge { .. } => InboundError::Rejected(e.to_string()),
        other => InboundError::Unavailable(other.to_string()),
    }
}

impl Core {
    /// Where uploads are kept; without it, uploads are refused.
    pub fn set_media_files(&self, files: Arc<dyn MediaFiles>) {
        let _ = self.inner.media_files.set(files);
    }

    fn files(&self) -> Result<&Arc<dyn MediaFiles>, InboundError> {
        self.inner
            .media_files
            .get()
            .ok_or_else(|| InboundError::Rejected("uploads are off".into()))
    }

    /// Keeps a customer's upload; the reference for their message's media.
    pub(crate) async fn upload_from_customer(
        &self,
        channel: &ChannelId,
        sender: &ExternalIdentity,
        file: FetchedMedia,
    ) -> Result<String, InboundError> {
        let scope = identity_scope(channel, &sender.subject);
        let reference = self.files()?.put(&scope, file).await.map_err(storage)?;
        Ok(format!("{STORED_MEDIA_PREFIX}{reference}"))
    }

    /// Keeps an agent's upload for the customer of `handoff_id`; the media to send,
    /// under a signed link.
    pub(crate) async fn upload_from_agent(
        &self,
        handoff_id: &str,
        file: FetchedMedia,
    ) -> Result<OutboundMedia, InboundError> {
        let links = self
            .inner
            .config
            .media_links
            .as_ref()
            .ok_or_else(|| InboundError::Rejected("media links are off".into()))?;
        let unavailable = |e: crate::store::StoreError| InboundError::Unavailable(e.to_string());
        let conversation = self
            .conversation_of_handoff(handoff_id)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| InboundError::Rejected("unknown handoff".into()))?;
        let conversation = self
            .inner
            .store
            .conversation(&conversation)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| InboundError::Rejected("unknown handoff".into()))?;
        let mime_type = file.mime_type.clone();
        let filename = file.filename.clone();
        let reference = self
            .files()?
            .put(conversation.customer_id.as_str(), file)
            .await
            .map_err(storage)?;
        let url = links.link(
            STORED_MEDIA_CHANNEL,
            &reference,
            mime_type.as_deref(),
            tandem_sdk::media::unix_now(),
        );
        Ok(OutboundMedia {
            kind: kind_of(mime_type.as_deref()),
            url: url.to_string(),
            mime_type,
            filename,
        })
    }

    /// Removes every file uploaded by or for `customer` (GDPR erase). Call before the
    /// store erases the customer: the identities name the customer's own uploads.
    pub async fn erase_media_of(&self, customer: &CustomerId) -> Result<(), InboundError> {
        let Some(files) = self.inner.media_files.get() else {
            return Ok(());
        };
        let identities = self
            .inner
            .store
            .identities(customer)
            .await
            .map_err(|e| InboundError::Unavailable(e.to_string()))?;
        for identity in identities {
            files
                .erase(&identity_scope(&identity.channel, &identity.subject))
                .await
                .map_err(storage)?;
        }
        files.erase(customer.as_str()).await.map_err(storage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_path_safe_and_distinct() {
        let a = identity_scope(&ChannelId::new("webchat"), "../../etc");
        let b = identity_scope(&ChannelId::new("webchat"), "v2");
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'));
        assert_eq!(kind_of(Some("image/png")), MediaKind::Image);
        assert_eq!(kind_of(Some("application/pdf")), MediaKind::Document);
        assert_eq!(kind_of(None), MediaKind::Document);
    }
}
