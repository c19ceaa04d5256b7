//! The work queue on MongoDB: the outbox (claiming heads, completing, retrying and
//! failing entries, head promotion, delivery reports and the outbox's reads; the head
//! rule is described on [`OutboxDoc`]), durable timers, and reachability.
//!
//! **Timers** (`timers`): one document per pending timer, `_id` the timer's key.
//! `available_at` is its due time while unclaimed and its lease expiry while claimed, so
//! a claim is one atomic `findOneAndUpdate` on `{available_at <= now}` (index
//! `timers_available`) that moves `available_at` to the lease expiry: two claimers never
//! get the same timer, and a timer whose claimer died comes back when the lease ends.

use crate::MongoStore;
use crate::docs::outbox::OutboxDoc;
use crate::docs::profiles::ReachabilityDoc;
use crate::docs::{collect, decode, from_datetime, id_only, to_datetime};
use crate::error::{classify, is_duplicate_key};
use crate::schema::Collections;
use async_trait::async_trait;
use bson::{Document, doc};
use mongodb::IndexModel;
use mongodb::options::{IndexOptions, ReturnDocument};
use std::time::Duration;
use tandem_core::store::{NewTimer, OutboxEntry, StoreError, TimerEntry, WorkQueue};
use tandem_model::{
    ChannelId, ConversationId, Delivery, DeliveryUpdate, OutboxId, Reachability, Timestamp,
};

/// The longest outbox lease honoured (a year); longer ones are capped.
const MAX_OUTBOX_LEASE: Duration = Duration::from_secs(365 * 24 * 3600);

/// The timers collection.
pub(crate) const TIMERS: &str = "timers";

/// The longest timer lease honoured (a day); longer ones are capped.
const MAX_TIMER_LEASE: Duration = Duration::from_secs(24 * 3600);

/// Marks the oldest unfinished entry of `conversation` for `destination` as its head
/// (no-op when it is already, or when there is no unfinished entry).
pub(crate) async fn promote(
    c: &Collections,
    conversation: &ConversationId,
    destination: &str,
) -> Result<(), StoreError> {
    c.outbox
        .find_one_and_update(
            OutboxDoc::unfinished_of(conversation, destination),
            OutboxDoc::promote(),
        )
        .sort(OutboxDoc::oldest())
        .projection(id_only())
        .await
        .map_err(classify)?;
    Ok(())
}

async fn park(
    c: &Collections,
    id: &OutboxId,
    (conversation, destination): (&ConversationId, &str),
    now: Timestamp,
    reason: &str,
) -> Result<(), StoreError> {
    tracing::error!(outbox.id = %id, %reason, "Outbox entry is unreadable; parked as failed.");
    c.outbox
        .update_one(
            OutboxDoc::by_id(id),
            OutboxDoc::fail(&format!("unreadable stored entry: {reason}"), now),
        )
        .await
        .map_err(classify)?;
    promote(c, conversation, destination).await
}

/// Finishes a claimed entry with `update`, then promotes the next entry of its
/// conversation for the same destination.
async fn finish(
    c: &Collections,
    id: &OutboxId,
    claim: &str,
    update: Document,
) -> Result<bool, StoreError> {
    let finished = c
        .outbox
        .find_one_and_update(OutboxDoc::claimed(id, claim), update)
        .projection(OutboxDoc::lane_projection())
        .await
        .map_err(classify)?;
    let Some(finished) = finished else {
        return Ok(false);
    };
    let (conversation, destination) = OutboxDoc::lane_of(&finished)?;
    promote(c, &conversation, &destination).await?;
    Ok(true)
}

/// Promotes a head for every (conversation, destination) that has unfinished entries but
/// none marked (a process died between a write and its promotion). Returns how many were
/// repaired. (Maintenance does this in two steps, see `maintenance::run`.)
#[cfg(test)]
pub(crate) async fn repair_heads(c: &Collections) -> Result<usize, StoreError> {
    let lanes = headless_lanes(c).await?;
    promote_lanes(c, &lanes).await?;
    Ok(lanes.len())
}

/// The (conversation, destination) pairs with unfinished entries and no head.
pub(crate) async fn headless_lanes(
    c: &Collections,
) -> Result<Vec<(ConversationId, String)>, StoreError> {
    let cursor = c
        .outbox
        .aggregate(OutboxDoc::headless_conversations())
        .await
        .map_err(classify)?;
    collect(cursor, |row| OutboxDoc::lane_of(&row)).await
}

/// Promotes the head of each of `lanes`.
pub(crate) async fn promote_lanes(
    c: &Collections,
    lanes: &[(ConversationId, String)],
) -> Result<(), StoreError> {
    for (conversation, destination) in lanes {
        promote(c, conversation, destination).await?;
    }
    Ok(())
}

/// Index models of `timers`.
pub(crate) fn timer_indexes() -> Vec<IndexModel> {
    vec![
        IndexModel::builder()
            .keys(doc! { "available_at": 1 })
            .options(
                IndexOptions::builder()
                    .name("timers_available".to_owned())
                    .build(),
            )
            .build(),
    ]
}

/// A pending timer's document (what [`WorkQueue::schedule_timer`] upserts by `_id`, and a
/// turn's journal holds).
pub(crate) fn timer_document(timer: &NewTimer) -> Document {
    let due = to_datetime(timer.due_at);
    doc! {
        "_id": &timer.id, "kind": &timer.kind, "payload": &timer.payload,
        "due_at": due, "available_at": due, "attempts": 0_i64,
    }
}

fn timer_entry(doc: &Document) -> Result<TimerEntry, StoreError> {
    let corrupt =
        |what: &str, e: bson::error::Error| StoreError::Corrupt(format!("timer {what}: {e}"));
    Ok(TimerEntry {
        id: doc.get_str("_id").map_err(|e| corrupt("id", e))?.to_owned(),
        kind: doc
            .get_str("kind")
            .map_err(|e| corrupt("kind", e))?
            .to_owned(),
        payload: doc
            .get_str("payload")
            .map_err(|e| corrupt("payload", e))?
            .to_owned(),
        due_at: from_datetime(
            *doc.get_datetime("due_at")
                .map_err(|e| corrupt("due_at", e))?,
        )?,
        attempts: doc
            .get_i64("attempts")
            .ok()
            .and_then(|a| u32::try_from(a).ok())
            .unwrap_or(1),
        claim: doc
            .get_str("claim")
            .map_err(|e| corrupt("claim", e))?
            .to_owned(),
    })
}

#[async_trait]
impl WorkQueue for MongoStore {
    /// Each claim is one `findOneAndUpdate` on a due head that moves its `due_at` to the
    /// lease expiry, so concurrent claimers never get the same entry. An entry that cannot
    /// be read is parked as `failed` (with the reason in `last_error`) so that one bad
    /// document cannot block the outbox. Runs maintenance when it is due.
    async fn claim_outbox(
        &self,
        now: Timestamp,
        max: usize,
        lease: Duration,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        self.bounded(async |c| {
            if max == 0 {
                return Ok(Vec::new());
            }
            self.maintain_if_due().await;
            let lease_ms =
                i64::try_from(lease.min(MAX_OUTBOX_LEASE).as_millis()).unwrap_or(i64::MAX);
            let expires = to_datetime(now).saturating_add_millis(lease_ms);
            let mut taken: Vec<String> = Vec::new();
            let mut claimed = Vec::new();
            while claimed.len() < max {
                let token = uuid::Uuid::new_v4().simple().to_string();
                let doc = c
                    .outbox
                    .find_one_and_update(
                        OutboxDoc::claimable(now, &taken),
                        OutboxDoc::claim(&token, expires),
                    )
                    .sort(OutboxDoc::due_first())
                    .return_document(ReturnDocument::After)
                    .await
                    .map_err(classify)?;
                let Some(doc) = doc else { break };
                let Some((id, conversation, destination)) = OutboxDoc::id_and_lane(&doc) else {
                    return Err(StoreError::Corrupt(format!(
                        "outbox entry without a readable id or conversation: {:?}",
                        doc.get("_id")
                    )));
                };
                taken.push(id.as_str().to_owned());
                match decode::<OutboxDoc>("outbox entry", doc).and_then(OutboxDoc::into_entry) {
                    Ok(entry) => claimed.push(entry),
                    Err(StoreError::Corrupt(reason)) => {
                        park(c, &id, (&conversation, &destination), now, &reason).await?;
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(claimed)
        })
        .await
    }

    async fn complete_outbox(
        &self,
        id: &OutboxId,
        claim: &str,
        delivery: &Delivery,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.bounded(async |c| finish(c, id, claim, OutboxDoc::complete(delivery, now)).await)
            .await
    }

    async fn renew_outbox(
        &self,
        id: &OutboxId,
        claim: &str,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        self.bounded(async |c| {
            let result = c
                .outbox
                .update_one(OutboxDoc::claimed(id, claim), OutboxDoc::renew(expires_at))
                .await
                .map_err(classify)?;
            Ok(result.matched_count == 1)
        })
        .await
    }

    /// The entry stays its conversation's head.
    async fn retry_outbox(
        &self,
        id: &OutboxId,
        claim: &str,
        next_attempt_at: Timestamp,
        error: &str,
    ) -> Result<bool, StoreError> {
        self.bounded(async |c| {
            let result = c
                .outbox
                .update_one(
                    OutboxDoc::claimed(id, claim),
                    OutboxDoc::retry(next_attempt_at, error),
                )
                .await
                .map_err(classify)?;
            Ok(result.matched_count == 1)
        })
        .await
    }

    async fn fail_outbox(
        &self,
        id: &OutboxId,
        claim: &str,
        error: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.bounded(async |c| finish(c, id, claim, OutboxDoc::fail(error, now)).await)
            .await
    }

    async fn outbox_entry(&self, id: &OutboxId) -> Result<Option<OutboxEntry>, StoreError> {
        self.bounded(async |c| {
            let doc = c
                .outbox
                .find_one(OutboxDoc::by_id(id))
                .await
                .map_err(classify)?;
            doc.map(|d| decode::<OutboxDoc>("outbox entry", d)?.into_entry())
                .transpose()
        })
        .await
    }

    async fn outbox_depth(&self) -> Result<u64, StoreError> {
        self.bounded(async |c| {
            c.outbox
                .count_documents(OutboxDoc::unfinished())
                .await
                .map_err(classify)
        })
        .await
    }

    /// The earliest `due_at` of a head.
    async fn next_outbox_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.bounded(async |c| {
            let head = c
                .outbox
                .find_one(OutboxDoc::heads())
                .sort(OutboxDoc::due_first())
                .projection(OutboxDoc::due_projection())
                .await
                .map_err(classify)?;
            head.map(|h| OutboxDoc::due_at_of(&h)).transpose()
        })
        .await
    }

    async fn schedule_timer(&self, timer: &NewTimer) -> Result<(), StoreError> {
        self.bounded(async |c| {
            let doc = timer_document(timer);
            c.timers
                .replace_one(doc! { "_id": &timer.id }, doc)
                .upsert(true)
                .await
                .map_err(classify)?;
            Ok(())
        })
        .await
    }

    async fn claim_timers(
        &self,
        now: Timestamp,
        max: usize,
        lease: Duration,
    ) -> Result<Vec<TimerEntry>, StoreError> {
        self.bounded(async |c| {
            let lease_ms =
                i64::try_from(lease.min(MAX_TIMER_LEASE).as_millis()).unwrap_or(i64::MAX);
            let expires = to_datetime(now).saturating_add_millis(lease_ms);
            let mut claimed = Vec::new();
            while claimed.len() < max {
                let token = uuid::Uuid::new_v4().simple().to_string();
                let doc = c
                    .timers
                    .find_one_and_update(
                        doc! { "available_at": { "$lte": to_datetime(now) } },
                        doc! {
                            "$set": { "available_at": expires, "claim": &token },
                            "$inc": { "attempts": 1_i64 },
                        },
                    )
                    .sort(doc! { "available_at": 1 })
                    .return_document(ReturnDocument::After)
                    .await
                    .map_err(classify)?;
                let Some(doc) = doc else { break };
                claimed.push(timer_entry(&doc)?);
            }
            Ok(claimed)
        })
        .await
    }

    async fn finish_timer(&self, id: &str, claim: &str) -> Result<bool, StoreError> {
        self.bounded(async |c| {
            let removed = c
                .timers
                .delete_one(doc! { "_id": id, "claim": claim })
                .await
                .map_err(classify)?;
            Ok(removed.deleted_count > 0)
        })
        .await
    }

    async fn next_timer_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.bounded(async |c| {
            let first = c
                .timers
                .find_one(doc! {})
                .sort(doc! { "available_at": 1 })
                .projection(doc! { "available_at": 1 })
                .await
                .map_err(classify)?;
            first
                .map(|d| {
                    d.get_datetime("available_at")
                        .map_err(|e| StoreError::Corrupt(format!("timer available_at: {e}")))
                        .and_then(|t| from_datetime(*t))
                })
                .transpose()
        })
        .await
    }

    /// The entries the report names are listed, then each is moved by its own
    /// `findOneAndUpdate` that re-checks the report's condition, so a repeated or
    /// concurrent report changes (and returns) an entry at most once.
    async fn record_delivery_status(
        &self,
        update: &DeliveryUpdate,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        self.bounded(async |c| {
            let Some((filter, change)) = OutboxDoc::reported(update) else {
                return Ok(Vec::new());
            };
            let cursor = c
                .outbox
                .find(filter.clone())
                .sort(OutboxDoc::sent_first())
                .projection(id_only())
                .await
                .map_err(classify)?;
            let ids = collect(cursor, |d| OutboxDoc::id_of(&d)).await?;
            let mut changed = Vec::with_capacity(ids.len());
            for id in ids {
                let mut one = filter.clone();
                one.insert("_id", id.as_str());
                let doc = c
                    .outbox
                    .find_one_and_update(one, change.clone())
                    .return_document(ReturnDocument::After)
                    .await
                    .map_err(classify)?;
                if let Some(doc) = doc {
                    changed.push(decode::<OutboxDoc>("outbox entry", doc)?.into_entry()?);
                }
            }
            Ok(changed)
        })
        .await
    }

    /// One upsert filtered on "stored report not newer"; when a newer report is stored the
    /// upsert's insert hits the unique `(channel, subject)` index, meaning "not applied".
    async fn set_reachability(
        &self,
        channel: &ChannelId,
        subject: &str,
        reachability: &Reachability,
    ) -> Result<bool, StoreError> {
        self.bounded(async |c| {
            let (filter, update) = ReachabilityDoc::upsert_if_newer(channel, subject, reachability);
            // The second try settles a race of two first reports of one identity.
            for _ in 0..2 {
                match c
                    .reachability
                    .update_one(filter.clone(), update.clone())
                    .upsert(true)
                    .await
                {
                    Ok(_) => return Ok(true),
                    Err(e) if is_duplicate_key(&e) => {}
                    Err(e) => return Err(classify(e)),
                }
            }
            Ok(false)
        })
        .await
    }

    async fn reachability(
        &self,
        channel: &ChannelId,
        subject: &str,
    ) -> Result<Option<Reachability>, StoreError> {
        self.bounded(async |c| {
            let doc = c
                .reachability
                .find_one(ReachabilityDoc::by_key(channel, subject))
                .await
                .map_err(classify)?;
            doc.map(|d| decode::<ReachabilityDoc>("reachability", d)?.into_reachability())
                .transpose()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CommitMode;
    use crate::testing::test_store;
    use bson::doc;
    use futures::TryStreamExt;

    /// A crash between writing entries and promoting them leaves lanes without a head; the
    /// repair gives each (conversation, destination) its oldest unfinished entry as head,
    /// so the customer's lane and the desk's lane of one conversation each get one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn repair_gives_each_destination_of_a_conversation_a_head() {
        let Some((store, _database)) =
            test_store("the outbox head repair test", CommitMode::Auto).await
        else {
            return;
        };
        let entry = |id: &str, ord: i64, channel: &str| {
            doc! {
                "_id": id, "conversation_id": "conv_1", "ord": ord, "unfinished": true,
                "head": false, "message": { "channel": channel },
            }
        };
        store
            .c
            .outbox
            .insert_many([
                entry("web_1", 1, "web"),
                entry("desk_1", 2, "desk:webhook"),
                entry("web_2", 3, "web"),
                entry("desk_2", 4, "desk:webhook"),
            ])
            .await
            .expect("insert");
        assert_eq!(repair_heads(&store.c).await.expect("repair"), 2);
        let heads: Vec<Document> = store
            .c
            .outbox
            .find(doc! { "head": true })
            .await
            .expect("find")
            .try_collect()
            .await
            .expect("collect");
        let mut ids: Vec<&str> = heads.iter().filter_map(|d| d.get_str("_id").ok()).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["desk_1", "web_1"]);
        assert_eq!(
            repair_heads(&store.c).await.expect("repair again"),
            0,
            "nothing left to repair"
        );
    }
}
