//! Send budgets shared by every process on the database (`pacing`, `_id` the budget key).
//!
//! A budget is a generic cell rate kept as one document: `tat` (the theoretical arrival
//! time of the next send) and `paused_until` (a platform asked to wait). Taking a slot is
//! one `findOneAndUpdate` with an update pipeline, `tat = max(tat, now) + interval` (an
//! insert with the first slot taken when the budget is not there yet), so
//! concurrent senders on any number of replicas are serialized by the server and together
//! never exceed the rate. `expires_at` is the later of `tat` and `paused_until`: past it
//! the document says nothing a missing one would not, and a TTL index removes it, so the
//! collection holds only budgets in use.

use crate::docs::to_datetime;
use crate::error::{classify, is_duplicate_key};
use crate::schema::Collections;
use bson::{Bson, DateTime, Document, doc};
use mongodb::IndexModel;
use mongodb::options::{IndexOptions, ReturnDocument};
use std::time::Duration;
use tandem_core::store::StoreError;
use tandem_model::Timestamp;

/// The pacing collection.
pub(crate) const PACING: &str = "pacing";

/// How often a reservation that lost an insert race is retried.
const RACE_RETRIES: usize = 5;

/// The longest interval or pause honoured (an hour).
const MAX_SPAN: Duration = Duration::from_secs(3600);

/// Index models of `pacing`: a TTL on `expires_at`.
pub(crate) fn indexes() -> Vec<IndexModel> {
    vec![
        IndexModel::builder()
            .keys(doc! { "expires_at": 1 })
            .options(
                IndexOptions::builder()
                    .name("pacing_ttl".to_owned())
                    .expire_after(Duration::ZERO)
                    .build(),
            )
            .build(),
    ]
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.min(MAX_SPAN).as_millis()).unwrap_or(i64::MAX)
}

/// The stage that keeps `expires_at` at the later of `tat` and `paused_until`.
fn expiry_stage() -> Document {
    doc! { "$set": {
        "expires_at": { "$max": [ "$tat", "$paused_until" ] },
        "schema_version": 1_i32,
    } }
}

/// See [`KeyValue::reserve_pacing`](tandem_core::store::KeyValue::reserve_pacing).
pub(crate) async fn reserve(
    c: &Collections,
    key: &str,
    interval: Duration,
    burst: u32,
    now: Timestamp,
) -> Result<Duration, StoreError> {
    let now = to_datetime(now);
    let interval_ms = millis(interval);
    let pipeline = vec![
        doc! { "$set": { "tat": { "$add": [ { "$max": [ "$tat", now ] }, interval_ms ] } } },
        expiry_stage(),
    ];
    // An update of an existing budget (the steady state: one round trip); a budget not
    // there yet is inserted with its first slot taken, and when another caller inserted
    // it first (duplicate key) the update is tried again. Not an upsert: SecantusDB
    // answers some concurrent upserts of one `_id` with no document although it applied
    // them, which would take a slot twice.
    let mut attempts = 0;
    let stored = loop {
        let updated = c
            .pacing
            .find_one_and_update(doc! { "_id": key }, pipeline.clone())
            .return_document(ReturnDocument::After)
            .await
            .map_err(classify)?;
        if let Some(doc) = updated {
            break doc;
        }
        let tat = DateTime::from_millis(now.timestamp_millis().saturating_add(interval_ms));
        let first = doc! {
            "_id": key,
            "tat": tat,
            "expires_at": tat,
            "schema_version": 1_i32,
        };
        match c.pacing.insert_one(first.clone()).await {
            Ok(_) => break first,
            Err(e) if is_duplicate_key(&e) && attempts < RACE_RETRIES => attempts += 1,
            Err(e) => return Err(classify(e)),
        }
    };
    Ok(wait(&stored, now, interval_ms, burst))
}

/// How long from `now` the slot just taken in `stored` waits.
fn wait(stored: &Document, now: DateTime, interval_ms: i64, burst: u32) -> Duration {
    let now_ms = now.timestamp_millis();
    let at = |field: &str| match stored.get(field) {
        Some(Bson::DateTime(t)) => Some(t.timestamp_millis()),
        _ => None,
    };
    // The slot starts one interval before the new `tat`; `burst` slots may run ahead.
    let ahead = interval_ms.saturating_mul(i64::from(burst.max(1) - 1));
    let allowed_at = at("tat").map_or(now_ms, |tat| {
        tat.saturating_sub(interval_ms).saturating_sub(ahead)
    });
    let until = allowed_at.max(at("paused_until").unwrap_or(now_ms));
    Duration::from_millis(u64::try_from(until.saturating_sub(now_ms)).unwrap_or(0))
}

/// See [`KeyValue::pause_pacing`](tandem_core::store::KeyValue::pause_pacing).
pub(crate) async fn pause(c: &Collections, key: &str, until: Timestamp) -> Result<(), StoreError> {
    let until = to_datetime(until);
    let pipeline = vec![
        doc! { "$set": { "paused_until": { "$max": [ "$paused_until", until ] } } },
        expiry_stage(),
    ];
    let mut attempts = 0;
    loop {
        let r = c
            .pacing
            .update_one(doc! { "_id": key }, pipeline.clone())
            .await
            .map_err(classify)?;
        if r.matched_count > 0 {
            return Ok(());
        }
        let paused = doc! {
            "_id": key,
            "paused_until": until,
            "expires_at": until,
            "schema_version": 1_i32,
        };
        match c.pacing.insert_one(paused).await {
            Ok(_) => return Ok(()),
            Err(e) if is_duplicate_key(&e) && attempts < RACE_RETRIES => attempts += 1,
            Err(e) => return Err(classify(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_is_the_slot_start_less_the_burst_or_the_pause() {
        let now = DateTime::from_millis(10_000);
        // Third slot at 100 ms spacing with a burst of 3: at once.
        let d = doc! { "tat": DateTime::from_millis(10_300) };
        assert_eq!(wait(&d, now, 100, 3), Duration::ZERO);
        // Fourth: one interval later.
        let d = doc! { "tat": DateTime::from_millis(10_400) };
        assert_eq!(wait(&d, now, 100, 3), Duration::from_millis(100));
        // A pause beyond the rate's wait wins.
        let d = doc! { "tat": DateTime::from_millis(10_400), "paused_until": DateTime::from_millis(15_000) };
        assert_eq!(wait(&d, now, 100, 3), Duration::from_secs(5));
        // A malformed document paces nothing rather than failing the send.
        let d = doc! { "tat": "soon" };
        assert_eq!(wait(&d, now, 100, 1), Duration::ZERO);
    }
}
