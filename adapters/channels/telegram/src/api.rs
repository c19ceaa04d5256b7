//! The Bot API client (teloxide-core) and its errors. Nothing outside this file and
//! `normalize` touches teloxide's types; wire facts are in `docs/platform-contracts.md` §3.

use crate::config::TelegramConfig;
use std::time::Duration;
use tandem_sdk::AdapterError;
use teloxide_core::errors::{ApiError, RequestError};

pub(crate) use teloxide_core::Bot;
pub(crate) use teloxide_core::payloads::{
    GetUpdatesSetters, SendMessageSetters, SetWebhookSetters,
};
pub(crate) use teloxide_core::requests::{Request, Requester};
pub(crate) use teloxide_core::types::{
    CallbackQueryId, ChatId, InlineKeyboardButton, InlineKeyboardMarkup, ReplyMarkup, Update,
};

/// A client for the configured bot, on Tandem's shared HTTP client.
pub(crate) fn bot(config: &TelegramConfig, http: reqwest::Client) -> Result<Bot, AdapterError> {
    let base = url::Url::parse(&config.api_base)
        .map_err(|e| AdapterError::rejected("api_base is not a URL").with_source(e))?;
    Ok(Bot::with_client(config.bot_token.expose(), http).set_api_url(base))
}

/// A Bot API failure → error kind. teloxide maps Telegram's `description` strings to
/// [`ApiError`] variants and `parameters.retry_after` to [`RequestError::RetryAfter`].
pub(crate) fn classify(error: RequestError) -> AdapterError {
    match error {
        RequestError::RetryAfter(secs) => {
            AdapterError::rate_limited(Some(Duration::from_secs(u64::from(secs.seconds()))))
        }
        RequestError::Api(api) => api_error(&api),
        RequestError::MigrateToChatId(_) => {
            AdapterError::rejected("the group chat was migrated to a supergroup")
        }
        RequestError::Network(e) => AdapterError::transient("Telegram API unreachable")
            .with_source(SourceText(e.without_url_text())),
        RequestError::InvalidJson { .. } => {
            AdapterError::transient("Telegram answered something that is not Bot API JSON")
        }
        RequestError::Io(e) => AdapterError::transient("I/O error talking to Telegram")
            .with_source(SourceText(e.to_string())),
    }
}

fn api_error(api: &ApiError) -> AdapterError {
    match api {
        ApiError::InvalidToken => AdapterError::auth("Telegram refused the bot token"),
        ApiError::BotBlocked => AdapterError::unreachable("the user blocked the bot"),
        ApiError::UserDeactivated => AdapterError::unreachable("the user is deactivated"),
        ApiError::ChatNotFound => AdapterError::unreachable("chat not found"),
        ApiError::BotKicked
        | ApiError::BotKickedFromSupergroup
        | ApiError::BotKickedFromChannel => {
            AdapterError::unreachable("the bot was removed from the chat")
        }
        ApiError::CantInitiateConversation | ApiError::CantTalkWithBots => {
            AdapterError::unreachable("the user never started the bot")
        }
        ApiError::MessageIsTooLong | ApiError::MessageTextIsEmpty => {
            AdapterError::unsupported("Telegram refused the text length")
        }
        ApiError::Unknown(text) if is_server_error(text) => {
            AdapterError::transient("Telegram server error")
        }
        other => AdapterError::rejected(format!("Telegram refused the request: {other}")),
    }
}

fn is_server_error(description: &str) -> bool {
    [
        "Internal Server Error",
        "Bad Gateway",
        "Service Unavailable",
        "Gateway Timeout",
    ]
    .iter()
    .any(|s| description.starts_with(s))
}

/// An error cause as text (reqwest errors carry the URL, which holds the bot token).
#[derive(Debug)]
struct SourceText(String);

impl std::fmt::Display for SourceText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SourceText {}

trait WithoutUrlText {
    fn without_url_text(&self) -> String;
}

impl WithoutUrlText for reqwest::Error {
    fn without_url_text(&self) -> String {
        let kind = if self.is_timeout() {
            "timeout"
        } else if self.is_connect() {
            "connection failed"
        } else if self.is_request() {
            "request failed"
        } else {
            "transport error"
        };
        kind.to_owned()
    }
}
