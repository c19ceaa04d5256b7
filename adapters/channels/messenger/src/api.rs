//! Messenger Platform wire types (serde), as documented in `docs/platform-contracts.md` §2.
//! Nothing outside this file knows the platform's JSON. Inbound types are lenient.

use serde::{Deserialize, Serialize};

// ---- webhooks ---------------------------------------------------------------------------

/// `{"object": "page", "entry": [...]}`. Entries and their events are read one by one
/// (`tandem_sdk::lenient`): one unreadable event never loses the others.
#[derive(Debug, Deserialize)]
pub(crate) struct Notification {
    #[serde(default)]
    pub(crate) object: String,
    #[serde(default, deserialize_with = "tandem_sdk::lenient::or_default")]
    pub(crate) entry: Vec<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Entry {
    #[serde(deserialize_with = "tandem_sdk::lenient::or_default")]
    pub(crate) messaging: Vec<serde_json::Value>,
    /// Events of threads another app (the Page Inbox) owns.
    #[serde(deserialize_with = "tandem_sdk::lenient::or_default")]
    pub(crate) standby: Vec<serde_json::Value>,
}

/// One `messaging` event; exactly one of the optional objects is set.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Event {
    pub(crate) sender: Party,
    pub(crate) recipient: Party,
    pub(crate) timestamp: Option<i64>,
    pub(crate) message: Option<Message>,
    pub(crate) message_edit: Option<MessageEdit>,
    pub(crate) optin: Option<serde_json::Value>,
    pub(crate) payment: Option<Payment>,
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
    /// Page-scoped ids are strings; read numbers too.
    #[serde(deserialize_with = "tandem_sdk::lenient::string_or_number")]
    pub(crate) id: String,
}

/// `message_edit`: the customer edited a message.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct MessageEdit {
    pub(crate) mid: String,
    pub(crate) text: Option<String>,
    pub(crate) num_edit: Option<u64>,
}

/// `payment`: a completed Messenger payment (the older Payments product).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Payment {
    pub(crate) payload: Option<String>,
    pub(crate) amount: Option<Amount>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Amount {
    pub(crate) currency: Option<String>,
    #[serde(deserialize_with = "tandem_sdk::lenient::string_or_number")]
    pub(crate) amount: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Message {
    pub(crate) mid: String,
    pub(crate) text: Option<String>,
    pub(crate) is_echo: bool,
    /// Set on a deleted (unsent) message.
    pub(crate) is_deleted: bool,
    /// On echoes: the app that sent the message (Tandem's, the Page Inbox's, another's).
    #[serde(deserialize_with = "tandem_sdk::lenient::string_or_number")]
    pub(crate) app_id: String,
    /// On echoes: the metadata the sender attached (Tandem's sends carry `tandem:`).
    pub(crate) metadata: Option<String>,
    pub(crate) quick_reply: Option<QuickReply>,
    #[serde(deserialize_with = "tandem_sdk::lenient::or_default")]
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
    /// `null` on link-share `fallback` attachments (a documented shape).
    #[serde(deserialize_with = "tandem_sdk::lenient::or_default")]
    pub(crate) payload: AttachmentPayload,
    /// `fallback` attachments: the shared link's title and URL.
    pub(crate) title: Option<String>,
    #[serde(alias = "URL")]
    pub(crate) url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct AttachmentPayload {
    pub(crate) url: Option<String>,
    pub(crate) title: Option<String>,
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
