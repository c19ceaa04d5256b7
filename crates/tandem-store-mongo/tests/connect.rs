//! `MongoStore::connect` failures that need no server: a bad connection string, an empty
//! database name, an SRV string without the `dns-srv` feature, and a server that does
//! not answer (a refused loopback port) are all `StoreError::Unavailable`.

use tandem_core::store::StoreError;
use tandem_store_mongo::MongoStore;

async fn unavailable(uri: &str, database: &str) -> String {
    match MongoStore::connect(uri, database).await {
        Err(StoreError::Unavailable(reason)) => reason,
        Err(other) => panic!("expected Unavailable for {uri:?}, got {other}"),
        Ok(store) => panic!("expected a failure for {uri:?}, connected: {store:?}"),
    }
}

#[tokio::test]
async fn malformed_connection_strings_are_unavailable() {
    let reason = unavailable("postgres://localhost/db", "tandem").await;
    assert!(reason.contains("connection string"), "{reason}");
}

#[tokio::test]
async fn an_empty_database_name_is_refused() {
    let reason = unavailable("mongodb://127.0.0.1:1", "").await;
    assert!(reason.contains("database name"), "{reason}");
}

#[cfg(not(feature = "dns-srv"))]
#[tokio::test]
async fn srv_strings_name_the_feature_they_need() {
    let reason = unavailable("mongodb+srv://cluster.example.invalid", "tandem").await;
    assert!(reason.contains("dns-srv"), "{reason}");
}

#[tokio::test]
async fn a_server_that_does_not_answer_is_unavailable() {
    let reason = unavailable(
        "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200&connectTimeoutMS=200",
        "tandem",
    )
    .await;
    assert!(!reason.is_empty());
}
