//! Durable timers (`timers`): one document per pending timer, `_id` the timer's key.
//! `available_at` is its due time while unclaimed and its lease expiry while claimed, so
//! a claim is one atomic `findOneAndUpdate` on `{available_at <= now}` (index
//! `timers_available`) that moves `available_at` to the lease expiry: two claimers never
//! get the same timer, and a timer whose claimer died comes back when the lease ends.

use crate::docs::{from_datetime, to_datetime};
use crate::error::classify;
use crate::schema::Collections;
use bson::{Document, doc};
use mongodb::IndexModel;
use mongodb::options::{IndexOptions, ReturnDocument};
use std::time::Duration;
use tandem_core::store::{NewTimer, StoreError, TimerEntry};
use tandem_model::Timestamp;

/// The collection.
pub(crate) const TIMERS: &str = "timers";

/// The longest lease honoured (a day); longer ones are capped.
const MAX_LEASE: Duration = Duration::from_secs(24 * 3600);

/// Index models of `timers`.
pub(crate) fn indexes() -> Vec<IndexModel> {
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

pub(crate) async fn schedule(c: &Collections, timer: &NewTimer) -> Result<(), StoreError> {
    let doc = document(timer);
    c.timers
        .replace_one(doc! { "_id": &timer.id }, doc)
        .upsert(true)
        .await
        .map_err(classify)?;
    Ok(())
}

/// A pending timer's document (what [`schedule`] upserts by `_id`).
pub(crate) fn document(timer: &NewTimer) -> Document {
    let due = to_datetime(timer.due_at);
    doc! {
        "_id": &timer.id, "kind": &timer.kind, "payload": &timer.payload,
        "due_at": due, "available_at": due, "attempts": 0_i64,
    }
}

pub(crate) async fn claim(
    c: &Collections,
    now: Timestamp,
    max: usize,
    lease: Duration,
) -> Result<Vec<TimerEntry>, StoreError> {
    let lease_ms = i64::try_from(lease.min(MAX_LEASE).as_millis()).unwrap_or(i64::MAX);
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
        claimed.push(entry(&doc)?);
    }
    Ok(claimed)
}

fn entry(doc: &Document) -> Result<TimerEntry, StoreError> {
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

pub(crate) async fn finish(c: &Collections, id: &str, claim: &str) -> Result<bool, StoreError> {
    let removed = c
        .timers
        .delete_one(doc! { "_id": id, "claim": claim })
        .await
        .map_err(classify)?;
    Ok(removed.deleted_count > 0)
}

pub(crate) async fn next_due(c: &Collections) -> Result<Option<Timestamp>, StoreError> {
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
}
