//! AI audit records (`ai_audit`): `_id` the record id, listed per conversation through
//! `(conversation_id, at, ord)` (`ord`: [`turn_ord`], so records keep the order their
//! turns committed in, and within a turn the order it listed them). The record itself is
//! kept whole in `record`; erasing a customer deletes the documents of their
//! conversations.

use super::{SCHEMA_VERSION, check_schema, to_datetime, turn_ord};
use bson::{Bson, DateTime, Document, doc};
use mongodb::IndexModel;
use mongodb::options::IndexOptions;
use serde::{Deserialize, Serialize};
use tandem_core::store::{AiAuditRecord, StoreError};
use tandem_model::ConversationId;

/// The AI audit collection.
pub(crate) const AI_AUDIT: &str = "ai_audit";

/// One AI decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct AiAuditDoc {
    #[serde(rename = "_id")]
    pub(crate) id: String,
    pub(crate) schema_version: i32,
    pub(crate) conversation_id: String,
    pub(crate) at: DateTime,
    /// Order among records of one `at`: see [`turn_ord`].
    pub(crate) ord: i64,
    pub(crate) record: AiAuditRecord,
}

impl AiAuditDoc {
    /// The document of record number `position` of a turn planned at `version`.
    pub(crate) fn new(
        record: &AiAuditRecord,
        version: u64,
        position: usize,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            id: record.id.clone(),
            schema_version: SCHEMA_VERSION,
            conversation_id: record.conversation_id.as_str().to_owned(),
            at: to_datetime(record.at),
            ord: turn_ord(version, position)?,
            record: record.clone(),
        })
    }

    /// The record as the core sees it.
    pub(crate) fn into_record(self) -> Result<AiAuditRecord, StoreError> {
        check_schema("AI audit record", self.schema_version)?;
        Ok(self.record)
    }

    /// The records of a conversation.
    pub(crate) fn of_conversation(conversation: &ConversationId) -> Document {
        doc! { "conversation_id": conversation.as_str() }
    }

    /// The records of any of `conversations`.
    pub(crate) fn of_conversations(conversations: &[String]) -> Document {
        doc! { "conversation_id": { "$in": conversations } }
    }

    /// Newest first.
    pub(crate) fn newest_first() -> Document {
        doc! { "at": -1, "ord": -1 }
    }

    /// Any stored record with the id of one of `docs`.
    pub(crate) fn collisions(docs: &[AiAuditDoc]) -> Document {
        let ids: Vec<Bson> = docs.iter().map(|d| Bson::from(d.id.as_str())).collect();
        doc! { "_id": { "$in": ids } }
    }
}

/// Index models of the AI audit collection.
pub(crate) fn ai_audit_indexes() -> Vec<IndexModel> {
    vec![
        IndexModel::builder()
            .keys(doc! { "conversation_id": 1, "at": 1, "ord": 1 })
            .options(
                IndexOptions::builder()
                    .name("ai_audit_conversation".to_owned())
                    .build(),
            )
            .build(),
    ]
}
