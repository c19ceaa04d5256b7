//! `[desks.webhook]` configuration.

use serde::Deserialize;
use tandem_sdk::{ConfigErrors, Secret};

/// Configuration of the generic webhook desk.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookDeskConfig {
    /// Where handoff documents are POSTed.
    pub url: String,
    /// Shared HMAC-SHA256 key for both directions.
    pub secret: Secret,
}

impl WebhookDeskConfig {
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
        errors.into_result()
    }
}
