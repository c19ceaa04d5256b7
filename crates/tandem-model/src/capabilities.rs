//! What a channel can render, as data. The core reads it to shape replies (buttons →
//! quick replies → list → numbered text; long text split), to respect messaging windows
//! and to pace sends. Adapters fill it from their platform's published limits and their
//! config; they never have to drop content because the core only hands them what fits.

use serde::{Deserialize, Serialize};

/// Capabilities of a channel adapter.
///
/// Fields added after the first release carry `#[serde(default)]`, and their zero value
/// means "not supported" (or "no limit" where stated), so older descriptions stay valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Longest text one message may carry, in characters.
    pub max_text_len: usize,
    /// Most buttons one message may carry; 0 when buttons are not supported.
    pub max_buttons: usize,
    /// Longest button title, in characters.
    pub max_button_title_len: usize,
    /// Whether a typing indicator can be shown.
    pub typing: bool,
    /// Whether media can be sent.
    pub media: bool,
    /// The platform's messaging-window rule.
    pub window: WindowPolicy,
    /// Longest text of a message that carries buttons or a list, in characters; 0 for
    /// the same as `max_text_len` (WhatsApp's interactive body: 1024).
    #[serde(default)]
    pub max_text_len_with_buttons: usize,
    /// Most quick replies one message may carry; 0 when not supported.
    #[serde(default)]
    pub max_quick_replies: usize,
    /// Longest quick-reply title, in characters.
    #[serde(default)]
    pub max_quick_reply_title_len: usize,
    /// Most rows of a list (menu) message; 0 when lists are not supported.
    #[serde(default)]
    pub max_list_rows: usize,
    /// Longest list row title, in characters.
    #[serde(default)]
    pub max_list_row_title_len: usize,
    /// Longest button/quick-reply payload, in bytes; 0 for no limit. Choices whose payload
    /// is longer are offered as numbered text (the core maps the number back).
    #[serde(default)]
    pub max_payload_bytes: usize,
    /// Whether choice titles must be unique within one message (WhatsApp).
    #[serde(default)]
    pub unique_titles: bool,
    /// The approved template sent instead of a free-form message outside the messaging
    /// window; `None`: such messages are marked undeliverable (`window_closed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_template: Option<TemplateMessage>,
    /// How fast the core may send on this channel.
    #[serde(default)]
    pub pacing: Pacing,
}

impl Capabilities {
    /// Text only, no buttons, no window, no pacing.
    pub fn text_only(max_text_len: usize) -> Self {
        Self {
            max_text_len,
            max_buttons: 0,
            max_button_title_len: 0,
            typing: false,
            media: false,
            window: WindowPolicy::None,
            max_text_len_with_buttons: 0,
            max_quick_replies: 0,
            max_quick_reply_title_len: 0,
            max_list_rows: 0,
            max_list_row_title_len: 0,
            max_payload_bytes: 0,
            unique_titles: false,
            window_template: None,
            pacing: Pacing::default(),
        }
    }
}

/// When free-form messages may be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WindowPolicy {
    /// Any time.
    None,
    /// Only within `hours` of the customer's last message; a template is needed outside it.
    CustomerService {
        /// Length of the window in hours (WhatsApp and Messenger: 24).
        hours: u32,
        /// Messages written by a human agent may still be sent, tagged, up to this many
        /// hours after the customer's last message (Messenger `HUMAN_AGENT`: 168).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent_tag_hours: Option<u32>,
    },
}

/// An approved message template (WhatsApp), as configured or as sent.
///
/// In a channel's [`Capabilities::window_template`], each parameter may contain the
/// placeholders `{text}` (the free-form message being replaced, shortened to 1000
/// characters) and `{name}` (the customer's display name, or "there"); the core fills
/// them before handing the template to the adapter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateMessage {
    /// Template name, e.g. `case_follow_up`.
    pub name: String,
    /// Language code, e.g. `en_US`.
    pub language: String,
    /// Body parameters, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<String>,
}

/// Send pacing of a channel: the outbox spaces sends so that bursts queue instead of
/// earning rate-limit errors. Zero values mean "no limit".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Pacing {
    /// Sends per second on the whole channel instance.
    pub per_second: u32,
    /// Sends allowed at once before pacing starts (at least 1).
    pub burst: u32,
    /// Least time between two sends to the same recipient, in milliseconds.
    pub per_recipient_interval_ms: u64,
    /// Sends to one recipient allowed at once before that interval applies.
    pub per_recipient_burst: u32,
}
