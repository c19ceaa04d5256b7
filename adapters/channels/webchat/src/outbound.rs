//! Sending: push the message to the visitor's live sockets.

use crate::hub::Hub;
use crate::protocol::{ButtonFrame, ServerFrame};
use async_trait::async_trait;
use std::sync::Arc;
use tandem_sdk::model::{Capabilities, Delivery, DeliveryState, OutboundMessage, Party};
use tandem_sdk::{AdapterError, ChannelAdapter};
use time::format_description::well_known::Rfc3339;

pub(crate) struct WebChatAdapter {
    hub: Arc<Hub>,
    caps: Capabilities,
}

impl WebChatAdapter {
    pub(crate) fn new(hub: Arc<Hub>, caps: Capabilities) -> Self {
        Self { hub, caps }
    }
}

pub(crate) fn party_name(p: Party) -> &'static str {
    p.as_str()
}

#[async_trait]
impl ChannelAdapter for WebChatAdapter {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn send(&self, msg: OutboundMessage) -> Result<Delivery, AdapterError> {
        if msg.content.buttons.len() > self.caps.max_buttons {
            return Err(AdapterError::unsupported(
                "more buttons than web chat renders",
            ));
        }
        let frame = ServerFrame::Message {
            agent_name: msg.content.sender_name.clone(),
            id: msg.message_id.to_string(),
            from: party_name(msg.from),
            text: msg.content.text,
            at: msg.created_at.format(&Rfc3339).unwrap_or_default(),
            buttons: msg
                .content
                .buttons
                .into_iter()
                .map(|b| ButtonFrame {
                    title: b.title,
                    payload: b.payload,
                })
                .collect(),
        };
        let reached = self.hub.send(&msg.recipient, &frame);
        // With no live socket the message is still in the transcript, which is replayed
        // when the visitor comes back: it is stored, not lost.
        let state = if reached > 0 {
            DeliveryState::Delivered
        } else {
            DeliveryState::Stored
        };
        Ok(Delivery {
            platform_message_id: None,
            state,
        })
    }

    async fn typing(&self, recipient: &str, from: Party) -> Result<(), AdapterError> {
        self.hub.send(
            recipient,
            &ServerFrame::Typing {
                from: party_name(from),
            },
        );
        Ok(())
    }
}
