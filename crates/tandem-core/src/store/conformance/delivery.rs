//! Conformance scenarios for delivery reports and reachability
//! ([`WorkQueue::record_delivery_status`](crate::store::WorkQueue::record_delivery_status),
//! [`WorkQueue::set_reachability`](crate::store::WorkQueue::set_reachability),
//! [`WorkQueue::reachability`](crate::store::WorkQueue::reachability)).

use super::{Must, conversation_for, entry_of, push_outbound, reload, secs, turn_of, web};
use crate::store::{DynStore, OutboxStatus, delivery_failure_text};
use tandem_model::{
    ChannelId, Delivery, DeliveryState, DeliveryStatus, DeliveryTarget, DeliveryUpdate,
    FailureKind, OutboxId, Reachability, Timestamp, now,
};

/// Queues one message to `recipient` in `subject`'s conversation, claims it and marks it
/// sent at `sent_at` with the platform id `platform_id`.
async fn sent(
    store: &DynStore,
    subject: &str,
    recipient: &str,
    platform_id: &str,
    sent_at: Timestamp,
) -> OutboxId {
    let conv = conversation_for(store, subject).await;
    let mut turn = turn_of(&reload(store, &conv.id).await);
    let mut message = push_outbound(&mut turn, "hello", sent_at);
    message.recipient = recipient.to_owned();
    turn.outbox[0].message = message.clone();
    store.commit_turn(turn).await.must("commit_turn");
    let claimed = store
        .claim_outbox(sent_at, 10, secs(60))
        .await
        .must("claim_outbox");
    let entry = claimed
        .into_iter()
        .find(|e| e.id == message.outbox_id)
        .expect("the queued entry is claimable");
    let delivery = Delivery {
        platform_message_id: Some(platform_id.to_owned()),
        state: DeliveryState::Sent,
    };
    let claim = entry.claim.clone().expect("claimed entries carry a claim");
    assert!(
        store
            .complete_outbox(&entry.id, &claim, &delivery, sent_at)
            .await
            .must("complete_outbox"),
        "a fresh claim completes"
    );
    entry.id
}

fn report(channel: ChannelId, target: DeliveryTarget, status: DeliveryStatus) -> DeliveryUpdate {
    DeliveryUpdate {
        channel,
        target,
        status,
        at: now(),
    }
}

fn by_id(id: &str) -> DeliveryTarget {
    DeliveryTarget::Message {
        platform_message_id: id.to_owned(),
    }
}

/// Delivery reports move a sent entry forward only (sent → delivered → read), are
/// idempotent, and match on (channel, platform id).
pub async fn delivery_status_moves_forward(store: DynStore) {
    let id = sent(&store, "alice", "alice", "wamid.1", now()).await;
    assert_eq!(
        entry_of(&store, &id).await.delivery_state,
        Some(DeliveryState::Sent),
        "complete_outbox stores the delivery state"
    );
    let other_channel = report(
        ChannelId::new("sms"),
        by_id("wamid.1"),
        DeliveryStatus::Delivered,
    );
    assert!(
        store
            .record_delivery_status(&other_channel)
            .await
            .must("record_delivery_status")
            .is_empty(),
        "a report from another channel must not match"
    );
    let unknown = report(web(), by_id("wamid.unknown"), DeliveryStatus::Delivered);
    assert!(
        store
            .record_delivery_status(&unknown)
            .await
            .must("record_delivery_status")
            .is_empty()
    );

    let delivered = report(web(), by_id("wamid.1"), DeliveryStatus::Delivered);
    let changed = store
        .record_delivery_status(&delivered)
        .await
        .must("record_delivery_status");
    assert_eq!(changed.len(), 1, "the sent entry is delivered");
    assert_eq!(changed[0].id, id);
    assert_eq!(changed[0].delivery_state, Some(DeliveryState::Delivered));
    assert_eq!(changed[0].status, OutboxStatus::Sent);
    assert!(
        store
            .record_delivery_status(&delivered)
            .await
            .must("record_delivery_status")
            .is_empty(),
        "a repeated report changes nothing"
    );
    let read = report(web(), by_id("wamid.1"), DeliveryStatus::Read);
    let changed = store
        .record_delivery_status(&read)
        .await
        .must("record_delivery_status");
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].delivery_state, Some(DeliveryState::Read));
    assert!(
        store
            .record_delivery_status(&delivered)
            .await
            .must("record_delivery_status")
            .is_empty(),
        "delivered after read must not move the state back"
    );
    assert_eq!(
        entry_of(&store, &id).await.delivery_state,
        Some(DeliveryState::Read)
    );
    let sent_report = report(web(), by_id("wamid.1"), DeliveryStatus::Sent);
    assert!(
        store
            .record_delivery_status(&sent_report)
            .await
            .must("record_delivery_status")
            .is_empty()
    );
}

/// A failure report marks the sent entry failed once, with the standard error text.
pub async fn delivery_failure_marks_failed(store: DynStore) {
    let id = sent(&store, "bob", "bob", "wamid.2", now()).await;
    let failed = report(
        web(),
        by_id("wamid.2"),
        DeliveryStatus::Failed {
            kind: FailureKind::WindowClosed,
            code: Some("131047".into()),
            reason: "Re-engagement message".into(),
        },
    );
    let changed = store
        .record_delivery_status(&failed)
        .await
        .must("record_delivery_status");
    assert_eq!(changed.len(), 1, "the sent entry fails");
    let expected = delivery_failure_text(
        FailureKind::WindowClosed,
        Some("131047"),
        "Re-engagement message",
    );
    assert_eq!(
        expected,
        "undeliverable: window_closed (131047: Re-engagement message)"
    );
    let stored = entry_of(&store, &id).await;
    assert_eq!(stored.status, OutboxStatus::Failed);
    assert_eq!(stored.last_error.as_deref(), Some(expected.as_str()));
    assert_eq!(changed[0].status, OutboxStatus::Failed);
    assert!(
        store
            .record_delivery_status(&failed)
            .await
            .must("record_delivery_status")
            .is_empty(),
        "a repeated failure report changes nothing"
    );
    assert_eq!(store.outbox_depth().await.must("outbox_depth"), 0);
}

/// A watermark report covers every message sent to that recipient up to the watermark,
/// and nothing else.
pub async fn delivery_watermark_covers_earlier_messages(store: DynStore) {
    let t0 = now();
    let first = sent(&store, "carol", "psid-1", "m_1", t0).await;
    let second = sent(&store, "carol", "psid-1", "m_2", t0 + secs(10)).await;
    let other = sent(&store, "dave", "psid-2", "m_3", t0).await;
    let up_to = |watermark: Timestamp, status: DeliveryStatus| {
        report(
            web(),
            DeliveryTarget::UpTo {
                recipient: "psid-1".into(),
                watermark,
            },
            status,
        )
    };
    let changed = store
        .record_delivery_status(&up_to(t0 + secs(5), DeliveryStatus::Delivered))
        .await
        .must("record_delivery_status");
    assert_eq!(
        changed.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        vec![first.clone()]
    );
    let changed = store
        .record_delivery_status(&up_to(t0 + secs(20), DeliveryStatus::Read))
        .await
        .must("record_delivery_status");
    assert_eq!(changed.len(), 2, "both messages to psid-1 are read");
    assert_eq!(
        entry_of(&store, &second).await.delivery_state,
        Some(DeliveryState::Read)
    );
    assert_eq!(
        entry_of(&store, &other).await.delivery_state,
        Some(DeliveryState::Sent),
        "another recipient's message is untouched"
    );
    let failed = up_to(
        t0 + secs(20),
        DeliveryStatus::Failed {
            kind: FailureKind::Other,
            code: None,
            reason: "x".into(),
        },
    );
    assert!(
        store
            .record_delivery_status(&failed)
            .await
            .must("record_delivery_status")
            .is_empty(),
        "a failure is only ever about one message"
    );
}

/// Reachability round-trips per (channel, subject), and an older report never overrides
/// a newer one.
pub async fn reachability_newest_report_wins(store: DynStore) {
    let tg = ChannelId::new("telegram");
    assert_eq!(
        store.reachability(&tg, "42").await.must("reachability"),
        None
    );
    let t0 = now();
    let blocked = Reachability {
        reachable: false,
        reason: "telegram:blocked".into(),
        at: t0,
    };
    assert!(
        store
            .set_reachability(&tg, "42", &blocked)
            .await
            .must("set_reachability")
    );
    assert_eq!(
        store.reachability(&tg, "42").await.must("reachability"),
        Some(blocked.clone())
    );
    assert_eq!(
        store.reachability(&web(), "42").await.must("reachability"),
        None,
        "per channel"
    );
    assert_eq!(
        store.reachability(&tg, "43").await.must("reachability"),
        None,
        "per subject"
    );
    let older = Reachability {
        reachable: true,
        reason: "telegram:member".into(),
        at: t0 - secs(60),
    };
    assert!(
        !store
            .set_reachability(&tg, "42", &older)
            .await
            .must("set_reachability")
    );
    assert_eq!(
        store.reachability(&tg, "42").await.must("reachability"),
        Some(blocked)
    );
    let newer = Reachability {
        reachable: true,
        reason: "telegram:member".into(),
        at: t0 + secs(60),
    };
    assert!(
        store
            .set_reachability(&tg, "42", &newer)
            .await
            .must("set_reachability")
    );
    assert_eq!(
        store.reachability(&tg, "42").await.must("reachability"),
        Some(newer)
    );
}
