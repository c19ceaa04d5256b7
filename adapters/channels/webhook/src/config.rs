//! `[channels.webhook]` configuration.

use serde::Deserialize;
use tandem_sdk::{ConfigErrors, Secret};

/// Configuration of the generic webhook channel.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookChannelConfig {
    /// Where outbound messages are POSTed.
    pub url: String,
    /// Shared HMAC-SHA256 key for both directions.
    pub secret: Secret,
    /// Longest text per message (default 4096); longer replies are split.
    pub max_text_len: Option<usize>,
    /// Most buttons per message (default 3; 0 turns buttons into numbered text).
    pub max_buttons: Option<usize>,
}

impl WebhookChannelConfig {
    /// Pure checks.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::default();
        if self.url.is_empty() {
            errors.push("url", "missing");
        } else if url::Url::parse(&self.url)
            .map(|u| !matches!(u.scheme(), "http" | "https"))
            .unwrap_or(true)
        {
            errors.push("url", "must be an http(s) URL");
        }
        if self.secret.is_empty() {
            errors.push("secret", "missing");
        }
        if self.max_text_len == Some(0) {
            errors.push("max_text_len", "must be at least 1");
        }
        errors.into_result()
    }
}
