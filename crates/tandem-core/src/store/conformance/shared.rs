//! Conformance scenarios for what processes sharing a store coordinate through: leases
//! ([`KeyValue::try_lease`](crate::store::KeyValue::try_lease),
//! [`KeyValue::release_lease`](crate::store::KeyValue::release_lease)) and notifications
//! ([`KeyValue::publish_notification`](crate::store::KeyValue::publish_notification),
//! [`KeyValue::notification_feed`](crate::store::KeyValue::notification_feed)).

use super::{Must, secs};
use crate::store::{DynStore, Notification};
use std::time::Duration;
use tandem_model::now;

/// One holder at a time; the holder renews; another takes over only after expiry or a
/// release; leases are independent by name.
pub async fn leases_have_one_holder_until_expiry(store: DynStore) {
    let t0 = now();
    let ttl = secs(10);
    assert!(
        store
            .try_lease("poller", "a", ttl, t0)
            .await
            .must("try_lease"),
        "a free lease is taken"
    );
    assert!(
        !store
            .try_lease("poller", "b", ttl, t0 + secs(1))
            .await
            .must("try_lease"),
        "a held lease is refused to another holder"
    );
    assert!(
        store
            .try_lease("poller", "a", ttl, t0 + secs(5))
            .await
            .must("try_lease"),
        "the holder renews"
    );
    assert!(
        !store
            .try_lease("poller", "b", ttl, t0 + secs(12))
            .await
            .must("try_lease"),
        "a renewed lease runs from the renewal"
    );
    assert!(
        store
            .try_lease("other", "b", ttl, t0 + secs(12))
            .await
            .must("try_lease"),
        "leases of other names are independent"
    );
    assert!(
        store
            .try_lease("poller", "b", ttl, t0 + secs(16))
            .await
            .must("try_lease"),
        "an expired lease is taken over"
    );
    assert!(
        !store
            .try_lease("poller", "a", ttl, t0 + secs(17))
            .await
            .must("try_lease"),
        "the former holder is refused once another took over"
    );
    assert!(
        !store
            .release_lease("poller", "a")
            .await
            .must("release_lease"),
        "only the holder releases"
    );
    assert!(
        store
            .release_lease("poller", "b")
            .await
            .must("release_lease"),
        "the holder releases"
    );
    assert!(
        store
            .try_lease("poller", "a", ttl, t0 + secs(18))
            .await
            .must("try_lease"),
        "a released lease is free at once"
    );
}

/// Of many concurrent takers of one free lease, exactly one gets it.
pub async fn concurrent_try_lease_one_wins(store: DynStore) {
    let t0 = now();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .try_lease("race", &format!("holder-{i}"), secs(30), t0)
                .await
                .must("try_lease")
        }));
    }
    let mut winners = 0;
    for t in tasks {
        if t.await.expect("task panicked") {
            winners += 1;
        }
    }
    assert_eq!(winners, 1, "exactly one concurrent taker holds the lease");
}

/// A store shared by processes delivers every published notification to every feed,
/// in publication order, with its topic, origin and payload; a store one process holds
/// has no feed (and publishing is harmless).
pub async fn notifications_reach_every_feed_in_order(store: DynStore) {
    let Some(mut first) = store.notification_feed().await.must("notification_feed") else {
        store
            .publish_notification(&Notification {
                topic: "channel:webchat".into(),
                origin: "p1".into(),
                payload: "{}".into(),
            })
            .await
            .must("publish_notification");
        return;
    };
    let mut second = store
        .notification_feed()
        .await
        .must("notification_feed")
        .expect("a second feed on a shared store");
    let sent: Vec<Notification> = (0..5)
        .map(|i| Notification {
            topic: if i % 2 == 0 {
                "channel:webchat"
            } else {
                "desk:console"
            }
            .into(),
            origin: format!("p{}", i % 2),
            payload: format!("{{\"n\":{i}}}"),
        })
        .collect();
    for n in &sent {
        store
            .publish_notification(n)
            .await
            .must("publish_notification");
    }
    for feed in [&mut first, &mut second] {
        let mut got = Vec::new();
        while got.len() < sent.len() {
            match tokio::time::timeout(Duration::from_secs(10), feed.recv()).await {
                Ok(Some(n)) => got.push(n),
                Ok(None) => panic!("the notification feed ended"),
                Err(_) => panic!("only {} of {} notifications arrived", got.len(), sent.len()),
            }
        }
        assert_eq!(got, sent, "every notification, in publication order");
    }
}

/// A sender's unprocessed records before a given one, in order, and nobody else's.
pub async fn pending_inbound_before_is_per_sender_and_ordered(store: DynStore) {
    use super::{inbound, web};
    let mut seqs = Vec::new();
    for (id, who) in [
        ("m1", "alice"),
        ("m2", "bob"),
        ("m3", "alice"),
        ("m4", "alice"),
    ] {
        seqs.push(
            store
                .record_inbound(&inbound(web(), id, who, "hi"), now())
                .await
                .must("record")
                .seq,
        );
    }
    store
        .mark_inbound_processed(seqs[0], now())
        .await
        .must("mark");
    let before = |seq: u64| {
        let store = store.clone();
        async move {
            store
                .pending_inbound_before(&web(), "alice", seq, 10)
                .await
                .must("pending_inbound_before")
                .into_iter()
                .map(|p| p.seq)
                .collect::<Vec<u64>>()
        }
    };
    assert_eq!(
        before(seqs[3]).await,
        vec![seqs[2]],
        "alice's unprocessed, earlier only"
    );
    assert_eq!(
        before(seqs[2]).await,
        Vec::<u64>::new(),
        "processed ones are not pending"
    );
    assert_eq!(
        store
            .pending_inbound_before(&web(), "bob", seqs[3] + 1, 10)
            .await
            .must("pending_inbound_before")
            .len(),
        1,
        "bob's own"
    );
}

/// Shared send budgets ([`KeyValue::reserve_pacing`](crate::store::KeyValue::reserve_pacing),
/// [`KeyValue::pause_pacing`](crate::store::KeyValue::pause_pacing)): a burst goes at once, then
/// one slot per interval; budgets are independent by key; time refills them; a pause holds
/// a key; concurrent callers never get the same slot. A store that keeps no shared budgets
/// (`None`) must say so on every call and accept pauses.
pub async fn shared_pacing_keeps_one_rate(store: DynStore) {
    // An hour ahead: a store may drop a budget whose last slot is past on its own clock
    // (MongoDB's TTL monitor), which is right when callers pass the current time, as
    // they do, but would reset this scenario's budgets while it runs.
    let t0 = now() + secs(3600);
    let ms = Duration::from_millis;
    let interval = ms(100);
    let Some(first) = store
        .reserve_pacing("channel:tg", interval, 3, t0)
        .await
        .must("reserve_pacing")
    else {
        store
            .pause_pacing("channel:tg", t0 + secs(5))
            .await
            .must("pause_pacing");
        assert!(
            store
                .reserve_pacing("channel:tg", interval, 3, t0)
                .await
                .must("reserve_pacing")
                .is_none(),
            "a store without shared budgets says so every time"
        );
        return;
    };
    let mut waits = vec![first];
    for _ in 0..4 {
        waits.push(
            store
                .reserve_pacing("channel:tg", interval, 3, t0)
                .await
                .must("reserve_pacing")
                .expect("a store that shares budgets keeps sharing them"),
        );
    }
    assert_eq!(
        waits,
        [
            Duration::ZERO,
            Duration::ZERO,
            Duration::ZERO,
            ms(100),
            ms(200)
        ],
        "the burst of 3 goes at once, then one send per 100 ms"
    );
    let reserve = |key: &'static str, at| {
        let store = store.clone();
        async move {
            store
                .reserve_pacing(key, interval, 1, at)
                .await
                .must("reserve_pacing")
                .expect("shared")
        }
    };
    assert_eq!(
        reserve("channel:wa", t0).await,
        Duration::ZERO,
        "budgets are independent by key"
    );
    assert_eq!(
        reserve("channel:tg", t0 + secs(10)).await,
        Duration::ZERO,
        "time refills the budget"
    );
    store
        .pause_pacing("channel:tg", t0 + secs(15))
        .await
        .must("pause_pacing");
    store
        .pause_pacing("channel:tg", t0 + secs(12))
        .await
        .must("pause_pacing");
    assert_eq!(
        reserve("channel:tg", t0 + secs(10)).await,
        secs(5),
        "a pause holds the budget until its end; an earlier pause does not shorten it"
    );
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        tasks.spawn(reserve("recipient:tg:abc", t0));
    }
    let mut got: Vec<Duration> = tasks.join_all().await;
    got.sort();
    let expected: Vec<Duration> = (0..20).map(|i| ms(100 * i)).collect();
    assert_eq!(
        got, expected,
        "20 concurrent callers take 20 distinct slots, 100 ms apart"
    );
}
