//! Normalized message content, in both directions.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    /// The customer edited one of their earlier messages. Recorded as its own transcript
    /// entry (the edit record desks see) on every channel; never answered.
    Edited {
        /// The platform id of the edited message, when the platform says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        of: Option<String>,
        /// The new text, when the platform sends it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    /// The customer deleted (unsent) one of their earlier messages. Recorded; never answered.
    Deleted {
        /// The platform id of the deleted message, when the platform says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        of: Option<String>,
    },
    /// Structured customer content: a catalog order, a completed form (WhatsApp Flow), a
    /// payment. `summary` is a readable line for the bot's transcript and the desks;
    /// `fields` the values by name.
    Structured {
        /// Platform-specific kind, e.g. `whatsapp:order`, `whatsapp:flow`.
        kind: String,
        /// One readable line (no secrets; what the customer chose or answered).
        summary: String,
        /// The values by name.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        fields: BTreeMap<String, String>,
    },
    /// A person answered the customer outside Tandem (someone in the Page Inbox, the
    /// WhatsApp Business app): the conversation is theirs until they go quiet or are
    /// released. `sender` of the message is the customer the person wrote to.
    ExternalReply {
        /// What the person wrote, when the platform echoes it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
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
            Content::Edited { .. } => "edited",
            Content::Deleted { .. } => "deleted",
            Content::Structured { .. } => "structured",
            Content::ExternalReply { .. } => "external_reply",
            Content::Unsupported { .. } => "unsupported",
        }
    }

    /// Whether the customer did this (a message, a tap, a reaction, an edit), as opposed
    /// to a platform event or a person answering outside Tandem: only customer acts open
    /// a messaging window.
    pub fn is_customer_act(&self) -> bool {
        !matches!(self, Content::Event { .. } | Content::ExternalReply { .. })
    }

    /// One readable line for a person (desks, transcripts): the text where there is one,
    /// else what the content is and where to find it (a media reference, a location, the
    /// edited message). Contains what the customer sent; never for logs.
    pub fn describe(&self) -> String {
        let with = |head: String, tail: Option<&str>| match tail.filter(|t| !t.is_empty()) {
            Some(t) => format!("{head} {t}"),
            None => head,
        };
        match self {
            Content::Text { text } => text.clone(),
            Content::Postback { .. } => self.text().unwrap_or_default().to_owned(),
            Content::Media {
                kind,
                reference,
                caption,
                ..
            } => with(
                format!("[{} {reference}]", kind.as_str()),
                caption.as_deref(),
            ),
            Content::Location {
                latitude,
                longitude,
                name,
            } => with(
                format!(
                    "[location {latitude},{longitude} \
                     https://www.openstreetmap.org/?mlat={latitude}&mlon={longitude}#map=17/{latitude}/{longitude}]"
                ),
                name.as_deref(),
            ),
            Content::Contact { phone, name, .. } => {
                with(format!("[contact {phone}]"), name.as_deref())
            }
            Content::Reaction { emoji, .. } if emoji.is_empty() => "[reaction removed]".into(),
            Content::Reaction { emoji, .. } => format!("[reaction {emoji}]"),
            Content::Start { .. } => "[start]".into(),
            Content::Event { kind } => format!("[event {kind}]"),
            Content::Edited { of, text } => with(
                format!("[edited {}]", of.as_deref().unwrap_or("message")),
                text.as_deref(),
            ),
            Content::Deleted { of } => {
                format!("[deleted {}]", of.as_deref().unwrap_or("message"))
            }
            Content::Structured { kind, summary, .. } => with(format!("[{kind}]"), Some(summary)),
            Content::ExternalReply { text } => {
                with("[answered outside Tandem]".into(), text.as_deref())
            }
            Content::Unsupported { kind } => format!("[unsupported {kind}]"),
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

impl MediaKind {
    /// The wire name (`image`, `document`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Document => "document",
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::Sticker => "sticker",
        }
    }
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
    /// An image or file sent with the message (`text` is then its caption, possibly
    /// empty). The core hands it only to channels whose capabilities say `media`; to the
    /// others it becomes a link in the text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<OutboundMedia>,
}

/// An image or file Tandem sends, by a URL the platform fetches (a signed Tandem link
/// for uploads, or any public URL a bot names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundMedia {
    /// Image (shown inline) or any other file (sent as a document).
    pub kind: MediaKind,
    /// Where the platform fetches it.
    pub url: String,
    /// Its MIME type, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Its file name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

impl OutboundMedia {
    /// One readable line naming the file and its link, for channels that cannot send
    /// media and for transcripts: `[image photo.jpg] https://…`.
    pub fn as_link_text(&self) -> String {
        match self.filename.as_deref().filter(|f| !f.is_empty()) {
            Some(name) => format!("[{} {name}] {}", self.kind.as_str(), self.url),
            None => format!("[{}] {}", self.kind.as_str(), self.url),
        }
    }
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
