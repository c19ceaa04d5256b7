//! `[channels.telegram]` configuration and its pure checks.

use serde::Deserialize;
use tandem_sdk::model::Pacing;
use tandem_sdk::{ConfigErrors, Secret};

/// How updates reach Tandem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Telegram POSTs each update to `/webhooks/telegram` (needs a public HTTPS URL).
    #[default]
    Webhook,
    /// Tandem long-polls `getUpdates`; the offset is stored durably.
    Polling,
}

/// Configuration of a Telegram bot channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    /// The bot token from @BotFather.
    pub bot_token: Secret,
    /// Webhook mode: the `X-Telegram-Bot-Api-Secret-Token` Telegram must send (1–256
    /// characters of `A-Z a-z 0-9 _ -`); registered with `setWebhook`.
    #[serde(default)]
    pub secret_token: Secret,
    /// `webhook` (default) or `polling`.
    #[serde(default)]
    pub mode: Mode,
    /// Bot API base URL (tests point it at a local fake).
    #[serde(default = "default_api_base")]
    pub api_base: String,
    /// Webhook mode: call `setWebhook` with `<public_url>/webhooks/telegram` at start
    /// (default true; turn off when the webhook is registered by other means).
    #[serde(default = "default_true")]
    pub register_webhook: bool,
    /// Polling mode: long-poll timeout in seconds (1–15; teloxide's client gives up at 17).
    #[serde(default = "default_poll_timeout")]
    pub poll_timeout_secs: u32,
    /// Polling mode: the poller's lease, in seconds (2–300, default 15). Of the Tandem
    /// processes sharing a store, only the lease's holder polls (Telegram allows one
    /// `getUpdates` caller); when it dies, another takes over within this time.
    #[serde(default = "default_poll_lease")]
    pub poll_lease_secs: u32,
    /// Send pacing; defaults from Telegram's guidance (30 messages per second overall,
    /// about one per second per chat with short bursts).
    #[serde(default = "default_pacing")]
    pub pacing: Pacing,
}

fn default_api_base() -> String {
    "https://api.telegram.org".into()
}

fn default_true() -> bool {
    true
}

fn default_poll_timeout() -> u32 {
    10
}

fn default_poll_lease() -> u32 {
    15
}

/// Telegram's published guidance.
pub(crate) fn default_pacing() -> Pacing {
    Pacing {
        per_second: 30,
        burst: 30,
        per_recipient_interval_ms: 1_000,
        per_recipient_burst: 3,
    }
}

impl TelegramConfig {
    /// Pure checks: every problem, with its key.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::default();
        let token = self.bot_token.expose();
        if token.is_empty() {
            errors.push("bot_token", "missing");
        } else if token.chars().any(|c| c.is_whitespace() || c == '/') {
            errors.push(
                "bot_token",
                "must be the token from @BotFather (no spaces or slashes)",
            );
        }
        let secret = self.secret_token.expose();
        let secret_chars_ok = secret
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        match self.mode {
            Mode::Webhook if secret.is_empty() => {
                errors.push("secret_token", "missing (required in webhook mode)");
            }
            _ if secret.len() > 256 || !secret_chars_ok => {
                errors.push(
                    "secret_token",
                    "must be 1 to 256 characters of A-Z a-z 0-9 _ -",
                );
            }
            _ => {}
        }
        match url::Url::parse(&self.api_base) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => errors.push("api_base", "must be an http(s) URL"),
        }
        if !(1..=15).contains(&self.poll_timeout_secs) {
            errors.push("poll_timeout_secs", "must be between 1 and 15");
        }
        if !(2..=300).contains(&self.poll_lease_secs) {
            errors.push("poll_lease_secs", "must be between 2 and 300");
        }
        errors.into_result()
    }
}
