//! The inbound log: recording accepted messages (deduplicated by the unique
//! `(channel, platform_message_id)` index, `seq` from the `counters` document
//! `inbound_seq`), the pending ones in `seq` order, and marking one processed; and the
//! counters that hand out such numbers.

use crate::MongoStore;
use crate::docs::inbound::{CounterDoc, INBOUND_SEQ_COUNTER, InboundDoc};
use crate::docs::{collect, decode, encode, limit, to_datetime};
use crate::error::{RACE_RETRIES, classify, is_duplicate_key};
use crate::schema::Collections;
use async_trait::async_trait;
use bson::Document;
use mongodb::options::ReturnDocument;
use tandem_core::store::{InboundLog, InboundRecord, PendingInbound, StoreError};
use tandem_model::{ChannelId, InboundMessage, Timestamp};

/// Takes the next value of counter `name`.
pub(crate) async fn next_counter(c: &Collections, name: &str) -> Result<u64, StoreError> {
    for _ in 0..RACE_RETRIES {
        match c
            .counters
            .find_one_and_update(CounterDoc::by_name(name), CounterDoc::next())
            .upsert(true)
            .return_document(ReturnDocument::After)
            .await
        {
            Ok(Some(doc)) => return CounterDoc::value_of(doc),
            Ok(None) => {}
            // Two first upserts of the counter: the loser retries and increments.
            Err(e) if is_duplicate_key(&e) => {}
            Err(e) => return Err(classify(e)),
        }
    }
    Err(StoreError::Unavailable(format!(
        "counter `{name}` could not be advanced"
    )))
}

/// Raises the inbound counter to the log's highest `seq`, so that a lost or restored
/// counter document never hands out a taken `seq`.
pub(crate) async fn align_inbound_counter(c: &Collections) -> Result<(), StoreError> {
    let newest = c
        .inbound
        .find_one(Document::new())
        .sort(InboundDoc::newest_first())
        .projection(InboundDoc::seq_projection())
        .await
        .map_err(classify)?;
    let Some(newest) = newest else {
        return Ok(());
    };
    let seq = i64::try_from(InboundDoc::seq_of(&newest)?).unwrap_or(i64::MAX);
    for _ in 0..RACE_RETRIES {
        match c
            .counters
            .update_one(
                CounterDoc::by_name(INBOUND_SEQ_COUNTER),
                InboundDoc::counter_at_least(seq),
            )
            .upsert(true)
            .await
        {
            Ok(_) => return Ok(()),
            // A concurrent first `$inc` created the counter: raise it now.
            Err(e) if is_duplicate_key(&e) => {}
            Err(e) => return Err(classify(e)),
        }
    }
    Err(StoreError::Unavailable(
        "the inbound counter could not be aligned with the log".to_owned(),
    ))
}

#[async_trait]
impl InboundLog for MongoStore {
    async fn record_inbound(
        &self,
        msg: &InboundMessage,
        received_at: Timestamp,
    ) -> Result<InboundRecord, StoreError> {
        self.bounded(async |c| {
            let key = InboundDoc::by_key(msg.channel.as_str(), msg.platform_message_id.as_str());
            let known = |doc: Option<Document>| -> Result<Option<InboundRecord>, StoreError> {
                doc.map(|d| {
                    Ok(InboundRecord {
                        seq: InboundDoc::seq_of(&d)?,
                        duplicate: true,
                    })
                })
                .transpose()
            };
            let find = || {
                c.inbound
                    .find_one(key.clone())
                    .projection(InboundDoc::seq_projection())
            };
            if let Some(record) = known(find().await.map_err(classify)?)? {
                return Ok(record);
            }
            let seq = next_counter(c, INBOUND_SEQ_COUNTER).await?;
            let doc = encode("inbound record", &InboundDoc::new(seq, msg, received_at)?)?;
            match c.inbound.insert_one(doc).await {
                Ok(_) => Ok(InboundRecord {
                    seq,
                    duplicate: false,
                }),
                // A concurrent record of the same key won; `seq` stays unused (a gap).
                Err(e) if is_duplicate_key(&e) => known(find().await.map_err(classify)?)?.ok_or_else(|| {
                    StoreError::Unavailable(format!(
                        "inbound seq {seq} is taken but no record has this key (counter behind the log?)"
                    ))
                }),
                Err(e) => Err(classify(e)),
            }
        })
        .await
    }

    async fn mark_inbound_processed(&self, seq: u64, now: Timestamp) -> Result<bool, StoreError> {
        self.bounded(async |c| {
            let Ok(seq) = i64::try_from(seq) else {
                return Ok(false);
            };
            let result = c
                .inbound
                .update_one(
                    InboundDoc::unprocessed(seq),
                    InboundDoc::mark_processed(to_datetime(now)),
                )
                .await
                .map_err(classify)?;
            Ok(result.modified_count == 1)
        })
        .await
    }

    async fn pending_inbound(&self, max: usize) -> Result<Vec<PendingInbound>, StoreError> {
        self.bounded(async |c| {
            if max == 0 {
                return Ok(Vec::new());
            }
            let cursor = c
                .inbound
                .find(InboundDoc::pending())
                .sort(InboundDoc::by_seq_order())
                .limit(limit(max))
                .await
                .map_err(classify)?;
            collect(cursor, |d| {
                decode::<InboundDoc>("inbound record", d)?.into_pending()
            })
            .await
        })
        .await
    }

    /// The pending index `(processed, _id)` below `seq`, filtered by channel and sender.
    async fn pending_inbound_before(
        &self,
        channel: &ChannelId,
        subject: &str,
        seq: u64,
        max: usize,
    ) -> Result<Vec<PendingInbound>, StoreError> {
        self.bounded(async |c| {
            if max == 0 || seq == 0 {
                return Ok(Vec::new());
            }
            let mut filter = InboundDoc::pending();
            filter.insert(
                "_id",
                bson::doc! { "$lt": i64::try_from(seq).unwrap_or(i64::MAX) },
            );
            filter.insert("channel", channel.as_str());
            filter.insert("sender.subject", subject);
            let cursor = c
                .inbound
                .find(filter)
                .sort(InboundDoc::by_seq_order())
                .limit(limit(max))
                .await
                .map_err(classify)?;
            collect(cursor, |d| {
                decode::<InboundDoc>("inbound record", d)?.into_pending()
            })
            .await
        })
        .await
    }
}
