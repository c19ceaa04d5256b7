//! Tests of what only the SQLite store has: durability across reopen, migrations, corrupt
//! rows, group commit, and the writer's shutdown.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tandem_core::store::prelude::*;
use tandem_core::store::{
    ConversationRecord, ConversationStatus, NewOutboxEntry, Store, StoreError, Turn,
};
use tandem_model::{
    ChannelId, Content, ExternalIdentity, InboundMessage, MessageId, OutboundContent,
    OutboundMessage, OutboxId, Party, PlatformMessageId, TranscriptEntry, now,
};
use tandem_store_sqlite::{SCHEMA_VERSION, SqliteStore};

fn web() -> ChannelId {
    ChannelId::new("web")
}

fn inbound(id: &str) -> InboundMessage {
    InboundMessage {
        channel: web(),
        platform_message_id: PlatformMessageId::new(id),
        sender: ExternalIdentity::new(web(), "alice"),
        sent_at: now(),
        content: Content::Text {
            text: format!("message {id}"),
        },
    }
}

async fn conversation(store: &SqliteStore, subject: &str) -> ConversationRecord {
    let customer = store
        .resolve_customer(&ExternalIdentity::new(web(), subject), now())
        .await
        .unwrap();
    store
        .open_conversation(&customer.id, &web(), now())
        .await
        .unwrap()
}

/// A turn at `conv`'s version with one bot entry and its outbox message.
fn reply_turn(conv: &ConversationRecord, text: &str) -> (Turn, OutboxId) {
    let mut next = conv.clone();
    next.next_seq += 1;
    next.updated_at = now();
    let entry = TranscriptEntry {
        id: MessageId::generate(),
        conversation_id: conv.id.clone(),
        customer_id: conv.customer_id.clone(),
        seq: conv.next_seq,
        from: Party::Bot,
        channel: web(),
        at: now(),
        content: Content::Text {
            text: text.to_owned(),
        },
        buttons: vec![],
        platform_message_id: None,
    };
    let message = OutboundMessage {
        outbox_id: OutboxId::generate(),
        channel: web(),
        recipient: "alice".to_owned(),
        conversation_id: conv.id.clone(),
        from: Party::Bot,
        content: OutboundContent::text(text),
        message_id: entry.id.clone(),
        created_at: entry.at,
    };
    let id = message.outbox_id.clone();
    let turn = Turn {
        inbound_seq: None,
        conversation: next,
        entries: vec![entry],
        escalations: vec![],
        outbox: vec![NewOutboxEntry {
            message,
            next_attempt_at: now(),
        }],
        timers: Vec::new(),
        ai_audit: Vec::new(),
    };
    (turn, id)
}

fn user_version(path: &Path) -> u32 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_drop_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dirs/tandem.db");
    let (conv, out) = {
        let store = SqliteStore::open(&path).unwrap();
        store.record_inbound(&inbound("m1"), now()).await.unwrap();
        let conv = conversation(&store, "alice").await;
        let (turn, out) = reply_turn(&conv, "hello");
        store.commit_turn(turn).await.unwrap();
        store.kv_put("telegram", "offset", "42").await.unwrap();
        (store.conversation(&conv.id).await.unwrap().unwrap(), out)
    };
    assert!(
        path.exists(),
        "open creates the parent directories and the file"
    );

    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.pending_inbound(10).await.unwrap().len(), 1);
    assert_eq!(
        store.conversation(&conv.id).await.unwrap(),
        Some(conv.clone())
    );
    assert_eq!(store.transcript(&conv.id, 10).await.unwrap().len(), 1);
    assert!(store.outbox_entry(&out).await.unwrap().is_some());
    assert_eq!(
        store.kv_get("telegram", "offset").await.unwrap().as_deref(),
        Some("42")
    );
    let again = store.record_inbound(&inbound("m1"), now()).await.unwrap();
    assert!(again.duplicate, "the dedupe key survives a restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolved_write_is_visible_without_a_clean_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tandem.db");
    let store = SqliteStore::open(&path).unwrap();
    store.record_inbound(&inbound("m1"), now()).await.unwrap();
    // Never shut down: the first store's writer thread and connections stay as they are.
    std::mem::forget(store);
    let other = SqliteStore::open(&path).unwrap();
    assert_eq!(other.pending_inbound(10).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_store_finishes_queued_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tandem.db");
    let store = SqliteStore::open(&path).unwrap();
    for i in 0..200 {
        // Polled once: the command is queued, then the caller gives up waiting.
        let msg = inbound(&format!("m{i}"));
        let _ = tokio::time::timeout(Duration::ZERO, store.record_inbound(&msg, now())).await;
    }
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.pending_inbound(1000).await.unwrap().len(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tandem.db");
    drop(SqliteStore::open(&path).unwrap());
    assert_eq!(user_version(&path), SCHEMA_VERSION);
    {
        let store = SqliteStore::open(&path).unwrap();
        store.kv_put("ns", "k", "v").await.unwrap();
    }
    for _ in 0..2 {
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.kv_get("ns", "k").await.unwrap().as_deref(), Some("v"));
        drop(store);
        assert_eq!(user_version(&path), SCHEMA_VERSION);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tandem.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(conn);
    match SqliteStore::open(&path) {
        Err(StoreError::Corrupt(msg)) => assert!(msg.contains("newer"), "{msg}"),
        other => panic!("expected Corrupt for a newer schema, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_rows_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tandem.db");
    let (conv, bad_out, good_conv, good_out) = {
        let store = SqliteStore::open(&path).unwrap();
        store.record_inbound(&inbound("m1"), now()).await.unwrap();
        let conv = conversation(&store, "alice").await;
        let (turn, bad_out) = reply_turn(&conv, "hello");
        store.commit_turn(turn).await.unwrap();
        let good_conv = conversation(&store, "bob").await;
        let (turn, good_out) = reply_turn(&good_conv, "hi bob");
        store.commit_turn(turn).await.unwrap();
        (conv, bad_out, good_conv, good_out)
    };
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "UPDATE inbound SET message = '{not json';
         UPDATE transcript SET content = '{\"type\":\"hologram\"}';",
    )
    .unwrap();
    conn.execute(
        "UPDATE conversations SET state = '[1, 2' WHERE id = ?1",
        [conv.id.as_str()],
    )
    .unwrap();
    conn.execute(
        "UPDATE outbox SET message = 'null' WHERE id = ?1",
        [bad_out.as_str()],
    )
    .unwrap();
    drop(conn);

    let store = SqliteStore::open(&path).unwrap();
    assert!(matches!(
        store.pending_inbound(10).await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        store.conversation(&conv.id).await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        store.transcript(&conv.id, 10).await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        store.outbox_entry(&bad_out).await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(store.conversation(&good_conv.id).await.unwrap().is_some());

    // An unreadable outbox entry is parked as failed; it does not block the others.
    let claimed = store
        .claim_outbox(now(), 10, Duration::from_secs(30))
        .await
        .unwrap();
    let ids: Vec<&OutboxId> = claimed.iter().map(|e| &e.id).collect();
    assert_eq!(ids, vec![&good_out]);
    assert_eq!(
        store.outbox_depth().await.unwrap(),
        1,
        "the corrupt entry is finished"
    );

    // A timestamp out of range is corrupt too.
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE conversations SET opened_at = ?1 WHERE id = ?2",
        rusqlite::params![i64::MAX, good_conv.id.as_str()],
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path).unwrap();
    assert!(matches!(
        store.conversation(&good_conv.id).await,
        Err(StoreError::Corrupt(_))
    ));
    store.ping().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_writes_all_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("tandem.db")).unwrap());
    let before = store.write_stats();
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .record_inbound(&inbound(&format!("m{i}")), now())
                    .await
            })
        })
        .collect();
    for task in tasks {
        let record = task.await.unwrap().unwrap();
        assert!(!record.duplicate);
    }
    assert_eq!(store.pending_inbound(2000).await.unwrap().len(), 1000);
    let stats = store.write_stats();
    assert_eq!(stats.commands - before.commands, 1000);
    assert!(stats.batches - before.batches <= 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queued_writes_share_one_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tandem.db");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    // Hold the database's write lock from outside so that the writer's first batch waits
    // and every other write queues behind it.
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let before = store.write_stats();
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .record_inbound(&inbound(&format!("m{i}")), now())
                    .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    blocker.execute_batch("ROLLBACK").unwrap();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let stats = store.write_stats();
    assert_eq!(stats.commands - before.commands, 1000);
    // One batch waited for the lock; the rest were drained 256 at a time.
    assert!(
        stats.batches - before.batches <= 8,
        "1000 queued writes took {} transactions",
        stats.batches - before.batches
    );
    assert_eq!(store.pending_inbound(2000).await.unwrap().len(), 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_command_does_not_sink_its_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tandem.db");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let conv = conversation(&store, "alice").await;
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    // Queue good writes and conflicting turns into the same batch.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = store.clone();
        let conv = conv.clone();
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                store
                    .kv_put("ns", &format!("k{i}"), "v")
                    .await
                    .map(|()| true)
            } else {
                let (turn, _) = reply_turn(&conv, "racing");
                store.commit_turn(turn).await.map(|()| false)
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    blocker.execute_batch("ROLLBACK").unwrap();
    let (mut puts, mut turns, mut conflicts) = (0, 0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(true) => puts += 1,
            Ok(false) => turns += 1,
            Err(StoreError::Conflict(_)) => conflicts += 1,
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!((puts, turns, conflicts), (10, 1, 9));
    for i in (0..20).step_by(2) {
        assert_eq!(
            store
                .kv_get("ns", &format!("k{i}"))
                .await
                .unwrap()
                .as_deref(),
            Some("v")
        );
    }
    assert_eq!(store.transcript(&conv.id, 10).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_invalidates_turns_planned_on_the_open_conversation() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("tandem.db")).unwrap();
    let conv = conversation(&store, "alice").await;
    let (turn, _) = reply_turn(&conv, "late reply");
    assert!(store.close_conversation(&conv.id, now()).await.unwrap());
    assert!(matches!(
        store.commit_turn(turn).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.conversation(&conv.id).await.unwrap().unwrap().status,
        ConversationStatus::Closed
    );

    // Reopening it by a turn while the customer has another open one is a conflict.
    let newer = store
        .open_conversation(&conv.customer_id, &web(), now())
        .await
        .unwrap();
    assert_ne!(newer.id, conv.id);
    let mut reopen = store.conversation(&conv.id).await.unwrap().unwrap();
    reopen.status = ConversationStatus::Open;
    let turn = Turn {
        inbound_seq: None,
        conversation: reopen,
        entries: vec![],
        escalations: vec![],
        outbox: vec![],
        timers: Vec::new(),
        ai_audit: Vec::new(),
    };
    assert!(matches!(
        store.commit_turn(turn).await,
        Err(StoreError::Conflict(_))
    ));
}
