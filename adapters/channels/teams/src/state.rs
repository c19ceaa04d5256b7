//! What the adapter keeps in its channel's durable key-value space, per subject (the
//! user's Entra object id, or their `29:` id without one):
//!
//! - `ref:<subject>`: the conversation reference of the user's 1:1 chat with the bot
//!   (serviceUrl, conversation id, tenant, bot and user ids), rewritten from every
//!   personal-chat activity so the latest `serviceUrl` wins (multi-geo), and after a
//!   proactive conversation was created. Outbound sends read it.
//! - `member:<subject>`: the member lookup (email or UPN, names, role), so the connector
//!   is asked once per user and day rather than per message.

use serde::{Deserialize, Serialize};
use tandem_sdk::{InboundError, InboundSink};

/// Member facts are looked up again after this long (ms).
pub(crate) const MEMBER_TTL_MS: i64 = 24 * 3600 * 1000;

/// Where to reach a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ConversationRef {
    /// The connector of the user's region, from their latest activity.
    pub(crate) service_url: String,
    /// The 1:1 conversation (`a:…`), once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) conversation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tenant_id: Option<String>,
    /// `28:<app id>`.
    pub(crate) bot_id: String,
    /// The user's `29:` id (per bot).
    pub(crate) user_id: String,
}

/// What the connector said about a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MemberFacts {
    /// The email (else the UPN) Teams asserts; none for anonymous users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) display_name: Option<String>,
    /// `userRole: anonymous` (a meeting guest without an account).
    #[serde(default)]
    pub(crate) anonymous: bool,
    /// When looked up (Unix ms).
    pub(crate) fetched_at_ms: i64,
}

fn ref_key(subject: &str) -> String {
    format!("ref:{subject}")
}

fn member_key(subject: &str) -> String {
    format!("member:{subject}")
}

/// The stored reference of `subject`; an unreadable value reads as none.
pub(crate) async fn load_ref(
    sink: &InboundSink,
    subject: &str,
) -> Result<Option<ConversationRef>, InboundError> {
    Ok(sink
        .kv_get(&ref_key(subject))
        .await?
        .and_then(|v| serde_json::from_str(&v).ok()))
}

/// Stores the reference of `subject`, unless it is unchanged.
pub(crate) async fn store_ref(
    sink: &InboundSink,
    subject: &str,
    reference: &ConversationRef,
) -> Result<(), InboundError> {
    if load_ref(sink, subject).await?.as_ref() == Some(reference) {
        return Ok(());
    }
    let value = serde_json::to_string(reference)
        .map_err(|e| InboundError::Rejected(format!("conversation reference: {e}")))?;
    sink.kv_put(&ref_key(subject), &value).await
}

/// The stored member facts of `subject`.
pub(crate) async fn load_member(
    sink: &InboundSink,
    subject: &str,
) -> Result<Option<MemberFacts>, InboundError> {
    Ok(sink
        .kv_get(&member_key(subject))
        .await?
        .and_then(|v| serde_json::from_str(&v).ok()))
}

/// Stores the member facts of `subject`.
pub(crate) async fn store_member(
    sink: &InboundSink,
    subject: &str,
    facts: &MemberFacts,
) -> Result<(), InboundError> {
    let value = serde_json::to_string(facts)
        .map_err(|e| InboundError::Rejected(format!("member facts: {e}")))?;
    sink.kv_put(&member_key(subject), &value).await
}
