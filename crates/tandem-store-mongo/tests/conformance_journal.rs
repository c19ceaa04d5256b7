//! The store conformance suite on the standalone commit path: turns commit through the
//! turn journal (what a standalone `mongod` without transactions gets), even on a replica
//! set. Same server and skipping rules as `conformance.rs`.

use std::sync::Arc;
use tandem_core::store::DynStore;
use tandem_store_mongo::CommitMode;
use tandem_store_mongo::testing::{TestDatabase, test_store};

async fn make_store() -> Option<(DynStore, TestDatabase)> {
    let (store, database) = test_store(
        "the MongoDB store conformance suite (turn journal)",
        CommitMode::Journal,
    )
    .await?;
    Some((Arc::new(store), database))
}

tandem_core::store_conformance!(make_store);
