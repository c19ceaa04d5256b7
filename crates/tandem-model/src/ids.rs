//! Newtype ids. Each wraps a `String` so that a conversation id can never be passed where a
//! customer id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an existing id (from storage or the wire).
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// A fresh, time-ordered id with this type's prefix.
            pub fn generate() -> Self {
                Self(format!(concat!($prefix, "_{}"), uuid::Uuid::now_v7().simple()))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }
    };
}

string_id!(
    /// A configured channel instance, e.g. `webchat` or `whatsapp`: the TOML table name.
    ChannelId, "ch"
);
string_id!(
    /// A customer: one person, possibly known on several channels.
    CustomerId, "cus"
);
string_id!(
    /// A conversation between one customer and Tandem (bot or agents).
    ConversationId, "conv"
);
string_id!(
    /// A transcript entry stored by Tandem.
    MessageId, "msg"
);
string_id!(
    /// The platform's own id of a message (WhatsApp `wamid`, Telegram `update_id`, a web
    /// chat client id). Inbound dedupe is keyed on `(ChannelId, PlatformMessageId)`.
    PlatformMessageId, "pm"
);
string_id!(
    /// An outbox entry: one message Tandem must deliver.
    OutboxId, "out"
);
string_id!(
    /// A recorded escalation decision.
    EscalationId, "esc"
);
