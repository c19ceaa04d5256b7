//! Messenger Platform wire types (serde), as documented in `channel-contracts.md` §2.
//! Nothing outside this file knows the platform's JSON. Inbound types are lenient.

use serde::{Deserialize, Serialize};

// ---- webhooks ---------------------------------------------------------------------------

/// `{"object": "page", "entry": [...]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Notification {
    pub(crate) object: String,
    #[serde(default)]
    pub(crate) entry: Vec<Entry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Entry {
    pub(crate) messaging: Vec<Event>,
    /// Events of threads another app (the Page Inbox) owns.
    pub(crate) standby: Vec<Event>,
}

/// One `messaging` event; exactly one of the optional objects is set.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Event {
    pub(crate) sender: Party,
    pub(crate) timestamp: Option<i64>,
    pub(crate) message: Option<Message>,
    pub(crate) postback: Option<Postback>,
    pub(crate) referral: Option<Referral>,
    pub(crate) delivery: Option<Receipt>,
    pub(crate) read: Option<Receipt>,
    pub(crate) reaction: Option<Reaction>,
    /// Any other event object (`pass_thread_control`, `optin`, …), by key.
    #[serde(flatten)]
    pub(crate) other: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Party {
    pub(crate) id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Message {
    pub(crate) mid: String,
    pub(crate) text: Option<String>,
    pub(crate) is_echo: bool,
    pub(crate) quick_reply: Option<QuickReply>,
    pub(crate) attachments: Vec<Attachment>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct QuickReply {
    pub(crate) payload: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Attachment {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) payload: AttachmentPayload,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct AttachmentPayload {
    pub(crate) url: Option<String>,
    pub(crate) sticker_id: Option<u64>,
    pub(crate) coordinates: Option<Coordinates>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Coordinates {
    pub(crate) lat: Option<f64>,
    pub(crate) long: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Postback {
    pub(crate) mid: Option<String>,
    pub(crate) title: Option<String>,
    pub(crate) payload: String,
    pub(crate) referral: Option<Referral>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Referral {
    #[serde(rename = "ref")]
    pub(crate) reference: Option<String>,
    pub(crate) source: Option<String>,
}

/// `delivery` and `read` receipts: everything before `watermark` (ms).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Receipt {
    pub(crate) mids: Vec<String>,
    pub(crate) watermark: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Reaction {
    pub(crate) mid: Option<String>,
    pub(crate) action: Option<String>,
    pub(crate) emoji: Option<String>,
}

// ---- sending ----------------------------------------------------------------------------

/// `POST /{version}/me/messages`.
#[derive(Debug, Serialize)]
pub(crate) struct SendRequest<'a> {
    pub(crate) recipient: Recipient<'a>,
    pub(crate) messaging_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tag: Option<String>,
    pub(crate) message: OutMessage<'a>,
}

/// `{"recipient": .., "sender_action": "typing_on"}`.
#[derive(Debug, Serialize)]
pub(crate) struct SenderAction<'a> {
    pub(crate) recipient: Recipient<'a>,
    pub(crate) sender_action: &'static str,
}

#[derive(Debug, Serialize)]
pub(crate) struct Recipient<'a> {
    pub(crate) id: &'a str,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct OutMessage<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) text: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) quick_replies: Vec<OutQuickReply<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) attachment: Option<OutAttachment<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) metadata: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct OutQuickReply<'a> {
    pub(crate) content_type: &'static str,
    pub(crate) title: &'a str,
    pub(crate) payload: &'a str,
}

#[derive(Debug, Serialize)]
pub(crate) struct OutAttachment<'a> {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) payload: ButtonTemplate<'a>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ButtonTemplate<'a> {
    pub(crate) template_type: &'static str,
    pub(crate) text: &'a str,
    pub(crate) buttons: Vec<OutButton<'a>>,
}

#[derive(Debug, Serialize)]
pub(crate) struct OutButton<'a> {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) title: &'a str,
    pub(crate) payload: &'a str,
}

/// A successful send: `{"recipient_id", "message_id"}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SendResponse {
    pub(crate) message_id: Option<String>,
}
