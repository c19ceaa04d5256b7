//! `[desks.slack]` configuration.

use serde::Deserialize;
use tandem_sdk::{ConfigErrors, Secret};

/// The Slack Web API host used when `api_base` is not set.
pub const DEFAULT_API_BASE: &str = "https://slack.com";

/// Configuration of the Slack desk.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlackDeskConfig {
    /// The bot user OAuth token (`xoxb-…`), with `chat:write` (and the channel joined).
    pub bot_token: Secret,
    /// The app's signing secret, checking every request Slack sends.
    pub signing_secret: Secret,
    /// The channel handoffs are posted to (`C…`).
    pub channel_id: String,
    /// The Web API host; methods are called at `<api_base>/api/<method>`.
    pub api_base: String,
}

impl Default for SlackDeskConfig {
    fn default() -> Self {
        Self {
            bot_token: Secret::default(),
            signing_secret: Secret::default(),
            channel_id: String::new(),
            api_base: DEFAULT_API_BASE.to_owned(),
        }
    }
}

impl SlackDeskConfig {
    /// Pure checks.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::default();
        if self.bot_token.is_empty() {
            errors.push("bot_token", "missing");
        }
        if self.signing_secret.is_empty() {
            errors.push("signing_secret", "missing");
        }
        let channel = self.channel_id.trim();
        if channel.is_empty() {
            errors.push("channel_id", "missing");
        } else if channel.contains(char::is_whitespace) || channel.contains(':') {
            errors.push("channel_id", "must be a channel id such as C0123456789");
        }
        if url::Url::parse(&self.api_base)
            .map(|u| !matches!(u.scheme(), "http" | "https"))
            .unwrap_or(true)
        {
            errors.push("api_base", "must be an http(s) URL");
        }
        errors.into_result()
    }

    /// `<api_base>/api/<method>`.
    pub(crate) fn method_url(&self, method: &str) -> String {
        format!("{}/api/{method}", self.api_base.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requires_token_secret_and_channel() {
        let errors = SlackDeskConfig::default().validate().unwrap_err();
        let text = errors.to_string();
        for key in ["bot_token", "signing_secret", "channel_id"] {
            assert!(text.contains(key), "{text}");
        }
        let ok = SlackDeskConfig {
            bot_token: Secret::new("xoxb-1"),
            signing_secret: Secret::new("s"),
            channel_id: "C0SUPPORT1".into(),
            api_base: "http://127.0.0.1:9".into(),
        };
        assert!(ok.validate().is_ok());
        assert_eq!(
            ok.method_url("auth.test"),
            "http://127.0.0.1:9/api/auth.test"
        );
        let bad = SlackDeskConfig {
            api_base: "slack.com".into(),
            ..ok
        };
        assert!(bad.validate().is_err());
    }
}
