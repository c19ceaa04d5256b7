//! Reporting reads: a conversation's escalation events, conversation activity for the
//! health figures, and the decision and escalation counts behind the metrics.

use crate::MongoStore;
use crate::docs::conversations::ConversationDoc;
use crate::docs::escalations::EscalationDoc;
use crate::docs::transcript::TranscriptDoc;
use crate::docs::{collect, decode, from_datetime, limit};
use crate::error::classify;
use async_trait::async_trait;
use bson::{Document, doc};
use futures::TryStreamExt;
use std::collections::HashMap;
use tandem_core::store::{ConversationActivity, EscalationEvent, Reporting, StoreError};
use tandem_model::{ConversationId, Timestamp};

/// How many conversations one query of agent entries names.
const ACTIVITY_BATCH: usize = 500;

#[async_trait]
impl Reporting for MongoStore {
    async fn escalations(
        &self,
        conversation: &ConversationId,
    ) -> Result<Vec<EscalationEvent>, StoreError> {
        self.bounded(async |c| {
            let cursor = c
                .escalations
                .find(EscalationDoc::of_conversation(conversation))
                .sort(EscalationDoc::oldest_first())
                .await
                .map_err(classify)?;
            collect(cursor, |d| {
                decode::<EscalationDoc>("escalation", d)?.into_event()
            })
            .await
        })
        .await
    }

    async fn conversation_activity(
        &self,
        since: Timestamp,
        until: Timestamp,
        max: usize,
    ) -> Result<Vec<ConversationActivity>, StoreError> {
        self.bounded(async |c| {
            if max == 0 {
                return Ok(Vec::new());
            }
            let cursor = c
                .conversations
                .find(ConversationDoc::active_between(since, until))
                .sort(ConversationDoc::by_update())
                .limit(limit(max))
                .await
                .map_err(classify)?;
            let conversations = collect(cursor, |d| {
                decode::<ConversationDoc>("conversation", d)?.into_record()
            })
            .await?;
            let mut replies: HashMap<String, Vec<(i64, Timestamp)>> = HashMap::new();
            for batch in conversations.chunks(ACTIVITY_BATCH) {
                let ids: Vec<&str> = batch.iter().map(|r| r.id.as_str()).collect();
                let cursor = c
                    .transcript
                    .find(TranscriptDoc::agent_entries_of(&ids))
                    .projection(doc! { "conversation_id": 1, "seq": 1, "at": 1 })
                    .await
                    .map_err(classify)?;
                let docs: Vec<Document> = cursor.try_collect().await.map_err(classify)?;
                for d in docs {
                    let seq = match d.get("seq") {
                        Some(bson::Bson::Int64(n)) => Some(*n),
                        Some(bson::Bson::Int32(n)) => Some(i64::from(*n)),
                        _ => None,
                    };
                    let (Ok(id), Some(seq), Ok(at)) =
                        (d.get_str("conversation_id"), seq, d.get_datetime("at"))
                    else {
                        return Err(StoreError::Corrupt(
                            "transcript entry without conversation, seq or time".into(),
                        ));
                    };
                    replies
                        .entry(id.to_owned())
                        .or_default()
                        .push((seq, from_datetime(*at)?));
                }
            }
            Ok(conversations
                .into_iter()
                .map(|conversation| {
                    let mut agent = replies.remove(conversation.id.as_str()).unwrap_or_default();
                    agent.sort_by_key(|(seq, _)| *seq);
                    ConversationActivity {
                        conversation,
                        agent_replies: agent.into_iter().map(|(_, at)| at).collect(),
                    }
                })
                .collect())
        })
        .await
    }

    async fn decision_counts(&self) -> Result<(u64, u64), StoreError> {
        self.bounded(async |c| {
            let yes = c
                .escalations
                .count_documents(doc! { "escalate": true })
                .await
                .map_err(classify)?;
            let no = c
                .escalations
                .count_documents(doc! { "escalate": false })
                .await
                .map_err(classify)?;
            Ok((yes, no))
        })
        .await
    }

    async fn escalation_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.bounded(async |c| {
            let cursor = c
                .escalations
                .aggregate(EscalationDoc::count_by_label())
                .await
                .map_err(classify)?;
            collect(cursor, |d| EscalationDoc::label_count(&d)).await
        })
        .await
    }
}
