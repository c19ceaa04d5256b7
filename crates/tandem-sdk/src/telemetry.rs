//! Span and field names shared by the core and every adapter, so nobody misspells them.
//!
//! Levels: INFO for lifecycle only; WARN for recovered problems; ERROR when an operator
//! must act; DEBUG/TRACE per message. Message text, phone numbers, emails and tokens never
//! appear at INFO or above.

/// Span for one received message.
pub const SPAN_INBOUND: &str = "inbound";
/// Span for one outbound delivery attempt.
pub const SPAN_DELIVER: &str = "deliver";
/// Span for one handoff.
pub const SPAN_HANDOFF: &str = "handoff";

/// Field: the channel kind (`webchat`).
pub const CHANNEL_KIND: &str = "channel.kind";
/// Field: the channel instance id.
pub const CHANNEL_ID: &str = "channel.id";
/// Field: the platform message id.
pub const MESSAGE_PLATFORM_ID: &str = "message.platform_id";
/// Field: the conversation id.
pub const CONVERSATION_ID: &str = "conversation.id";
/// Field: the outbox entry id.
pub const OUTBOX_ID: &str = "outbox.id";
/// Field: the delivery attempt number.
pub const ATTEMPT: &str = "attempt";
