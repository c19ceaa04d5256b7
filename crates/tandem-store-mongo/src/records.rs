//! The store operations on single records: the inbound log, customers and identities,
//! conversations, transcript and escalation reads, and the key-value space.

use crate::docs::ai_audit::AiAuditDoc;
use crate::docs::conversations::ConversationDoc;
use crate::docs::customers::{CustomerDoc, IdentityDoc, verified_email};
use crate::docs::escalations::EscalationDoc;
use crate::docs::inbound::{CounterDoc, INBOUND_SEQ_COUNTER, InboundDoc};
use crate::docs::kv::KvDoc;
use crate::docs::transcript::TranscriptDoc;
use crate::docs::{decode, encode, from_datetime, to_datetime};
use crate::error::{classify, is_duplicate_key};
use crate::schema::Collections;
use bson::{Document, doc};
use futures::TryStreamExt;
use mongodb::Cursor;
use mongodb::options::ReturnDocument;
use std::collections::HashMap;
use tandem_core::store::AiAuditRecord;
use tandem_core::store::{
    ConversationActivity, ConversationRecord, CustomerRecord, EscalationEvent, IdentityRecord,
    InboundRecord, PendingInbound, StoreError,
};
use tandem_model::{
    ChannelId, ConversationId, CustomerId, ExternalIdentity, InboundMessage, Timestamp,
    TranscriptEntry,
};

/// How often a write racing with concurrent writers of the same key is retried.
const RACE_RETRIES: usize = 5;

/// A `usize` limit as a MongoDB limit (positive; callers handle 0 themselves).
pub(crate) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Drains a cursor, converting every document.
pub(crate) async fn collect<T>(
    cursor: Cursor<Document>,
    convert: impl Fn(Document) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let docs: Vec<Document> = cursor.try_collect().await.map_err(classify)?;
    docs.into_iter().map(convert).collect()
}

// ---- inbound log ---------------------------------------------------------------------

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

/// See [`InboundLog::record_inbound`](tandem_core::store::InboundLog::record_inbound).
pub(crate) async fn record_inbound(
    c: &Collections,
    msg: &InboundMessage,
    received_at: Timestamp,
) -> Result<InboundRecord, StoreError> {
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
}

/// See [`InboundLog::mark_inbound_processed`](tandem_core::store::InboundLog::mark_inbound_processed).
pub(crate) async fn mark_inbound_processed(
    c: &Collections,
    seq: u64,
    now: Timestamp,
) -> Result<bool, StoreError> {
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
}

/// See [`InboundLog::pending_inbound`](tandem_core::store::InboundLog::pending_inbound).
pub(crate) async fn pending_inbound(
    c: &Collections,
    max: usize,
) -> Result<Vec<PendingInbound>, StoreError> {
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
}

/// See [`InboundLog::pending_inbound_before`](tandem_core::store::InboundLog::pending_inbound_before):
/// the pending index `(processed, _id)` below `seq`, filtered by channel and sender.
pub(crate) async fn pending_inbound_before(
    c: &Collections,
    channel: &tandem_model::ChannelId,
    subject: &str,
    seq: u64,
    max: usize,
) -> Result<Vec<PendingInbound>, StoreError> {
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
}

// ---- customers and identities --------------------------------------------------------

/// See [`Identities::resolve_customer`](tandem_core::store::Identities::resolve_customer).
///
/// A new customer is inserted before its identity; when the identity insert loses a race
/// (duplicate key), the orphan customer is deleted and the winner's customer returned.
/// A crash between the two inserts leaves an unreachable customer without identities.
/// Also says whether the customer was created by this call.
pub(crate) async fn resolve_customer(
    c: &Collections,
    identity: &ExternalIdentity,
    now: Timestamp,
) -> Result<(CustomerRecord, bool), StoreError> {
    for _ in 0..RACE_RETRIES {
        let known = c
            .identities
            .find_one(IdentityDoc::by_key(identity))
            .await
            .map_err(classify)?;
        if let Some(found) = known {
            let id = IdentityDoc::customer_of(&found)?;
            if let Some(name) = &identity.display_name {
                c.customers
                    .update_one(
                        CustomerDoc::name_differs(&id, name),
                        CustomerDoc::set_name(name, now),
                    )
                    .await
                    .map_err(classify)?;
            }
            if identity.verified {
                c.identities
                    .update_one(
                        IdentityDoc::unverified(identity),
                        IdentityDoc::set_verified(),
                    )
                    .await
                    .map_err(classify)?;
            }
            if let Some(email) = verified_email(identity) {
                c.identities
                    .update_one(
                        IdentityDoc::email_differs(identity, email),
                        IdentityDoc::set_email(email),
                    )
                    .await
                    .map_err(classify)?;
            }
            let found = customer(c, &id).await?.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "identity {}/{} points at missing customer {id}",
                    identity.channel, identity.subject
                ))
            })?;
            return Ok((found, false));
        }
        let id = CustomerId::generate();
        let new = CustomerDoc::new(&id, identity.display_name.clone(), now);
        c.customers
            .insert_one(encode("customer", &new)?)
            .await
            .map_err(classify)?;
        let inserted = c
            .identities
            .insert_one(encode("identity", &IdentityDoc::new(&id, identity, now))?)
            .await;
        match inserted {
            Ok(_) => return Ok((new.into_record()?, true)),
            Err(e) => {
                // Best effort: an orphan customer is harmless but useless.
                let _ = c.customers.delete_one(CustomerDoc::by_id(&id)).await;
                if !is_duplicate_key(&e) {
                    return Err(classify(e));
                }
            }
        }
    }
    Err(StoreError::Conflict(format!(
        "identity {}/{} kept changing concurrently",
        identity.channel, identity.subject
    )))
}

/// See [`Identities::customer`](tandem_core::store::Identities::customer).
pub(crate) async fn customer(
    c: &Collections,
    id: &CustomerId,
) -> Result<Option<CustomerRecord>, StoreError> {
    let doc = c
        .customers
        .find_one(CustomerDoc::by_id(id))
        .await
        .map_err(classify)?;
    doc.map(|d| decode::<CustomerDoc>("customer", d)?.into_record())
        .transpose()
}

/// See [`Identities::identities`](tandem_core::store::Identities::identities).
pub(crate) async fn identities(
    c: &Collections,
    customer: &CustomerId,
) -> Result<Vec<IdentityRecord>, StoreError> {
    let cursor = c
        .identities
        .find(IdentityDoc::of_customer(customer))
        .sort(IdentityDoc::oldest_first())
        .await
        .map_err(classify)?;
    collect(cursor, |d| {
        decode::<IdentityDoc>("identity", d)?.into_record()
    })
    .await
}

// ---- conversations and transcript ----------------------------------------------------

/// See [`Conversations::open_conversation`](tandem_core::store::Conversations::open_conversation). The
/// unique partial index on open conversations decides races: a loser reads the winner's.
pub(crate) async fn open_conversation(
    c: &Collections,
    customer: &CustomerId,
    channel: &ChannelId,
    id: Option<&ConversationId>,
    now: Timestamp,
) -> Result<ConversationRecord, StoreError> {
    for attempt in 0..RACE_RETRIES {
        let open = c
            .conversations
            .find_one(ConversationDoc::open_of(customer))
            .await
            .map_err(classify)?;
        if let Some(doc) = open {
            return decode::<ConversationDoc>("conversation", doc)?.into_record();
        }
        // The announced id on the first try; a generated one after a duplicate key (the
        // id may be what was taken).
        let id = match id {
            Some(id) if attempt == 0 => id.clone(),
            _ => ConversationId::generate(),
        };
        let new = ConversationDoc::open(&id, customer, channel, now);
        match c
            .conversations
            .insert_one(encode("conversation", &new)?)
            .await
        {
            Ok(_) => return new.into_record(),
            Err(e) if is_duplicate_key(&e) => {}
            Err(e) => return Err(classify(e)),
        }
    }
    Err(StoreError::Conflict(format!(
        "the open conversation of customer {customer} kept changing concurrently"
    )))
}

/// See [`Conversations::conversation`](tandem_core::store::Conversations::conversation).
pub(crate) async fn conversation(
    c: &Collections,
    id: &ConversationId,
) -> Result<Option<ConversationRecord>, StoreError> {
    let doc = c
        .conversations
        .find_one(ConversationDoc::by_id(id))
        .await
        .map_err(classify)?;
    doc.map(|d| decode::<ConversationDoc>("conversation", d)?.into_record())
        .transpose()
}

/// See [`Conversations::close_conversation`](tandem_core::store::Conversations::close_conversation).
pub(crate) async fn close_conversation(
    c: &Collections,
    id: &ConversationId,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let result = c
        .conversations
        .update_one(ConversationDoc::open_by_id(id), ConversationDoc::close(now))
        .await
        .map_err(classify)?;
    Ok(result.modified_count == 1)
}

/// See [`Conversations::transcript`](tandem_core::store::Conversations::transcript).
pub(crate) async fn transcript(
    c: &Collections,
    conversation: &ConversationId,
    max: usize,
) -> Result<Vec<TranscriptEntry>, StoreError> {
    if max == 0 {
        return Ok(Vec::new());
    }
    let cursor = c
        .transcript
        .find(TranscriptDoc::of_conversation(conversation))
        .sort(TranscriptDoc::newest_first())
        .limit(limit(max))
        .await
        .map_err(classify)?;
    let mut entries = collect(cursor, |d| {
        decode::<TranscriptDoc>("transcript entry", d)?.into_entry()
    })
    .await?;
    entries.reverse();
    Ok(entries)
}

/// How many conversations one query of agent entries names.
const ACTIVITY_BATCH: usize = 500;

/// See [`Reporting::conversation_activity`](tandem_core::store::Reporting::conversation_activity).
pub(crate) async fn conversation_activity(
    c: &Collections,
    since: Timestamp,
    until: Timestamp,
    max: usize,
) -> Result<Vec<ConversationActivity>, StoreError> {
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
}

// ---- AI audit ------------------------------------------------------------------------

/// See [`Conversations::ai_audit`](tandem_core::store::Conversations::ai_audit).
pub(crate) async fn ai_audit(
    c: &Collections,
    conversation: &ConversationId,
    max: usize,
) -> Result<Vec<AiAuditRecord>, StoreError> {
    if max == 0 {
        return Ok(Vec::new());
    }
    let cursor = c
        .ai_audit
        .find(AiAuditDoc::of_conversation(conversation))
        .sort(AiAuditDoc::newest_first())
        .limit(limit(max))
        .await
        .map_err(classify)?;
    let mut records = collect(cursor, |d| {
        decode::<AiAuditDoc>("AI audit record", d)?.into_record()
    })
    .await?;
    records.reverse();
    Ok(records)
}

// ---- escalations ---------------------------------------------------------------------

/// See [`Reporting::escalations`](tandem_core::store::Reporting::escalations).
pub(crate) async fn escalations(
    c: &Collections,
    conversation: &ConversationId,
) -> Result<Vec<EscalationEvent>, StoreError> {
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
}

/// See [`Reporting::decision_counts`](tandem_core::store::Reporting::decision_counts).
pub(crate) async fn decision_counts(c: &Collections) -> Result<(u64, u64), StoreError> {
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
}

/// See [`Reporting::escalation_counts`](tandem_core::store::Reporting::escalation_counts).
pub(crate) async fn escalation_counts(c: &Collections) -> Result<Vec<(String, u64)>, StoreError> {
    let cursor = c
        .escalations
        .aggregate(EscalationDoc::count_by_label())
        .await
        .map_err(classify)?;
    collect(cursor, |d| EscalationDoc::label_count(&d)).await
}

// ---- key-value space -----------------------------------------------------------------

/// See [`KeyValue::kv_get`](tandem_core::store::KeyValue::kv_get).
pub(crate) async fn kv_get(
    c: &Collections,
    namespace: &str,
    key: &str,
) -> Result<Option<String>, StoreError> {
    let doc =
        c.kv.find_one(KvDoc::by_key(namespace, key))
            .await
            .map_err(classify)?;
    doc.map(|d| decode::<KvDoc>("key-value pair", d)?.into_value())
        .transpose()
}

/// See [`KeyValue::kv_swap`](tandem_core::store::KeyValue::kv_swap): an update filtered on the
/// expected value, or an insert that the unique `(namespace, key)` index refuses when
/// the pair exists.
pub(crate) async fn kv_swap(
    c: &Collections,
    namespace: &str,
    key: &str,
    expected: Option<&str>,
    value: &str,
) -> Result<bool, StoreError> {
    match expected {
        Some(old) => {
            let mut filter = KvDoc::by_key(namespace, key);
            filter.insert("value", old);
            let r =
                c.kv.update_one(filter, KvDoc::set(value))
                    .await
                    .map_err(classify)?;
            Ok(r.matched_count == 1)
        }
        None => {
            let doc = bson::doc! {
                "_id": bson::oid::ObjectId::new(),
                "schema_version": crate::docs::SCHEMA_VERSION,
                "namespace": namespace,
                "key": key,
                "value": value,
            };
            match c.kv.insert_one(doc).await {
                Ok(_) => Ok(true),
                Err(e) if is_duplicate_key(&e) => Ok(false),
                Err(e) => Err(classify(e)),
            }
        }
    }
}

/// See [`KeyValue::kv_put`](tandem_core::store::KeyValue::kv_put).
pub(crate) async fn kv_put(
    c: &Collections,
    namespace: &str,
    key: &str,
    value: &str,
) -> Result<(), StoreError> {
    for _ in 0..RACE_RETRIES {
        match c
            .kv
            .update_one(KvDoc::by_key(namespace, key), KvDoc::set(value))
            .upsert(true)
            .await
        {
            Ok(_) => return Ok(()),
            // Two first upserts of one key: the loser retries as an update.
            Err(e) if is_duplicate_key(&e) => {}
            Err(e) => return Err(classify(e)),
        }
    }
    Err(StoreError::Conflict(format!(
        "key {namespace}/{key} kept changing concurrently"
    )))
}
