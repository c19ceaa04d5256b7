//! The database layout: collection handles, their index models (created idempotently at
//! connect) and what the deployment supports.

use crate::docs::{
    ai_audit, conversations, customers, escalations, graph, inbound, kv, outbox, profiles,
    transcript,
};
use crate::error::classify;
use bson::{Bson, Document, doc};
use futures::TryStreamExt;
use mongodb::{Collection, Database, IndexModel};
use std::time::Duration;
use tandem_core::store::StoreError;

/// Handles on the collections the store reads and writes.
#[derive(Debug, Clone)]
pub(crate) struct Collections {
    pub(crate) inbound: Collection<Document>,
    pub(crate) counters: Collection<Document>,
    pub(crate) customers: Collection<Document>,
    pub(crate) identities: Collection<Document>,
    pub(crate) conversations: Collection<Document>,
    pub(crate) transcript: Collection<Document>,
    pub(crate) escalations: Collection<Document>,
    pub(crate) ai_audit: Collection<Document>,
    pub(crate) outbox: Collection<Document>,
    pub(crate) kv: Collection<Document>,
    pub(crate) customer_events: Collection<Document>,
    pub(crate) reachability: Collection<Document>,
    pub(crate) verified_keys: Collection<Document>,
    pub(crate) identity_audit: Collection<Document>,
    pub(crate) suggested_links: Collection<Document>,
    pub(crate) link_codes: Collection<Document>,
    pub(crate) agents: Collection<Document>,
    pub(crate) handoff_queue: Collection<Document>,
    pub(crate) timers: Collection<Document>,
    pub(crate) leases: Collection<Document>,
    pub(crate) notifications: Collection<Document>,
    pub(crate) pacing: Collection<Document>,
}

impl Collections {
    /// The collections of `db`.
    pub(crate) fn new(db: &Database) -> Self {
        Self {
            inbound: db.collection(inbound::INBOUND),
            counters: db.collection(inbound::COUNTERS),
            customers: db.collection(customers::CUSTOMERS),
            identities: db.collection(customers::IDENTITIES),
            conversations: db.collection(conversations::CONVERSATIONS),
            transcript: db.collection(transcript::TRANSCRIPT),
            escalations: db.collection(escalations::ESCALATIONS),
            ai_audit: db.collection(ai_audit::AI_AUDIT),
            outbox: db.collection(outbox::OUTBOX),
            kv: db.collection(kv::KV),
            customer_events: db.collection(profiles::CUSTOMER_EVENTS),
            reachability: db.collection(profiles::REACHABILITY),
            verified_keys: db.collection(graph::VERIFIED_KEYS),
            identity_audit: db.collection(graph::IDENTITY_AUDIT),
            suggested_links: db.collection(graph::SUGGESTED_LINKS),
            link_codes: db.collection(kv::LINK_CODES),
            agents: db.collection(crate::routing::AGENTS),
            handoff_queue: db.collection(crate::routing::HANDOFF_QUEUE),
            timers: db.collection(crate::outbox::TIMERS),
            leases: db.collection(crate::shared::LEASES),
            notifications: db.collection(crate::shared::NOTIFICATIONS),
            pacing: db.collection(crate::pacing::PACING),
        }
    }
}

/// Every collection with its index models (the `_id` index is implicit).
pub(crate) fn index_plan() -> Vec<(&'static str, Vec<IndexModel>)> {
    vec![
        (inbound::INBOUND, inbound::inbound_indexes()),
        (inbound::COUNTERS, Vec::new()),
        (customers::CUSTOMERS, customers::customer_indexes()),
        (customers::IDENTITIES, customers::identity_indexes()),
        (
            conversations::CONVERSATIONS,
            conversations::conversation_indexes(),
        ),
        (transcript::TRANSCRIPT, transcript::transcript_indexes()),
        (escalations::ESCALATIONS, escalations::escalation_indexes()),
        (ai_audit::AI_AUDIT, ai_audit::ai_audit_indexes()),
        (outbox::OUTBOX, outbox::outbox_indexes()),
        (kv::KV, kv::kv_indexes()),
        (kv::LINK_CODES, kv::link_code_indexes()),
        (
            profiles::CUSTOMER_EVENTS,
            profiles::customer_event_indexes(),
        ),
        (profiles::REACHABILITY, profiles::reachability_indexes()),
        (graph::VERIFIED_KEYS, graph::verified_key_indexes()),
        (graph::IDENTITY_AUDIT, graph::audit_indexes()),
        (graph::SUGGESTED_LINKS, graph::suggested_link_indexes()),
        (crate::routing::AGENTS, crate::routing::AgentDoc::indexes()),
        (
            crate::routing::HANDOFF_QUEUE,
            crate::routing::QueueDoc::indexes(),
        ),
        (crate::outbox::TIMERS, crate::outbox::timer_indexes()),
        (crate::shared::LEASES, Vec::new()),
        (
            crate::shared::NOTIFICATIONS,
            crate::shared::notification_indexes(),
        ),
        (crate::pacing::PACING, crate::pacing::indexes()),
    ]
}

/// Indexes earlier versions created that are replaced (collection, index name): dropped
/// at start-up before the plan's indexes are created.
const OBSOLETE_INDEXES: &[(&str, &str)] = &[
    // Replaced by the unique `agents_holder` on the same key.
    (crate::routing::AGENTS, "agents_active"),
    // Partial on `$type`/`$exists`, which a query must repeat to use them (SecantusDB
    // never matched them): plain indexes on the same keys replace them.
    (customers::IDENTITIES, "identities_phone"),
    (customers::IDENTITIES, "identities_email"),
    (conversations::CONVERSATIONS, "conversations_journal"),
    (outbox::OUTBOX, "outbox_platform_id"),
];

/// Creates every collection's indexes. `createIndexes` with an existing identical index
/// is a no-op, so this runs at every start; an index whose definition changed under the
/// same name is refused by the server and reported as [`StoreError::Unavailable`].
pub(crate) async fn ensure_indexes(
    db: &Database,
    inbound_retention: Duration,
) -> Result<(), StoreError> {
    let existing = db.list_collection_names().await.map_err(classify)?;
    for (collection, index) in OBSOLETE_INDEXES {
        if existing.iter().any(|n| n == collection) {
            match db
                .collection::<Document>(collection)
                .drop_index(*index)
                .await
            {
                Ok(()) => {}
                // 27: IndexNotFound.
                Err(e) if command_code(&e) == Some(27) => {}
                Err(e) => return Err(classify(e)),
            }
        }
    }
    for (name, models) in index_plan() {
        // Transactions cannot create collections on every server version: create them all.
        if !existing.iter().any(|n| n == name) {
            match db.create_collection(name).await {
                Ok(()) => {}
                // 48: NamespaceExists (a concurrent start created it).
                Err(e) if command_code(&e) == Some(48) => {}
                Err(e) => return Err(classify(e)),
            }
        }
        if !models.is_empty() {
            db.collection::<Document>(name)
                .create_indexes(models)
                .await
                .map_err(|e| {
                    StoreError::Unavailable(format!("creating the indexes of `{name}`: {}", e.kind))
                })?;
        }
    }
    ensure_ttl(
        db,
        inbound::INBOUND,
        inbound::inbound_ttl_index(inbound_retention),
    )
    .await
}

/// Creates TTL index `model` on `collection`, first changing the expiry of an existing
/// index of that name with `collMod` (creating it anew with another expiry is refused).
async fn ensure_ttl(db: &Database, collection: &str, model: IndexModel) -> Result<(), StoreError> {
    let options = model.options.as_ref();
    let (Some(name), Some(expire)) = (
        options.and_then(|o| o.name.clone()),
        options.and_then(|o| o.expire_after),
    ) else {
        return Err(StoreError::Unavailable(format!(
            "the TTL index of `{collection}` needs a name and an expiry"
        )));
    };
    let seconds = i64::try_from(expire.as_secs()).unwrap_or(i64::MAX);
    let coll = db.collection::<Document>(collection);
    let existing: Vec<IndexModel> = coll
        .list_indexes()
        .await
        .map_err(classify)?
        .try_collect()
        .await
        .map_err(classify)?;
    let current = existing
        .iter()
        .filter_map(|m| m.options.as_ref())
        .find(|o| o.name.as_deref() == Some(name.as_str()))
        .map(|o| o.expire_after);
    if let Some(current) = current
        && current != Some(expire)
    {
        db.run_command(doc! {
            "collMod": collection,
            "index": { "name": &name, "expireAfterSeconds": seconds },
        })
        .await
        .map_err(|e| {
            StoreError::Unavailable(format!("changing the expiry of `{name}`: {}", e.kind))
        })?;
    }
    coll.create_index(model)
        .await
        .map_err(|e| StoreError::Unavailable(format!("creating the index `{name}`: {}", e.kind)))?;
    Ok(())
}

fn command_code(e: &mongodb::error::Error) -> Option<i32> {
    match e.kind.as_ref() {
        mongodb::error::ErrorKind::Command(c) => Some(c.code),
        _ => None,
    }
}

/// What the deployment is, from its `hello` reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Deployment {
    /// A single `mongod`: no transactions.
    Standalone,
    /// A replica set member (`setName`): transactions.
    ReplicaSet,
    /// A sharded cluster's `mongos` (`msg: "isdbgrid"`): transactions.
    Sharded,
}

impl Deployment {
    /// Classifies a `hello` reply.
    pub(crate) fn from_hello(hello: &Document) -> Self {
        if matches!(hello.get("msg"), Some(Bson::String(m)) if m == "isdbgrid") {
            Deployment::Sharded
        } else if matches!(hello.get("setName"), Some(Bson::String(_))) {
            Deployment::ReplicaSet
        } else {
            Deployment::Standalone
        }
    }

    /// Whether multi-document transactions are available.
    pub(crate) fn supports_transactions(self) -> bool {
        !matches!(self, Deployment::Standalone)
    }
}

/// Asks the server what it is.
pub(crate) async fn detect(db: &Database) -> Result<Deployment, StoreError> {
    let hello = db
        .run_command(doc! { "hello": 1 })
        .await
        .map_err(classify)?;
    Ok(Deployment::from_hello(&hello))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_from_hello() {
        let standalone = doc! { "isWritablePrimary": true, "maxWireVersion": 21 };
        assert_eq!(Deployment::from_hello(&standalone), Deployment::Standalone);
        assert!(!Deployment::Standalone.supports_transactions());
        let member = doc! { "isWritablePrimary": true, "setName": "rs0", "hosts": ["a:27017"] };
        assert_eq!(Deployment::from_hello(&member), Deployment::ReplicaSet);
        assert!(Deployment::ReplicaSet.supports_transactions());
        let mongos = doc! { "isWritablePrimary": true, "msg": "isdbgrid" };
        assert_eq!(Deployment::from_hello(&mongos), Deployment::Sharded);
        assert!(Deployment::Sharded.supports_transactions());
        let odd = doc! { "setName": 1, "msg": "other" };
        assert_eq!(Deployment::from_hello(&odd), Deployment::Standalone);
    }

    #[test]
    fn index_plan_covers_every_collection_once() {
        let plan = index_plan();
        let names: Vec<&str> = plan.iter().map(|(name, _)| *name).collect();
        for expected in [
            "inbound",
            "counters",
            "customers",
            "identities",
            "conversations",
            "transcript",
            "escalations",
            "ai_audit",
            "outbox",
            "kv",
            "link_codes",
            "customer_events",
            "reachability",
            "verified_keys",
            "identity_audit",
            "suggested_links",
            "agents",
            "handoff_queue",
            "timers",
            "leases",
            "notifications",
            "pacing",
        ] {
            assert_eq!(
                names.iter().filter(|n| **n == expected).count(),
                1,
                "{expected} in {names:?}"
            );
        }
        assert_eq!(names.len(), 22);
    }
}
