//! Sending through the Send API: text, quick replies (≤ 13) or a button template (≤ 3
//! postback buttons); `messaging_type` `RESPONSE`, or `MESSAGE_TAG` + `HUMAN_AGENT`
//! when the core tags an agent's message in the extended window. Graph error codes →
//! [`AdapterError`] kinds (613/4 rate limit, 10/2018278 outside the window, 551
//! unavailable, 190 auth).

use crate::api::{
    ButtonTemplate, OutAttachment, OutButton, OutMessage, OutQuickReply, Recipient, SendRequest,
    SendResponse, SenderAction,
};
use crate::config::MessengerConfig;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tandem_sdk::model::{
    Capabilities, ChoiceStyle, Delivery, DeliveryState, OutboundContent, OutboundMessage, Party,
};
use tandem_sdk::{AdapterError, ChannelAdapter, ErrorKind};

/// Longest text of a button template.
const MAX_BUTTON_TEXT: usize = 640;
/// Longest postback or quick-reply payload.
const MAX_PAYLOAD: usize = 1000;

pub(crate) struct MessengerAdapter {
    config: Arc<MessengerConfig>,
    http: reqwest::Client,
    caps: Capabilities,
    url: String,
}

impl MessengerAdapter {
    pub(crate) fn new(
        config: Arc<MessengerConfig>,
        http: reqwest::Client,
        caps: Capabilities,
    ) -> Self {
        let url = format!(
            "{}/{}/me/messages",
            config.api_base.trim_end_matches('/'),
            config.api_version
        );
        Self {
            config,
            http,
            caps,
            url,
        }
    }

    async fn post(&self, body: &impl serde::Serialize) -> Result<Option<String>, AdapterError> {
        let response = self
            .http
            .post(&self.url)
            .query(&[("access_token", self.config.page_access_token.expose())])
            .json(body)
            .send()
            .await
            .map_err(|e| {
                AdapterError::transient("Messenger API unreachable").with_source(e.without_url())
            })?;
        let status = response.status();
        let retry_after = tandem_sdk::http::retry_after(response.headers());
        let bytes = response.bytes().await.map_err(|e| {
            AdapterError::transient("reading the Messenger answer failed")
                .with_source(e.without_url())
        })?;
        if status.is_success() {
            let sent: SendResponse = serde_json::from_slice(&bytes).unwrap_or_default();
            return Ok(sent.message_id);
        }
        let error = tandem_sdk::meta::GraphError::from_body(&bytes);
        Err(classify(
            status.as_u16(),
            error.code,
            error.error_subcode,
            retry_after,
        ))
    }
}

#[async_trait]
impl ChannelAdapter for MessengerAdapter {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// A Messenger attachment's `reference` is its `payload.url`, a signed Meta CDN URL
    /// fetched without the page token. Only Meta's CDN hosts (and the configured
    /// `api_base`, where a test fake serves them) are fetched: a reference is never a
    /// way to make Tandem call anywhere else.
    async fn fetch_media(
        &self,
        reference: &str,
        max_bytes: usize,
    ) -> Result<tandem_sdk::media::FetchedMedia, tandem_sdk::media::MediaError> {
        let Some(url) = attachment_url(reference, &self.config.api_base) else {
            return Err(tandem_sdk::media::MediaError::NotFound);
        };
        let media = tandem_sdk::media::download(self.http.get(url.clone()), max_bytes).await?;
        Ok(media.or_named_after(&url))
    }

    async fn send(&self, msg: OutboundMessage) -> Result<Delivery, AdapterError> {
        let message = message(
            &msg.content,
            &self.caps,
            &format!("tandem:{}", msg.outbox_id),
        )?;
        let (messaging_type, tag) = match msg.content.tag.as_deref() {
            Some(tag) => ("MESSAGE_TAG", Some(platform_tag(tag))),
            None => ("RESPONSE", None),
        };
        let request = SendRequest {
            recipient: Recipient { id: &msg.recipient },
            messaging_type,
            tag,
            message,
        };
        let id = self.post(&request).await?;
        Ok(Delivery {
            platform_message_id: id,
            state: DeliveryState::Sent,
        })
    }

    async fn typing(&self, recipient: &str, _from: Party) -> Result<(), AdapterError> {
        let action = SenderAction {
            recipient: Recipient { id: recipient },
            sender_action: "typing_on",
        };
        self.post(&action).await.map(|_| ())
    }
}

/// The platform's name of a core tag (`human_agent` → `HUMAN_AGENT`).
fn platform_tag(tag: &str) -> String {
    tag.to_ascii_uppercase()
}

/// The `message` object for `content`, or `Unsupported` beyond the capabilities.
pub(crate) fn message<'a>(
    content: &'a OutboundContent,
    caps: &Capabilities,
    metadata: &str,
) -> Result<OutMessage<'a>, AdapterError> {
    if content.template.is_some() {
        return Err(AdapterError::unsupported(
            "Messenger has no message templates",
        ));
    }
    let text = content.text.as_str();
    if text.trim().is_empty() {
        return Err(AdapterError::unsupported("empty message"));
    }
    if text.chars().count() > caps.max_text_len {
        return Err(AdapterError::unsupported(
            "text longer than 2000 characters",
        ));
    }
    let metadata = Some(metadata.chars().take(1000).collect());
    if content.buttons.is_empty() {
        return Ok(OutMessage {
            text: Some(text),
            metadata,
            ..OutMessage::default()
        });
    }
    let fits = |max_title: usize| {
        content.buttons.iter().all(|b| {
            !b.title.is_empty()
                && b.title.chars().count() <= max_title
                && !b.payload.is_empty()
                && b.payload.len() <= MAX_PAYLOAD
        })
    };
    match content.style {
        ChoiceStyle::Buttons
            if content.buttons.len() <= caps.max_buttons
                && fits(caps.max_button_title_len)
                && text.chars().count() <= MAX_BUTTON_TEXT =>
        {
            Ok(OutMessage {
                attachment: Some(OutAttachment {
                    kind: "template",
                    payload: ButtonTemplate {
                        template_type: "button",
                        text,
                        buttons: content
                            .buttons
                            .iter()
                            .map(|b| OutButton {
                                kind: "postback",
                                title: &b.title,
                                payload: &b.payload,
                            })
                            .collect(),
                    },
                }),
                metadata,
                ..OutMessage::default()
            })
        }
        ChoiceStyle::QuickReplies
            if content.buttons.len() <= caps.max_quick_replies
                && fits(caps.max_quick_reply_title_len) =>
        {
            Ok(OutMessage {
                text: Some(text),
                quick_replies: content
                    .buttons
                    .iter()
                    .map(|b| OutQuickReply {
                        content_type: "text",
                        title: &b.title,
                        payload: &b.payload,
                    })
                    .collect(),
                metadata,
                ..OutMessage::default()
            })
        }
        _ => Err(AdapterError::unsupported(
            "choices beyond Messenger's limits (3 buttons or 13 quick replies, titles of 20 characters)",
        )),
    }
}

/// Graph error code (and HTTP status) → error kind.
pub(crate) fn classify(
    status: u16,
    code: Option<u64>,
    subcode: Option<u64>,
    retry_after: Option<Duration>,
) -> AdapterError {
    let code_text = match (code, subcode) {
        (Some(c), Some(s)) => format!("error {c}/{s}"),
        (Some(c), None) => format!("error {c}"),
        _ => format!("HTTP {status}"),
    };
    let kind = match (code, subcode) {
        (Some(10), Some(2_018_278 | 2_534_022)) => ErrorKind::WindowClosed,
        (Some(551), _) => ErrorKind::Unreachable,
        (Some(100), Some(2_018_001)) => ErrorKind::Unreachable,
        (Some(613 | 4 | 17 | 32), _) => ErrorKind::RateLimited { retry_after },
        (Some(190 | 10 | 200), _) => ErrorKind::Auth,
        (Some(1 | 2), _) => ErrorKind::Transient,
        (Some(_), _) if status == 429 => ErrorKind::RateLimited { retry_after },
        (Some(_), _) if status >= 500 => ErrorKind::Transient,
        (Some(_), _) => ErrorKind::Rejected,
        (None, _) => {
            return AdapterError::from_status(
                status,
                retry_after,
                format!("Messenger answered {code_text}"),
            );
        }
    };
    AdapterError::new(kind, format!("Messenger answered {code_text}"))
}

/// Hosts Meta serves Messenger attachments from (`scontent-*.xx.fbcdn.net`,
/// `cdn.fbsbx.com`, `lookaside.fbsbx.com`).
const ATTACHMENT_HOSTS: &[&str] = &["fbcdn.net", "fbsbx.com", "facebook.com"];

/// The URL of an attachment `reference` when it may be fetched: https on a Meta CDN
/// host, or on the origin of `api_base`.
fn attachment_url(reference: &str, api_base: &str) -> Option<url::Url> {
    let url = url::Url::parse(reference).ok()?;
    let same_as_api = url::Url::parse(api_base).is_ok_and(|api| api.origin() == url.origin());
    let meta_cdn = url.scheme() == "https"
        && url.host_str().is_some_and(|host| {
            ATTACHMENT_HOSTS
                .iter()
                .any(|h| host == *h || host.ends_with(&format!(".{h}")))
        });
    (same_as_api || meta_cdn).then_some(url)
}

#[cfg(test)]
mod attachment_tests {
    use super::attachment_url;

    #[test]
    fn only_meta_cdn_urls_and_the_api_base_are_fetched() {
        let api = "https://graph.facebook.com";
        for ok in [
            "https://scontent-fra5-1.xx.fbcdn.net/v/t1.15752-9/1_n.jpg?oh=1&oe=2",
            "https://cdn.fbsbx.com/v/t59.3654-21/a.pdf",
            "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1",
        ] {
            assert!(attachment_url(ok, api).is_some(), "{ok}");
        }
        for refused in [
            "http://scontent.xx.fbcdn.net/a.jpg",
            "https://fbcdn.net.evil.example/a.jpg",
            "https://evilfbcdn.net/a.jpg",
            "https://169.254.169.254/latest/meta-data",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(attachment_url(refused, api).is_none(), "{refused}");
        }
        assert!(attachment_url("http://127.0.0.1:9/cdn/a.jpg", "http://127.0.0.1:9").is_some());
        assert!(attachment_url("http://127.0.0.1:8/cdn/a.jpg", "http://127.0.0.1:9").is_none());
    }
}
