//! Runs the store conformance suite of `tandem-core` against [`SqliteStore`], each scenario
//! on a fresh database in its own temporary directory.

use std::any::Any;
use std::sync::Arc;
use tandem_core::store::DynStore;
use tandem_store_sqlite::SqliteStore;

async fn make_store() -> (DynStore, Box<dyn Any + Send>) {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let store = SqliteStore::open(dir.path().join("tandem.db")).expect("open the SQLite store");
    (Arc::new(store), Box::new(dir))
}

tandem_core::store_conformance!(make_store);
