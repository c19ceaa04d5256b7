//! WhatsApp Cloud API wire types (serde), as documented in `docs/platform-contracts.md` §1.
//! Nothing outside this file knows the platform's JSON. Inbound types are lenient
//! (missing fields default) so that a new optional field never breaks parsing.

use serde::{Deserialize, Serialize};

// ---- webhooks ---------------------------------------------------------------------------

/// `{"object": "whatsapp_business_account", "entry": [...]}`. Entries, changes and each
/// message or status are read one by one (`tandem_sdk::lenient`): one unreadable item
/// never loses the others.
#[derive(Debug, Deserialize)]
pub(crate) struct Notification {
    #[serde(default)]
    pub(crate) object: String,
    #[serde(default, deserialize_with = "tandem_sdk::lenient::or_default")]
    pub(crate) entry: Vec<Entry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Entry {
    #[serde(deserialize_with = "tandem_sdk::lenient::or_default")]
    pub(crate) changes: Vec<Change>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Change {
    #[serde(deserialize_with = "tandem_sdk::lenient::string_or_number")]
    pub(crate) field: String,
    pub(crate) value: serde_json::Value,
}

/// `change.value` of a `messages` (or `smb_message_echoes`) change.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct MessagesValue {
    #[serde(deserialize_with = "tandem_sdk::lenient::or_default")]
    pub(crate) metadata: Metadata,
    #[serde(deserialize_with = "tandem_sdk::lenient::or_default")]
    pub(crate) contacts: Vec<Contact>,
    #[serde(deserialize_with = "tandem_sdk::lenient::or_default")]
    pub(crate) messages: Vec<serde_json::Value>,
    #[serde(deserialize_with = "tandem_sdk::lenient::or_default")]
    pub(crate) statuses: Vec<serde_json::Value>,
    #[serde(deserialize_with = "tandem_sdk::lenient::or_default")]
    pub(crate) errors: Vec<GraphErrorItem>,
    /// `smb_message_echoes`: messages the business sent from the WhatsApp Business app.
    #[serde(deserialize_with = "tandem_sdk::lenient::or_default")]
    pub(crate) message_echoes: Vec<serde_json::Value>,
}

/// One echo of a message sent from the WhatsApp Business app (coexistence).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Echo {
    /// The customer it was sent to.
    #[serde(deserialize_with = "tandem_sdk::lenient::string_or_number")]
    pub(crate) to: String,
    pub(crate) id: String,
    #[serde(deserialize_with = "tandem_sdk::lenient::string_or_number")]
    pub(crate) timestamp: String,
    pub(crate) text: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Metadata {
    pub(crate) phone_number_id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Contact {
    pub(crate) wa_id: String,
    pub(crate) profile: Profile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Profile {
    pub(crate) name: Option<String>,
}

/// One inbound message; the payload object is named after `type`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Message {
    #[serde(deserialize_with = "tandem_sdk::lenient::string_or_number")]
    pub(crate) from: String,
    pub(crate) id: String,
    #[serde(deserialize_with = "tandem_sdk::lenient::string_or_number")]
    pub(crate) timestamp: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) text: Option<Text>,
    pub(crate) interactive: Option<Interactive>,
    pub(crate) button: Option<TemplateButton>,
    pub(crate) location: Option<Location>,
    pub(crate) image: Option<Media>,
    pub(crate) video: Option<Media>,
    pub(crate) audio: Option<Media>,
    pub(crate) document: Option<Media>,
    pub(crate) sticker: Option<Media>,
    pub(crate) contacts: Option<Vec<SharedContact>>,
    pub(crate) reaction: Option<Reaction>,
    pub(crate) order: Option<Order>,
    pub(crate) system: Option<System>,
    /// `type: "edit"`: the customer edited an earlier message.
    pub(crate) edit: Option<Edit>,
    /// `type: "revoke"`: the customer deleted an earlier message.
    pub(crate) revoke: Option<Edit>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Order {
    pub(crate) catalog_id: Option<String>,
    pub(crate) text: Option<String>,
    #[serde(deserialize_with = "tandem_sdk::lenient::or_default")]
    pub(crate) product_items: Vec<OrderItem>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct OrderItem {
    #[serde(deserialize_with = "tandem_sdk::lenient::string_or_number")]
    pub(crate) product_retailer_id: String,
    #[serde(deserialize_with = "tandem_sdk::lenient::string_or_number")]
    pub(crate) quantity: String,
    #[serde(deserialize_with = "tandem_sdk::lenient::string_or_number")]
    pub(crate) item_price: String,
    pub(crate) currency: Option<String>,
}

/// `type: "system"`: the customer changed their number or identity.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct System {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) new_wa_id: Option<String>,
}

/// The message an edit or a deletion is about (and the new message of an edit).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Edit {
    pub(crate) original_message_id: Option<String>,
    pub(crate) message: Option<Box<Message>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Text {
    pub(crate) body: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Interactive {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) button_reply: Option<Reply>,
    pub(crate) list_reply: Option<Reply>,
    /// A completed WhatsApp Flow.
    pub(crate) nfm_reply: Option<FlowReply>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct FlowReply {
    pub(crate) name: Option<String>,
    pub(crate) body: Option<String>,
    /// The answers, as a JSON object in a string.
    pub(crate) response_json: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Reply {
    pub(crate) id: String,
    pub(crate) title: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct TemplateButton {
    pub(crate) payload: String,
    pub(crate) text: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Location {
    pub(crate) latitude: Option<f64>,
    pub(crate) longitude: Option<f64>,
    pub(crate) name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Media {
    #[serde(deserialize_with = "tandem_sdk::lenient::string_or_number")]
    pub(crate) id: String,
    pub(crate) mime_type: Option<String>,
    pub(crate) caption: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SharedContact {
    pub(crate) name: SharedName,
    pub(crate) phones: Vec<SharedPhone>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SharedName {
    pub(crate) formatted_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SharedPhone {
    pub(crate) phone: Option<String>,
    pub(crate) wa_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Reaction {
    pub(crate) message_id: Option<String>,
    pub(crate) emoji: Option<String>,
}

/// One status update of a message we sent.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Status {
    pub(crate) id: String,
    pub(crate) status: String,
    pub(crate) timestamp: String,
    pub(crate) errors: Vec<GraphErrorItem>,
}

/// An error item of a status or of `value.errors`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct GraphErrorItem {
    pub(crate) code: Option<u64>,
    pub(crate) title: Option<String>,
}

// ---- sending ----------------------------------------------------------------------------

/// `POST /{version}/{phone_number_id}/messages`.
#[derive(Debug, Serialize)]
pub(crate) struct SendRequest<'a> {
    pub(crate) messaging_product: &'static str,
    pub(crate) recipient_type: &'static str,
    pub(crate) to: &'a str,
    #[serde(flatten)]
    pub(crate) body: SendBody<'a>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum SendBody<'a> {
    Text { text: OutText<'a> },
    Interactive { interactive: OutInteractive<'a> },
    Template { template: OutTemplate<'a> },
    Image { image: OutMedia<'a> },
    Document { document: OutMedia<'a> },
}

/// An image or document sent by link: WhatsApp's servers fetch `link` (a signed Tandem
/// media link under `[server] public_url`).
#[derive(Debug, Serialize)]
pub(crate) struct OutMedia<'a> {
    pub(crate) link: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) caption: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) filename: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub(crate) struct OutText<'a> {
    pub(crate) preview_url: bool,
    pub(crate) body: &'a str,
}

#[derive(Debug, Serialize)]
pub(crate) struct OutInteractive<'a> {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) body: BodyText<'a>,
    pub(crate) action: Action<'a>,
}

#[derive(Debug, Serialize)]
pub(crate) struct BodyText<'a> {
    pub(crate) text: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum Action<'a> {
    Buttons {
        buttons: Vec<OutButton<'a>>,
    },
    List {
        button: &'a str,
        sections: Vec<Section<'a>>,
    },
}

#[derive(Debug, Serialize)]
pub(crate) struct OutButton<'a> {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) reply: Row<'a>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Section<'a> {
    pub(crate) title: &'a str,
    pub(crate) rows: Vec<Row<'a>>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Row<'a> {
    pub(crate) id: &'a str,
    pub(crate) title: &'a str,
}

#[derive(Debug, Serialize)]
pub(crate) struct OutTemplate<'a> {
    pub(crate) name: &'a str,
    pub(crate) language: Language<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) components: Vec<Component<'a>>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Language<'a> {
    pub(crate) code: &'a str,
}

#[derive(Debug, Serialize)]
pub(crate) struct Component<'a> {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) parameters: Vec<Parameter<'a>>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Parameter<'a> {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) text: &'a str,
}

/// A successful send: `{"messages": [{"id": "wamid..."}]}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SendResponse {
    pub(crate) messages: Vec<SentId>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SentId {
    pub(crate) id: String,
}

/// `GET /{version}/{media-id}`: where to download a customer's media (the URL is valid
/// for 5 minutes and wants the access token).
#[derive(Debug, Deserialize)]
pub(crate) struct MediaInfo {
    pub(crate) url: String,
    #[serde(default)]
    pub(crate) mime_type: Option<String>,
    /// Graph sends it as a string or a number.
    #[serde(default, deserialize_with = "size_text")]
    pub(crate) file_size: Option<String>,
}

fn size_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}
