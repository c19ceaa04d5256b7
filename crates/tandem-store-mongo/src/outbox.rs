//! The outbox operations: claiming heads, completing, retrying and failing entries, head
//! promotion and the outbox's reads. The head rule is described on
//! [`OutboxDoc`].

use crate::docs::outbox::OutboxDoc;
use crate::docs::{decode, id_only, to_datetime};
use crate::error::classify;
use crate::schema::Collections;
use bson::Document;
use mongodb::options::ReturnDocument;
use std::time::Duration;
use tandem_core::store::{OutboxEntry, StoreError};
use tandem_model::{ConversationId, Delivery, DeliveryUpdate, OutboxId, Timestamp};

/// The longest lease honoured (a year); longer ones are capped.
const MAX_LEASE: Duration = Duration::from_secs(365 * 24 * 3600);

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

/// See [`WorkQueue::claim_outbox`](tandem_core::store::WorkQueue::claim_outbox).
///
/// Each claim is one `findOneAndUpdate` on a due head that moves its `due_at` to the
/// lease expiry, so concurrent claimers never get the same entry. An entry that cannot
/// be read is parked as `failed` (with the reason in `last_error`) so that one bad
/// document cannot block the outbox.
pub(crate) async fn claim(
    c: &Collections,
    now: Timestamp,
    max: usize,
    lease: Duration,
) -> Result<Vec<OutboxEntry>, StoreError> {
    let lease_ms = i64::try_from(lease.min(MAX_LEASE).as_millis()).unwrap_or(i64::MAX);
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

/// See [`WorkQueue::complete_outbox`](tandem_core::store::WorkQueue::complete_outbox).
pub(crate) async fn complete(
    c: &Collections,
    id: &OutboxId,
    claim: &str,
    delivery: &Delivery,
    now: Timestamp,
) -> Result<bool, StoreError> {
    finish(c, id, claim, OutboxDoc::complete(delivery, now)).await
}

/// See [`WorkQueue::fail_outbox`](tandem_core::store::WorkQueue::fail_outbox).
pub(crate) async fn fail(
    c: &Collections,
    id: &OutboxId,
    claim: &str,
    error: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    finish(c, id, claim, OutboxDoc::fail(error, now)).await
}

/// See [`WorkQueue::retry_outbox`](tandem_core::store::WorkQueue::retry_outbox). The entry stays
/// its conversation's head.
/// See [`WorkQueue::renew_outbox`](tandem_core::store::WorkQueue::renew_outbox).
pub(crate) async fn renew(
    c: &Collections,
    id: &OutboxId,
    claim: &str,
    expires_at: Timestamp,
) -> Result<bool, StoreError> {
    let result = c
        .outbox
        .update_one(OutboxDoc::claimed(id, claim), OutboxDoc::renew(expires_at))
        .await
        .map_err(classify)?;
    Ok(result.matched_count == 1)
}

pub(crate) async fn retry(
    c: &Collections,
    id: &OutboxId,
    claim: &str,
    next_attempt_at: Timestamp,
    error: &str,
) -> Result<bool, StoreError> {
    let result = c
        .outbox
        .update_one(
            OutboxDoc::claimed(id, claim),
            OutboxDoc::retry(next_attempt_at, error),
        )
        .await
        .map_err(classify)?;
    Ok(result.matched_count == 1)
}

/// See [`WorkQueue::outbox_entry`](tandem_core::store::WorkQueue::outbox_entry).
pub(crate) async fn entry(
    c: &Collections,
    id: &OutboxId,
) -> Result<Option<OutboxEntry>, StoreError> {
    let doc = c
        .outbox
        .find_one(OutboxDoc::by_id(id))
        .await
        .map_err(classify)?;
    doc.map(|d| decode::<OutboxDoc>("outbox entry", d)?.into_entry())
        .transpose()
}

/// See [`WorkQueue::outbox_depth`](tandem_core::store::WorkQueue::outbox_depth).
pub(crate) async fn depth(c: &Collections) -> Result<u64, StoreError> {
    c.outbox
        .count_documents(OutboxDoc::unfinished())
        .await
        .map_err(classify)
}

/// See [`WorkQueue::next_outbox_due`](tandem_core::store::WorkQueue::next_outbox_due): the
/// earliest `due_at` of a head.
pub(crate) async fn next_due(c: &Collections) -> Result<Option<Timestamp>, StoreError> {
    let head = c
        .outbox
        .find_one(OutboxDoc::heads())
        .sort(OutboxDoc::due_first())
        .projection(OutboxDoc::due_projection())
        .await
        .map_err(classify)?;
    head.map(|h| OutboxDoc::due_at_of(&h)).transpose()
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
    crate::records::collect(cursor, |row| OutboxDoc::lane_of(&row)).await
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

/// See [`WorkQueue::record_delivery_status`](tandem_core::store::WorkQueue::record_delivery_status).
///
/// The entries the report names are listed, then each is moved by its own
/// `findOneAndUpdate` that re-checks the report's condition, so a repeated or concurrent
/// report changes (and returns) an entry at most once.
pub(crate) async fn record_delivery_status(
    c: &Collections,
    update: &DeliveryUpdate,
) -> Result<Vec<OutboxEntry>, StoreError> {
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
    let ids = crate::records::collect(cursor, |d| OutboxDoc::id_of(&d)).await?;
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
