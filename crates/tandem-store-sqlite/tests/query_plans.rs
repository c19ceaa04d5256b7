//! The hot queries use indexes: a message's whole path through the store (inbound log,
//! identity, conversation, turn, outbox claim and completion, delivery reports, timers,
//! repeat-contact and health reads) runs with statement recording on; every statement it
//! ran is then explained (`EXPLAIN QUERY PLAN`) on the same database, and none may scan a
//! table. A scan of a partial index that holds only unfinished work (bounded by the
//! backlog, not by history) is allowed, by name.
//!
//! Its own test binary: the statement registry is process-wide.

use std::sync::Arc;
use std::time::Duration;
use tandem_core::store::{EscalationEvent, NewOutboxEntry, NewTimer, Store, Turn};
use tandem_model::{
    ChannelId, Content, Delivery, DeliveryState, DeliveryStatus, DeliveryTarget, DeliveryUpdate,
    EscalationId, ExternalIdentity, InboundMessage, MessageId, OutboundContent, OutboundMessage,
    OutboxId, Party, PlatformMessageId, Timestamp, TranscriptEntry,
};
use tandem_store_sqlite::{SqliteStore, stats};

/// Partial indexes over unfinished rows only: scanning one costs the backlog, not history.
const BOUNDED_INDEXES: [&str; 5] = [
    "inbound_pending",
    "outbox_unfinished",
    "outbox_unfinished_destination",
    "outbox_pending_due",
    "outbox_lease",
];

fn identity(subject: &str) -> ExternalIdentity {
    ExternalIdentity {
        channel: ChannelId::new("whatsapp"),
        subject: subject.to_owned(),
        display_name: Some("Lena".into()),
        verified_phone: Some(format!("+{subject}")),
        verified_email: None,
        verified: false,
        claimed_email: None,
        claimed_phone: None,
    }
}

/// One customer message and its answer, the way the core stores them.
async fn one_message(store: &dyn Store, subject: &str, n: usize, now: Timestamp) {
    let channel = ChannelId::new("whatsapp");
    let who = identity(subject);
    let inbound = InboundMessage {
        channel: channel.clone(),
        platform_message_id: PlatformMessageId::new(format!("wamid.{subject}.{n}")),
        sender: who.clone(),
        sent_at: now,
        content: Content::Text {
            text: "where is my order?".into(),
        },
    };
    let record = store.record_inbound(&inbound, now).await.unwrap();
    store.pending_inbound(100).await.unwrap();
    let customer = store.resolve_customer(&who, now).await.unwrap();
    store.customer(&customer.id).await.unwrap();
    store.customer_by_identity(&channel, subject).await.unwrap();
    store.identities(&customer.id).await.unwrap();
    store.conversations_of(&customer.id, 50).await.unwrap();
    store.reachability(&channel, subject).await.unwrap();
    let conv = store
        .open_conversation(&customer.id, &channel, now)
        .await
        .unwrap();
    let conv = store.conversation(&conv.id).await.unwrap().unwrap();
    store.transcript(&conv.id, 20).await.unwrap();
    store.escalations(&conv.id).await.unwrap();
    let seq = conv.next_seq;
    let entry = |seq: u64, from: Party| TranscriptEntry {
        id: MessageId::generate(),
        conversation_id: conv.id.clone(),
        customer_id: customer.id.clone(),
        seq,
        from,
        channel: channel.clone(),
        at: now,
        content: Content::Text {
            text: "text".into(),
        },
        buttons: Vec::new(),
        platform_message_id: None,
    };
    let answer = entry(seq + 1, Party::Bot);
    let outbox_id = OutboxId::generate();
    let mut next = conv.clone();
    next.next_seq = seq + 2;
    next.updated_at = now;
    store
        .commit_turn(Turn {
            inbound_seq: Some(record.seq),
            conversation: next,
            entries: vec![entry(seq, Party::Customer), answer.clone()],
            escalations: vec![EscalationEvent {
                id: EscalationId::generate(),
                conversation_id: conv.id.clone(),
                customer_id: customer.id.clone(),
                at: now,
                message_seq: seq,
                escalate: n.is_multiple_of(5),
                reasons: Vec::new(),
                category: Some("billing".into()),
                priority: Some("high".into()),
                target: Some("billing".into()),
                policy_version: "v1".into(),
            }],
            outbox: vec![NewOutboxEntry {
                message: OutboundMessage {
                    outbox_id: outbox_id.clone(),
                    channel: channel.clone(),
                    recipient: subject.to_owned(),
                    conversation_id: conv.id.clone(),
                    from: Party::Bot,
                    content: OutboundContent::text("You can follow it from the email."),
                    message_id: answer.id.clone(),
                    created_at: now,
                },
                next_attempt_at: now,
            }],
            timers: Vec::new(),
            ai_audit: Vec::new(),
        })
        .await
        .unwrap();
    store
        .schedule_timer(&NewTimer {
            id: format!("inactivity:{}", conv.id.as_str()),
            kind: "inactivity".into(),
            payload: "{}".into(),
            due_at: now + time::Duration::minutes(10),
        })
        .await
        .unwrap();
    store.next_outbox_due().await.unwrap();
    store.outbox_depth().await.unwrap();
    let claimed = store
        .claim_outbox(now, 16, Duration::from_secs(30))
        .await
        .unwrap();
    for c in &claimed {
        let pmid = format!("wamid.out.{}", c.id.as_str());
        let claim = c.claim.clone().unwrap_or_default();
        store
            .complete_outbox(
                &c.id,
                &claim,
                &Delivery {
                    platform_message_id: Some(pmid.clone()),
                    state: DeliveryState::Sent,
                },
                now,
            )
            .await
            .unwrap();
        store
            .record_delivery_status(&DeliveryUpdate {
                channel: channel.clone(),
                target: DeliveryTarget::Message {
                    platform_message_id: pmid,
                },
                status: DeliveryStatus::Delivered,
                at: now,
            })
            .await
            .unwrap();
        store.outbox_entry(&c.id).await.unwrap();
    }
    store
        .record_delivery_status(&DeliveryUpdate {
            channel: channel.clone(),
            target: DeliveryTarget::UpTo {
                recipient: subject.to_owned(),
                watermark: now,
            },
            status: DeliveryStatus::Read,
            at: now,
        })
        .await
        .unwrap();
    store.next_timer_due().await.unwrap();
    for t in store
        .claim_timers(now + time::Duration::hours(1), 16, Duration::from_secs(30))
        .await
        .unwrap()
    {
        store.finish_timer(&t.id, &t.claim).await.unwrap();
    }
    store.kv_put("desk:slack", "thread:h1", "ts").await.unwrap();
    store.kv_get("desk:slack", "thread:h1").await.unwrap();
    // Not here: `decision_counts` (one scan at start-up, for the escalation rate).
    store
        .conversation_activity(now - time::Duration::days(1), now, 100)
        .await
        .unwrap();
    if n.is_multiple_of(3) {
        store.close_conversation(&conv.id, now).await.unwrap();
    }
}

#[tokio::test]
async fn every_statement_of_a_message_path_uses_an_index() {
    stats::enable();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tandem.db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    stats::reset();
    let now = tandem_model::now();
    for n in 0..30 {
        one_message(&*store, &format!("4915{:07}", n % 7), n, now).await;
    }
    store.flush().await.unwrap();

    let statements = stats::snapshot();
    assert!(
        statements.len() > 30,
        "the workload ran {} distinct statements; recording is broken",
        statements.len()
    );
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut scans = Vec::new();
    let mut explained = 0;
    for sql in statements.keys() {
        let head = sql.trim_start().to_ascii_uppercase();
        if !["SELECT", "INSERT", "UPDATE", "DELETE", "WITH"]
            .iter()
            .any(|k| head.starts_with(k))
        {
            continue; // BEGIN, COMMIT, SAVEPOINT, PRAGMA
        }
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap_or_else(|e| panic!("explaining {sql}: {e}"));
        // The plan is made at prepare time; the values (all NULL here) do not change it.
        let nulls = vec![rusqlite::types::Null; stmt.parameter_count()];
        let details: Vec<String> = stmt
            .query_map(rusqlite::params_from_iter(nulls), |row| {
                row.get::<_, String>(3)
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        explained += 1;
        for d in details {
            let Some(rest) = d.strip_prefix("SCAN ") else {
                continue;
            };
            // `SCAN <table> USING [COVERING] INDEX <index>`: fine when the index is bounded.
            let bounded = rest
                .split_whitespace()
                .last()
                .is_some_and(|index| BOUNDED_INDEXES.contains(&index))
                && rest.contains(" INDEX ");
            // A subquery's own (already bounded) result, or json_each over one row's JSON.
            let derived = rest.starts_with("(subquery-") || rest.starts_with("json_each");
            if !bounded && !derived {
                scans.push(format!("{d}\n    in: {}", one_line(sql)));
            }
        }
    }
    assert!(explained > 25, "only {explained} statements explained");
    assert!(
        scans.is_empty(),
        "statements on the message path scan a table:\n{}",
        scans.join("\n")
    );
}

fn one_line(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}
