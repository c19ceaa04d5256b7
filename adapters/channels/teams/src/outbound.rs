//! Sending through the Bot Connector: `POST {serviceUrl}/v3/conversations/{id}/activities`
//! to the user's stored 1:1 conversation (a proactive one is created first when Tandem
//! has none), with plain text, or an Adaptive Card whose buttons are `Action.Submit`
//! (they come back as postbacks). Connector statuses → [`AdapterError`] kinds.

use crate::api::{OutAccount, OutActivity};
use crate::config::TeamsConfig;
use crate::connector::Connector;
use crate::state::{self, ConversationRef};
use async_trait::async_trait;
use serde_json::{Value, json};
use std::sync::Arc;
use tandem_sdk::model::{
    Capabilities, ChoiceStyle, Delivery, DeliveryState, OutboundContent, OutboundMessage, Party,
};
use tandem_sdk::{AdapterError, ChannelAdapter, InboundSink};

pub(crate) struct TeamsAdapter {
    config: Arc<TeamsConfig>,
    connector: Arc<Connector>,
    sink: InboundSink,
    caps: Capabilities,
}

/// Where one send goes.
struct Target {
    service_url: String,
    conversation_id: String,
    user_id: String,
}

impl TeamsAdapter {
    pub(crate) fn new(
        config: Arc<TeamsConfig>,
        connector: Arc<Connector>,
        sink: InboundSink,
        caps: Capabilities,
    ) -> Self {
        Self {
            config,
            connector,
            sink,
            caps,
        }
    }

    /// The stored reference of `subject`.
    async fn reference(&self, subject: &str) -> Result<Option<ConversationRef>, AdapterError> {
        state::load_ref(&self.sink, subject).await.map_err(|e| {
            AdapterError::transient("reading the conversation reference failed").with_source(e)
        })
    }

    /// The conversation to post to: the stored 1:1 chat, else a new one (proactive),
    /// when a `serviceUrl` and a tenant are known; else the user is unreachable.
    async fn target(&self, subject: &str) -> Result<Target, AdapterError> {
        let stored = self.reference(subject).await?;
        if let Some(r) = &stored
            && let Some(conversation_id) = &r.conversation_id
        {
            return Ok(Target {
                service_url: r.service_url.clone(),
                conversation_id: conversation_id.clone(),
                user_id: r.user_id.clone(),
            });
        }
        let service_url = stored
            .as_ref()
            .map(|r| r.service_url.clone())
            .or_else(|| self.config.service_url.clone());
        let tenant = stored
            .as_ref()
            .and_then(|r| r.tenant_id.clone())
            .or_else(|| self.config.tenant_id.clone());
        let (Some(service_url), Some(tenant)) = (service_url, tenant) else {
            return Err(AdapterError::unreachable(
                "no Teams conversation with this user yet, and no service_url and tenant to open one",
            ));
        };
        // A user known only by subject: the Entra object id works for 1:1 chats.
        let user_id = stored
            .as_ref()
            .map(|r| r.user_id.clone())
            .unwrap_or_else(|| subject.to_owned());
        let bot_id = self.config.bot_id();
        let created = self
            .connector
            .create_conversation(&service_url, &bot_id, &user_id, &tenant)
            .await?;
        let reference = ConversationRef {
            service_url: created.service_url.unwrap_or(service_url),
            conversation_id: Some(created.id.clone()),
            tenant_id: Some(tenant),
            bot_id,
            user_id: user_id.clone(),
        };
        // Best effort: without it the next send creates (finds) the conversation again.
        if state::store_ref(&self.sink, subject, &reference)
            .await
            .is_err()
        {
            tracing::warn!(
                channel.id = %self.sink.channel(),
                "Storing a new Teams conversation reference failed; the next send opens it again."
            );
        }
        Ok(Target {
            service_url: reference.service_url,
            conversation_id: created.id,
            user_id,
        })
    }
}

#[async_trait]
impl ChannelAdapter for TeamsAdapter {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn send(&self, msg: OutboundMessage) -> Result<Delivery, AdapterError> {
        let (text, attachments) = render(&msg.content, &self.caps)?;
        let target = self.target(&msg.recipient).await?;
        let bot_id = self.config.bot_id();
        let activity = OutActivity {
            kind: "message",
            from: OutAccount { id: &bot_id },
            conversation: OutAccount {
                id: &target.conversation_id,
            },
            recipient: OutAccount {
                id: &target.user_id,
            },
            text_format: text.map(|_| "plain"),
            text,
            attachments,
        };
        let id = self
            .connector
            .send_activity(&target.service_url, &target.conversation_id, &activity)
            .await?;
        Ok(Delivery {
            platform_message_id: id,
            state: DeliveryState::Sent,
        })
    }

    async fn typing(&self, recipient: &str, _from: Party) -> Result<(), AdapterError> {
        // Best effort, and never the reason to open a conversation.
        let Some(r) = self.reference(recipient).await? else {
            return Ok(());
        };
        let Some(conversation_id) = &r.conversation_id else {
            return Ok(());
        };
        let bot_id = self.config.bot_id();
        let activity = OutActivity {
            kind: "typing",
            from: OutAccount { id: &bot_id },
            conversation: OutAccount {
                id: conversation_id,
            },
            recipient: OutAccount { id: &r.user_id },
            text: None,
            text_format: None,
            attachments: Vec::new(),
        };
        self.connector
            .send_activity(&r.service_url, conversation_id, &activity)
            .await
            .map(|_| ())
    }
}

/// The text and attachments for `content`, or `Unsupported` beyond the capabilities:
/// plain text, or an Adaptive Card (the text in a `TextBlock`, one `Action.Submit` per
/// button carrying `{"payload", "title"}`).
pub(crate) fn render<'a>(
    content: &'a OutboundContent,
    caps: &Capabilities,
) -> Result<(Option<&'a str>, Vec<Value>), AdapterError> {
    if content.template.is_some() {
        return Err(AdapterError::unsupported("Teams has no message templates"));
    }
    if content.tag.is_some() {
        return Err(AdapterError::unsupported("Teams has no message tags"));
    }
    let text = content.text.as_str();
    if text.trim().is_empty() {
        return Err(AdapterError::unsupported("empty message"));
    }
    if text.chars().count() > caps.max_text_len {
        return Err(AdapterError::unsupported(format!(
            "text longer than {} characters",
            caps.max_text_len
        )));
    }
    if content.buttons.is_empty() {
        return Ok((Some(text), Vec::new()));
    }
    let fits = content.style == ChoiceStyle::Buttons
        && content.buttons.len() <= caps.max_buttons
        && content.buttons.iter().all(|b| {
            !b.title.trim().is_empty()
                && b.title.chars().count() <= caps.max_button_title_len
                && !b.payload.is_empty()
                && (caps.max_payload_bytes == 0 || b.payload.len() <= caps.max_payload_bytes)
        });
    if !fits {
        return Err(AdapterError::unsupported(format!(
            "choices beyond Teams' limits ({} card buttons, titles of {} characters)",
            caps.max_buttons, caps.max_button_title_len
        )));
    }
    let actions: Vec<Value> = content
        .buttons
        .iter()
        .map(|b| {
            json!({
                "type": "Action.Submit",
                "title": b.title,
                "data": {"payload": b.payload, "title": b.title},
            })
        })
        .collect();
    let card = json!({
        "contentType": "application/vnd.microsoft.card.adaptive",
        "content": {
            "type": "AdaptiveCard",
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": "1.5",
            "body": [{"type": "TextBlock", "text": text, "wrap": true}],
            "actions": actions,
        },
    });
    Ok((None, vec![card]))
}
