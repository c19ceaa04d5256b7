//! Bot Framework / Teams wire types (serde), as documented in `docs/platform-contracts.md` §4.
//! Nothing outside this file knows the platform's JSON.
//!
//! Inbound types are lenient field by field: a field of an unexpected type reads as
//! absent instead of failing the whole activity, so a new or odd field never makes
//! Tandem refuse (and Teams drop) a customer's message.

use serde::de::{DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Reads a field as `T`, or `T::default()` when it has another shape.
fn lenient<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    let value = Value::deserialize(d)?;
    Ok(serde_json::from_value(value).unwrap_or_default())
}

// ---- inbound activities -----------------------------------------------------------------

/// One activity POSTed to the bot endpoint.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Activity {
    #[serde(rename = "type", default, deserialize_with = "lenient")]
    pub(crate) kind: String,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) id: String,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) timestamp: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) service_url: String,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) channel_id: String,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) from: Account,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) conversation: Conversation,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) text: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) text_format: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) attachments: Vec<Attachment>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) entities: Vec<Entity>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) channel_data: ChannelData,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) reply_to_id: Option<String>,
    /// Action.Submit data (message) or the invoke payload.
    #[serde(default)]
    pub(crate) value: Option<Value>,
    /// The invoke or event name.
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) members_added: Vec<Account>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) members_removed: Vec<Account>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) reactions_added: Vec<Reaction>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) reactions_removed: Vec<Reaction>,
    /// `installationUpdate`: `add`, `remove`, `add-upgrade`, `remove-upgrade`.
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) action: Option<String>,
}

impl Activity {
    /// The tenant, from `conversation.tenantId` or `channelData.tenant.id`.
    pub(crate) fn tenant(&self) -> Option<&str> {
        self.conversation
            .tenant_id
            .as_deref()
            .or(self.channel_data.tenant.id.as_deref())
            .filter(|t| !t.is_empty())
    }
}

/// A `ChannelAccount`: `29:…` users, `28:<app id>` bots.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Account {
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) id: String,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) aad_object_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Conversation {
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) id: String,
    /// `personal`, `groupChat` or `channel`.
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) conversation_type: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) tenant_id: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) is_group: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Attachment {
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) content_type: String,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) content_url: Option<String>,
    #[serde(default)]
    pub(crate) content: Option<Value>,
}

/// An entity; only mentions matter here.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Entity {
    #[serde(rename = "type", default, deserialize_with = "lenient")]
    pub(crate) kind: String,
    /// For a mention: the `<at>…</at>` text.
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) text: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) mentioned: Account,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ChannelData {
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) tenant: Tenant,
    /// The team of a channel conversation.
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) team: Tenant,
    /// The channel of a channel conversation.
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) channel: Tenant,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Tenant {
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Reaction {
    /// `like`, `heart`, `laugh`, …
    #[serde(rename = "type", default, deserialize_with = "lenient")]
    pub(crate) kind: String,
}

// ---- auth -------------------------------------------------------------------------------

/// The OpenID metadata document: only `jwks_uri` is used.
#[derive(Debug, Deserialize)]
pub(crate) struct OpenIdConfiguration {
    pub(crate) jwks_uri: String,
}

/// `{"keys": [...]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Jwks {
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) keys: Vec<Value>,
}

/// One RSA signing key; Bot Framework adds `endorsements` (the channels it may sign for).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Jwk {
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) kty: String,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) kid: String,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) n: String,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) e: String,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) endorsements: Vec<String>,
}

/// The claims read beyond the standard ones (`iss`, `aud`, `exp`, `nbf` are checked by
/// `jsonwebtoken`).
#[derive(Debug, Deserialize)]
pub(crate) struct Claims {
    /// The connector the activity came from (lowercase in the token).
    #[serde(default)]
    pub(crate) serviceurl: Option<String>,
    /// Expiry, unix seconds (checked by `jsonwebtoken`; here for the lifetime cap).
    #[serde(default)]
    pub(crate) exp: Option<u64>,
}

/// The client-credentials token answer.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    #[serde(default)]
    pub(crate) expires_in: Option<u64>,
}

/// An OAuth error answer (`{"error": "invalid_client", ...}`).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct OAuthError {
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) error: Option<String>,
}

// ---- connector --------------------------------------------------------------------------

/// `GET /v3/conversations/{id}/members/{userId}` (raw REST: the field is `objectId`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Member {
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) given_name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) surname: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) email: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) user_principal_name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) user_role: Option<String>,
}

/// `ResourceResponse` / `ConversationResourceResponse`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ResourceResponse {
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) id: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) service_url: Option<String>,
    /// The first activity of a conversation created with one (a channel thread).
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) activity_id: Option<String>,
}

/// `ErrorResponse`: `{"error": {"code", "message"}}`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorResponse {
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) error: ErrorBody,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) code: Option<String>,
}

// ---- outbound ---------------------------------------------------------------------------

/// An activity Tandem sends.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OutActivity<'a> {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) from: OutAccount<'a>,
    pub(crate) conversation: OutAccount<'a>,
    pub(crate) recipient: OutAccount<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) text_format: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) attachments: Vec<Value>,
}

#[derive(Debug, Serialize)]
pub(crate) struct OutAccount<'a> {
    pub(crate) id: &'a str,
}

/// `POST {serviceUrl}/v3/conversations`: a 1:1 conversation with a user.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateConversation<'a> {
    pub(crate) bot: OutAccount<'a>,
    pub(crate) members: Vec<OutAccount<'a>>,
    pub(crate) channel_data: Value,
    pub(crate) tenant_id: &'a str,
    pub(crate) is_group: bool,
}
