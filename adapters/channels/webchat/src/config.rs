//! `[channels.webchat]` configuration.

use serde::Deserialize;
use tandem_sdk::limit::RateLimit;
use tandem_sdk::{ConfigErrors, Secret};

/// Configuration of the web chat channel.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebChatConfig {
    /// Key for verified web users: a `hello` with a `user_token` (JWT, HS256 with this
    /// key; `sub`, `email`, `phone`, `name`, `exp` all verified), or with a `user_hash`
    /// equal to hex(HMAC-SHA256(identity_secret, user.id)) (the id alone verified), is a
    /// verified user; otherwise the visitor is anonymous. When absent, every visitor is
    /// anonymous.
    pub identity_secret: Option<Secret>,
    /// Origins allowed to open the WebSocket (`https://shop.example`); empty allows any.
    pub allowed_origins: Vec<String>,
    /// Transcript entries replayed on resume (default 50).
    pub history_limit: Option<usize>,
    /// Seconds a client has to send `hello` after connecting (default 30).
    pub hello_timeout_secs: Option<u64>,
    /// Messages and postbacks per visitor session (all its tabs together); over it the
    /// client gets an `error` frame `rate_limited` and nothing is recorded (default
    /// `{ per_second = 5, burst = 20 }`).
    pub rate_limit: Option<RateLimit>,
    /// The same per client address (default `{ per_second = 50, burst = 200 }`, room
    /// for many visitors behind one proxy).
    pub address_rate_limit: Option<RateLimit>,
}

/// The default [`WebChatConfig::rate_limit`].
pub(crate) const DEFAULT_SESSION_RATE_LIMIT: RateLimit = RateLimit::new(5, 20);
/// The default [`WebChatConfig::address_rate_limit`].
pub(crate) const DEFAULT_ADDRESS_RATE_LIMIT: RateLimit = RateLimit::new(50, 200);

impl WebChatConfig {
    /// Pure checks.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::default();
        if self.identity_secret.as_ref().is_some_and(Secret::is_empty) {
            errors.push(
                "identity_secret",
                "must not be empty (remove the key to disable verified users)",
            );
        }
        for (i, origin) in self.allowed_origins.iter().enumerate() {
            if !(origin.starts_with("http://") || origin.starts_with("https://")) {
                errors.push(
                    format!("allowed_origins[{i}]"),
                    "must start with http:// or https://",
                );
            }
        }
        if self.history_limit == Some(0) {
            errors.push("history_limit", "must be at least 1");
        }
        if self.hello_timeout_secs == Some(0) {
            errors.push("hello_timeout_secs", "must be at least 1");
        }
        if let Some(limit) = &self.rate_limit {
            limit.validate("rate_limit", &mut errors);
        }
        if let Some(limit) = &self.address_rate_limit {
            limit.validate("address_rate_limit", &mut errors);
        }
        errors.into_result()
    }

    pub(crate) fn history_limit(&self) -> usize {
        self.history_limit.unwrap_or(50)
    }
}
