//! Messages in, messages out, identities and transcript entries.

use crate::{
    ChannelId, Content, ConversationId, CustomerId, MessageId, OutboundContent, OutboxId,
    PlatformMessageId,
};
use serde::{Deserialize, Serialize};

/// A point in time, UTC.
pub type Timestamp = time::OffsetDateTime;

/// The current time, UTC, truncated to milliseconds: the precision every store keeps, so
/// that a stored and reloaded timestamp compares equal.
pub fn now() -> Timestamp {
    truncate_to_millis(time::OffsetDateTime::now_utc())
}

/// `t` with sub-millisecond digits dropped.
pub fn truncate_to_millis(t: Timestamp) -> Timestamp {
    let nanos = t.nanosecond();
    t.replace_nanosecond(nanos - nanos % 1_000_000)
        .expect("a smaller nanosecond value is valid")
}

/// What a platform asserts about the sender of an inbound message. Adapters report; the
/// core alone decides which customer this is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalIdentity {
    /// The channel instance the identity belongs to.
    pub channel: ChannelId,
    /// The sender's id on that channel (wa_id, PSID, Telegram user id, web visitor id).
    pub subject: String,
    /// Display name as the platform reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// A phone number the platform has verified belongs to the sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_phone: Option<String>,
    /// An email the platform (or a verified HMAC) asserts belongs to the sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_email: Option<String>,
    /// True when the subject itself is verified (signed web user, platform account).
    #[serde(default)]
    pub verified: bool,
    /// An email the sender claims without proof (a web visitor's browser): never joins
    /// or merges customers, only suggests a link to a customer who holds it verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_email: Option<String>,
    /// A phone number the sender claims without proof (see `claimed_email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_phone: Option<String>,
}

impl ExternalIdentity {
    /// An identity with only a subject.
    pub fn new(channel: ChannelId, subject: impl Into<String>) -> Self {
        Self {
            channel,
            subject: subject.into(),
            display_name: None,
            verified_phone: None,
            verified_email: None,
            claimed_email: None,
            claimed_phone: None,
            verified: false,
        }
    }
}

/// One message received from a customer, normalized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundMessage {
    /// The channel instance it arrived on.
    pub channel: ChannelId,
    /// The platform's id of the message; the dedupe key with `channel`.
    pub platform_message_id: PlatformMessageId,
    /// Who sent it, as the platform asserts.
    pub sender: ExternalIdentity,
    /// When the platform says it was sent.
    #[serde(with = "time::serde::rfc3339")]
    pub sent_at: Timestamp,
    /// What was sent.
    pub content: Content,
}

/// Who wrote a transcript entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// The customer.
    Customer,
    /// Tandem's bot.
    Bot,
    /// A human agent.
    Agent,
    /// Tandem itself (notices, check-ins).
    System,
}

impl Party {
    /// The wire name (`customer`, `bot`, `agent`, `system`).
    pub fn as_str(self) -> &'static str {
        match self {
            Party::Customer => "customer",
            Party::Bot => "bot",
            Party::Agent => "agent",
            Party::System => "system",
        }
    }
}

/// One message Tandem must deliver to a customer, as handed to an adapter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundMessage {
    /// The outbox entry; stable across retries (use it as an idempotency key if the
    /// platform supports one).
    pub outbox_id: OutboxId,
    /// The channel instance to send on.
    pub channel: ChannelId,
    /// The recipient's subject on that channel.
    pub recipient: String,
    /// The conversation it belongs to.
    pub conversation_id: ConversationId,
    /// Who speaks.
    pub from: Party,
    /// What to send, already shaped to the channel's capabilities.
    pub content: OutboundContent,
    /// The transcript entry this message renders.
    pub message_id: MessageId,
    /// When the transcript entry was written.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
}

/// What an adapter reports after a successful send.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Delivery {
    /// The platform's id of the sent message, when it returns one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_message_id: Option<String>,
    /// The delivery state reached.
    #[serde(default)]
    pub state: DeliveryState,
}

/// How far a sent message got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Accepted by the platform.
    #[default]
    Sent,
    /// Stored for the recipient, who will receive it when they reconnect (web chat).
    Stored,
    /// Confirmed delivered to the device.
    Delivered,
    /// Read by the recipient.
    Read,
}

/// One line of a conversation's transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptEntry {
    /// Tandem's id for the entry.
    pub id: MessageId,
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The customer.
    pub customer_id: CustomerId,
    /// Position in the conversation, from 0, gap-free.
    pub seq: u64,
    /// Who wrote it.
    pub from: Party,
    /// The channel it was said on.
    pub channel: ChannelId,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: Timestamp,
    /// Inbound content (customer) or the text of an outbound message.
    pub content: Content,
    /// Buttons offered with an outbound message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<crate::Button>,
    /// For customer entries: the platform message id it came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_message_id: Option<PlatformMessageId>,
}

impl TranscriptEntry {
    /// The entry as outbound content (text + buttons), for replays.
    pub fn outbound_content(&self) -> OutboundContent {
        OutboundContent::with_buttons(
            self.content.text().unwrap_or_default(),
            self.buttons.clone(),
        )
    }
}
