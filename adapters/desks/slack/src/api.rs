//! The Slack Web API calls the desk makes (`auth.test`, `chat.postMessage`, `chat.update`,
//! `reactions.add`), their wire types, and how failures are classified for the outbox.
//!
//! Slack answers HTTP 200 with `{"ok":false,"error":"…"}` for most failures; rate limits
//! come as HTTP 429 with `Retry-After` (seconds).

use crate::config::SlackDeskConfig;
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tandem_sdk::AdapterError;

/// The common envelope of every Web API answer.
#[derive(Debug, Deserialize)]
pub(crate) struct ApiResponse {
    /// Whether the call worked.
    #[serde(default)]
    pub(crate) ok: bool,
    /// The error code when it did not.
    #[serde(default)]
    pub(crate) error: Option<String>,
    /// `chat.postMessage` / `chat.update`: the message ts.
    #[serde(default)]
    pub(crate) ts: Option<String>,
    /// `chat.postMessage` / `chat.update`: the channel id.
    #[serde(default)]
    pub(crate) channel: Option<String>,
    /// `auth.test`: the bot's user id.
    #[serde(default)]
    pub(crate) user_id: Option<String>,
    /// `auth.test`: the bot id (on bot tokens).
    #[serde(default)]
    pub(crate) bot_id: Option<String>,
}

/// Who the desk's bot is, to recognise its own messages coming back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct OwnBot {
    /// The bot's user id (`U…`).
    pub(crate) user_id: Option<String>,
    /// The bot id (`B…`).
    pub(crate) bot_id: Option<String>,
}

/// A thin client of the Slack Web API.
#[derive(Clone)]
pub(crate) struct SlackApi {
    config: Arc<SlackDeskConfig>,
    http: reqwest::Client,
}

/// A posted message: where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Posted {
    pub(crate) channel: String,
    pub(crate) ts: String,
}

impl SlackApi {
    pub(crate) fn new(config: Arc<SlackDeskConfig>, http: reqwest::Client) -> Self {
        Self { config, http }
    }

    /// Calls `method` with a JSON body; `Ok` only when Slack answered `ok: true`.
    pub(crate) async fn call(
        &self,
        method: &str,
        body: &Value,
    ) -> Result<ApiResponse, AdapterError> {
        let (parsed, retry_after) = self.answer(method, body).await?;
        if parsed.ok {
            Ok(parsed)
        } else {
            let code = parsed.error.as_deref().unwrap_or("unknown_error");
            Err(classify(method, code, retry_after))
        }
    }

    /// Calls `method` with a JSON body: Slack's answer when it gave one over HTTP 2xx
    /// (`ok: false` included), with its `Retry-After` hint.
    async fn answer(
        &self,
        method: &str,
        body: &Value,
    ) -> Result<(ApiResponse, Option<Duration>), AdapterError> {
        let response = self
            .http
            .post(self.config.method_url(method))
            .bearer_auth(self.config.bot_token.expose())
            .header("content-type", "application/json; charset=utf-8")
            .json(body)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| {
                AdapterError::transient(format!("Slack {method} unreachable")).with_source(e)
            })?;
        let status = response.status().as_u16();
        let retry_after = tandem_sdk::http::retry_after(response.headers());
        if status == 429 {
            return Err(AdapterError::rate_limited(retry_after));
        }
        if !(200..300).contains(&status) {
            return Err(AdapterError::from_status(
                status,
                retry_after,
                format!("Slack {method} answered HTTP {status}"),
            ));
        }
        let parsed: ApiResponse = response.json().await.map_err(|e| {
            AdapterError::transient(format!("Slack {method} answered an unreadable body"))
                .with_source(e)
        })?;
        Ok((parsed, retry_after))
    }

    /// `reactions.add` of emoji `name` to the message `ts` in `channel`; a reaction the
    /// bot already added counts as added.
    pub(crate) async fn react(
        &self,
        channel: &str,
        ts: &str,
        name: &str,
    ) -> Result<(), AdapterError> {
        let body = serde_json::json!({"channel": channel, "timestamp": ts, "name": name});
        let (answer, retry_after) = self.answer("reactions.add", &body).await?;
        match answer.error.as_deref() {
            _ if answer.ok => Ok(()),
            Some("already_reacted") => Ok(()),
            code => Err(classify(
                "reactions.add",
                code.unwrap_or("unknown_error"),
                retry_after,
            )),
        }
    }

    /// `chat.postMessage` into the configured channel; `thread_ts` makes it a reply.
    pub(crate) async fn post(
        &self,
        text: &str,
        blocks: Option<&Value>,
        thread_ts: Option<&str>,
        channel: Option<&str>,
    ) -> Result<Posted, AdapterError> {
        let channel = channel.unwrap_or(&self.config.channel_id);
        let mut body = serde_json::json!({
            "channel": channel,
            "text": text,
            "unfurl_links": false,
            "unfurl_media": false,
        });
        if let Some(blocks) = blocks {
            body["blocks"] = blocks.clone();
        }
        if let Some(ts) = thread_ts {
            body["thread_ts"] = Value::String(ts.to_owned());
        }
        let answer = self.call("chat.postMessage", &body).await?;
        let ts = answer.ts.ok_or_else(|| {
            AdapterError::transient("Slack chat.postMessage answered without a ts")
        })?;
        Ok(Posted {
            channel: answer.channel.unwrap_or_else(|| channel.to_owned()),
            ts,
        })
    }

    /// `chat.update` of a message.
    pub(crate) async fn update(
        &self,
        at: &Posted,
        text: &str,
        blocks: &Value,
    ) -> Result<(), AdapterError> {
        let body =
            serde_json::json!({"channel": at.channel, "ts": at.ts, "text": text, "blocks": blocks});
        self.call("chat.update", &body).await.map(|_| ())
    }

    /// `auth.test`: who the token belongs to.
    pub(crate) async fn auth_test(&self) -> Result<OwnBot, AdapterError> {
        let answer = self.call("auth.test", &serde_json::json!({})).await?;
        Ok(OwnBot {
            user_id: answer.user_id,
            bot_id: answer.bot_id,
        })
    }
}

/// Classifies a Slack `error` code of an `ok: false` answer.
pub(crate) fn classify(method: &str, code: &str, retry_after: Option<Duration>) -> AdapterError {
    let message = format!("Slack {method} failed: {code}");
    match code {
        "invalid_auth"
        | "not_authed"
        | "account_inactive"
        | "token_revoked"
        | "token_expired"
        | "missing_scope"
        | "not_allowed_token_type"
        | "no_permission"
        | "ekm_access_denied" => AdapterError::auth(message),
        "ratelimited" | "rate_limited" => AdapterError::rate_limited(retry_after),
        "channel_not_found"
        | "not_in_channel"
        | "is_archived"
        | "msg_too_long"
        | "no_text"
        | "invalid_blocks"
        | "invalid_blocks_format"
        | "too_many_attachments"
        | "invalid_arguments"
        | "restricted_action"
        | "cant_update_message"
        | "message_not_found"
        | "edit_window_closed"
        | "invalid_thread_ts"
        | "thread_locked" => AdapterError::rejected(message),
        _ => AdapterError::transient(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_sdk::ErrorKind;

    #[test]
    fn error_codes_are_classified() {
        for code in [
            "invalid_auth",
            "not_authed",
            "account_inactive",
            "token_revoked",
        ] {
            assert_eq!(classify("m", code, None).kind(), ErrorKind::Auth, "{code}");
        }
        for code in [
            "channel_not_found",
            "not_in_channel",
            "msg_too_long",
            "no_text",
        ] {
            assert_eq!(
                classify("m", code, None).kind(),
                ErrorKind::Rejected,
                "{code}"
            );
        }
        let limited = classify("m", "ratelimited", Some(Duration::from_secs(3)));
        assert!(limited.is_retryable());
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(3)));
        for code in [
            "internal_error",
            "fatal_error",
            "service_unavailable",
            "something_new",
        ] {
            assert_eq!(
                classify("m", code, None).kind(),
                ErrorKind::Transient,
                "{code}"
            );
        }
    }

    #[test]
    fn response_fixtures_parse() {
        let ok: ApiResponse = serde_json::from_str(include_str!(
            "../tests/fixtures/chat_postMessage_response_ok.json"
        ))
        .unwrap();
        assert!(ok.ok);
        assert_eq!(ok.ts.as_deref(), Some("1767261601.000300"));
        assert_eq!(ok.channel.as_deref(), Some("C0SUPPORT1"));
        let err: ApiResponse = serde_json::from_str(include_str!(
            "../tests/fixtures/chat_postMessage_response_error.json"
        ))
        .unwrap();
        assert!(!err.ok);
        assert_eq!(err.error.as_deref(), Some("not_in_channel"));
        let limited: ApiResponse = serde_json::from_str(include_str!(
            "../tests/fixtures/chat_postMessage_response_ratelimited.json"
        ))
        .unwrap();
        assert_eq!(limited.error.as_deref(), Some("ratelimited"));
    }
}
