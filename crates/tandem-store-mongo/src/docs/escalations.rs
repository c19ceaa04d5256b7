//! Escalation events (`escalations`): `_id` the event id, listed per conversation oldest
//! first through `(conversation_id, at, ord)`. Each event keeps the distinct
//! `Reason::label()`s of its reasons in `labels`, so counts per label are one
//! `$unwind`/`$group` and an event with two reasons of one label counts once.

use super::{SCHEMA_VERSION, check_schema, from_datetime, to_datetime, to_i64, to_u64, turn_ord};
use bson::{Bson, DateTime, Document, doc};
use mongodb::IndexModel;
use mongodb::options::IndexOptions;
use serde::{Deserialize, Serialize};
use tandem_core::store::{EscalationEvent, Reason, StoreError};
use tandem_model::ConversationId;

/// The escalations collection.
pub(crate) const ESCALATIONS: &str = "escalations";

/// One escalation decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct EscalationDoc {
    #[serde(rename = "_id")]
    pub(crate) id: String,
    pub(crate) schema_version: i32,
    pub(crate) conversation_id: String,
    pub(crate) customer_id: String,
    pub(crate) at: DateTime,
    /// Order among events of one `at`: see [`turn_ord`].
    pub(crate) ord: i64,
    pub(crate) message_seq: i64,
    pub(crate) escalate: bool,
    pub(crate) reasons: Vec<Reason>,
    /// The distinct reason labels, sorted.
    pub(crate) labels: Vec<String>,
    #[serde(default)]
    pub(crate) category: Option<String>,
    #[serde(default)]
    pub(crate) priority: Option<String>,
    #[serde(default)]
    pub(crate) target: Option<String>,
    pub(crate) policy_version: String,
}

impl EscalationDoc {
    /// The document of event number `position` of a turn planned at `version`.
    pub(crate) fn new(
        event: &EscalationEvent,
        version: u64,
        position: usize,
    ) -> Result<Self, StoreError> {
        let EscalationEvent {
            id,
            conversation_id,
            customer_id,
            at,
            message_seq,
            escalate,
            reasons,
            category,
            priority,
            target,
            policy_version,
        } = event;
        Ok(Self {
            id: id.as_str().to_owned(),
            schema_version: SCHEMA_VERSION,
            conversation_id: conversation_id.as_str().to_owned(),
            customer_id: customer_id.as_str().to_owned(),
            at: to_datetime(*at),
            ord: turn_ord(version, position)?,
            message_seq: to_i64(*message_seq, "escalation message_seq")?,
            escalate: *escalate,
            reasons: reasons.clone(),
            labels: event.count_labels(),
            category: category.clone(),
            priority: priority.clone(),
            target: target.clone(),
            policy_version: policy_version.clone(),
        })
    }

    /// The event as the core sees it.
    pub(crate) fn into_event(self) -> Result<EscalationEvent, StoreError> {
        check_schema("escalation", self.schema_version)?;
        Ok(EscalationEvent {
            id: self.id.into(),
            conversation_id: self.conversation_id.into(),
            customer_id: self.customer_id.into(),
            at: from_datetime(self.at)?,
            message_seq: to_u64(self.message_seq, "escalation message_seq")?,
            escalate: self.escalate,
            reasons: self.reasons,
            category: self.category,
            priority: self.priority,
            target: self.target,
            policy_version: self.policy_version,
        })
    }

    /// The events of a conversation.
    pub(crate) fn of_conversation(conversation: &ConversationId) -> Document {
        doc! { "conversation_id": conversation.as_str() }
    }

    /// Oldest first.
    pub(crate) fn oldest_first() -> Document {
        doc! { "at": 1, "ord": 1 }
    }

    /// Any stored event with the id of one of `docs`.
    pub(crate) fn collisions(docs: &[EscalationDoc]) -> Document {
        let ids: Vec<Bson> = docs.iter().map(|d| Bson::from(d.id.as_str())).collect();
        doc! { "_id": { "$in": ids } }
    }

    /// Counts events per label: `{ _id: label, count: n }`, by label.
    pub(crate) fn count_by_label() -> Vec<Document> {
        vec![
            doc! { "$unwind": "$labels" },
            doc! { "$group": { "_id": "$labels", "count": { "$sum": 1_i64 } } },
            doc! { "$sort": { "_id": 1 } },
        ]
    }

    /// One row of [`EscalationDoc::count_by_label`].
    pub(crate) fn label_count(row: &Document) -> Result<(String, u64), StoreError> {
        let label = row
            .get_str("_id")
            .map_err(|e| StoreError::Corrupt(format!("escalation label: {e}")))?;
        let count = match row.get("count") {
            Some(Bson::Int64(n)) => *n,
            Some(Bson::Int32(n)) => i64::from(*n),
            other => {
                return Err(StoreError::Corrupt(format!(
                    "escalation label count {other:?}"
                )));
            }
        };
        Ok((label.to_owned(), to_u64(count, "escalation count")?))
    }
}

/// Index models of the escalations collection.
pub(crate) fn escalation_indexes() -> Vec<IndexModel> {
    vec![
        IndexModel::builder()
            .keys(doc! { "conversation_id": 1, "at": 1, "ord": 1 })
            .options(
                IndexOptions::builder()
                    .name("escalations_conversation".to_owned())
                    .build(),
            )
            .build(),
    ]
}
