//! Conformance scenario for the AI audit trail: records committed with their turn
//! ([`Conversations::commit_turn`](crate::store::Conversations::commit_turn)), listed per conversation
//! ([`Conversations::ai_audit`](crate::store::Conversations::ai_audit)), erased with the customer
//! ([`Identities::erase_customer`](crate::store::Identities::erase_customer)).

use super::{Must, conversation_for, push_entry, reload, text, turn_of};
use crate::store::{AiAuditKind, AiAuditRecord, ConversationRecord, DynStore, StoreError};
use tandem_model::{Party, now};

fn record(conv: &ConversationRecord, seq: u64, kind: AiAuditKind, n: u32) -> AiAuditRecord {
    AiAuditRecord {
        id: format!("ai_{}_{n}", conv.id),
        conversation_id: conv.id.clone(),
        customer_id: conv.customer_id.clone(),
        message_seq: seq,
        at: now(),
        kind,
        provider: Some("llm".into()),
        model: Some("model-x".into()),
        intent: Some("opening_hours".into()),
        confidence: Some(0.625),
        sentiment: Some(-0.25),
        sentiment_label: Some("negative".into()),
        fallback: n.is_multiple_of(2),
        fell_back: n.is_multiple_of(3),
        error: (n.is_multiple_of(3)).then(|| "timeout".to_owned()),
        request: Some(format!("Customer message:\nquestion {n} ünïcödé")),
        response: Some(format!("answer {n}")),
        request_sha256: None,
        response_sha256: (n == 4).then(|| "ab".repeat(32)),
        latency_ms: u64::from(n) * 100,
    }
}

/// AI audit records are written with their turn (a refused turn writes none), listed
/// oldest first in commit and turn order with every field as written, limited to the
/// newest, kept per conversation, and deleted when the customer is erased.
pub async fn ai_audit_records_follow_their_turn(store: DynStore) {
    let conv = conversation_for(&store, "audited").await;
    let other = conversation_for(&store, "bystander").await;
    assert!(
        store
            .ai_audit(&conv.id, 10)
            .await
            .must("ai_audit")
            .is_empty(),
        "a new conversation has no AI audit records"
    );

    // Turn 1: the customer's message and three decisions about it.
    let mut turn = turn_of(&conv);
    let asked = push_entry(&mut turn, Party::Customer, text("when are you open?"));
    let first: Vec<AiAuditRecord> = [
        AiAuditKind::Sentiment,
        AiAuditKind::Intent,
        AiAuditKind::BotAnswer,
    ]
    .into_iter()
    .zip(1..)
    .map(|(kind, n)| record(&turn.conversation, asked.seq, kind, n))
    .collect();
    turn.ai_audit = first.clone();
    let stale = turn.clone();
    store
        .commit_turn(turn)
        .await
        .must("commit_turn with AI audit records");
    assert_eq!(
        store.ai_audit(&conv.id, 10).await.must("ai_audit"),
        first,
        "the records come back as written, in the turn's order"
    );

    // A stale turn carrying records is refused and adds none.
    let mut stale = stale;
    stale.entries.clear();
    stale.ai_audit = vec![record(&conv, 0, AiAuditKind::BotAnswer, 9)];
    match store.commit_turn(stale).await {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("a stale turn must conflict, got {other:?}"),
    }
    assert_eq!(store.ai_audit(&conv.id, 10).await.must("ai_audit").len(), 3);

    // Turn 2: a handoff briefing; another conversation's turn in between.
    let mut bystander = turn_of(&other);
    let said = push_entry(&mut bystander, Party::Customer, text("hi"));
    let theirs = record(&other, said.seq, AiAuditKind::Sentiment, 5);
    bystander.ai_audit = vec![theirs.clone()];
    store
        .commit_turn(bystander)
        .await
        .must("commit_turn (other conversation)");
    let mut turn = turn_of(&reload(&store, &conv.id).await);
    let handed = push_entry(&mut turn, Party::Customer, text("a person please"));
    let briefing = record(
        &turn.conversation,
        handed.seq,
        AiAuditKind::BriefingSummary,
        4,
    );
    turn.ai_audit = vec![briefing.clone()];
    store.commit_turn(turn).await.must("commit_turn (briefing)");

    let mut all = first.clone();
    all.push(briefing.clone());
    assert_eq!(
        store.ai_audit(&conv.id, 10).await.must("ai_audit"),
        all,
        "oldest first, by turn, then as each turn listed them"
    );
    assert_eq!(
        store.ai_audit(&conv.id, 2).await.must("ai_audit limited"),
        vec![first[2].clone(), briefing],
        "a limit keeps the newest records, still oldest first"
    );
    assert_eq!(
        store.ai_audit(&other.id, 10).await.must("ai_audit (other)"),
        vec![theirs.clone()],
        "records stay with their conversation"
    );

    // Erasing the customer deletes their records (they hold prompts), no one else's.
    let report = store
        .erase_customer(&conv.customer_id, now())
        .await
        .must("erase_customer")
        .expect("the customer exists");
    assert_eq!(report.ai_audit_records, 4, "{report:?}");
    assert!(
        store
            .ai_audit(&conv.id, 10)
            .await
            .must("ai_audit after erase")
            .is_empty(),
        "an erased customer's AI audit records are gone"
    );
    assert_eq!(
        store.ai_audit(&other.id, 10).await.must("ai_audit (other)"),
        vec![theirs],
        "another customer's records stay"
    );
}
