//! Plain data shared by every Tandem crate: newtype ids, inbound and outbound messages,
//! normalized content, external identities, channel capabilities and delivery reports.
//!
//! This crate does no I/O and has no async code. Types derive `Serialize`/`Deserialize`
//! with explicit, stable field names because they travel inside stored rows and the
//! outbox; changing a serialized shape is a schema change (see ARCHITECTURE.md).

mod capabilities;
mod content;
mod ids;
mod message;
mod status;

pub use capabilities::{Capabilities, Pacing, TemplateMessage, WindowPolicy};
pub use content::{Button, ChoiceStyle, Content, MediaKind, OutboundContent, OutboundMedia};
pub use ids::{
    ChannelId, ConversationId, CustomerId, EscalationId, MessageId, OutboxId, PlatformMessageId,
};
pub use message::{
    Delivery, DeliveryState, ExternalIdentity, InboundMessage, OutboundMessage, Party, Timestamp,
    TranscriptEntry, now, truncate_to_millis,
};
pub use status::{DeliveryStatus, DeliveryTarget, DeliveryUpdate, FailureKind, Reachability};
