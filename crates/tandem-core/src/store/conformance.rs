//! The store conformance suite: the executable form of the [`Store`](super::Store) contract.
//!
//! Every scenario is a `pub async fn(DynStore)` that panics, with a message naming the
//! broken rule, when the store misbehaves. A backend runs all of them with one macro call
//! in its own test crate (tokio with `macros` and `rt-multi-thread` must be a
//! dev-dependency there):
//!
//! ```ignore
//! // crates/tandem-store-sqlite/tests/conformance.rs
//! async fn make_store() -> (tandem_core::store::DynStore, Box<dyn std::any::Any + Send>) {
//!     let dir = tempfile::tempdir().unwrap();
//!     let store = SqliteStore::open(dir.path().join("tandem.db")).unwrap();
//!     (std::sync::Arc::new(store), Box::new(dir))
//! }
//! tandem_core::store_conformance!(make_store);
//! ```
//!
//! The maker returns a fresh, empty store and a guard kept alive until the scenario ends
//! (a temporary directory, a database to drop). A maker may instead return
//! `Option<(DynStore, guard)>`; `None` skips the scenario (a MongoDB suite without a
//! server), see [`MadeStore`]. Each scenario runs under a timeout of [`SCENARIO_TIMEOUT`].
//!
//! Timestamps are made with [`tandem_model::now`] (millisecond precision, what every store
//! keeps) and the outbox scenarios pass explicit `now` values instead of sleeping.

use super::{
    ConversationRecord, ConversationState, ConversationStatus, CustomerEvent, CustomerUpdate,
    DynStore, EscalationEvent, NewOutboxEntry, NewTimer, OutboxEntry, OutboxStatus, Owner, Reason,
    StoreError, Turn,
};
use std::any::Any;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tandem_model::{
    Button, ChannelId, Content, ConversationId, CustomerId, Delivery, DeliveryState, EscalationId,
    ExternalIdentity, InboundMessage, MediaKind, MessageId, OutboundContent, OutboundMessage,
    OutboxId, Party, PlatformMessageId, Timestamp, TranscriptEntry, now,
};

mod identity;
pub use identity::{
    claimed_facts_suggest_once_and_never_merge, concurrent_verified_key_resolution,
    erase_customer_removes_personal_data, link_and_unlink_identity,
    link_codes_are_single_use_expiring_and_limited, merge_then_unmerge_restores,
    unverified_claims_only_suggest, verified_key_joins_new_identity,
    verified_key_merges_existing_customers,
};

mod routing;
pub use routing::{
    agent_claims_respect_skill_status_and_capacity, agents_round_trip,
    concurrent_agent_claims_respect_capacity, handoff_queue_order,
};

mod shared;
pub use shared::{
    concurrent_try_lease_one_wins, leases_have_one_holder_until_expiry,
    notifications_reach_every_feed_in_order, pending_inbound_before_is_per_sender_and_ordered,
    shared_pacing_keeps_one_rate,
};

mod drafts;
pub use drafts::drafts_survive_a_reload_and_are_decided_once;
mod ai_audit;
pub use ai_audit::ai_audit_records_follow_their_turn;

mod delivery;
pub use delivery::{
    delivery_failure_marks_failed, delivery_status_moves_forward,
    delivery_watermark_covers_earlier_messages, reachability_newest_report_wins,
};

/// How long one scenario may take before it fails as hung.
pub const SCENARIO_TIMEOUT: Duration = Duration::from_secs(120);

/// What a store maker may return: a store with its guard, or `None` to skip.
pub trait MadeStore {
    /// The store and the guard to keep alive, or `None` when the backend is unavailable.
    fn into_made(self) -> Option<(DynStore, Box<dyn Any + Send>)>;
}

impl<G: Send + 'static> MadeStore for (DynStore, G) {
    fn into_made(self) -> Option<(DynStore, Box<dyn Any + Send>)> {
        Some((self.0, Box::new(self.1)))
    }
}

impl<G: Send + 'static> MadeStore for Option<(DynStore, G)> {
    fn into_made(self) -> Option<(DynStore, Box<dyn Any + Send>)> {
        self.and_then(MadeStore::into_made)
    }
}

/// Runs one scenario on a made store (used by [`store_conformance!`](crate::store_conformance)).
pub async fn run_scenario<M, F, Fut>(name: &'static str, made: M, scenario: F)
where
    M: MadeStore,
    F: FnOnce(DynStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some((store, guard)) = made.into_made() else {
        eprintln!("store conformance scenario `{name}` skipped: the maker returned no store");
        return;
    };
    if tokio::time::timeout(SCENARIO_TIMEOUT, scenario(store))
        .await
        .is_err()
    {
        panic!("store conformance scenario `{name}` did not finish within {SCENARIO_TIMEOUT:?}");
    }
    drop(guard);
}

/// Expands to the conformance suites of the store's areas, one module per area
/// (`store`, `inbound_log`, `identities`, `conversations`, `work_queue`, `reporting`,
/// `routing`, `key_value`, after the traits in [`crate::store`]) with one
/// `#[tokio::test]` per scenario, each calling `$maker().await` for a fresh store.
/// `store_conformance!(maker)` runs every area; `store_conformance!(maker; routing,
/// key_value)` only those. See the [module docs](crate::store::conformance).
#[macro_export]
macro_rules! store_conformance {
    ($maker:path) => {
        $crate::store_conformance!($maker; store, inbound_log, identities, conversations,
            work_queue, reporting, routing, key_value);
    };
    ($maker:path; $($area:ident),+ $(,)?) => {
        $(
            mod $area {
                #[allow(unused_imports)]
                use super::*;
                $crate::store_conformance!(@area $maker; $area);
            }
        )+
    };
    (@area $maker:path; store) => {
        $crate::store_conformance!(@scenarios $maker; ping_and_flush);
    };
    (@area $maker:path; inbound_log) => {
        $crate::store_conformance!(@scenarios $maker; inbound_dedupe, pending_inbound_order_and_limit, commit_turn_processes_inbound_once, mark_inbound_processed_without_turn, concurrent_record_inbound, pending_inbound_before_is_per_sender_and_ordered);
    };
    (@area $maker:path; identities) => {
        $crate::store_conformance!(@scenarios $maker; customer_profiles_and_events, customer_resolution, concurrent_resolve_customer, verified_key_joins_new_identity, verified_key_merges_existing_customers, unverified_claims_only_suggest, claimed_facts_suggest_once_and_never_merge, merge_then_unmerge_restores, link_and_unlink_identity, concurrent_verified_key_resolution, erase_customer_removes_personal_data, link_codes_are_single_use_expiring_and_limited);
    };
    (@area $maker:path; conversations) => {
        $crate::store_conformance!(@scenarios $maker; conversation_lifecycle, commit_turn_applies_everything, stale_turn_conflicts_and_applies_nothing, duplicate_transcript_seq_conflicts, transcript_order_and_limit, transcript_round_trips_all_fields, concurrent_open_conversation, concurrent_turns_one_wins, ai_audit_records_follow_their_turn, drafts_survive_a_reload_and_are_decided_once);
    };
    (@area $maker:path; work_queue) => {
        $crate::store_conformance!(@scenarios $maker; outbox_claim_and_complete, outbox_retry, outbox_fail_unblocks_next, outbox_lease_expiry, outbox_lease_renewal, outbox_per_conversation_order, outbox_order_is_per_destination, outbox_depth_and_next_due, concurrent_claim_outbox, timers_fire_once_per_lease_and_reschedule, a_turn_schedules_its_timers_with_its_commit, delivery_status_moves_forward, delivery_failure_marks_failed, delivery_watermark_covers_earlier_messages, reachability_newest_report_wins);
    };
    (@area $maker:path; reporting) => {
        $crate::store_conformance!(@scenarios $maker; escalations_round_trip_and_counts, conversation_activity_by_period);
    };
    (@area $maker:path; routing) => {
        $crate::store_conformance!(@scenarios $maker; agents_round_trip, agent_claims_respect_skill_status_and_capacity, concurrent_agent_claims_respect_capacity, handoff_queue_order);
    };
    (@area $maker:path; key_value) => {
        $crate::store_conformance!(@scenarios $maker; kv_round_trip, kv_swap_is_a_compare_and_set, leases_have_one_holder_until_expiry, concurrent_try_lease_one_wins, shared_pacing_keeps_one_rate, notifications_reach_every_feed_in_order);
    };
    (@scenarios $maker:path; $($scenario:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $scenario() {
                $crate::store::conformance::run_scenario(
                    ::core::stringify!($scenario),
                    $maker().await,
                    $crate::store::conformance::$scenario,
                )
                .await;
            }
        )+
    };
}

// ---- helpers ---------------------------------------------------------------------------

trait Must<T> {
    fn must(self, what: &str) -> T;
}

impl<T> Must<T> for Result<T, StoreError> {
    #[track_caller]
    fn must(self, what: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => panic!("{what} failed: {e}"),
        }
    }
}

fn web() -> ChannelId {
    ChannelId::new("web")
}

fn sms() -> ChannelId {
    ChannelId::new("sms")
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn text(t: &str) -> Content {
    Content::Text { text: t.to_owned() }
}

fn inbound(channel: ChannelId, id: &str, subject: &str, body: &str) -> InboundMessage {
    InboundMessage {
        sender: ExternalIdentity::new(channel.clone(), subject),
        channel,
        platform_message_id: PlatformMessageId::new(id),
        sent_at: now(),
        content: text(body),
    }
}

/// A customer for `subject` on `web` and their open conversation.
async fn conversation_for(store: &DynStore, subject: &str) -> ConversationRecord {
    let t = now();
    let customer = store
        .resolve_customer(&ExternalIdentity::new(web(), subject), t)
        .await
        .must("resolve_customer");
    store
        .open_conversation(&customer.id, &web(), t)
        .await
        .must("open_conversation")
}

async fn reload(store: &DynStore, id: &ConversationId) -> ConversationRecord {
    store
        .conversation(id)
        .await
        .must("conversation")
        .unwrap_or_else(|| panic!("conversation {id} should exist"))
}

/// An empty turn at the conversation's current version.
fn turn_of(conv: &ConversationRecord) -> Turn {
    let mut next = conv.clone();
    next.updated_at = now();
    Turn {
        inbound_seq: None,
        conversation: next,
        entries: vec![],
        escalations: vec![],
        outbox: vec![],
        timers: Vec::new(),
        ai_audit: Vec::new(),
    }
}

fn entry(conv: &ConversationRecord, seq: u64, from: Party, content: Content) -> TranscriptEntry {
    TranscriptEntry {
        id: MessageId::generate(),
        conversation_id: conv.id.clone(),
        customer_id: conv.customer_id.clone(),
        seq,
        from,
        channel: conv.channel.clone(),
        at: now(),
        content,
        buttons: vec![],
        platform_message_id: None,
    }
}

/// Appends a transcript entry to `turn` (taking the next seq).
fn push_entry(turn: &mut Turn, from: Party, content: Content) -> TranscriptEntry {
    let e = entry(
        &turn.conversation,
        turn.conversation.next_seq,
        from,
        content,
    );
    turn.conversation.next_seq += 1;
    turn.entries.push(e.clone());
    e
}

/// Appends a bot entry and its outbox message, due at `due`, to `turn`.
fn push_outbound(turn: &mut Turn, body: &str, due: Timestamp) -> OutboundMessage {
    let e = push_entry(turn, Party::Bot, text(body));
    let message = OutboundMessage {
        outbox_id: OutboxId::generate(),
        channel: turn.conversation.channel.clone(),
        recipient: "subject".to_owned(),
        conversation_id: turn.conversation.id.clone(),
        from: Party::Bot,
        content: OutboundContent::text(body),
        message_id: e.id,
        created_at: e.at,
    };
    turn.outbox.push(NewOutboxEntry {
        message: message.clone(),
        next_attempt_at: due,
    });
    message
}

/// Commits one turn queueing `bodies` (due at `due`); returns their outbox ids.
async fn queue(
    store: &DynStore,
    conv: &ConversationId,
    bodies: &[&str],
    due: Timestamp,
) -> Vec<OutboxId> {
    let mut turn = turn_of(&reload(store, conv).await);
    let ids = bodies
        .iter()
        .map(|b| push_outbound(&mut turn, b, due).outbox_id)
        .collect();
    store
        .commit_turn(turn)
        .await
        .must("commit_turn queueing outbox entries");
    ids
}

fn escalation(conv: &ConversationRecord, reasons: Vec<Reason>) -> EscalationEvent {
    EscalationEvent {
        id: EscalationId::generate(),
        conversation_id: conv.id.clone(),
        customer_id: conv.customer_id.clone(),
        at: now(),
        message_seq: 0,
        escalate: true,
        reasons,
        category: None,
        priority: None,
        target: None,
        policy_version: "v1".to_owned(),
    }
}

fn reason(code: &str, evidence: &str) -> Reason {
    Reason {
        code: code.to_owned(),
        category: None,
        evidence: evidence.to_owned(),
    }
}

async fn entry_of(store: &DynStore, id: &OutboxId) -> OutboxEntry {
    store
        .outbox_entry(id)
        .await
        .must("outbox_entry")
        .unwrap_or_else(|| panic!("outbox entry {id} should exist"))
}

fn ids_of(entries: &[OutboxEntry]) -> BTreeSet<OutboxId> {
    entries.iter().map(|e| e.id.clone()).collect()
}

fn claim_of(e: &OutboxEntry) -> String {
    e.claim
        .clone()
        .unwrap_or_else(|| panic!("a claimed entry must carry a claim token: {e:?}"))
}

async fn claim_one(store: &DynStore, at: Timestamp, lease: Duration) -> OutboxEntry {
    let mut got = store.claim_outbox(at, 10, lease).await.must("claim_outbox");
    assert_eq!(
        got.len(),
        1,
        "expected exactly one claimable entry, got {got:?}"
    );
    got.remove(0)
}

async fn assert_nothing_claimable(store: &DynStore, at: Timestamp, why: &str) {
    let got = store
        .claim_outbox(at, 10, secs(30))
        .await
        .must("claim_outbox");
    assert!(got.is_empty(), "{why}: claim_outbox returned {got:?}");
}

// ---- scenarios -------------------------------------------------------------------------

/// `ping` and `flush` succeed on a working store, before and after writes.
pub async fn ping_and_flush(store: DynStore) {
    store.ping().await.must("ping on an empty store");
    store.flush().await.must("flush on an empty store");
    store
        .record_inbound(&inbound(web(), "m1", "alice", "hi"), now())
        .await
        .must("record_inbound");
    store.flush().await.must("flush after a write");
    store.ping().await.must("ping after a write");
    assert_eq!(
        store
            .pending_inbound(10)
            .await
            .must("pending_inbound")
            .len(),
        1
    );
}

/// The same `(channel, platform id)` is recorded once; another channel is another key.
pub async fn inbound_dedupe(store: DynStore) {
    let first = inbound(web(), "m1", "alice", "hello");
    let received = now();
    let a = store
        .record_inbound(&first, received)
        .await
        .must("record_inbound");
    assert!(!a.duplicate, "a first record must not be a duplicate");

    let again = inbound(web(), "m1", "alice", "hello, changed on redelivery");
    let b = store
        .record_inbound(&again, now() + secs(1))
        .await
        .must("record_inbound (redelivery)");
    assert!(
        b.duplicate,
        "the same (channel, platform id) must be a duplicate"
    );
    assert_eq!(b.seq, a.seq, "a duplicate returns the first record's seq");

    let pending = store.pending_inbound(10).await.must("pending_inbound");
    assert_eq!(
        pending.len(),
        1,
        "a duplicate must not add a pending record: {pending:?}"
    );
    assert_eq!(
        pending[0].message, first,
        "a duplicate must not change the first record"
    );
    assert_eq!(
        pending[0].received_at, received,
        "received_at of the first record is kept"
    );

    let other_channel = store
        .record_inbound(&inbound(sms(), "m1", "alice", "x"), now())
        .await
        .must("record");
    assert!(
        !other_channel.duplicate,
        "the same platform id on another channel is a new record"
    );
    assert!(
        other_channel.seq > a.seq,
        "seq must increase with every new record"
    );
    let other_id = store
        .record_inbound(&inbound(web(), "m2", "alice", "y"), now())
        .await
        .must("record");
    assert!(!other_id.duplicate);
    assert!(
        other_id.seq > other_channel.seq,
        "seq must increase with every new record"
    );

    let seqs: Vec<u64> = store
        .pending_inbound(10)
        .await
        .must("pending_inbound")
        .iter()
        .map(|p| p.seq)
        .collect();
    assert_eq!(seqs, vec![a.seq, other_channel.seq, other_id.seq]);
}

/// `pending_inbound` returns full records in `seq` order, at most `limit` of them.
pub async fn pending_inbound_order_and_limit(store: DynStore) {
    let mut recorded = Vec::new();
    for i in 0..5 {
        let mut msg = inbound(
            web(),
            &format!("m{i}"),
            &format!("user{i}"),
            &format!("body {i}"),
        );
        msg.sender.display_name = Some(format!("User {i}"));
        msg.sender.verified = i % 2 == 0;
        msg.sender.verified_email = Some(format!("u{i}@example.com"));
        let at = now();
        let rec = store.record_inbound(&msg, at).await.must("record_inbound");
        recorded.push((rec.seq, msg, at));
    }
    let got = store.pending_inbound(3).await.must("pending_inbound(3)");
    assert_eq!(got.len(), 3, "limit must be respected");
    for (p, (seq, msg, at)) in got.iter().zip(&recorded) {
        assert_eq!(p.seq, *seq, "pending records come in seq order");
        assert_eq!(&p.message, msg, "the message must round-trip unchanged");
        assert_eq!(
            p.received_at, *at,
            "received_at must round-trip at ms precision"
        );
    }
    assert_eq!(
        store
            .pending_inbound(100)
            .await
            .must("pending_inbound")
            .len(),
        5
    );
    assert!(
        store
            .pending_inbound(0)
            .await
            .must("pending_inbound(0)")
            .is_empty()
    );
}

/// A turn with `inbound_seq` marks it processed; a second turn for it is
/// `AlreadyProcessed` and applies nothing.
/// `mark_inbound_processed` takes a record out of pending once; unknown seqs are false.
pub async fn mark_inbound_processed_without_turn(store: DynStore) {
    let m1 = store
        .record_inbound(&inbound(web(), "m1", "alice", "one"), now())
        .await
        .must("record");
    assert!(
        store
            .mark_inbound_processed(m1.seq, now())
            .await
            .must("mark"),
        "first mark applies"
    );
    assert!(
        !store
            .mark_inbound_processed(m1.seq, now())
            .await
            .must("mark again"),
        "second mark is a no-op"
    );
    assert!(
        !store
            .mark_inbound_processed(m1.seq + 1000, now())
            .await
            .must("mark unknown"),
        "unknown seq"
    );
    assert!(
        store.pending_inbound(10).await.must("pending").is_empty(),
        "marked record is not pending"
    );
    let conv = conversation_for(&store, "alice").await;
    let mut turn = turn_of(&conv);
    turn.inbound_seq = Some(m1.seq);
    assert!(
        matches!(
            store.commit_turn(turn).await,
            Err(StoreError::AlreadyProcessed)
        ),
        "a turn for a marked record is refused"
    );
}

pub async fn commit_turn_processes_inbound_once(store: DynStore) {
    let m1 = store
        .record_inbound(&inbound(web(), "m1", "alice", "one"), now())
        .await
        .must("record");
    let m2 = store
        .record_inbound(&inbound(web(), "m2", "alice", "two"), now())
        .await
        .must("record");
    let conv = conversation_for(&store, "alice").await;

    let mut turn = turn_of(&conv);
    turn.inbound_seq = Some(m1.seq);
    push_entry(&mut turn, Party::Customer, text("one"));
    store
        .commit_turn(turn)
        .await
        .must("commit_turn processing m1");
    let pending: Vec<u64> = store
        .pending_inbound(10)
        .await
        .must("pending")
        .iter()
        .map(|p| p.seq)
        .collect();
    assert_eq!(
        pending,
        vec![m2.seq],
        "a processed record leaves pending_inbound"
    );

    // Again for m1, at the fresh version, with everything a turn can carry.
    let fresh = reload(&store, &conv.id).await;
    let mut again = turn_of(&fresh);
    again.inbound_seq = Some(m1.seq);
    push_entry(&mut again, Party::Customer, text("one"));
    let out = push_outbound(&mut again, "reply", now());
    again
        .escalations
        .push(escalation(&fresh, vec![reason("keyword", "refund")]));
    match store.commit_turn(again).await {
        Err(StoreError::AlreadyProcessed) => {}
        other => panic!(
            "a second turn for a processed inbound record must be AlreadyProcessed, got {other:?}"
        ),
    }
    assert_eq!(
        reload(&store, &conv.id).await,
        fresh,
        "a refused turn must not change the conversation"
    );
    assert_eq!(
        store
            .transcript(&conv.id, 10)
            .await
            .must("transcript")
            .len(),
        1,
        "no entry may be appended"
    );
    assert!(
        store
            .outbox_entry(&out.outbox_id)
            .await
            .must("outbox_entry")
            .is_none(),
        "no outbox entry"
    );
    assert!(
        store
            .escalations(&conv.id)
            .await
            .must("escalations")
            .is_empty(),
        "no escalation"
    );
    assert_eq!(store.outbox_depth().await.must("outbox_depth"), 0);
    let pending: Vec<u64> = store
        .pending_inbound(10)
        .await
        .must("pending")
        .iter()
        .map(|p| p.seq)
        .collect();
    assert_eq!(pending, vec![m2.seq]);
}

/// One identity is one customer; display names update; identities are listed.
/// Lookups by identity and verified email, profile updates, a customer's conversations,
/// and business events.
pub async fn customer_profiles_and_events(store: DynStore) {
    let t0 = now();
    let verified = ExternalIdentity {
        verified: true,
        verified_email: Some("Ada@Example.com".to_owned()),
        ..ExternalIdentity::new(web(), "user:42")
    };
    let ada = store.resolve_customer(&verified, t0).await.must("resolve");
    let bob = store
        .resolve_customer(&ExternalIdentity::new(sms(), "+100"), t0)
        .await
        .must("resolve");

    let found = store
        .customer_by_identity(&web(), "user:42")
        .await
        .must("by identity");
    assert_eq!(
        found.map(|c| c.id),
        Some(ada.id.clone()),
        "lookup by identity"
    );
    assert_eq!(
        store
            .customer_by_identity(&web(), "nobody")
            .await
            .must("by identity"),
        None,
        "unknown identity"
    );
    assert!(
        store
            .customer_by_identity(&sms(), "user:42")
            .await
            .must("by identity")
            .is_none(),
        "lookups are per channel"
    );
    let by_email = store
        .customers_by_email("ada@example.com")
        .await
        .must("by email");
    assert_eq!(
        by_email.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
        vec![ada.id.clone()],
        "email is case-insensitive"
    );
    assert!(
        store
            .customers_by_email("bob@example.com")
            .await
            .must("by email")
            .is_empty()
    );

    let update = CustomerUpdate {
        display_name: Some("Ada Lovelace".to_owned()),
        segment: Some(Some("vip".to_owned())),
        attributes: BTreeMap::from([
            ("plan".to_owned(), serde_json::json!("pro")),
            ("seats".to_owned(), serde_json::json!(5)),
        ]),
    };
    let updated = store
        .update_customer(&ada.id, update, t0 + secs(1))
        .await
        .must("update")
        .expect("known customer");
    assert_eq!(updated.display_name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(updated.segment.as_deref(), Some("vip"));
    assert_eq!(updated.attributes.get("seats"), Some(&serde_json::json!(5)));
    let merge = CustomerUpdate {
        attributes: BTreeMap::from([
            ("seats".to_owned(), serde_json::Value::Null),
            ("region".to_owned(), serde_json::json!("eu")),
        ]),
        ..CustomerUpdate::default()
    };
    let merged = store
        .update_customer(&ada.id, merge, t0 + secs(2))
        .await
        .must("merge")
        .expect("known customer");
    assert_eq!(
        merged.segment.as_deref(),
        Some("vip"),
        "segment kept when not updated"
    );
    assert_eq!(
        merged.attributes.get("plan"),
        Some(&serde_json::json!("pro")),
        "attributes merge"
    );
    assert_eq!(
        merged.attributes.get("region"),
        Some(&serde_json::json!("eu"))
    );
    assert!(
        !merged.attributes.contains_key("seats"),
        "null removes a key"
    );
    let cleared = store
        .update_customer(
            &ada.id,
            CustomerUpdate {
                segment: Some(None),
                ..CustomerUpdate::default()
            },
            t0 + secs(3),
        )
        .await
        .must("clear")
        .expect("known customer");
    assert_eq!(cleared.segment, None);
    assert_eq!(
        store
            .update_customer(
                &CustomerId::new("cus_nobody"),
                CustomerUpdate::default(),
                t0
            )
            .await
            .must("update unknown"),
        None
    );

    let first = store
        .open_conversation(&ada.id, &web(), t0)
        .await
        .must("open");
    assert!(
        store
            .close_conversation(&first.id, t0 + secs(1))
            .await
            .must("close")
    );
    let second = store
        .open_conversation(&ada.id, &web(), t0 + secs(2))
        .await
        .must("open");
    let convs = store
        .conversations_of(&ada.id, 10)
        .await
        .must("conversations_of");
    assert_eq!(
        convs.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
        vec![second.id.clone(), first.id.clone()],
        "newest first"
    );
    assert_eq!(
        store.conversations_of(&ada.id, 1).await.must("limit").len(),
        1
    );
    assert!(
        store
            .conversations_of(&bob.id, 10)
            .await
            .must("none")
            .is_empty()
    );

    let event = |id: &str, name: &str, at| CustomerEvent {
        id: id.to_owned(),
        customer_id: ada.id.clone(),
        name: name.to_owned(),
        at,
        data: serde_json::json!({"amount": 42}),
    };
    assert!(
        store
            .record_customer_event(&event("e1", "payment_failed", t0))
            .await
            .must("event")
    );
    assert!(
        store
            .record_customer_event(&event("e2", "payment_failed", t0 + secs(60)))
            .await
            .must("event")
    );
    assert!(
        !store
            .record_customer_event(&event("e1", "payment_failed", t0))
            .await
            .must("event again"),
        "same id is a duplicate"
    );
    let all = store.customer_events(&ada.id, t0).await.must("events");
    assert_eq!(
        all.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        vec!["e1", "e2"],
        "oldest first"
    );
    assert_eq!(
        all[0],
        event("e1", "payment_failed", t0),
        "events round-trip"
    );
    let recent = store
        .customer_events(&ada.id, t0 + secs(30))
        .await
        .must("recent");
    assert_eq!(recent.len(), 1, "since filters");
    assert!(
        store
            .customer_events(&bob.id, t0)
            .await
            .must("none")
            .is_empty()
    );
}

pub async fn customer_resolution(store: DynStore) {
    let t0 = now();
    let alice = ExternalIdentity::new(web(), "alice");
    let a = store
        .resolve_customer(&alice, t0)
        .await
        .must("resolve_customer");
    assert_eq!(a.display_name, None);
    assert_eq!(a.segment, None, "a new customer has no segment");
    assert!(a.attributes.is_empty(), "a new customer has no attributes");
    assert_eq!(a.created_at, t0, "created_at is the `now` of creation");

    let again = store
        .resolve_customer(&alice, t0 + secs(5))
        .await
        .must("resolve_customer");
    assert_eq!(
        again, a,
        "the same identity must resolve to the same, unchanged customer"
    );

    let named = ExternalIdentity {
        display_name: Some("Alice Liddell".to_owned()),
        ..alice.clone()
    };
    let b = store
        .resolve_customer(&named, t0 + secs(10))
        .await
        .must("resolve_customer");
    assert_eq!(b.id, a.id);
    assert_eq!(
        b.display_name.as_deref(),
        Some("Alice Liddell"),
        "a given display name is stored"
    );
    let stored = store
        .customer(&a.id)
        .await
        .must("customer")
        .expect("customer exists");
    assert_eq!(stored, b);
    let unnamed = store
        .resolve_customer(&alice, t0 + secs(15))
        .await
        .must("resolve_customer");
    assert_eq!(
        unnamed.display_name.as_deref(),
        Some("Alice Liddell"),
        "an absent name keeps the stored one"
    );

    let other = store
        .resolve_customer(&ExternalIdentity::new(sms(), "alice"), t0)
        .await
        .must("resolve");
    assert_ne!(
        other.id, a.id,
        "another (channel, subject) is another customer"
    );

    let identities = store.identities(&a.id).await.must("identities");
    assert_eq!(identities.len(), 1, "{identities:?}");
    assert_eq!(identities[0].customer_id, a.id);
    assert_eq!(identities[0].channel, web());
    assert_eq!(identities[0].subject, "alice");
    assert_eq!(identities[0].created_at, t0);

    let unknown = CustomerId::new("cus_unknown");
    assert_eq!(store.customer(&unknown).await.must("customer"), None);
    assert!(
        store
            .identities(&unknown)
            .await
            .must("identities")
            .is_empty()
    );
}

/// Open returns the one open conversation; close ends it; the next open is new.
pub async fn conversation_lifecycle(store: DynStore) {
    let t0 = now();
    let customer = store
        .resolve_customer(&ExternalIdentity::new(web(), "alice"), t0)
        .await
        .must("resolve");
    let c1 = store
        .open_conversation(&customer.id, &web(), t0)
        .await
        .must("open_conversation");
    assert_eq!(c1.customer_id, customer.id);
    assert_eq!(c1.channel, web());
    assert_eq!(c1.status, ConversationStatus::Open);
    assert_eq!(c1.state, ConversationState::default());
    assert_eq!(c1.next_seq, 0, "a new conversation starts at seq 0");
    assert_eq!(c1.opened_at, t0);

    let c2 = store
        .open_conversation(&customer.id, &sms(), t0 + secs(1))
        .await
        .must("open_conversation");
    assert_eq!(
        c2.id, c1.id,
        "an open conversation is reused, even from another channel"
    );
    assert_eq!(
        reload(&store, &c1.id).await,
        c2,
        "conversation() returns what open_conversation returned"
    );

    let other = conversation_for(&store, "bob").await;
    assert_ne!(other.id, c1.id, "each customer has their own conversation");

    assert!(
        store
            .close_conversation(&c1.id, t0 + secs(2))
            .await
            .must("close"),
        "closing an open one"
    );
    assert!(
        !store
            .close_conversation(&c1.id, t0 + secs(3))
            .await
            .must("close"),
        "already closed"
    );
    assert_eq!(
        reload(&store, &c1.id).await.status,
        ConversationStatus::Closed
    );

    let c3 = store
        .open_conversation(&customer.id, &web(), t0 + secs(4))
        .await
        .must("open_conversation");
    assert_ne!(
        c3.id, c1.id,
        "after a close the next open is a new conversation"
    );
    assert_eq!(c3.status, ConversationStatus::Open);
    assert_eq!(c3.next_seq, 0);
    assert_eq!(
        reload(&store, &other.id).await.status,
        ConversationStatus::Open,
        "others are untouched"
    );

    let unknown = ConversationId::new("conv_unknown");
    assert_eq!(
        store.conversation(&unknown).await.must("conversation"),
        None
    );
    assert!(
        !store
            .close_conversation(&unknown, now())
            .await
            .must("close unknown")
    );
}

/// A turn stores the new record (version + 1), entries, escalations and outbox entries.
pub async fn commit_turn_applies_everything(store: DynStore) {
    let m1 = store
        .record_inbound(&inbound(web(), "m1", "alice", "refund"), now())
        .await
        .must("record");
    let conv = conversation_for(&store, "alice").await;

    let mut turn = turn_of(&conv);
    turn.inbound_seq = Some(m1.seq);
    turn.conversation.channel = sms();
    turn.conversation.state = ConversationState {
        owner: Owner::Queue,
        fallback_count: 2,
        negative_count: 1,
        last_intent: Some("refund".to_owned()),
        handoff_requested: true,
        last_customer_message_at: BTreeMap::from([("web".to_owned(), 1_700_000_000_123)]),
        slots: BTreeMap::from([("order_number".to_owned(), "A-42".to_owned())]),
        ..ConversationState::default()
    };
    let mut customer_entry = entry(&turn.conversation, 0, Party::Customer, text("refund"));
    customer_entry.platform_message_id = Some(PlatformMessageId::new("m1"));
    turn.entries.push(customer_entry);
    turn.conversation.next_seq = 1;
    let due = now() + secs(2);
    let out = push_outbound(&mut turn, "A human will take over.", due);
    let mut esc = escalation(&turn.conversation, vec![reason("keyword", "refund")]);
    esc.category = Some("billing".to_owned());
    turn.escalations.push(esc.clone());
    store.commit_turn(turn.clone()).await.must("commit_turn");

    let mut expected = turn.conversation.clone();
    expected.version = conv.version + 1;
    assert_eq!(
        reload(&store, &conv.id).await,
        expected,
        "the stored record is the turn's, version + 1"
    );
    assert_eq!(
        store.transcript(&conv.id, 10).await.must("transcript"),
        turn.entries
    );
    assert_eq!(
        store.escalations(&conv.id).await.must("escalations"),
        vec![esc]
    );
    assert!(
        store.pending_inbound(10).await.must("pending").is_empty(),
        "the inbound record is processed"
    );

    let stored = entry_of(&store, &out.outbox_id).await;
    assert_eq!(stored.id, out.outbox_id);
    assert_eq!(stored.message, out);
    assert_eq!(stored.status, OutboxStatus::Pending);
    assert_eq!(stored.attempts, 0);
    assert_eq!(stored.next_attempt_at, due);
    assert_eq!((stored.claim, stored.claim_expires_at), (None, None));
    assert_eq!(
        (stored.last_error, stored.platform_message_id),
        (None, None)
    );
    assert_eq!(store.outbox_depth().await.must("outbox_depth"), 1);

    let mut next = turn_of(&expected);
    push_entry(&mut next, Party::Agent, text("Hi, I am Sam."));
    store.commit_turn(next).await.must("second commit_turn");
    assert_eq!(
        reload(&store, &conv.id).await.version,
        conv.version + 2,
        "every turn bumps the version"
    );
}

/// A turn at a stale version is a `Conflict` and applies nothing at all.
pub async fn stale_turn_conflicts_and_applies_nothing(store: DynStore) {
    let conv = conversation_for(&store, "alice").await;
    let mut first = turn_of(&conv);
    first.conversation.state.last_intent = Some("greeting".to_owned());
    push_entry(&mut first, Party::Customer, text("hi"));
    store.commit_turn(first).await.must("first commit_turn");
    let current = reload(&store, &conv.id).await;

    let m1 = store
        .record_inbound(&inbound(web(), "m1", "alice", "help"), now())
        .await
        .must("record");
    let mut stale = turn_of(&conv);
    stale.inbound_seq = Some(m1.seq);
    stale.conversation.next_seq = current.next_seq;
    stale.conversation.state.owner = Owner::Agent;
    push_entry(&mut stale, Party::Customer, text("help"));
    let out = push_outbound(&mut stale, "reply", now());
    stale
        .escalations
        .push(escalation(&conv, vec![reason("human_request", "help")]));
    match store.commit_turn(stale.clone()).await {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("a turn at a stale version must be a Conflict, got {other:?}"),
    }
    assert_eq!(
        reload(&store, &conv.id).await,
        current,
        "the conversation must be unchanged"
    );
    assert_eq!(
        store
            .transcript(&conv.id, 10)
            .await
            .must("transcript")
            .len(),
        1,
        "no entry appended"
    );
    assert!(
        store
            .outbox_entry(&out.outbox_id)
            .await
            .must("outbox_entry")
            .is_none(),
        "no outbox entry"
    );
    assert_eq!(store.outbox_depth().await.must("outbox_depth"), 0);
    assert!(
        store
            .escalations(&conv.id)
            .await
            .must("escalations")
            .is_empty(),
        "no escalation"
    );
    assert!(
        store
            .escalation_counts()
            .await
            .must("escalation_counts")
            .is_empty()
    );
    let pending = store.pending_inbound(10).await.must("pending");
    assert_eq!(
        pending.len(),
        1,
        "the inbound record stays pending after a conflict"
    );

    stale.conversation.version = current.version;
    store
        .commit_turn(stale)
        .await
        .must("the same turn at the fresh version");
    assert!(store.pending_inbound(10).await.must("pending").is_empty());
    assert_eq!(
        store
            .transcript(&conv.id, 10)
            .await
            .must("transcript")
            .len(),
        3
    );
}

/// An entry whose `(conversation, seq)` exists is a `Conflict`; nothing is applied.
pub async fn duplicate_transcript_seq_conflicts(store: DynStore) {
    let conv = conversation_for(&store, "alice").await;
    let mut first = turn_of(&conv);
    push_entry(&mut first, Party::Customer, text("hi"));
    store.commit_turn(first).await.must("first commit_turn");
    let current = reload(&store, &conv.id).await;

    let m1 = store
        .record_inbound(&inbound(web(), "m1", "alice", "again"), now())
        .await
        .must("record");
    let mut dup = turn_of(&current);
    dup.inbound_seq = Some(m1.seq);
    dup.conversation.next_seq = 0; // reuse seq 0
    push_entry(&mut dup, Party::Customer, text("again"));
    let out = push_outbound(&mut dup, "reply", now());
    match store.commit_turn(dup).await {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("a duplicate (conversation, seq) must be a Conflict, got {other:?}"),
    }
    assert_eq!(
        reload(&store, &conv.id).await,
        current,
        "the conversation must be unchanged"
    );
    let transcript = store.transcript(&conv.id, 10).await.must("transcript");
    assert_eq!(transcript.len(), 1);
    assert_eq!(transcript[0].content, text("hi"), "the first entry stands");
    assert!(
        store
            .outbox_entry(&out.outbox_id)
            .await
            .must("outbox_entry")
            .is_none()
    );
    assert_eq!(
        store.pending_inbound(10).await.must("pending").len(),
        1,
        "inbound stays pending"
    );
}

/// `transcript` returns the newest `limit` entries, oldest first.
pub async fn transcript_order_and_limit(store: DynStore) {
    let conv = conversation_for(&store, "alice").await;
    let mut all = Vec::new();
    for batch in [2, 3, 2] {
        let mut turn = turn_of(&reload(&store, &conv.id).await);
        for _ in 0..batch {
            let n = turn.conversation.next_seq;
            all.push(push_entry(
                &mut turn,
                Party::Customer,
                text(&format!("message {n}")),
            ));
        }
        store.commit_turn(turn).await.must("commit_turn");
    }
    let full = store.transcript(&conv.id, 100).await.must("transcript");
    assert_eq!(full, all, "all entries, oldest first");
    let newest = store.transcript(&conv.id, 3).await.must("transcript(3)");
    let seqs: Vec<u64> = newest.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        vec![4, 5, 6],
        "the newest `limit` entries, oldest first"
    );
    assert!(
        store
            .transcript(&conv.id, 0)
            .await
            .must("transcript(0)")
            .is_empty()
    );
    let other = conversation_for(&store, "bob").await;
    assert!(
        store
            .transcript(&other.id, 10)
            .await
            .must("transcript")
            .is_empty()
    );
    assert!(
        store
            .transcript(&ConversationId::new("conv_unknown"), 10)
            .await
            .must("transcript")
            .is_empty()
    );
}

/// Every field of every content variant survives the store.
pub async fn transcript_round_trips_all_fields(store: DynStore) {
    let conv = conversation_for(&store, "alice").await;
    let contents = vec![
        (
            Party::Customer,
            text("Grüße, \"quoted\"\nnew line \u{1f600}"),
        ),
        (
            Party::Customer,
            Content::Postback {
                payload: "ORDER_STATUS".to_owned(),
                title: Some("Order".to_owned()),
            },
        ),
        (
            Party::Customer,
            Content::Postback {
                payload: "YES".to_owned(),
                title: None,
            },
        ),
        (
            Party::Customer,
            Content::Media {
                kind: MediaKind::Image,
                reference: "media-123".to_owned(),
                mime_type: Some("image/jpeg".to_owned()),
                caption: Some("my receipt".to_owned()),
            },
        ),
        (
            Party::Customer,
            Content::Media {
                kind: MediaKind::Sticker,
                reference: "s".to_owned(),
                mime_type: None,
                caption: None,
            },
        ),
        (
            Party::Customer,
            Content::Location {
                latitude: 48.5,
                longitude: -2.25,
                name: Some("Shop".to_owned()),
            },
        ),
        (
            Party::Customer,
            Content::Contact {
                phone: "+4915112345678".to_owned(),
                name: None,
                own: true,
            },
        ),
        (
            Party::Customer,
            Content::Reaction {
                emoji: "\u{1f44d}".to_owned(),
                to: Some("wamid.9".to_owned()),
            },
        ),
        (
            Party::Customer,
            Content::Unsupported {
                kind: "whatsapp:order".to_owned(),
            },
        ),
        (Party::Bot, text("Pick one")),
        (Party::Agent, text("Sam here")),
        (Party::System, text("Conversation assigned")),
    ];
    let mut turn = turn_of(&conv);
    let base = now();
    for (i, (from, content)) in contents.into_iter().enumerate() {
        let mut e = push_entry(&mut turn, from, content);
        e.at = base + Duration::from_millis(i as u64 * 7 + 1);
        e.channel = if i % 2 == 0 { web() } else { sms() };
        if from == Party::Customer {
            e.platform_message_id = Some(PlatformMessageId::new(format!("pm-{i}")));
        }
        if from == Party::Bot {
            e.buttons = vec![
                Button {
                    title: "Yes".to_owned(),
                    payload: "YES".to_owned(),
                },
                Button {
                    title: "No".to_owned(),
                    payload: "NO".to_owned(),
                },
            ];
        }
        *turn.entries.last_mut().expect("just pushed") = e;
    }
    store.commit_turn(turn.clone()).await.must("commit_turn");
    let got = store.transcript(&conv.id, 100).await.must("transcript");
    assert_eq!(got.len(), turn.entries.len());
    for (g, e) in got.iter().zip(&turn.entries) {
        assert_eq!(g, e, "transcript entry {} must round-trip unchanged", e.seq);
    }
}

/// Claim sets a token and `attempts + 1`; a stale token cannot complete; sent is final.
pub async fn outbox_claim_and_complete(store: DynStore) {
    let conv = conversation_for(&store, "alice").await;
    let t0 = now();
    let ids = queue(&store, &conv.id, &["hello"], t0).await;
    assert_nothing_claimable(
        &store,
        t0 - secs(1),
        "an entry is not due before next_attempt_at",
    )
    .await;

    let claimed = claim_one(&store, t0, secs(30)).await;
    assert_eq!(claimed.id, ids[0]);
    assert_eq!(claimed.status, OutboxStatus::InFlight);
    assert_eq!(claimed.attempts, 1, "a claim counts as an attempt");
    assert_eq!(
        claimed.claim_expires_at,
        Some(t0 + secs(30)),
        "the lease runs from `now`"
    );
    assert_eq!(claimed.message.content, OutboundContent::text("hello"));
    let token = claim_of(&claimed);
    assert_eq!(
        entry_of(&store, &ids[0]).await,
        claimed,
        "outbox_entry shows the claim"
    );
    assert_nothing_claimable(&store, t0 + secs(10), "an entry under a live lease").await;

    let delivery = Delivery {
        platform_message_id: Some("wamid.1".to_owned()),
        state: DeliveryState::Delivered,
    };
    assert!(
        !store
            .complete_outbox(&ids[0], "not-the-claim", &delivery, t0)
            .await
            .must("complete"),
        "complete with a wrong token must return false"
    );
    assert_eq!(
        entry_of(&store, &ids[0]).await.status,
        OutboxStatus::InFlight,
        "and change nothing"
    );
    assert!(
        store
            .complete_outbox(&ids[0], &token, &delivery, t0 + secs(1))
            .await
            .must("complete")
    );
    let sent = entry_of(&store, &ids[0]).await;
    assert_eq!(sent.status, OutboxStatus::Sent);
    assert_eq!(sent.platform_message_id.as_deref(), Some("wamid.1"));
    assert_eq!(sent.attempts, 1);

    assert!(
        !store
            .retry_outbox(&ids[0], &token, t0, "late")
            .await
            .must("retry"),
        "sent is final"
    );
    assert!(
        !store
            .fail_outbox(&ids[0], &token, "late", t0)
            .await
            .must("fail"),
        "sent is final"
    );
    assert_eq!(entry_of(&store, &ids[0]).await.status, OutboxStatus::Sent);
    assert_nothing_claimable(
        &store,
        t0 + secs(3600),
        "a sent entry is never claimed again",
    )
    .await;
    assert_eq!(store.outbox_depth().await.must("outbox_depth"), 0);
    assert_eq!(
        store
            .outbox_entry(&OutboxId::new("out_unknown"))
            .await
            .must("outbox_entry"),
        None
    );
}

/// `retry_outbox` gives the entry back, claimable at `next_attempt_at` with a new token.
pub async fn outbox_retry(store: DynStore) {
    let conv = conversation_for(&store, "alice").await;
    let t0 = now();
    let ids = queue(&store, &conv.id, &["hello"], t0).await;
    let first = claim_one(&store, t0, secs(30)).await;
    let token = claim_of(&first);
    assert!(
        !store
            .retry_outbox(&ids[0], "stale", t0 + secs(60), "x")
            .await
            .must("retry"),
        "stale token"
    );
    assert!(
        store
            .retry_outbox(&ids[0], &token, t0 + secs(60), "HTTP 503")
            .await
            .must("retry")
    );
    let pending = entry_of(&store, &ids[0]).await;
    assert_eq!(pending.status, OutboxStatus::Pending);
    assert_eq!(pending.next_attempt_at, t0 + secs(60));
    assert_eq!(pending.last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(pending.attempts, 1);
    assert_eq!(
        store.outbox_depth().await.must("outbox_depth"),
        1,
        "a retried entry is unfinished"
    );

    assert_nothing_claimable(
        &store,
        t0 + secs(59),
        "a retried entry is not due before its time",
    )
    .await;
    let second = claim_one(&store, t0 + secs(60), secs(30)).await;
    assert_eq!(second.id, ids[0]);
    assert_eq!(second.attempts, 2);
    let token2 = claim_of(&second);
    assert_ne!(token2, token, "every claim gets a fresh token");
    let delivery = Delivery::default();
    assert!(
        !store
            .complete_outbox(&ids[0], &token, &delivery, t0)
            .await
            .must("complete"),
        "old token"
    );
    assert!(
        store
            .complete_outbox(&ids[0], &token2, &delivery, t0 + secs(61))
            .await
            .must("complete")
    );
    assert_eq!(store.outbox_depth().await.must("outbox_depth"), 0);
}

/// `fail_outbox` ends an entry for good and unblocks the conversation's next one.
pub async fn outbox_fail_unblocks_next(store: DynStore) {
    let conv = conversation_for(&store, "alice").await;
    let t0 = now();
    let ids = queue(&store, &conv.id, &["first", "second"], t0).await;
    let first = claim_one(&store, t0, secs(30)).await;
    assert_eq!(first.id, ids[0], "the oldest entry comes first");
    let token = claim_of(&first);
    assert!(
        !store
            .fail_outbox(&ids[0], "stale", "x", t0)
            .await
            .must("fail"),
        "stale token"
    );
    assert!(
        store
            .fail_outbox(&ids[0], &token, "400 bad request", t0)
            .await
            .must("fail")
    );
    let failed = entry_of(&store, &ids[0]).await;
    assert_eq!(failed.status, OutboxStatus::Failed);
    assert_eq!(failed.last_error.as_deref(), Some("400 bad request"));

    let second = claim_one(&store, t0, secs(30)).await;
    assert_eq!(
        second.id, ids[1],
        "after a failure the next entry is claimable"
    );
    assert!(
        store
            .complete_outbox(&ids[1], &claim_of(&second), &Delivery::default(), t0)
            .await
            .must("complete")
    );
    assert_nothing_claimable(
        &store,
        t0 + secs(3600),
        "a failed entry is never claimed again",
    )
    .await;
    assert_eq!(store.outbox_depth().await.must("outbox_depth"), 0);
}

/// Renewing a live claim keeps the entry from being taken over; a stale token renews
/// nothing.
pub async fn outbox_lease_renewal(store: DynStore) {
    let conv = conversation_for(&store, "alice").await;
    let t0 = now();
    let ids = queue(&store, &conv.id, &["hello"], t0).await;
    let first = claim_one(&store, t0, secs(5)).await;
    let token = claim_of(&first);
    assert!(
        store
            .renew_outbox(&ids[0], &token, t0 + secs(20))
            .await
            .must("renew_outbox"),
        "the live claim is renewed"
    );
    assert_nothing_claimable(&store, t0 + secs(10), "a renewed lease").await;
    assert_eq!(
        store.next_outbox_due().await.must("next_outbox_due"),
        Some(t0 + secs(20))
    );
    let entry = store
        .outbox_entry(&ids[0])
        .await
        .must("outbox_entry")
        .unwrap();
    assert_eq!(entry.claim_expires_at, Some(t0 + secs(20)));

    let second = claim_one(&store, t0 + secs(21), secs(5)).await;
    assert_eq!(second.id, ids[0], "claimable once the renewed lease ends");
    assert!(
        !store
            .renew_outbox(&ids[0], &token, t0 + secs(60))
            .await
            .must("renew_outbox"),
        "a stale token renews nothing"
    );
    let entry = store
        .outbox_entry(&ids[0])
        .await
        .must("outbox_entry")
        .unwrap();
    assert_eq!(entry.claim_expires_at, Some(t0 + secs(26)));
}

/// An in-flight entry whose lease expired is claimed again with a new token; the old
/// token is dead.
pub async fn outbox_lease_expiry(store: DynStore) {
    let conv = conversation_for(&store, "alice").await;
    let t0 = now();
    let ids = queue(&store, &conv.id, &["hello"], t0).await;
    let first = claim_one(&store, t0, secs(5)).await;
    let old = claim_of(&first);
    assert_nothing_claimable(&store, t0 + secs(4), "the lease has not expired").await;
    assert_eq!(
        store.next_outbox_due().await.must("next_outbox_due"),
        Some(t0 + secs(5))
    );

    let second = claim_one(&store, t0 + secs(6), secs(5)).await;
    assert_eq!(
        second.id, ids[0],
        "an expired lease makes the entry claimable"
    );
    assert_eq!(second.attempts, 2);
    assert_eq!(second.claim_expires_at, Some(t0 + secs(11)));
    let new = claim_of(&second);
    assert_ne!(new, old, "the new claim has a new token");

    let delivery = Delivery::default();
    assert!(
        !store
            .complete_outbox(&ids[0], &old, &delivery, t0)
            .await
            .must("complete"),
        "old token"
    );
    assert!(
        !store
            .retry_outbox(&ids[0], &old, t0, "x")
            .await
            .must("retry"),
        "old token"
    );
    assert!(
        !store.fail_outbox(&ids[0], &old, "x", t0).await.must("fail"),
        "old token"
    );
    assert_eq!(
        entry_of(&store, &ids[0]).await,
        second,
        "the old token changed nothing"
    );
    assert!(
        store
            .complete_outbox(&ids[0], &new, &delivery, t0 + secs(7))
            .await
            .must("complete")
    );
}

/// Only the oldest unfinished entry of a conversation is claimable; conversations are
/// independent; a retried head blocks its conversation until due.
pub async fn outbox_per_conversation_order(store: DynStore) {
    let x = conversation_for(&store, "xavier").await;
    let y = conversation_for(&store, "yvonne").await;
    let t0 = now();
    let xs = queue(&store, &x.id, &["x1", "x2"], t0).await;
    let x3 = queue(&store, &x.id, &["x3"], t0 - secs(10)).await;
    let ys = queue(&store, &y.id, &["y1"], t0).await;

    let got = store
        .claim_outbox(t0, 10, secs(60))
        .await
        .must("claim_outbox");
    assert_eq!(
        ids_of(&got),
        BTreeSet::from([xs[0].clone(), ys[0].clone()]),
        "one head per conversation"
    );
    assert_nothing_claimable(&store, t0, "heads are in flight").await;
    let tokens: HashMap<OutboxId, String> =
        got.iter().map(|e| (e.id.clone(), claim_of(e))).collect();
    let done = Delivery::default();
    assert!(
        store
            .complete_outbox(&xs[0], &tokens[&xs[0]], &done, t0)
            .await
            .must("complete")
    );
    let x2 = claim_one(&store, t0, secs(60)).await;
    assert_eq!(x2.id, xs[1], "x2 follows x1");
    assert!(
        store
            .complete_outbox(&xs[1], &claim_of(&x2), &done, t0)
            .await
            .must("complete")
    );
    let later = claim_one(&store, t0, secs(60)).await;
    assert_eq!(
        later.id, x3[0],
        "an entry of a later turn waits for the earlier ones, whatever its due time"
    );
    assert!(
        store
            .complete_outbox(&x3[0], &claim_of(&later), &done, t0)
            .await
            .must("complete")
    );
    assert!(
        store
            .complete_outbox(&ys[0], &tokens[&ys[0]], &done, t0)
            .await
            .must("complete")
    );

    // A retried head blocks the entries behind it until it is due and finished.
    let z = conversation_for(&store, "zoe").await;
    let zs = queue(&store, &z.id, &["z1", "z2"], t0).await;
    let z1 = claim_one(&store, t0, secs(60)).await;
    assert_eq!(z1.id, zs[0]);
    assert!(
        store
            .retry_outbox(&zs[0], &claim_of(&z1), t0 + secs(60), "503")
            .await
            .must("retry")
    );
    assert_nothing_claimable(
        &store,
        t0 + secs(10),
        "a retried head blocks its conversation",
    )
    .await;
    let z1 = claim_one(&store, t0 + secs(60), secs(60)).await;
    assert_eq!(z1.id, zs[0], "the head again, once due");
    assert!(
        store
            .complete_outbox(&zs[0], &claim_of(&z1), &done, t0)
            .await
            .must("complete")
    );
    assert_eq!(claim_one(&store, t0 + secs(60), secs(60)).await.id, zs[1]);

    // `limit` caps a claim.
    let mut heads = BTreeSet::new();
    for i in 0..5 {
        let c = conversation_for(&store, &format!("limit{i}")).await;
        heads.extend(queue(&store, &c.id, &["hi"], t0).await);
    }
    let two = store
        .claim_outbox(t0 + secs(61), 2, secs(60))
        .await
        .must("claim_outbox");
    assert_eq!(two.len(), 2, "claim_outbox returns at most `limit` entries");
    let rest = store
        .claim_outbox(t0 + secs(61), 10, secs(60))
        .await
        .must("claim_outbox");
    assert_eq!(
        ids_of(&two)
            .union(&ids_of(&rest))
            .cloned()
            .collect::<BTreeSet<_>>(),
        heads
    );
}

/// Commits one turn queueing `bodies` for `destination` (a desk's pseudo-channel, say)
/// instead of the conversation's channel; returns their outbox ids.
async fn queue_to(
    store: &DynStore,
    conv: &ConversationId,
    destination: &str,
    bodies: &[&str],
    due: Timestamp,
) -> Vec<OutboxId> {
    let mut turn = turn_of(&reload(store, conv).await);
    let mut ids = Vec::new();
    for body in bodies {
        push_outbound(&mut turn, body, due);
        if let Some(last) = turn.outbox.last_mut() {
            last.message.channel = ChannelId::new(destination);
            ids.push(last.message.outbox_id.clone());
        }
    }
    store
        .commit_turn(turn)
        .await
        .must("commit_turn queueing outbox entries");
    ids
}

/// Order is kept per (conversation, destination): a desk operation being retried (its
/// desk is down) holds back the desk's later operations of that conversation, never the
/// replies to the customer, and a customer send being retried never holds back the desk.
pub async fn outbox_order_is_per_destination(store: DynStore) {
    let t0 = now();
    let done = Delivery::default();
    let x = conversation_for(&store, "xavier").await;
    let desk_ops = queue_to(&store, &x.id, "desk:webhook", &["opened", "message"], t0).await;
    let replies = queue(&store, &x.id, &["notice", "check-in"], t0).await;

    let got = store
        .claim_outbox(t0, 10, secs(60))
        .await
        .must("claim_outbox");
    assert_eq!(
        ids_of(&got),
        BTreeSet::from([desk_ops[0].clone(), replies[0].clone()]),
        "one head per destination of the conversation"
    );
    let tokens: HashMap<OutboxId, String> =
        got.iter().map(|e| (e.id.clone(), claim_of(e))).collect();
    // The desk answers 503: its operation is retried in a minute.
    assert!(
        store
            .retry_outbox(&desk_ops[0], &tokens[&desk_ops[0]], t0 + secs(60), "503")
            .await
            .must("retry")
    );
    assert!(
        store
            .complete_outbox(&replies[0], &tokens[&replies[0]], &done, t0)
            .await
            .must("complete")
    );
    let next = claim_one(&store, t0 + secs(1), secs(60)).await;
    assert_eq!(
        next.id, replies[1],
        "the customer's next message goes out while the desk is retried"
    );
    assert!(
        store
            .complete_outbox(&replies[1], &claim_of(&next), &done, t0)
            .await
            .must("complete")
    );
    assert_nothing_claimable(
        &store,
        t0 + secs(10),
        "the desk's later operation waits for the retried one",
    )
    .await;
    assert_eq!(
        store.next_outbox_due().await.must("next_outbox_due"),
        Some(t0 + secs(60)),
        "the retried desk operation is what comes due next"
    );
    let first = claim_one(&store, t0 + secs(60), secs(60)).await;
    assert_eq!(
        first.id, desk_ops[0],
        "the desk gets its operations in order"
    );
    assert!(
        store
            .complete_outbox(&desk_ops[0], &claim_of(&first), &done, t0 + secs(60))
            .await
            .must("complete")
    );
    let second = claim_one(&store, t0 + secs(60), secs(60)).await;
    assert_eq!(second.id, desk_ops[1]);
    assert!(
        store
            .complete_outbox(&desk_ops[1], &claim_of(&second), &done, t0 + secs(60))
            .await
            .must("complete")
    );

    // The reverse: a customer send being retried does not hold back the desk.
    let y = conversation_for(&store, "yvonne").await;
    let reply = queue(&store, &y.id, &["answer"], t0).await;
    let desk_op = queue_to(&store, &y.id, "desk:webhook", &["message"], t0).await;
    let got = store
        .claim_outbox(t0 + secs(61), 10, secs(60))
        .await
        .must("claim_outbox");
    assert_eq!(
        ids_of(&got),
        BTreeSet::from([reply[0].clone(), desk_op[0].clone()])
    );
    assert_eq!(store.outbox_depth().await.must("outbox_depth"), 2);
}

/// `outbox_depth` counts unfinished entries; `next_outbox_due` is when a claim could
/// next return something.
pub async fn outbox_depth_and_next_due(store: DynStore) {
    assert_eq!(store.outbox_depth().await.must("outbox_depth"), 0);
    assert_eq!(store.next_outbox_due().await.must("next_outbox_due"), None);
    let t0 = now();
    let x = conversation_for(&store, "xavier").await;
    let y = conversation_for(&store, "yvonne").await;
    let xs = queue(&store, &x.id, &["x1"], t0 + secs(10)).await;
    let ys = queue(&store, &y.id, &["y1"], t0 + secs(20)).await;
    assert_eq!(store.outbox_depth().await.must("outbox_depth"), 2);
    assert_eq!(
        store.next_outbox_due().await.must("next_outbox_due"),
        Some(t0 + secs(10))
    );

    let x1 = claim_one(&store, t0 + secs(10), secs(60)).await;
    assert_eq!(x1.id, xs[0]);
    assert_eq!(
        store.outbox_depth().await.must("outbox_depth"),
        2,
        "in-flight entries are unfinished"
    );
    assert_eq!(
        store.next_outbox_due().await.must("next_outbox_due"),
        Some(t0 + secs(20))
    );
    assert!(
        store
            .complete_outbox(&xs[0], &claim_of(&x1), &Delivery::default(), t0)
            .await
            .must("complete")
    );
    assert_eq!(store.outbox_depth().await.must("outbox_depth"), 1);

    let y1 = claim_one(&store, t0 + secs(20), secs(5)).await;
    assert_eq!(y1.id, ys[0]);
    assert_eq!(
        store.next_outbox_due().await.must("next_outbox_due"),
        Some(t0 + secs(25)),
        "lease expiry"
    );
    assert!(
        store
            .fail_outbox(&ys[0], &claim_of(&y1), "gone", t0)
            .await
            .must("fail")
    );
    assert_eq!(store.outbox_depth().await.must("outbox_depth"), 0);
    assert_eq!(store.next_outbox_due().await.must("next_outbox_due"), None);

    // Entries behind an in-flight head cannot be claimed, so they are not due yet.
    let z = conversation_for(&store, "zoe").await;
    let zs = queue(&store, &z.id, &["z1", "z2"], t0).await;
    let z1 = claim_one(&store, t0, secs(30)).await;
    assert_eq!(z1.id, zs[0]);
    assert_eq!(
        store.next_outbox_due().await.must("next_outbox_due"),
        Some(t0 + secs(30)),
        "a blocked entry must not make the dispatcher spin; the head's lease expiry is next"
    );
}

fn timer(id: &str, due_at: Timestamp) -> NewTimer {
    NewTimer {
        id: id.to_owned(),
        kind: "inactivity".to_owned(),
        payload: format!(r#"{{"id":"{id}"}}"#),
        due_at,
    }
}

/// A turn's timers are scheduled by its commit, replacing a pending timer of the same id;
/// a turn refused for a stale version schedules nothing.
pub async fn a_turn_schedules_its_timers_with_its_commit(store: DynStore) {
    let conv = conversation_for(&store, "alice").await;
    let t0 = now();
    store
        .schedule_timer(&timer("check-in", t0 + secs(5)))
        .await
        .must("schedule");
    let mut turn = turn_of(&conv);
    turn.timers = vec![
        timer("check-in", t0 + secs(60)),
        timer("sla", t0 + secs(90)),
    ];
    let stale = turn.clone();
    store.commit_turn(turn).await.must("commit_turn");
    assert_eq!(
        store.next_timer_due().await.must("next_timer_due"),
        Some(t0 + secs(60)),
        "the turn's check-in replaced the earlier one"
    );
    let mut stale = stale;
    stale.timers = vec![timer("stale", t0 + secs(1))];
    assert!(
        matches!(store.commit_turn(stale).await, Err(StoreError::Conflict(_))),
        "a turn at an old version is refused"
    );
    let due = store
        .claim_timers(t0 + secs(120), 10, secs(30))
        .await
        .must("claim");
    let ids: Vec<&str> = due.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(
        ids,
        ["check-in", "sla"],
        "the refused turn scheduled nothing"
    );
}

/// Timers come due earliest first, are held by one claimer for the lease, come back when
/// a claimer died (its lease ran out), are removed only by their current claim, and are
/// replaced by scheduling the same id again.
pub async fn timers_fire_once_per_lease_and_reschedule(store: DynStore) {
    let t0 = now();
    assert_eq!(store.next_timer_due().await.must("next_timer_due"), None);
    store
        .schedule_timer(&timer("late", t0 + secs(10)))
        .await
        .must("schedule");
    store
        .schedule_timer(&timer("early", t0 + secs(5)))
        .await
        .must("schedule");
    assert_eq!(
        store.next_timer_due().await.must("next_timer_due"),
        Some(t0 + secs(5))
    );
    assert!(
        store
            .claim_timers(t0, 10, secs(30))
            .await
            .must("claim")
            .is_empty(),
        "nothing is due before its time"
    );
    let got = store
        .claim_timers(t0 + secs(10), 10, secs(30))
        .await
        .must("claim");
    let ids: Vec<&str> = got.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["early", "late"], "earliest first");
    assert_eq!(got[0].due_at, t0 + secs(5));
    assert_eq!(got[0].kind, "inactivity");
    assert_eq!(got[0].payload, r#"{"id":"early"}"#);
    assert_eq!(got[0].attempts, 1);
    assert!(
        store
            .claim_timers(t0 + secs(11), 10, secs(30))
            .await
            .must("claim")
            .is_empty(),
        "a claimed timer is held for its lease"
    );
    assert!(
        store
            .finish_timer("early", &got[0].claim)
            .await
            .must("finish")
    );
    assert!(
        !store
            .finish_timer("early", &got[0].claim)
            .await
            .must("finish again"),
        "finished once"
    );
    assert_eq!(
        store.next_timer_due().await.must("next_timer_due"),
        Some(t0 + secs(40)),
        "the held timer's lease expiry"
    );

    // The claimer of "late" died: after its lease another claim takes it over.
    let again = store
        .claim_timers(t0 + secs(40), 10, secs(30))
        .await
        .must("claim");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, "late");
    assert_eq!(again[0].attempts, 2);
    assert_ne!(again[0].claim, got[1].claim);
    assert!(
        !store
            .finish_timer("late", &got[1].claim)
            .await
            .must("stale finish"),
        "the dead claimer's token no longer finishes it"
    );

    // Scheduling the same id again replaces it (the claim is dropped).
    store
        .schedule_timer(&timer("late", t0 + secs(100)))
        .await
        .must("reschedule");
    assert!(
        !store
            .finish_timer("late", &again[0].claim)
            .await
            .must("finish a replaced timer"),
    );
    assert!(
        store
            .claim_timers(t0 + secs(99), 10, secs(30))
            .await
            .must("claim")
            .is_empty()
    );
    let replaced = store
        .claim_timers(t0 + secs(100), 10, secs(30))
        .await
        .must("claim");
    assert_eq!(replaced.len(), 1);
    assert_eq!(replaced[0].due_at, t0 + secs(100));
    assert_eq!(replaced[0].attempts, 1);
    assert!(
        store
            .finish_timer("late", &replaced[0].claim)
            .await
            .must("finish")
    );
    assert_eq!(store.next_timer_due().await.must("next_timer_due"), None);

    // `limit` caps a claim.
    for i in 0..5 {
        store
            .schedule_timer(&timer(&format!("t{i}"), t0))
            .await
            .must("schedule");
    }
    let two = store.claim_timers(t0, 2, secs(30)).await.must("claim");
    assert_eq!(two.len(), 2);
    let rest = store.claim_timers(t0, 10, secs(30)).await.must("claim");
    assert_eq!(rest.len(), 3);
}

/// Escalation events round-trip, oldest first; counts are per reason label.
pub async fn escalations_round_trip_and_counts(store: DynStore) {
    let conv = conversation_for(&store, "alice").await;
    let mut e1 = escalation(
        &conv,
        vec![reason("keyword", "refund"), reason("sentiment_streak", "2")],
    );
    e1.reasons[0].category = Some("billing".to_owned());
    e1.message_seq = 3;
    e1.category = Some("billing".to_owned());
    e1.priority = Some("high".to_owned());
    e1.target = Some("support".to_owned());
    let mut e2 = escalation(&conv, vec![reason("keyword", "refund")]);
    e2.at = e1.at + secs(1);
    let mut turn = turn_of(&conv);
    turn.escalations = vec![e1.clone(), e2.clone()];
    store.commit_turn(turn).await.must("commit_turn");

    let other = conversation_for(&store, "bob").await;
    let mut turn = turn_of(&other);
    let mut e3 = escalation(&other, vec![reason("human_request", "agent please")]);
    e3.category = Some("human_request".to_owned());
    // A decision not to escalate (the bot offered the button) is recorded, not counted.
    let mut e4 = escalation(&other, vec![reason("low_confidence", "0.41")]);
    e4.escalate = false;
    e4.at = e3.at + secs(1);
    turn.escalations = vec![e3, e4.clone()];
    store.commit_turn(turn).await.must("commit_turn");
    let recorded = store.escalations(&other.id).await.must("escalations");
    assert_eq!(recorded.len(), 2, "every decision is recorded");
    assert_eq!(recorded[1], e4, "the non-escalation as it was");

    assert_eq!(
        store.escalations(&conv.id).await.must("escalations"),
        vec![e1, e2]
    );
    assert!(
        store
            .escalations(&ConversationId::new("conv_unknown"))
            .await
            .must("escalations")
            .is_empty()
    );
    assert_eq!(
        store.decision_counts().await.must("decision_counts"),
        (3, 1),
        "every recorded decision, by outcome"
    );
    let mut counts = store.escalation_counts().await.must("escalation_counts");
    counts.sort();
    let expected: Vec<(String, u64)> = vec![
        ("category:billing".to_owned(), 1),
        ("category:human_request".to_owned(), 1),
        ("human_request".to_owned(), 1),
        ("keyword:refund".to_owned(), 2),
        ("sentiment_streak".to_owned(), 1),
    ];
    assert_eq!(
        counts, expected,
        "counts are per `EscalationEvent::count_labels()`: escalations only, with categories"
    );
}

/// `conversation_activity`: conversations changed since `since` and opened before `until`,
/// by last change, capped, each with its agent entries' times in order.
pub async fn conversation_activity_by_period(store: DynStore) {
    let base = now();
    let ms = |n: i64| base + time::Duration::milliseconds(n);
    let mut made = Vec::new();
    for (n, subject) in ["ann", "bea", "cid"].into_iter().enumerate() {
        let opened = ms(n as i64 * 1_000);
        let customer = store
            .resolve_customer(&ExternalIdentity::new(web(), subject), opened)
            .await
            .must("resolve_customer");
        made.push(
            store
                .open_conversation(&customer.id, &web(), opened)
                .await
                .must("open_conversation"),
        );
    }
    // ann: a customer message, two agent replies around a bot one; changed at +100 s.
    let mut turn = turn_of(&made[0]);
    turn.conversation.updated_at = ms(100_000);
    turn.conversation.state.last_intent = Some("invoices".to_owned());
    let mut agent_times = Vec::new();
    for (n, from) in [Party::Customer, Party::Agent, Party::Bot, Party::Agent]
        .into_iter()
        .enumerate()
    {
        let mut e = push_entry(&mut turn, from, text("hello"));
        e.at = ms(90_000 + n as i64 * 1_000);
        *turn.entries.last_mut().expect("entry") = e.clone();
        if from == Party::Agent {
            agent_times.push(e.at);
        }
    }
    store.commit_turn(turn).await.must("commit_turn");
    // cid: changed at +50 s, no agent entry. bea stays as opened (+1 s).
    let mut turn = turn_of(&made[2]);
    turn.conversation.updated_at = ms(50_000);
    push_entry(&mut turn, Party::Customer, text("hi"));
    store.commit_turn(turn).await.must("commit_turn");
    let ann = reload(&store, &made[0].id).await;
    let cid = reload(&store, &made[2].id).await;

    let got = store
        .conversation_activity(ms(10_000), ms(3_600_000), 100)
        .await
        .must("conversation_activity");
    let ids: Vec<&ConversationId> = got.iter().map(|a| &a.conversation.id).collect();
    assert_eq!(
        ids,
        vec![&cid.id, &ann.id],
        "changed since `since`, by last change; one unchanged since is left out"
    );
    assert_eq!(got[1].conversation, ann, "the record as stored");
    assert_eq!(
        got[1].agent_replies, agent_times,
        "the agent entries' times, in order"
    );
    assert!(got[0].agent_replies.is_empty());

    let got = store
        .conversation_activity(ms(10_000), ms(1_500), 100)
        .await
        .must("conversation_activity");
    assert_eq!(
        got.iter().map(|a| &a.conversation.id).collect::<Vec<_>>(),
        vec![&ann.id],
        "opened at or after `until` is left out"
    );
    let got = store
        .conversation_activity(ms(0), ms(3_600_000), 2)
        .await
        .must("conversation_activity");
    assert_eq!(
        got.iter().map(|a| &a.conversation.id).collect::<Vec<_>>(),
        vec![&made[1].id, &cid.id],
        "at most `limit`, earliest change first"
    );
}

/// `kv_swap` writes only over the expected value (or only where there is none), and of
/// concurrent read-change-swap loops none loses an update.
pub async fn kv_swap_is_a_compare_and_set(store: DynStore) {
    let swap = |expected: Option<&'static str>, value: &'static str| {
        let store = store.clone();
        async move {
            store
                .kv_swap("desk:console", "rec", expected, value)
                .await
                .must("kv_swap")
        }
    };
    assert!(swap(None, "1").await, "creates a missing pair");
    assert!(!swap(None, "2").await, "`None` refuses an existing pair");
    assert!(
        !swap(Some("0"), "2").await,
        "a stale expectation is refused"
    );
    assert_eq!(
        store.kv_get("desk:console", "rec").await.must("kv_get"),
        Some("1".into()),
        "refused swaps change nothing"
    );
    assert!(swap(Some("1"), "2").await, "the current value is replaced");
    assert!(
        !store
            .kv_swap("desk:other", "rec", Some("2"), "3")
            .await
            .must("kv_swap"),
        "namespaces are separate"
    );
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let store = store.clone();
        tasks.spawn(async move {
            for _ in 0..5 {
                loop {
                    let old = store.kv_get("desk:console", "n").await.must("kv_get");
                    let n: u32 = old.as_deref().map_or(0, |v| v.parse().expect("a number"));
                    let next = (n + 1).to_string();
                    if store
                        .kv_swap("desk:console", "n", old.as_deref(), &next)
                        .await
                        .must("kv_swap")
                    {
                        break;
                    }
                }
            }
        });
    }
    tasks.join_all().await;
    assert_eq!(
        store.kv_get("desk:console", "n").await.must("kv_get"),
        Some("40".into()),
        "8 writers x 5 increments through swaps: none lost"
    );
}

/// The key-value space: get, put, overwrite, separate namespaces.
pub async fn kv_round_trip(store: DynStore) {
    assert_eq!(
        store.kv_get("telegram", "offset").await.must("kv_get"),
        None
    );
    store
        .kv_put("telegram", "offset", "41")
        .await
        .must("kv_put");
    assert_eq!(
        store
            .kv_get("telegram", "offset")
            .await
            .must("kv_get")
            .as_deref(),
        Some("41")
    );
    store
        .kv_put("telegram", "offset", "42")
        .await
        .must("kv_put overwrite");
    assert_eq!(
        store
            .kv_get("telegram", "offset")
            .await
            .must("kv_get")
            .as_deref(),
        Some("42"),
        "last write wins"
    );
    assert_eq!(
        store.kv_get("web", "offset").await.must("kv_get"),
        None,
        "namespaces are separate"
    );
    store.kv_put("web", "offset", "").await.must("kv_put empty");
    assert_eq!(
        store
            .kv_get("web", "offset")
            .await
            .must("kv_get")
            .as_deref(),
        Some("")
    );
    assert_eq!(
        store
            .kv_get("telegram", "offset")
            .await
            .must("kv_get")
            .as_deref(),
        Some("42")
    );
    store
        .kv_put("web", "session:ü", "{\"k\":\"v\"}")
        .await
        .must("kv_put");
    assert_eq!(
        store
            .kv_get("web", "session:ü")
            .await
            .must("kv_get")
            .as_deref(),
        Some("{\"k\":\"v\"}")
    );
}

/// 8 tasks × 50 concurrent records with duplicates: each key recorded once, seqs unique.
pub async fn concurrent_record_inbound(store: DynStore) {
    let mut tasks = Vec::new();
    for t in 0..8u32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for i in 0..50u32 {
                let key = format!("m{}", (t * 50 + i) % 200); // every key twice
                let rec = store
                    .record_inbound(&inbound(web(), &key, "alice", &key), now())
                    .await;
                out.push((key, rec.must("concurrent record_inbound")));
            }
            out
        }));
    }
    let mut by_key: HashMap<String, Vec<(u64, bool)>> = HashMap::new();
    for task in tasks {
        for (key, rec) in task.await.expect("task panicked") {
            by_key
                .entry(key)
                .or_default()
                .push((rec.seq, rec.duplicate));
        }
    }
    assert_eq!(by_key.len(), 200);
    let mut seqs = HashSet::new();
    for (key, recs) in &by_key {
        let firsts = recs.iter().filter(|(_, dup)| !dup).count();
        assert_eq!(
            firsts, 1,
            "key {key} must be recorded exactly once: {recs:?}"
        );
        assert!(
            recs.iter().all(|(s, _)| *s == recs[0].0),
            "key {key} must have one seq: {recs:?}"
        );
        assert!(
            seqs.insert(recs[0].0),
            "seq {} given to two keys",
            recs[0].0
        );
    }
    let pending = store.pending_inbound(1000).await.must("pending_inbound");
    assert_eq!(
        pending.len(),
        200,
        "exactly the distinct messages are pending"
    );
    assert!(
        pending.windows(2).all(|w| w[0].seq < w[1].seq),
        "pending in seq order"
    );
}

/// 16 concurrent resolutions of one identity create one customer.
pub async fn concurrent_resolve_customer(store: DynStore) {
    let identity = ExternalIdentity::new(web(), "alice");
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (store, identity) = (store.clone(), identity.clone());
            tokio::spawn(async move {
                store
                    .resolve_customer(&identity, now())
                    .await
                    .must("resolve_customer")
            })
        })
        .collect();
    let mut ids = HashSet::new();
    for task in tasks {
        ids.insert(task.await.expect("task panicked").id);
    }
    assert_eq!(ids.len(), 1, "one identity must be one customer: {ids:?}");
    let id = ids.into_iter().next().expect("one id");
    assert_eq!(store.identities(&id).await.must("identities").len(), 1);
}

/// 16 concurrent opens for one customer yield one open conversation.
pub async fn concurrent_open_conversation(store: DynStore) {
    let customer = store
        .resolve_customer(&ExternalIdentity::new(web(), "alice"), now())
        .await
        .must("resolve");
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let (store, id) = (store.clone(), customer.id.clone());
            let channel = if i % 2 == 0 { web() } else { sms() };
            tokio::spawn(async move {
                store
                    .open_conversation(&id, &channel, now())
                    .await
                    .must("open_conversation")
            })
        })
        .collect();
    let mut ids = HashSet::new();
    for task in tasks {
        ids.insert(task.await.expect("task panicked").id);
    }
    assert_eq!(
        ids.len(),
        1,
        "a customer has at most one open conversation: {ids:?}"
    );
}

/// Of 8 concurrent turns at the same version exactly one commits.
pub async fn concurrent_turns_one_wins(store: DynStore) {
    let conv = conversation_for(&store, "alice").await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let mut turn = turn_of(&conv);
            push_entry(&mut turn, Party::Customer, text(&format!("writer {i}")));
            push_outbound(&mut turn, &format!("reply {i}"), now());
            tokio::spawn(async move { store.commit_turn(turn).await })
        })
        .collect();
    let (mut won, mut conflicts) = (0, 0);
    for task in tasks {
        match task.await.expect("task panicked") {
            Ok(()) => won += 1,
            Err(StoreError::Conflict(_)) => conflicts += 1,
            Err(e) => panic!("a losing turn must be a Conflict, got {e}"),
        }
    }
    assert_eq!(
        (won, conflicts),
        (1, 7),
        "exactly one turn at a version commits"
    );
    assert_eq!(reload(&store, &conv.id).await.version, conv.version + 1);
    assert_eq!(
        store
            .transcript(&conv.id, 100)
            .await
            .must("transcript")
            .len(),
        2,
        "one turn's entries"
    );
    assert_eq!(
        store.outbox_depth().await.must("outbox_depth"),
        1,
        "one turn's outbox entry"
    );
}

/// Concurrent claimers never get the same entry, and each conversation is delivered in
/// order.
pub async fn concurrent_claim_outbox(store: DynStore) {
    let t0 = now();
    let mut queued: HashMap<ConversationId, Vec<OutboxId>> = HashMap::new();
    for c in 0..10 {
        let conv = conversation_for(&store, &format!("user{c}")).await;
        let ids = queue(&store, &conv.id, &["a", "b", "c"], t0).await;
        queued.insert(conv.id, ids);
    }
    let claimed: Arc<Mutex<Vec<(ConversationId, OutboxId)>>> = Arc::default();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (store, claimed) = (store.clone(), claimed.clone());
            tokio::spawn(async move {
                for _ in 0..10_000 {
                    let got = store
                        .claim_outbox(t0, 3, secs(600))
                        .await
                        .must("claim_outbox");
                    if got.is_empty() {
                        if store.outbox_depth().await.must("outbox_depth") == 0 {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        continue;
                    }
                    for e in got {
                        claimed
                            .lock()
                            .expect("claimed list")
                            .push((e.message.conversation_id.clone(), e.id.clone()));
                        let ok = store
                            .complete_outbox(&e.id, &claim_of(&e), &Delivery::default(), t0)
                            .await;
                        assert!(ok.must("complete_outbox"), "a fresh claim must complete");
                    }
                }
                panic!("claimers did not drain the outbox");
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("claimer panicked");
    }
    let claimed = claimed.lock().expect("claimed list").clone();
    let distinct: HashSet<&OutboxId> = claimed.iter().map(|(_, id)| id).collect();
    assert_eq!(
        distinct.len(),
        claimed.len(),
        "an entry was handed to two claimers"
    );
    assert_eq!(claimed.len(), 30, "every entry is claimed once");
    for (conv, ids) in &queued {
        let order: Vec<&OutboxId> = claimed
            .iter()
            .filter(|(c, _)| c == conv)
            .map(|(_, id)| id)
            .collect();
        assert_eq!(
            order,
            ids.iter().collect::<Vec<_>>(),
            "conversation {conv} out of order"
        );
    }
}
