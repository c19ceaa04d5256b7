//! What a channel can render, as data. The core reads it to shape replies.

use serde::{Deserialize, Serialize};

/// Capabilities of a channel adapter.
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
}

impl Capabilities {
    /// Text only, no buttons, no window.
    pub fn text_only(max_text_len: usize) -> Self {
        Self {
            max_text_len,
            max_buttons: 0,
            max_button_title_len: 0,
            typing: false,
            media: false,
            window: WindowPolicy::None,
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
        /// Length of the window in hours.
        hours: u32,
    },
}
