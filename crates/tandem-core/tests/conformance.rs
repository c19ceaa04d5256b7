//! Runs the store conformance suite against [`MemoryStore`], each scenario on a fresh,
//! empty store.

use tandem_core::testing::MemoryStore;

async fn make_store() -> (tandem_core::store::DynStore, ()) {
    (std::sync::Arc::new(MemoryStore::new()), ())
}

tandem_core::store_conformance!(make_store);
