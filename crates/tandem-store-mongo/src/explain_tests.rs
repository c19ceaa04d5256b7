//! Every hot query, built by the same functions the store uses, is explained by the test
//! server (`TANDEM_TEST_MONGODB_URI`): its winning plan must scan an index (IXSCAN, or the
//! `_id` fast paths), never the whole collection (COLLSCAN). Skipped without a server,
//! failing under `CI=true` (see [`crate::testing`]).
//!
//! SecantusDB's planner (the CI server) uses an index only when every predicate of the
//! filter is on a key of the index or is its partial filter, and never for `$or`, where
//! mongod scans the index on the key prefix and filters the rest of the fetched documents.
//! On SecantusDB a query with such residual predicates is explained in its index-prefix
//! form instead (so a missing index still fails), and the two queries whose prefix it
//! still does not plan are listed with the reason (`docs/MONGODB.md` has the details).
//! On any other server every query is explained as the store sends it.

use crate::docs::conversations::ConversationDoc;
use crate::docs::customers::{CustomerDoc, IdentityDoc};
use crate::docs::escalations::EscalationDoc;
use crate::docs::graph::{AuditDoc, SuggestedLinkDoc, VerifiedKeyDoc};
use crate::docs::inbound::InboundDoc;
use crate::docs::kv::KvDoc;
use crate::docs::outbox::OutboxDoc;
use crate::docs::profiles::{CustomerEventDoc, ReachabilityDoc};
use crate::docs::to_datetime;
use crate::docs::transcript::TranscriptDoc;
use crate::routing::{AgentDoc, QueueDoc};
use crate::schema::Collections;
use crate::testing::test_store;
use crate::{CommitMode, MongoStore};
use bson::{Bson, Document, doc};
use mongodb::Collection;
use tandem_core::store::VerifiedKey;
use tandem_model::{
    ChannelId, ConversationId, CustomerId, DeliveryStatus, DeliveryTarget, DeliveryUpdate,
    ExternalIdentity, OutboxId, now,
};

/// One hot query: where it runs and what it asks.
struct Hot<'a> {
    what: &'static str,
    collection: &'a Collection<Document>,
    filter: Document,
    sort: Option<Document>,
    /// `count` instead of `find`.
    count: bool,
    on_secantus: OnSecantus,
}

/// How a query is checked on SecantusDB (see the module docs).
enum OnSecantus {
    /// As it is.
    Same,
    /// Its index-prefix form (the residual predicates removed).
    Prefix(Document),
    /// Not checked there, for this reason.
    Unplanned(&'static str),
}

fn find<'a>(what: &'static str, collection: &'a Collection<Document>, filter: Document) -> Hot<'a> {
    Hot {
        what,
        collection,
        filter,
        sort: None,
        count: false,
        on_secantus: OnSecantus::Same,
    }
}

impl Hot<'_> {
    fn sorted(mut self, sort: Document) -> Self {
        self.sort = Some(sort);
        self
    }

    fn counted(mut self) -> Self {
        self.count = true;
        self
    }

    /// On SecantusDB, explain `prefix` instead.
    fn prefix(mut self, prefix: Document) -> Self {
        self.on_secantus = OnSecantus::Prefix(prefix);
        self
    }

    /// On SecantusDB, not explained (`why`).
    fn unplanned(mut self, why: &'static str) -> Self {
        self.on_secantus = OnSecantus::Unplanned(why);
        self
    }
}

fn hot_queries(c: &Collections) -> Vec<Hot<'_>> {
    let customer = CustomerId::new("cus_1");
    let other = CustomerId::new("cus_2");
    let conversation = ConversationId::new("conv_1");
    let identity = ExternalIdentity::new(ChannelId::new("whatsapp"), "4915112345678");
    let email = VerifiedKey::email("ann@example.org").expect("an email key");
    let phone = VerifiedKey::phone("+4915112345678").expect("a phone key");
    let t = now();
    let report = |target| DeliveryUpdate {
        channel: ChannelId::new("messenger"),
        target,
        status: DeliveryStatus::Delivered,
        at: t,
    };
    let (by_message, _) = OutboxDoc::reported(&report(DeliveryTarget::Message {
        platform_message_id: "wamid.1".into(),
    }))
    .expect("a delivery report filter");
    let (up_to, _) = OutboxDoc::reported(&report(DeliveryTarget::UpTo {
        recipient: "psid-1".into(),
        watermark: t,
    }))
    .expect("a watermark report filter");
    vec![
        find(
            "inbound dedupe",
            &c.inbound,
            InboundDoc::by_key("whatsapp", "wamid.1"),
        ),
        find("pending inbound", &c.inbound, InboundDoc::pending())
            .sorted(InboundDoc::by_seq_order()),
        find(
            "a sender's earlier pending inbound",
            &c.inbound,
            bson::doc! { "processed": false, "_id": { "$lt": 42_i64 },
            "channel": "whatsapp", "sender.subject": "4915112345678" },
        )
        .sorted(InboundDoc::by_seq_order())
        .prefix(bson::doc! { "processed": false, "_id": { "$lt": 42_i64 } }),
        find(
            "identity by key",
            &c.identities,
            IdentityDoc::by_key(&identity),
        ),
        find(
            "a customer's identities",
            &c.identities,
            IdentityDoc::of_customer(&customer),
        )
        .sorted(IdentityDoc::oldest_first()),
        find(
            "identities by verified email",
            &c.identities,
            IdentityDoc::with_email("ann@example.org"),
        ),
        find(
            "other carriers of an email",
            &c.identities,
            IdentityDoc::carrying(&email, &customer),
        )
        .prefix(doc! { "email_folded": "ann@example.org" }),
        find(
            "other carriers of a phone",
            &c.identities,
            IdentityDoc::carrying(&phone, &customer),
        )
        .prefix(doc! { "phone": "+4915112345678" }),
        find(
            "customer by id",
            &c.customers,
            CustomerDoc::by_id(&customer),
        ),
        find(
            "open conversation of a customer",
            &c.conversations,
            ConversationDoc::open_of(&customer),
        ),
        find(
            "a customer's conversations",
            &c.conversations,
            ConversationDoc::of_customer(&customer),
        )
        .sorted(ConversationDoc::newest_first()),
        find(
            "conversations changed in a period (health figures)",
            &c.conversations,
            ConversationDoc::active_between(t, t),
        )
        .sorted(ConversationDoc::by_update())
        .prefix(doc! { "updated_at": { "$gte": to_datetime(t) } }),
        find(
            "agent entries of conversations (health figures)",
            &c.transcript,
            TranscriptDoc::agent_entries_of(&["conv_1", "conv_2"]),
        )
        .prefix(doc! { "conversation_id": { "$in": ["conv_1", "conv_2"] } }),
        find(
            "unapplied turn journals",
            &c.conversations,
            ConversationDoc::journals_before(to_datetime(t)),
        ),
        find(
            "newest transcript of a conversation",
            &c.transcript,
            TranscriptDoc::of_conversation(&conversation),
        )
        .sorted(TranscriptDoc::newest_first()),
        find(
            "escalations of a conversation",
            &c.escalations,
            EscalationDoc::of_conversation(&conversation),
        )
        .sorted(EscalationDoc::oldest_first()),
        find("outbox claim", &c.outbox, OutboxDoc::claimable(t, &[]))
            .sorted(OutboxDoc::due_first()),
        find("next outbox due", &c.outbox, OutboxDoc::heads()).sorted(OutboxDoc::due_first()),
        find(
            "oldest unfinished entry of a conversation for one destination",
            &c.outbox,
            OutboxDoc::unfinished_of(&conversation, "web"),
        )
        .sorted(OutboxDoc::oldest()),
        find("outbox depth", &c.outbox, OutboxDoc::unfinished()).counted(),
        find(
            "finishing a claimed entry",
            &c.outbox,
            OutboxDoc::claimed(&OutboxId::new("out_1"), "claim"),
        )
        .prefix(doc! { "_id": "out_1" }),
        find("delivery report for a message", &c.outbox, by_message)
            .sorted(OutboxDoc::sent_first())
            .prefix(doc! { "message.channel": "messenger", "platform_message_id": "wamid.1" }),
        find("delivery report up to a watermark", &c.outbox, up_to)
            .sorted(OutboxDoc::sent_first())
            .unplanned("partial index on `status: \"sent\"` beside a range on `finished_at`"),
        find(
            "key-value entry",
            &c.kv,
            KvDoc::by_key("webchat", "session"),
        ),
        find(
            "a customer's events since",
            &c.customer_events,
            CustomerEventDoc::of_customer_since(&customer, t),
        )
        .sorted(CustomerEventDoc::oldest_first()),
        find(
            "reachability",
            &c.reachability,
            ReachabilityDoc::by_key(&ChannelId::new("whatsapp"), "4915112345678"),
        ),
        find(
            "verified key holder",
            &c.verified_keys,
            VerifiedKeyDoc::by_key(&email),
        ),
        find(
            "a customer's verified keys",
            &c.verified_keys,
            VerifiedKeyDoc::of_customer(&customer),
        ),
        find(
            "a customer's identity audit",
            &c.identity_audit,
            AuditDoc::of_customer(&customer),
        )
        .sorted(AuditDoc::oldest_first())
        .prefix(doc! { "customer_id": "cus_1" }),
        find(
            "merges or unlinks separating two customers",
            &c.identity_audit,
            AuditDoc::separating(&customer, &other),
        )
        .prefix(doc! { "customer_id": "cus_1" }),
        find("unapplied merges", &c.identity_audit, AuditDoc::unapplied())
            .prefix(doc! { "applied": false }),
        find(
            "a customer's suggested links",
            &c.suggested_links,
            SuggestedLinkDoc::of_customer(&customer),
        )
        .sorted(SuggestedLinkDoc::oldest_first())
        .prefix(doc! { "customer_id": "cus_1" }),
        find(
            "a customer's active link codes",
            &c.link_codes,
            crate::graph::active_link_codes(&customer, to_datetime(t)),
        )
        .counted()
        .prefix(doc! { "customer_id": "cus_1", "expires_at": { "$gt": to_datetime(t) } }),
        find(
            "the agent holding a handoff",
            &c.agents,
            AgentDoc::holding("ho_1"),
        ),
        find(
            "agent claim",
            &c.agents,
            AgentDoc::can_take("billing", "ho_1"),
        )
        .sorted(doc! { "load": 1, "_id": 1 })
        .prefix(doc! { "status": "available", "skills": "billing" }),
        find("waiting handoffs", &c.handoff_queue, doc! {}).sorted(QueueDoc::queue_order()),
    ]
}

/// Every `stage` and `indexName` of a plan tree (any nesting: `inputStage`,
/// `inputStages`, `queryPlan`, ...).
fn plan_facts(value: &Bson, stages: &mut Vec<String>, indexes: &mut Vec<String>) {
    match value {
        Bson::Document(d) => {
            for (key, v) in d {
                match (key.as_str(), v) {
                    ("stage", Bson::String(s)) => stages.push(s.clone()),
                    ("indexName", Bson::String(s)) => indexes.push(s.clone()),
                    _ => plan_facts(v, stages, indexes),
                }
            }
        }
        Bson::Array(items) => {
            for v in items {
                plan_facts(v, stages, indexes);
            }
        }
        _ => {}
    }
}

/// Whether a stage reads through an index (`_id` fast paths included).
fn index_stage(stage: &str) -> bool {
    stage.contains("IXSCAN")
        || stage == "IDHACK"
        || stage == "COUNT_SCAN"
        || stage == "DISTINCT_SCAN"
}

async fn explain(store: &MongoStore, q: &Hot<'_>, filter: &Document) -> Document {
    let collection = q.collection.name();
    let command = if q.count {
        doc! { "count": collection, "query": filter.clone() }
    } else {
        let mut find = doc! { "find": collection, "filter": filter.clone(), "limit": 10_i64 };
        if let Some(sort) = &q.sort {
            find.insert("sort", sort.clone());
        }
        find
    };
    store
        .database()
        .run_command(doc! { "explain": command, "verbosity": "queryPlanner" })
        .await
        .unwrap_or_else(|e| panic!("explain of {}: {e}", q.what))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hot_query_scans_an_index() {
    let Some((store, _database)) = test_store("the hot-query explain test", CommitMode::Auto).await
    else {
        return;
    };
    let secantus = store
        .database()
        .run_command(doc! { "buildInfo": 1 })
        .await
        .expect("buildInfo")
        .contains_key("secantusVersion");
    let mut collscans = Vec::new();
    for q in hot_queries(&store.c) {
        let filter = match (&q.on_secantus, secantus) {
            (_, false) | (OnSecantus::Same, true) => &q.filter,
            (OnSecantus::Prefix(prefix), true) => prefix,
            (OnSecantus::Unplanned(why), true) => {
                eprintln!("{:<45} not checked on SecantusDB: {why}", q.what);
                continue;
            }
        };
        let answer = explain(&store, &q, filter).await;
        let winning = answer
            .get_document("queryPlanner")
            .and_then(|p| p.get_document("winningPlan"))
            .unwrap_or_else(|e| {
                panic!("explain of {} has no winning plan ({e}): {answer}", q.what)
            });
        let (mut stages, mut indexes) = (Vec::new(), Vec::new());
        plan_facts(&Bson::Document(winning.clone()), &mut stages, &mut indexes);
        eprintln!(
            "{:<45} {:<16} {:?} {:?}",
            q.what,
            q.collection.name(),
            stages,
            indexes
        );
        if stages.iter().any(|s| s == "COLLSCAN") || !stages.iter().any(|s| index_stage(s)) {
            collscans.push(format!("{} ({}): {stages:?}", q.what, q.collection.name()));
        }
    }
    assert!(
        collscans.is_empty(),
        "hot queries without an index scan:\n  {}",
        collscans.join("\n  ")
    );
}
