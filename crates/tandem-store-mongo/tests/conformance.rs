//! Runs the store conformance suite of `tandem-core` against [`MongoStore`] when
//! `TANDEM_TEST_MONGODB_URI` names a MongoDB server, each scenario on a fresh, uniquely
//! named database that is dropped afterwards. Without the variable every scenario is
//! skipped (and says so): no MongoDB server can be installed on the CI machines.
//!
//! ```sh
//! TANDEM_TEST_MONGODB_URI=mongodb://localhost:27017 cargo test -p tandem-store-mongo
//! ```
//!
//! `TANDEM_TEST_MONGODB_COMMIT=journal` forces the standalone commit path (the turn
//! journal) on a replica set, `transactions` requires transactions.

use std::sync::Arc;
use tandem_core::store::DynStore;
use tandem_store_mongo::{CommitMode, MongoStore};

/// Drops the scenario's database when the scenario ends.
struct DropDatabase(mongodb::Database);

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let db = self.0.clone();
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            eprintln!("leaving test database {} behind: no runtime", db.name());
            return;
        };
        if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            eprintln!(
                "leaving test database {} behind: single-threaded runtime",
                db.name()
            );
            return;
        }
        let dropped = tokio::task::block_in_place(|| handle.block_on(async { db.drop().await }));
        if let Err(e) = dropped {
            eprintln!("could not drop test database {}: {e}", db.name());
        }
    }
}

async fn make_store() -> Option<(DynStore, DropDatabase)> {
    let Some(uri) = std::env::var("TANDEM_TEST_MONGODB_URI")
        .ok()
        .filter(|u| !u.trim().is_empty())
    else {
        eprintln!("TANDEM_TEST_MONGODB_URI is not set: skipping the MongoDB conformance suite");
        return None;
    };
    let mode = match std::env::var("TANDEM_TEST_MONGODB_COMMIT").as_deref() {
        Ok("journal") => CommitMode::Journal,
        Ok("transactions") => CommitMode::Transactions,
        _ => CommitMode::Auto,
    };
    let database = format!("tandem_test_{}", uuid::Uuid::new_v4().simple());
    let store = MongoStore::connect_with(&uri, &database, mode)
        .await
        .unwrap_or_else(|e| {
            panic!("connecting to TANDEM_TEST_MONGODB_URI (database {database}): {e}")
        });
    let guard = DropDatabase(store.database().clone());
    Some((Arc::new(store), guard))
}

tandem_core::store_conformance!(make_store);
