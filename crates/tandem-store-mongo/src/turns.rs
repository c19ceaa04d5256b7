//! Conversations and their turns: opening (the unique partial index on open conversations
//! decides races), closing, the transcript and AI audit reads, and `commit_turn`: with a
//! multi-document transaction where the deployment has them, with the conversation's turn
//! journal where it does not (see the crate docs, "Atomicity").

use crate::MongoStore;
use crate::docs::ai_audit::AiAuditDoc;
use crate::docs::conversations::{ConversationDoc, JournalDoc};
use crate::docs::escalations::EscalationDoc;
use crate::docs::inbound::InboundDoc;
use crate::docs::outbox::OutboxDoc;
use crate::docs::transcript::TranscriptDoc;
use crate::docs::{collect, decode, encode, id_only, limit, to_datetime, to_i64};
use crate::error::{
    RACE_RETRIES, classify, is_duplicate_key, is_transient_transaction_error, only_duplicates,
};
use crate::outbox::promote;
use crate::schema::Collections;
use async_trait::async_trait;
use bson::{DateTime, Document};
use mongodb::error::UNKNOWN_TRANSACTION_COMMIT_RESULT;
use mongodb::options::{Acknowledgment, ReadConcern, WriteConcern};
use mongodb::{Client, ClientSession, Collection};
use std::collections::{BTreeSet, HashSet};
use std::time::Duration;
use tandem_core::store::{AiAuditRecord, ConversationRecord, Conversations, StoreError, Turn};
use tandem_model::{ChannelId, ConversationId, CustomerId, Timestamp, TranscriptEntry};

/// How long a transaction is retried after transient errors (write conflicts with a
/// concurrent turn of the same conversation, elections).
const TRANSACTION_RETRY_FOR: Duration = Duration::from_secs(5);

/// How often a turn finishes a journal left by an earlier turn before giving up.
const JOURNAL_ATTEMPTS: u32 = 3;

/// A turn as documents, checked for collisions within itself.
struct TurnDocs {
    conversation_id: ConversationId,
    /// The new record, at the version the turn was planned at.
    conversation: ConversationDoc,
    version: u64,
    inbound_seq: Option<i64>,
    processed_at: DateTime,
    entries: Vec<TranscriptDoc>,
    escalations: Vec<EscalationDoc>,
    outbox: Vec<OutboxDoc>,
    /// Timer documents, upserted by `_id`.
    timers: Vec<Document>,
    ai_audit: Vec<AiAuditDoc>,
}

impl TurnDocs {
    /// Encodes `turn`. Two entries with one `(conversation, seq)` or one id are a
    /// [`StoreError::Conflict`], as the unique indexes would make them.
    fn new(turn: &Turn) -> Result<Self, StoreError> {
        let conv = &turn.conversation;
        let version = conv.version;
        let entries = turn
            .entries
            .iter()
            .map(TranscriptDoc::new)
            .collect::<Result<Vec<_>, _>>()?;
        let escalations = turn
            .escalations
            .iter()
            .enumerate()
            .map(|(i, e)| EscalationDoc::new(e, version, i))
            .collect::<Result<Vec<_>, _>>()?;
        let outbox = turn
            .outbox
            .iter()
            .enumerate()
            .map(|(i, o)| OutboxDoc::new(o, version, i))
            .collect::<Result<Vec<_>, _>>()?;
        let ai_audit = turn
            .ai_audit
            .iter()
            .enumerate()
            .map(|(i, r)| AiAuditDoc::new(r, version, i))
            .collect::<Result<Vec<_>, _>>()?;
        let mut seqs = HashSet::new();
        let mut ids = HashSet::new();
        for e in &entries {
            if !seqs.insert((e.conversation_id.as_str(), e.seq)) || !ids.insert(e.id.as_str()) {
                return Err(StoreError::Conflict(format!(
                    "the turn appends transcript entry {}/{} twice",
                    e.conversation_id, e.seq
                )));
            }
        }
        let distinct = |ids: Vec<&str>| ids.iter().collect::<HashSet<_>>().len() == ids.len();
        if !distinct(escalations.iter().map(|e| e.id.as_str()).collect())
            || !distinct(outbox.iter().map(|o| o.id.as_str()).collect())
            || !distinct(ai_audit.iter().map(|r| r.id.as_str()).collect())
        {
            return Err(StoreError::Conflict(
                "the turn inserts an escalation, outbox or AI audit id twice".to_owned(),
            ));
        }
        Ok(Self {
            conversation_id: conv.id.clone(),
            conversation: ConversationDoc::from_record(conv)?,
            version,
            inbound_seq: turn
                .inbound_seq
                .map(|s| to_i64(s, "inbound seq"))
                .transpose()?,
            processed_at: to_datetime(conv.updated_at),
            entries,
            escalations,
            outbox,
            timers: turn
                .timers
                .iter()
                .map(crate::outbox::timer_document)
                .collect(),
            ai_audit,
        })
    }

    fn journal(&self) -> JournalDoc {
        JournalDoc {
            token: uuid::Uuid::new_v4().simple().to_string(),
            started_at: DateTime::now(),
            inbound_seq: self.inbound_seq,
            processed_at: self.processed_at,
            entries: self.entries.clone(),
            escalations: self.escalations.clone(),
            outbox: self.outbox.clone(),
            timers: self.timers.clone(),
            ai_audit: self.ai_audit.clone(),
        }
    }
}

/// Why a transaction attempt stopped.
enum Stop {
    /// The turn is refused; nothing was applied.
    Refused(StoreError),
    /// The conversation holds a journal from a turn committed without a transaction.
    Journal(JournalDoc),
    /// A driver error (maybe transient).
    Driver(mongodb::error::Error),
}

impl From<mongodb::error::Error> for Stop {
    fn from(e: mongodb::error::Error) -> Self {
        Stop::Driver(e)
    }
}

/// Commits a turn in one multi-document transaction, retrying transient failures.
async fn commit_in_transaction(
    client: &Client,
    c: &Collections,
    turn: &TurnDocs,
) -> Result<(), StoreError> {
    let deadline = tokio::time::Instant::now() + TRANSACTION_RETRY_FOR;
    let mut attempt: u32 = 0;
    let mut journals = 0;
    loop {
        attempt = attempt.saturating_add(1);
        let mut session = client.start_session().await.map_err(classify)?;
        session
            .start_transaction()
            .read_concern(ReadConcern::snapshot())
            .write_concern(WriteConcern::builder().w(Acknowledgment::Majority).build())
            .await
            .map_err(classify)?;
        let outcome = match transaction_body(&mut session, c, turn).await {
            Ok(()) => commit(&mut session).await.map_err(Stop::Driver),
            Err(stop) => {
                // Best effort: the server aborts an abandoned transaction by itself.
                let _ = session.abort_transaction().await;
                Err(stop)
            }
        };
        match outcome {
            Ok(()) => break,
            Err(Stop::Refused(e)) => return Err(e),
            Err(Stop::Journal(journal)) if journals < JOURNAL_ATTEMPTS => {
                journals += 1;
                apply_journal(c, &turn.conversation_id, &journal).await?;
            }
            Err(Stop::Driver(e))
                if is_transient_transaction_error(&e) && tokio::time::Instant::now() < deadline =>
            {
                // The winner of a write conflict usually commits within milliseconds.
                let backoff = u64::from(attempt.min(25)) * 2;
                tokio::time::sleep(Duration::from_millis(backoff)).await;
            }
            Err(Stop::Journal(_)) => {
                return Err(StoreError::Conflict(format!(
                    "conversation {} keeps holding an unapplied turn journal",
                    turn.conversation_id
                )));
            }
            Err(Stop::Driver(e)) => return Err(classify(e)),
        }
    }
    promote_all(c, &turn.outbox).await
}

/// Commits, retrying a commit whose outcome is unknown (commits are idempotent).
async fn commit(session: &mut ClientSession) -> Result<(), mongodb::error::Error> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match session.commit_transaction().await {
            Err(e) if e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) && attempt < 3 => {}
            other => return other,
        }
    }
}

/// The writes of a turn inside the session's transaction: inbound record first (so a
/// processed record wins over a stale version, as the contract orders), then the
/// version-checked conversation, then the inserts.
async fn transaction_body(
    session: &mut ClientSession,
    c: &Collections,
    turn: &TurnDocs,
) -> Result<(), Stop> {
    if let Some(seq) = turn.inbound_seq {
        let marked = c
            .inbound
            .update_one(
                InboundDoc::unprocessed(seq),
                InboundDoc::mark_processed(turn.processed_at),
            )
            .session(&mut *session)
            .await?;
        if marked.matched_count == 0 {
            let exists = c
                .inbound
                .find_one(InboundDoc::by_seq(seq))
                .projection(InboundDoc::seq_projection())
                .session(&mut *session)
                .await?
                .is_some();
            return Err(Stop::Refused(inbound_refusal(exists, seq)));
        }
    }
    let stored = c
        .conversations
        .find_one(ConversationDoc::by_id(&turn.conversation_id))
        .session(&mut *session)
        .await?
        .ok_or_else(|| Stop::Refused(unknown_conversation(&turn.conversation_id)))?;
    if let Some(journal) = journal_of(stored.clone()).map_err(Stop::Refused)? {
        return Err(Stop::Journal(journal));
    }
    let filter =
        ConversationDoc::at_version(&turn.conversation_id, turn.version).map_err(Stop::Refused)?;
    let update = turn
        .conversation
        .commit(ConversationDoc::closed_at_of(&stored), None)
        .map_err(Stop::Refused)?;
    let updated = c
        .conversations
        .update_one(filter, update)
        .session(&mut *session)
        .await
        .map_err(refuse_duplicates)?;
    if updated.matched_count == 0 {
        return Err(Stop::Refused(stale_version(turn)));
    }
    insert_in(session, &c.transcript, "transcript entry", &turn.entries).await?;
    insert_in(session, &c.escalations, "escalation", &turn.escalations).await?;
    insert_in(session, &c.outbox, "outbox entry", &turn.outbox).await?;
    insert_in(session, &c.ai_audit, "AI audit record", &turn.ai_audit).await?;
    for timer in &turn.timers {
        c.timers
            .replace_one(bson::doc! { "_id": timer.get("_id") }, timer.clone())
            .upsert(true)
            .session(&mut *session)
            .await?;
    }
    Ok(())
}

/// Duplicate keys refuse the turn; other errors may be transient.
fn refuse_duplicates(e: mongodb::error::Error) -> Stop {
    if crate::error::is_duplicate_key(&e) {
        Stop::Refused(classify(e))
    } else {
        Stop::Driver(e)
    }
}

async fn insert_in<T: serde::Serialize>(
    session: &mut ClientSession,
    coll: &Collection<Document>,
    what: &str,
    docs: &[T],
) -> Result<(), Stop> {
    if docs.is_empty() {
        return Ok(());
    }
    let docs = docs
        .iter()
        .map(|d| encode(what, d))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Stop::Refused)?;
    coll.insert_many(docs)
        .session(&mut *session)
        .await
        .map_err(refuse_duplicates)?;
    Ok(())
}

/// Commits a turn without a transaction: checks, then one single-document update that
/// bumps the version and writes the journal (the commit point), then the journal's
/// idempotent application.
async fn commit_journaled(c: &Collections, turn: &TurnDocs) -> Result<(), StoreError> {
    // 1. The stored conversation, with any earlier journal applied first.
    let mut stored = None;
    let mut exists = false;
    for _ in 0..JOURNAL_ATTEMPTS {
        let doc = c
            .conversations
            .find_one(ConversationDoc::by_id(&turn.conversation_id))
            .await
            .map_err(classify)?;
        let Some(doc) = doc else { break };
        exists = true;
        match journal_of(doc.clone())? {
            Some(journal) => apply_journal(c, &turn.conversation_id, &journal).await?,
            None => {
                stored = Some(doc);
                break;
            }
        }
    }
    // 2. The inbound record, before the version (the contract's order).
    if let Some(seq) = turn.inbound_seq {
        let record = c
            .inbound
            .find_one(InboundDoc::by_seq(seq))
            .projection(InboundDoc::processed_projection())
            .await
            .map_err(classify)?;
        match record {
            None => return Err(inbound_refusal(false, seq)),
            Some(r) if InboundDoc::is_processed(&r)? => return Err(inbound_refusal(true, seq)),
            Some(_) => {}
        }
    }
    // 3. The version.
    let Some(stored) = stored else {
        return Err(if exists {
            // Other turns kept committing while this one waited: it is stale.
            stale_version(turn)
        } else {
            unknown_conversation(&turn.conversation_id)
        });
    };
    let stored_version = ConversationDoc::version_of(&stored);
    if stored_version != Some(to_i64(turn.version, "conversation version")?) {
        return Err(stale_version(turn));
    }
    // 4. Nothing the turn inserts may exist (the journal's inserts must not fail later).
    refuse_existing(
        &c.transcript,
        "transcript entry",
        &turn.entries,
        TranscriptDoc::collisions,
    )
    .await?;
    refuse_existing(
        &c.escalations,
        "escalation",
        &turn.escalations,
        EscalationDoc::collisions,
    )
    .await?;
    refuse_existing(
        &c.outbox,
        "outbox entry",
        &turn.outbox,
        OutboxDoc::collisions,
    )
    .await?;
    refuse_existing(
        &c.ai_audit,
        "AI audit record",
        &turn.ai_audit,
        AiAuditDoc::collisions,
    )
    .await?;
    // 5. The commit point.
    let journal = turn.journal();
    let filter = ConversationDoc::at_version(&turn.conversation_id, turn.version)?;
    let update = turn
        .conversation
        .commit(ConversationDoc::closed_at_of(&stored), Some(&journal))?;
    let updated = c
        .conversations
        .update_one(filter, update)
        .await
        .map_err(classify)?;
    if updated.matched_count == 0 {
        return Err(stale_version(turn));
    }
    // 6. Apply. Should this fail, the turn stays committed: the next turn of the
    // conversation or the store's maintenance applies the journal.
    apply_journal(c, &turn.conversation_id, &journal).await
}

/// Refuses the turn when a stored document collides with one of `docs`.
async fn refuse_existing<T>(
    coll: &Collection<Document>,
    what: &str,
    docs: &[T],
    collisions: fn(&[T]) -> Document,
) -> Result<(), StoreError> {
    if docs.is_empty() {
        return Ok(());
    }
    let found = coll
        .find_one(collisions(docs))
        .projection(id_only())
        .await
        .map_err(classify)?;
    match found {
        Some(existing) => Err(StoreError::Conflict(format!(
            "{what} {} already exists",
            existing
                .get("_id")
                .map(ToString::to_string)
                .unwrap_or_default()
        ))),
        None => Ok(()),
    }
}

/// Applies a committed turn's journal: marks its inbound record processed, inserts its
/// documents (existing ones are skipped: a journal may be applied twice, concurrently
/// even), promotes outbox heads and removes the journal. Idempotent.
pub(crate) async fn apply_journal(
    c: &Collections,
    conversation: &ConversationId,
    journal: &JournalDoc,
) -> Result<(), StoreError> {
    if let Some(seq) = journal.inbound_seq {
        c.inbound
            .update_one(
                InboundDoc::unprocessed(seq),
                InboundDoc::mark_processed(journal.processed_at),
            )
            .await
            .map_err(classify)?;
    }
    insert_idempotent(&c.transcript, "transcript entry", &journal.entries).await?;
    insert_idempotent(&c.escalations, "escalation", &journal.escalations).await?;
    insert_idempotent(&c.outbox, "outbox entry", &journal.outbox).await?;
    insert_idempotent(&c.ai_audit, "AI audit record", &journal.ai_audit).await?;
    for timer in &journal.timers {
        c.timers
            .replace_one(bson::doc! { "_id": timer.get("_id") }, timer.clone())
            .upsert(true)
            .await
            .map_err(classify)?;
    }
    promote_all(c, &journal.outbox).await?;
    c.conversations
        .update_one(
            ConversationDoc::with_journal(conversation, &journal.token),
            ConversationDoc::clear_journal(),
        )
        .await
        .map_err(classify)?;
    Ok(())
}

async fn insert_idempotent<T: serde::Serialize>(
    coll: &Collection<Document>,
    what: &str,
    docs: &[T],
) -> Result<(), StoreError> {
    if docs.is_empty() {
        return Ok(());
    }
    let docs = docs
        .iter()
        .map(|d| encode(what, d))
        .collect::<Result<Vec<_>, _>>()?;
    match coll.insert_many(docs).ordered(false).await {
        Ok(_) => Ok(()),
        Err(e) if only_duplicates(&e) => Ok(()),
        Err(e) => Err(classify(e)),
    }
}

/// Promotes the head of every (conversation, destination) that got outbox entries.
async fn promote_all(c: &Collections, outbox: &[OutboxDoc]) -> Result<(), StoreError> {
    let lanes: BTreeSet<(&str, &str)> = outbox
        .iter()
        .map(|o| (o.conversation_id.as_str(), o.message.channel.as_str()))
        .collect();
    for (conversation, destination) in lanes {
        promote(c, &ConversationId::new(conversation), destination).await?;
    }
    Ok(())
}

/// The journal of a stored conversation document, if any.
pub(crate) fn journal_of(doc: Document) -> Result<Option<JournalDoc>, StoreError> {
    Ok(decode::<ConversationDoc>("conversation", doc)?.journal)
}

fn inbound_refusal(exists: bool, seq: i64) -> StoreError {
    if exists {
        StoreError::AlreadyProcessed
    } else {
        StoreError::Conflict(format!("no inbound record with seq {seq}"))
    }
}

fn unknown_conversation(id: &ConversationId) -> StoreError {
    StoreError::Conflict(format!("conversation {id} does not exist"))
}

fn stale_version(turn: &TurnDocs) -> StoreError {
    StoreError::Conflict(format!(
        "conversation {} is not at version {} (changed concurrently)",
        turn.conversation_id, turn.version
    ))
}

/// The customer's open conversation, or a new one that gets `id` unless that is taken
/// ([`Conversations::open_conversation_as`]). The unique partial index on open
/// conversations decides races: a loser reads the winner's.
async fn open_conversation(
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

#[async_trait]
impl Conversations for MongoStore {
    async fn conversations_of(
        &self,
        customer: &CustomerId,
        max: usize,
    ) -> Result<Vec<ConversationRecord>, StoreError> {
        self.bounded(async |c| {
            if max == 0 {
                return Ok(Vec::new());
            }
            let cursor = c
                .conversations
                .find(ConversationDoc::of_customer(customer))
                .sort(ConversationDoc::newest_first())
                .limit(limit(max))
                .await
                .map_err(classify)?;
            collect(cursor, |d| {
                decode::<ConversationDoc>("conversation", d)?.into_record()
            })
            .await
        })
        .await
    }

    async fn open_conversation(
        &self,
        customer: &CustomerId,
        channel: &ChannelId,
        now: Timestamp,
    ) -> Result<ConversationRecord, StoreError> {
        self.bounded(async |c| open_conversation(c, customer, channel, None, now).await)
            .await
    }

    async fn open_conversation_as(
        &self,
        customer: &CustomerId,
        channel: &ChannelId,
        id: &ConversationId,
        now: Timestamp,
    ) -> Result<ConversationRecord, StoreError> {
        self.bounded(async |c| open_conversation(c, customer, channel, Some(id), now).await)
            .await
    }

    async fn conversation(
        &self,
        id: &ConversationId,
    ) -> Result<Option<ConversationRecord>, StoreError> {
        self.bounded(async |c| {
            let doc = c
                .conversations
                .find_one(ConversationDoc::by_id(id))
                .await
                .map_err(classify)?;
            doc.map(|d| decode::<ConversationDoc>("conversation", d)?.into_record())
                .transpose()
        })
        .await
    }

    async fn close_conversation(
        &self,
        id: &ConversationId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.bounded(async |c| {
            let result = c
                .conversations
                .update_one(ConversationDoc::open_by_id(id), ConversationDoc::close(now))
                .await
                .map_err(classify)?;
            Ok(result.modified_count == 1)
        })
        .await
    }

    async fn transcript(
        &self,
        conversation: &ConversationId,
        max: usize,
    ) -> Result<Vec<TranscriptEntry>, StoreError> {
        self.bounded(async |c| {
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
        })
        .await
    }

    async fn commit_turn(&self, turn: Turn) -> Result<(), StoreError> {
        self.bounded(async |c| {
            let docs = TurnDocs::new(&turn)?;
            if self.transactions {
                commit_in_transaction(&self.client, c, &docs).await
            } else {
                commit_journaled(c, &docs).await
            }
        })
        .await
    }

    async fn ai_audit(
        &self,
        conversation: &ConversationId,
        max: usize,
    ) -> Result<Vec<AiAuditRecord>, StoreError> {
        self.bounded(async |c| {
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
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_core::store::{
        ConversationRecord, ConversationState, ConversationStatus, NewOutboxEntry,
    };
    use tandem_model::{
        ChannelId, Content, ConversationId, CustomerId, MessageId, OutboundContent,
        OutboundMessage, OutboxId, Party, TranscriptEntry, now,
    };

    fn turn(version: u64) -> Turn {
        let conversation = ConversationRecord {
            id: ConversationId::new("conv_1"),
            customer_id: CustomerId::new("cus_1"),
            channel: ChannelId::new("web"),
            status: ConversationStatus::Open,
            state: ConversationState::default(),
            next_seq: 2,
            version,
            opened_at: now(),
            updated_at: now(),
        };
        let entry = |seq: u64| TranscriptEntry {
            id: MessageId::new(format!("msg_{seq}")),
            conversation_id: conversation.id.clone(),
            customer_id: conversation.customer_id.clone(),
            seq,
            from: Party::Bot,
            channel: conversation.channel.clone(),
            at: now(),
            content: Content::Text {
                text: "hi".to_owned(),
            },
            buttons: vec![],
            platform_message_id: None,
        };
        let outbound = |id: &str| NewOutboxEntry {
            message: OutboundMessage {
                outbox_id: OutboxId::new(id),
                channel: conversation.channel.clone(),
                recipient: "alice".to_owned(),
                conversation_id: conversation.id.clone(),
                from: Party::Bot,
                content: OutboundContent::text("hi"),
                message_id: MessageId::new("msg_1"),
                created_at: now(),
            },
            next_attempt_at: now(),
        };
        Turn {
            inbound_seq: Some(9),
            entries: vec![entry(0), entry(1)],
            escalations: vec![],
            outbox: vec![outbound("out_1"), outbound("out_2")],
            conversation,
            timers: Vec::new(),
            ai_audit: Vec::new(),
        }
    }

    #[test]
    fn a_turn_becomes_documents_ordered_by_version() {
        // One turn: `turn()` reads the clock, so two calls can differ by a millisecond.
        let third = turn(3);
        let docs = TurnDocs::new(&third).expect("encode");
        assert_eq!(docs.version, 3);
        assert_eq!(docs.inbound_seq, Some(9));
        assert_eq!(
            docs.processed_at,
            to_datetime(third.conversation.updated_at)
        );
        let ords: Vec<i64> = docs.outbox.iter().map(|o| o.ord).collect();
        assert!(ords[0] < ords[1], "entries of a turn keep their order");
        let later = TurnDocs::new(&turn(4)).expect("encode");
        assert!(
            later.outbox[0].ord > ords[1],
            "a later turn's entries come after"
        );
        let journal = docs.journal();
        assert_eq!(journal.entries, docs.entries);
        assert_eq!(journal.outbox, docs.outbox);
        assert_eq!(journal.inbound_seq, Some(9));
        assert_ne!(
            journal.token,
            docs.journal().token,
            "a fresh token per commit"
        );
        assert_eq!(
            docs.conversation.version, 3,
            "the filter's version; +1 on commit"
        );
    }

    #[test]
    fn collisions_within_a_turn_are_conflicts() {
        let mut same_seq = turn(0);
        same_seq.entries[1].seq = 0;
        assert!(matches!(
            TurnDocs::new(&same_seq),
            Err(StoreError::Conflict(_))
        ));
        let mut same_id = turn(0);
        same_id.entries[1].id = same_id.entries[0].id.clone();
        assert!(matches!(
            TurnDocs::new(&same_id),
            Err(StoreError::Conflict(_))
        ));
        let mut same_outbox = turn(0);
        same_outbox.outbox[1].message.outbox_id = OutboxId::new("out_1");
        assert!(matches!(
            TurnDocs::new(&same_outbox),
            Err(StoreError::Conflict(_))
        ));
    }

    #[test]
    fn refusals_name_their_cause() {
        assert!(matches!(
            inbound_refusal(true, 3),
            StoreError::AlreadyProcessed
        ));
        assert!(matches!(inbound_refusal(false, 3), StoreError::Conflict(_)));
        let docs = TurnDocs::new(&turn(2)).expect("encode");
        assert!(matches!(stale_version(&docs), StoreError::Conflict(_)));
    }
}
