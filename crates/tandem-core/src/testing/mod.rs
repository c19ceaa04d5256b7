//! Test support: [`MemoryStore`], an in-memory [`Store`](crate::store::Store).
//!
//! It is for tests only: the engine's and the runtime's unit tests (a store without a
//! database file or a server) and the store conformance suite
//! ([`store_conformance!`](crate::store_conformance), which it passes in full:
//! `tests/conformance.rs`). It keeps everything in one process's memory and nothing is
//! durable: dropping it loses every record.
//!
//! It keeps the whole contract of [`crate::store`], with the SQLite store's semantics as
//! the reference: outbox lanes, claims and leases, the optimistic version check of
//! `commit_turn`, the identity graph (through the shared rules of `store::merge`), the
//! GDPR erasure, timers, delivery reports, leases, shared pacing budgets, and
//! notifications that reach every feed of the store. All state sits behind one
//! `std::sync::Mutex`, taken once per method and never held across an `.await`, so every
//! method is atomic and concurrent callers are serialized.
//!
//! For runtime tests it can inject faults: [`MemoryStore::fail_commits`] makes the next
//! turns fail as if the store were unreachable.
//!
//! Available to this crate's tests and, with the `testing` feature, to other crates.

mod memory;

pub use memory::MemoryStore;

#[cfg(test)]
mod tests {
    use super::MemoryStore;
    use crate::store::prelude::*;
    use crate::store::{StoreError, Turn};
    use tandem_model::{ChannelId, ExternalIdentity, now};

    #[tokio::test]
    async fn failed_commits_change_nothing_and_then_stop() {
        let store = MemoryStore::new();
        let web = ChannelId::new("web");
        let customer = store
            .resolve_customer(&ExternalIdentity::new(web.clone(), "alice"), now())
            .await
            .unwrap();
        let conv = store
            .open_conversation(&customer.id, &web, now())
            .await
            .unwrap();
        let turn = || Turn {
            inbound_seq: None,
            conversation: conv.clone(),
            entries: Vec::new(),
            escalations: Vec::new(),
            outbox: Vec::new(),
            timers: Vec::new(),
            ai_audit: Vec::new(),
        };
        store.fail_commits(2);
        for _ in 0..2 {
            assert!(matches!(
                store.commit_turn(turn()).await,
                Err(StoreError::Unavailable(_))
            ));
        }
        let stored = store.conversation(&conv.id).await.unwrap().unwrap();
        assert_eq!(stored, conv, "a failed commit changes nothing");
        store.commit_turn(turn()).await.unwrap();
        let stored = store.conversation(&conv.id).await.unwrap().unwrap();
        assert_eq!(stored.version, conv.version + 1, "the third commit applies");
    }
}
