//! Conformance scenario for draft-only mode: drafts live in the conversation state, so a
//! store keeps them (every field) across a reload, and the optimistic version check makes
//! a draft decided once.

use super::{Must, conversation_for, push_outbound, reload, turn_of};
use crate::store::{AgentRef, Draft, DraftOutcome, DraftRecord, DraftSource, DynStore, StoreError};
use tandem_model::{Button, now};

fn draft(id: &str) -> Draft {
    Draft {
        id: id.to_owned(),
        source: DraftSource::Bot,
        text: "We are open Monday to Friday.".to_owned(),
        buttons: vec![Button {
            title: "Talk to a person".to_owned(),
            payload: "talk_to_human".to_owned(),
        }],
        question: Some("when are you open?".to_owned()),
        intent: Some("opening_hours".to_owned()),
        confidence: Some(0.75),
        category: Some("legal".to_owned()),
        queue: Some("compliance".to_owned()),
        handoff_id: None,
        created_at_ms: 1_700_000_000_123,
    }
}

fn decided(d: &Draft, outcome: DraftOutcome, agent: &str) -> DraftRecord {
    DraftRecord {
        draft_id: d.id.clone(),
        source: d.source,
        original: d.text.clone(),
        final_text: (outcome != DraftOutcome::Rejected).then(|| d.text.clone()),
        outcome,
        agent: Some(AgentRef {
            id: agent.to_owned(),
            name: None,
        }),
        created_at_ms: d.created_at_ms,
        at_ms: 1_700_000_001_000,
    }
}

/// A pending draft survives a reload with every field; of two decisions made from the
/// same read, only the first commits (the second is a `Conflict` and queues nothing).
pub async fn drafts_survive_a_reload_and_are_decided_once(store: DynStore) {
    let conv = conversation_for(&store, "alice").await;
    let mut turn = turn_of(&conv);
    turn.conversation.state.drafts = vec![draft("dr_1"), draft("dr_2")];
    store
        .commit_turn(turn)
        .await
        .must("commit_turn with drafts");
    let pending = reload(&store, &conv.id).await;
    assert_eq!(
        pending.state.drafts,
        vec![draft("dr_1"), draft("dr_2")],
        "drafts must round-trip with every field"
    );

    // Two agents decide dr_1 from the same read.
    let mut approve = turn_of(&pending);
    approve.conversation.state.drafts.remove(0);
    approve
        .conversation
        .state
        .log_draft(decided(&draft("dr_1"), DraftOutcome::Approved, "sam"));
    push_outbound(&mut approve, "We are open Monday to Friday.", now());
    let mut reject = turn_of(&pending);
    reject.conversation.state.drafts.remove(0);
    reject
        .conversation
        .state
        .log_draft(decided(&draft("dr_1"), DraftOutcome::Rejected, "kim"));
    store.commit_turn(approve).await.must("the first decision");
    match store.commit_turn(reject).await {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("a second decision from a stale read must be a Conflict, got {other:?}"),
    }
    let after = reload(&store, &conv.id).await;
    assert_eq!(
        after.state.drafts,
        vec![draft("dr_2")],
        "dr_2 still pending"
    );
    assert_eq!(
        after.state.draft_log,
        vec![decided(&draft("dr_1"), DraftOutcome::Approved, "sam")],
        "only the first decision is recorded"
    );
    assert_eq!(
        store.outbox_depth().await.must("outbox_depth"),
        1,
        "only the approved text is queued"
    );
}
