//! TTL indexes on the test server (`TANDEM_TEST_MONGODB_URI`; skipped without one, failing
//! under `CI=true`): link codes expire at their `expires_at`, processed inbound records
//! (the dedupe keys) `inbound_retention` after processing, pending ones never; a changed
//! retention is applied to the existing index at the next start.

use bson::{Bson, Document, doc};
use futures::TryStreamExt;
use std::time::Duration;
use tandem_core::store::prelude::*;
use tandem_model::{ChannelId, Content, ExternalIdentity, InboundMessage, now};
use tandem_store_mongo::testing::{TestDatabase, test_uri};
use tandem_store_mongo::{MongoStore, StoreOptions};

const DAY: u64 = 24 * 60 * 60;

async fn connect(uri: &str, database: &TestDatabase, retention_days: u64) -> MongoStore {
    let options = StoreOptions {
        inbound_retention: Duration::from_secs(retention_days * DAY),
        ..StoreOptions::default()
    };
    MongoStore::connect_with_options(uri, database.name(), options)
        .await
        .expect("connect to the test server")
}

/// `expireAfterSeconds` of each TTL index of `collection`, by name.
async fn ttls(store: &MongoStore, collection: &str) -> Vec<(String, i64)> {
    let indexes: Vec<Document> = store
        .database()
        .collection::<Document>(collection)
        .list_indexes()
        .await
        .expect("listIndexes")
        .try_collect::<Vec<_>>()
        .await
        .expect("index list")
        .into_iter()
        .map(|m| bson::serialize_to_document(&m.options).expect("index options"))
        .collect();
    indexes
        .iter()
        .filter_map(|o| {
            let seconds = match o.get("expireAfterSeconds")? {
                Bson::Int32(n) => i64::from(*n),
                Bson::Int64(n) => *n,
                Bson::Double(n) => *n as i64,
                _ => return None,
            };
            Some((o.get_str("name").ok()?.to_owned(), seconds))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_codes_and_processed_inbound_records_expire() {
    let Some(uri) = test_uri("the TTL index test") else {
        return;
    };
    let database = TestDatabase::new(&uri);
    let store = connect(&uri, &database, 10).await;
    assert_eq!(
        ttls(&store, "link_codes").await,
        [("link_codes_ttl".to_owned(), 0)],
        "a link code goes at its expires_at"
    );
    assert_eq!(
        ttls(&store, "inbound").await,
        [("inbound_processed_ttl".to_owned(), (10 * DAY) as i64)]
    );

    // The TTL field is a BSON date on processed records and absent on pending ones.
    let message = |id: &str| InboundMessage {
        channel: ChannelId::new("whatsapp"),
        platform_message_id: id.into(),
        sender: ExternalIdentity::new(ChannelId::new("whatsapp"), "4915112345678"),
        sent_at: now(),
        content: Content::Text {
            text: "hello".to_owned(),
        },
    };
    let done = store
        .record_inbound(&message("wamid.done"), now())
        .await
        .expect("record");
    store
        .record_inbound(&message("wamid.pending"), now())
        .await
        .expect("record");
    assert!(
        store
            .mark_inbound_processed(done.seq, now())
            .await
            .expect("mark processed")
    );
    let inbound = store.database().collection::<Document>("inbound");
    let processed = inbound
        .find_one(doc! { "platform_message_id": "wamid.done" })
        .await
        .expect("find")
        .expect("the processed record");
    assert!(
        matches!(processed.get("processed_at"), Some(Bson::DateTime(_))),
        "{processed}"
    );
    let pending = inbound
        .find_one(doc! { "platform_message_id": "wamid.pending" })
        .await
        .expect("find")
        .expect("the pending record");
    assert!(pending.get("processed_at").is_none(), "{pending}");

    // Another retention at the next start changes the existing index.
    drop(store);
    let store = connect(&uri, &database, 45).await;
    assert_eq!(
        ttls(&store, "inbound").await,
        [("inbound_processed_ttl".to_owned(), (45 * DAY) as i64)]
    );
}
