//! Runs the store conformance suite of `tandem-core` against [`MongoStore`] on the server
//! named by `TANDEM_TEST_MONGODB_URI` (`scripts/test` starts SecantusDB and sets it), each
//! scenario on a fresh database that is dropped afterwards. Turns commit the way the
//! deployment allows (transactions on a replica set); `conformance_journal.rs` runs the
//! same suite on the standalone path. Without a server every scenario is skipped with a
//! note, except under `CI=true`, where a missing server fails them.
//!
//! ```sh
//! TANDEM_TEST_MONGODB_URI=mongodb://localhost:27017 cargo test -p tandem-store-mongo
//! ```

use std::sync::Arc;
use tandem_core::store::DynStore;
use tandem_store_mongo::CommitMode;
use tandem_store_mongo::testing::{TestDatabase, test_store};

async fn make_store() -> Option<(DynStore, TestDatabase)> {
    let (store, database) =
        test_store("the MongoDB store conformance suite", CommitMode::Auto).await?;
    Some((Arc::new(store), database))
}

tandem_core::store_conformance!(make_store);
