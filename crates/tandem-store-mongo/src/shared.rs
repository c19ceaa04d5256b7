//! What processes sharing the database coordinate through, and the key-value space: the
//! store's `KeyValue` area (the send budgets' queries are here too; their design and
//! arithmetic are in `pacing`).
//!
//! **Leases** (`leases`, `_id` the lease name): `try_lease` is one upsert filtered on
//! "held by this holder or expired"; when another holder's unexpired lease is there, the
//! filter matches nothing and the upsert's insert hits the `_id` (duplicate key): refused.
//!
//! **Notifications** (`notifications`, `_id` an increasing `seq` from the `counters`
//! document `notification_seq`; TTL index on `at`, [`NOTIFICATION_TTL`], so the
//! collection never grows): every follower opens a change stream on the collection
//! (inserts only) and resumes it with its resume token after an error. Where change
//! streams are unavailable (a standalone `mongod`), or a stream cannot be resumed, it
//! polls by `_id` instead, every [`POLL_EVERY`]: from the highest `seq` it has seen, keeping
//! a gap (a `seq` taken by a writer that has not inserted yet) open for [`GAP_WAIT`] so a
//! late insert is still delivered.
//!
//! **Key-value pairs** (`kv`): `kv_swap` is an update filtered on the expected value, or
//! an insert that the unique `(namespace, key)` index refuses when the pair exists.

use crate::MongoStore;
use crate::docs::kv::KvDoc;
use crate::docs::to_datetime;
use crate::error::{RACE_RETRIES, classify, is_duplicate_key};
use crate::pacing::{expiry_stage, millis, wait};
use crate::schema::Collections;
use async_trait::async_trait;
use bson::{Bson, DateTime, Document, doc};
use futures::StreamExt;
use mongodb::IndexModel;
use mongodb::options::{IndexOptions, ReturnDocument};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tandem_core::store::{KeyValue, Notification, NotificationFeed, StoreError};
use tandem_model::Timestamp;
use tokio::sync::mpsc;
use tracing::{debug, warn};

/// The lease collection.
pub(crate) const LEASES: &str = "leases";
/// The notification collection.
pub(crate) const NOTIFICATIONS: &str = "notifications";
/// The counter naming notifications.
const NOTIFICATION_SEQ: &str = "notification_seq";
/// How long a notification is kept (then MongoDB's TTL monitor removes it).
pub(crate) const NOTIFICATION_TTL: Duration = Duration::from_secs(600);
/// How often a follower without a change stream polls.
const POLL_EVERY: Duration = Duration::from_millis(250);
/// How long a polling follower waits for a skipped `seq` to appear.
const GAP_WAIT: Duration = Duration::from_secs(10);
/// How long one polling read may take.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest lease honoured (a day).
const MAX_LEASE: Duration = Duration::from_secs(24 * 3600);

/// Index models of `notifications`.
pub(crate) fn notification_indexes() -> Vec<IndexModel> {
    vec![
        IndexModel::builder()
            .keys(doc! { "at": 1 })
            .options(
                IndexOptions::builder()
                    .name("notifications_ttl".to_owned())
                    .expire_after(NOTIFICATION_TTL)
                    .build(),
            )
            .build(),
    ]
}

#[async_trait]
impl KeyValue for MongoStore {
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.bounded(async |c| {
            let now = to_datetime(now);
            let ttl_ms = i64::try_from(ttl.min(MAX_LEASE).as_millis()).unwrap_or(i64::MAX);
            let result = c
                .leases
                .update_one(
                    doc! { "_id": name, "$or": [ { "holder": holder }, { "expires_at": { "$lte": now } } ] },
                    doc! { "$set": {
                        "holder": holder,
                        "expires_at": now.saturating_add_millis(ttl_ms),
                        "schema_version": 1_i32,
                    } },
                )
                .upsert(true)
                .await;
            match result {
                Ok(r) => Ok(r.matched_count > 0 || r.upserted_id.is_some()),
                // Held by another, unexpired: the upsert's insert collided with it.
                Err(e) if is_duplicate_key(&e) => Ok(false),
                Err(e) => Err(classify(e)),
            }
        })
        .await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        self.bounded(async |c| {
            let r = c
                .leases
                .delete_one(doc! { "_id": name, "holder": holder })
                .await
                .map_err(classify)?;
            Ok(r.deleted_count > 0)
        })
        .await
    }

    async fn reserve_pacing(
        &self,
        key: &str,
        interval: Duration,
        burst: u32,
        now: Timestamp,
    ) -> Result<Option<Duration>, StoreError> {
        self.bounded(async |c| {
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
        })
        .await
            .map(Some)
    }

    async fn pause_pacing(&self, key: &str, until: Timestamp) -> Result<(), StoreError> {
        self.bounded(async |c| {
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
        })
        .await
    }

    async fn publish_notification(&self, notification: &Notification) -> Result<(), StoreError> {
        self.bounded(async |c| {
            let seq = crate::inbound::next_counter(c, NOTIFICATION_SEQ).await?;
            let seq = i64::try_from(seq).unwrap_or(i64::MAX);
            c.notifications
                .insert_one(doc! {
                    "_id": seq,
                    "topic": &notification.topic,
                    "origin": &notification.origin,
                    "payload": &notification.payload,
                    "at": to_datetime(tandem_model::now()),
                    "schema_version": 1_i32,
                })
                .await
                .map_err(classify)?;
            Ok(())
        })
        .await
    }

    /// A change stream when the deployment has them, polling otherwise. The stream (or the
    /// polling start) is opened before this returns, so every later notification is
    /// delivered.
    async fn notification_feed(&self) -> Result<Option<NotificationFeed>, StoreError> {
        self.bounded(async |c| {
            let (tx, rx) = mpsc::channel(1024);
            let coll = c.notifications.clone();
            let c = c.clone();
            match open_stream(&coll, None).await {
                Ok(stream) => {
                    tokio::spawn(follow_stream(c, stream, tx));
                }
                Err(e) => {
                    debug!(error = %e.kind, "No change stream on notifications; polling them.");
                    let from = newest_seq(&c).await?;
                    tokio::spawn(poll(c, from, tx));
                }
            }
            Ok(Some(rx))
        })
        .await
    }

    async fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<String>, StoreError> {
        self.bounded(async |c| {
            let doc =
                c.kv.find_one(KvDoc::by_key(namespace, key))
                    .await
                    .map_err(classify)?;
            doc.map(|d| crate::docs::decode::<KvDoc>("key-value pair", d)?.into_value())
                .transpose()
        })
        .await
    }

    async fn kv_swap(
        &self,
        namespace: &str,
        key: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, StoreError> {
        self.bounded(async |c| match expected {
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
        })
        .await
    }

    async fn kv_put(&self, namespace: &str, key: &str, value: &str) -> Result<(), StoreError> {
        self.bounded(async |c| {
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
        })
        .await
    }
}

/// Reads a stored notification; `None` (skipped, logged) when it is malformed.
fn decode(doc: &Document) -> Option<(i64, Notification)> {
    let seq = match doc.get("_id") {
        Some(Bson::Int64(n)) => *n,
        Some(Bson::Int32(n)) => i64::from(*n),
        _ => return None,
    };
    let field = |name: &str| doc.get_str(name).ok().map(str::to_owned);
    match (field("topic"), field("origin"), field("payload")) {
        (Some(topic), Some(origin), Some(payload)) => Some((
            seq,
            Notification {
                topic,
                origin,
                payload,
            },
        )),
        _ => {
            warn!(seq, "A malformed notification was skipped.");
            None
        }
    }
}

/// The highest `seq` written so far (0 when none).
async fn newest_seq(c: &Collections) -> Result<i64, StoreError> {
    let newest = tokio::time::timeout(
        READ_TIMEOUT,
        c.notifications
            .find_one(Document::new())
            .sort(doc! { "_id": -1 })
            .projection(doc! { "_id": 1 }),
    )
    .await
    .map_err(|_| StoreError::Unavailable("reading the newest notification timed out".into()))?
    .map_err(classify)?;
    Ok(newest.as_ref().and_then(decode_seq).unwrap_or(0))
}

fn decode_seq(doc: &Document) -> Option<i64> {
    match doc.get("_id") {
        Some(Bson::Int64(n)) => Some(*n),
        Some(Bson::Int32(n)) => Some(i64::from(*n)),
        _ => None,
    }
}

type Stream = mongodb::change_stream::ChangeStream<
    mongodb::change_stream::event::ChangeStreamEvent<Document>,
>;

async fn open_stream(
    coll: &mongodb::Collection<Document>,
    resume: Option<mongodb::change_stream::event::ResumeToken>,
) -> mongodb::error::Result<Stream> {
    let watch = coll
        .watch()
        .pipeline([doc! { "$match": { "operationType": "insert" } }])
        .max_await_time(Duration::from_secs(1));
    let watch = match resume {
        Some(token) => watch.resume_after(token),
        None => watch,
    };
    tokio::time::timeout(READ_TIMEOUT, watch)
        .await
        .unwrap_or_else(|_| {
            Err(mongodb::error::Error::custom(
                "opening the change stream timed out",
            ))
        })
}

/// Follows the change stream; reopens it from its resume token after an error, and falls
/// back to polling (from the highest `seq` delivered) when it cannot.
async fn follow_stream(c: Collections, mut stream: Stream, tx: mpsc::Sender<Notification>) {
    let mut last_seq = 0_i64;
    loop {
        let next = tokio::select! {
            next = stream.next() => next,
            () = tx.closed() => return,
        };
        match next {
            Some(Ok(event)) => {
                if let Some((seq, n)) = event.full_document.as_ref().and_then(decode) {
                    last_seq = last_seq.max(seq);
                    if tx.send(n).await.is_err() {
                        return;
                    }
                }
            }
            other => {
                if let Some(Err(e)) = &other {
                    warn!(error = %e.kind, "The notification change stream failed; reopening it.");
                }
                let token = stream.resume_token();
                tokio::time::sleep(Duration::from_millis(500)).await;
                match open_stream(&c.notifications, token).await {
                    Ok(s) => stream = s,
                    Err(e) => {
                        warn!(error = %e.kind, "The notification change stream cannot be resumed; polling instead.");
                        let from = if last_seq > 0 {
                            last_seq
                        } else {
                            newest_seq(&c).await.unwrap_or(0)
                        };
                        poll(c, from, tx).await;
                        return;
                    }
                }
            }
        }
    }
}

/// Polls notifications by `seq` after `from`, until the receiver is dropped.
async fn poll(c: Collections, from: i64, tx: mpsc::Sender<Notification>) {
    // Every seq at or below `floor` was delivered or given up; `seen` holds delivered
    // ones above it, `gap_since` when the oldest missing one was first noticed.
    let mut floor = from;
    let mut seen: BTreeMap<i64, ()> = BTreeMap::new();
    let mut gap_since: Option<Instant> = None;
    loop {
        tokio::select! {
            () = tokio::time::sleep(POLL_EVERY) => {}
            () = tx.closed() => return,
        }
        let read = async {
            c.notifications
                .find(doc! { "_id": { "$gt": floor } })
                .sort(doc! { "_id": 1 })
                .limit(1000)
                .await?
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<mongodb::error::Result<Vec<Document>>>()
        };
        let docs = match tokio::time::timeout(READ_TIMEOUT, read).await {
            Ok(Ok(docs)) => docs,
            Ok(Err(e)) => {
                warn!(error = %e.kind, "Polling notifications failed.");
                continue;
            }
            Err(_) => {
                warn!("Polling notifications timed out.");
                continue;
            }
        };
        for doc in &docs {
            let Some(seq) = decode_seq(doc) else { continue };
            if seen.contains_key(&seq) {
                continue;
            }
            seen.insert(seq, ());
            if let Some((_, n)) = decode(doc)
                && tx.send(n).await.is_err()
            {
                return;
            }
        }
        // Advance over what arrived in order; give a gap up after GAP_WAIT.
        while seen.remove(&(floor + 1)).is_some() {
            floor += 1;
            gap_since = None;
        }
        if let Some(&next) = seen.keys().next() {
            let since = *gap_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= GAP_WAIT {
                floor = next - 1;
                gap_since = None;
            }
        }
    }
}
