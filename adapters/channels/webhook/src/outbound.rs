//! Sending: a signed POST per message; HTTP status → error kind.

use crate::api::{ButtonDto, OutboundBody};
use crate::config::WebhookChannelConfig;
use async_trait::async_trait;
use std::sync::Arc;
use tandem_sdk::model::{Capabilities, Delivery, DeliveryState, OutboundMessage};
use tandem_sdk::signature::hmac_sha256_hex;
use tandem_sdk::{AdapterError, ChannelAdapter};
use time::format_description::well_known::Rfc3339;

pub(crate) struct WebhookAdapter {
    config: Arc<WebhookChannelConfig>,
    http: reqwest::Client,
    caps: Capabilities,
}

impl WebhookAdapter {
    pub(crate) fn new(
        config: Arc<WebhookChannelConfig>,
        http: reqwest::Client,
    ) -> Result<Self, AdapterError> {
        let caps = Capabilities {
            max_buttons: config.max_buttons.unwrap_or(3),
            max_button_title_len: 64,
            ..Capabilities::text_only(config.max_text_len.unwrap_or(4096))
        };
        Ok(Self { config, http, caps })
    }
}

#[async_trait]
impl ChannelAdapter for WebhookAdapter {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn send(&self, msg: OutboundMessage) -> Result<Delivery, AdapterError> {
        if msg.content.buttons.len() > self.caps.max_buttons {
            return Err(AdapterError::unsupported("more buttons than configured"));
        }
        if msg.content.text.chars().count() > self.caps.max_text_len {
            return Err(AdapterError::unsupported("text longer than max_text_len"));
        }
        let body = OutboundBody {
            version: "1",
            kind: "message",
            id: msg.outbox_id.as_str(),
            conversation_id: msg.conversation_id.as_str(),
            to: &msg.recipient,
            from: msg.from.as_str(),
            text: &msg.content.text,
            buttons: msg
                .content
                .buttons
                .iter()
                .map(|b| ButtonDto {
                    title: &b.title,
                    payload: &b.payload,
                })
                .collect(),
            at: msg.created_at.format(&Rfc3339).unwrap_or_default(),
            agent_name: msg.content.sender_name.as_deref(),
        };
        let raw = serde_json::to_vec(&body)
            .map_err(|e| AdapterError::unsupported("unserializable message").with_source(e))?;
        let ts = tandem_sdk::model::now().unix_timestamp().to_string();
        let sig = hmac_sha256_hex(
            self.config.secret.expose().as_bytes(),
            &[ts.as_bytes(), b".", &raw],
        );
        let response = self
            .http
            .post(&self.config.url)
            .header("content-type", "application/json")
            .header("x-tandem-timestamp", &ts)
            .header("x-tandem-signature", format!("sha256={sig}"))
            .header("x-tandem-delivery", msg.outbox_id.as_str())
            .body(raw)
            .send()
            .await
            .map_err(|e| AdapterError::transient("request failed").with_source(e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(Delivery {
                platform_message_id: None,
                state: DeliveryState::Sent,
            });
        }
        let retry_after = tandem_sdk::http::retry_after(response.headers());
        Err(AdapterError::from_status(
            status.as_u16(),
            retry_after,
            format!("endpoint answered {status}"),
        ))
    }
}
