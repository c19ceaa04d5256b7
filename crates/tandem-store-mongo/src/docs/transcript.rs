//! The transcript (`transcript`): one document per entry, `_id` the entry's message id,
//! unique on `(conversation_id, seq)` (which also serves "newest N of a conversation").
//! A second index on `(customer_id, at)` serves a customer's transcript across
//! conversations and channels (exports, erasure).

use super::{SCHEMA_VERSION, check_schema, from_datetime, to_datetime, to_i64, to_u64};
use bson::{Bson, DateTime, Document, doc};
use mongodb::IndexModel;
use mongodb::options::IndexOptions;
use serde::{Deserialize, Serialize};
use tandem_core::store::StoreError;
use tandem_model::{Button, Content, ConversationId, Party, TranscriptEntry};

/// The transcript collection.
pub(crate) const TRANSCRIPT: &str = "transcript";

/// One transcript entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TranscriptDoc {
    /// The entry's message id.
    #[serde(rename = "_id")]
    pub(crate) id: String,
    pub(crate) schema_version: i32,
    pub(crate) conversation_id: String,
    pub(crate) customer_id: String,
    pub(crate) seq: i64,
    pub(crate) from: Party,
    pub(crate) channel: String,
    pub(crate) at: DateTime,
    pub(crate) content: Content,
    #[serde(default)]
    pub(crate) buttons: Vec<Button>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) platform_message_id: Option<String>,
}

impl TranscriptDoc {
    /// The document of an entry.
    pub(crate) fn new(entry: &TranscriptEntry) -> Result<Self, StoreError> {
        // Exhaustive on purpose: a new entry field must be given a place here.
        let TranscriptEntry {
            id,
            conversation_id,
            customer_id,
            seq,
            from,
            channel,
            at,
            content,
            buttons,
            platform_message_id,
        } = entry;
        Ok(Self {
            id: id.as_str().to_owned(),
            schema_version: SCHEMA_VERSION,
            conversation_id: conversation_id.as_str().to_owned(),
            customer_id: customer_id.as_str().to_owned(),
            seq: to_i64(*seq, "transcript seq")?,
            from: *from,
            channel: channel.as_str().to_owned(),
            at: to_datetime(*at),
            content: content.clone(),
            buttons: buttons.clone(),
            platform_message_id: platform_message_id.as_ref().map(|p| p.as_str().to_owned()),
        })
    }

    /// The entry as the core sees it.
    pub(crate) fn into_entry(self) -> Result<TranscriptEntry, StoreError> {
        check_schema("transcript entry", self.schema_version)?;
        Ok(TranscriptEntry {
            id: self.id.into(),
            conversation_id: self.conversation_id.into(),
            customer_id: self.customer_id.into(),
            seq: to_u64(self.seq, "transcript seq")?,
            from: self.from,
            channel: self.channel.into(),
            at: from_datetime(self.at)?,
            content: self.content,
            buttons: self.buttons,
            platform_message_id: self.platform_message_id.map(Into::into),
        })
    }

    /// The entries of a conversation.
    pub(crate) fn of_conversation(conversation: &ConversationId) -> Document {
        doc! { "conversation_id": conversation.as_str() }
    }

    /// The agent entries of these conversations (on the `(conversation_id, seq)` index).
    pub(crate) fn agent_entries_of(conversations: &[&str]) -> Document {
        doc! { "conversation_id": { "$in": conversations }, "from": "agent" }
    }

    /// Newest first (reversed by the caller).
    pub(crate) fn newest_first() -> Document {
        doc! { "seq": -1 }
    }

    /// Any stored entry that would collide with one of `docs`: same message id, or same
    /// `(conversation_id, seq)`.
    pub(crate) fn collisions(docs: &[TranscriptDoc]) -> Document {
        let ids: Vec<Bson> = docs.iter().map(|d| Bson::from(d.id.as_str())).collect();
        let mut any: Vec<Bson> = vec![Bson::Document(doc! { "_id": { "$in": ids } })];
        for d in docs {
            any.push(Bson::Document(
                doc! { "conversation_id": d.conversation_id.as_str(), "seq": d.seq },
            ));
        }
        doc! { "$or": any }
    }
}

/// Index models of the transcript.
pub(crate) fn transcript_indexes() -> Vec<IndexModel> {
    vec![
        IndexModel::builder()
            .keys(doc! { "conversation_id": 1, "seq": 1 })
            .options(
                IndexOptions::builder()
                    .name("transcript_conversation_seq".to_owned())
                    .unique(true)
                    .build(),
            )
            .build(),
        IndexModel::builder()
            .keys(doc! { "customer_id": 1, "at": 1 })
            .options(
                IndexOptions::builder()
                    .name("transcript_customer_at".to_owned())
                    .build(),
            )
            .build(),
    ]
}
