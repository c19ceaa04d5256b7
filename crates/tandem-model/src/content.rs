//! Normalized message content, in both directions.

use serde::{Deserialize, Serialize};

/// What a customer sent, normalized across platforms. Unknown platform events become
/// [`Content::Unsupported`]: they are recorded, never dropped.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    /// Plain text.
    Text {
        /// The text as typed.
        text: String,
    },
    /// A button or quick-reply click.
    Postback {
        /// The machine payload of the button.
        payload: String,
        /// The visible title, when the platform reports it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
    },
    /// An image, document, audio, video or sticker.
    Media {
        /// What kind of media.
        kind: MediaKind,
        /// The platform's media id or URL.
        reference: String,
        /// MIME type when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
        /// Caption typed with the media.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caption: Option<String>,
    },
    /// A shared location.
    Location {
        /// Latitude in degrees.
        latitude: f64,
        /// Longitude in degrees.
        longitude: f64,
        /// Place name when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// A shared contact card (possibly the sender's own verified phone).
    Contact {
        /// The phone number on the card.
        phone: String,
        /// Name on the card.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// True when the platform asserts the card is the sender's own number.
        #[serde(default)]
        own: bool,
    },
    /// A reaction (emoji) to an earlier message.
    Reaction {
        /// The emoji.
        emoji: String,
        /// The platform id of the message reacted to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
    },
    /// The customer opened the conversation through an entry point: Telegram `/start`,
    /// Messenger Get Started, an m.me / t.me link or an ad. Kept for identity linking.
    Start {
        /// The link's token (Telegram `/start <payload>`, Messenger referral `ref`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payload: Option<String>,
        /// The platform's entry-point kind (`SHORTLINK`, `ADS`, `start`, `get_started`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<String>,
    },
    /// A platform event about the conversation rather than something the customer wrote
    /// (a Messenger handover, an edited message, a group-chat message): recorded for the
    /// record, never answered.
    Event {
        /// Platform-specific kind, e.g. `messenger:pass_thread_control`.
        kind: String,
    },
    /// Customer content Tandem does not understand yet; kept with its kind.
    Unsupported {
        /// Platform-specific kind, e.g. `whatsapp:order`.
        kind: String,
    },
}

impl Content {
    /// Text to show or analyse: the text, a postback title/payload, a caption.
    pub fn text(&self) -> Option<&str> {
        match self {
            Content::Text { text } => Some(text),
            Content::Postback { title, payload } => Some(title.as_deref().unwrap_or(payload)),
            Content::Media { caption, .. } => caption.as_deref(),
            Content::Location { name, .. } => name.as_deref(),
            _ => None,
        }
    }

    /// A short kind name for logs and metrics (never contains user data).
    pub fn kind(&self) -> &'static str {
        match self {
            Content::Text { .. } => "text",
            Content::Postback { .. } => "postback",
            Content::Media { .. } => "media",
            Content::Location { .. } => "location",
            Content::Contact { .. } => "contact",
            Content::Reaction { .. } => "reaction",
            Content::Start { .. } => "start",
            Content::Event { .. } => "event",
            Content::Unsupported { .. } => "unsupported",
        }
    }
}

/// Kinds of media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// A picture.
    Image,
    /// A file.
    Document,
    /// A voice note or audio file.
    Audio,
    /// A video.
    Video,
    /// A sticker.
    Sticker,
}

/// A button offered to the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    /// Visible label.
    pub title: String,
    /// Payload sent back when clicked.
    pub payload: String,
}

/// How the choices (`buttons`) of an outbound message are rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChoiceStyle {
    /// Buttons attached to the message (WhatsApp reply buttons, Messenger button
    /// template, Telegram inline keyboard).
    #[default]
    Buttons,
    /// Quick replies (chips above the keyboard that disappear once used).
    QuickReplies,
    /// A list (menu) message.
    List,
}

impl ChoiceStyle {
    /// Whether this is the default style (for `skip_serializing_if`).
    pub fn is_buttons(&self) -> bool {
        *self == ChoiceStyle::Buttons
    }
}

/// What Tandem sends. Rich parts are shaped by the core to the channel's capabilities
/// before an adapter sees them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OutboundContent {
    /// The text of the message.
    pub text: String,
    /// Choices offered with the message (may be empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
    /// How the choices are rendered; set by the core's shaping.
    #[serde(default, skip_serializing_if = "ChoiceStyle::is_buttons")]
    pub style: ChoiceStyle,
    /// Set by the core outside a messaging window: send this approved template instead
    /// of the free-form text (which stays in the transcript).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<crate::TemplateMessage>,
    /// Set by the core: a platform message tag that allows this send outside the standard
    /// window (Messenger `HUMAN_AGENT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Set by the core on an agent's reply: the agent's display name, for channels that
    /// show who wrote (web chat's `agent_name`; text channels prefix it, see the core).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_name: Option<String>,
}

impl OutboundContent {
    /// A plain text message.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }

    /// A text with buttons.
    pub fn with_buttons(text: impl Into<String>, buttons: Vec<Button>) -> Self {
        Self {
            text: text.into(),
            buttons,
            ..Self::default()
        }
    }
}
