//! Send budgets shared by every process on the database (`pacing`, `_id` the budget key).
//!
//! A budget is a generic cell rate kept as one document: `tat` (the theoretical arrival
//! time of the next send) and `paused_until` (a platform asked to wait). Taking a slot is
//! one `findOneAndUpdate` with an update pipeline, `tat = max(tat, now) + interval` (an
//! insert with the first slot taken when the budget is not there yet), so
//! concurrent senders on any number of replicas are serialized by the server and together
//! never exceed the rate. `expires_at` is the later of `tat` and `paused_until`: past it
//! the document says nothing a missing one would not, and a TTL index removes it, so the
//! collection holds only budgets in use. The queries are `KeyValue::reserve_pacing` and
//! `pause_pacing` (in `shared`); this module holds the budget's index and arithmetic.

use bson::{Bson, DateTime, Document, doc};
use mongodb::IndexModel;
use mongodb::options::IndexOptions;
use std::time::Duration;

/// The pacing collection.
pub(crate) const PACING: &str = "pacing";

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

pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.min(MAX_SPAN).as_millis()).unwrap_or(i64::MAX)
}

/// The stage that keeps `expires_at` at the later of `tat` and `paused_until`.
pub(crate) fn expiry_stage() -> Document {
    doc! { "$set": {
        "expires_at": { "$max": [ "$tat", "$paused_until" ] },
        "schema_version": 1_i32,
    } }
}

/// How long from `now` the slot just taken in `stored` waits.
pub(crate) fn wait(stored: &Document, now: DateTime, interval_ms: i64, burst: u32) -> Duration {
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
