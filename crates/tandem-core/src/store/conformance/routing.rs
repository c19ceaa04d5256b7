//! Conformance scenarios for routing: agents ([`Routing::put_agent`](crate::store::Routing::put_agent),
//! [`Routing::claim_agent`](crate::store::Routing::claim_agent),
//! [`Routing::bind_agent`](crate::store::Routing::bind_agent),
//! [`Routing::release_agent`](crate::store::Routing::release_agent)) and the waiting queue
//! ([`Routing::enqueue_handoff`](crate::store::Routing::enqueue_handoff) and friends).

use super::{Must, secs};
use crate::store::{AgentProfile, AgentStatus, DynStore, QueuedHandoff};
use std::collections::HashSet;
use tandem_model::{ConversationId, now};

fn profile(id: &str, skills: &[&str], capacity: u32) -> AgentProfile {
    AgentProfile {
        id: id.to_owned(),
        name: Some(format!("Agent {id}")),
        skills: skills.iter().map(|s| (*s).to_owned()).collect(),
        capacity,
        status: AgentStatus::Available,
    }
}

/// Agents: profiles round-trip, updates keep held handoffs, deletion returns the record.
pub async fn agents_round_trip(store: DynStore) {
    let t = now();
    assert!(store.agents().await.must("agents").is_empty());
    let ada = store
        .put_agent(&profile("ada", &["billing", "sales"], 2), t)
        .await
        .must("put_agent");
    assert_eq!(ada.profile, profile("ada", &["billing", "sales"], 2));
    assert!(ada.active.is_empty());
    assert_eq!(ada.updated_at, t);
    store
        .put_agent(&profile("bob", &["compliance"], 1), t)
        .await
        .must("put_agent");
    let ids: Vec<String> = store
        .agents()
        .await
        .must("agents")
        .into_iter()
        .map(|a| a.profile.id)
        .collect();
    assert_eq!(ids, ["ada", "bob"], "agents are listed by id");

    store
        .claim_agent("billing", "h1", t)
        .await
        .must("claim_agent")
        .expect("ada can take billing");
    let mut away = profile("ada", &["billing"], 3);
    away.status = AgentStatus::Away;
    away.name = None;
    let updated = store.put_agent(&away, t + secs(1)).await.must("put_agent");
    assert_eq!(updated.profile, away, "an update replaces the profile");
    assert_eq!(updated.active, ["h1"], "an update keeps the handoffs held");
    assert_eq!(
        store.agent("ada").await.must("agent").map(|a| a.updated_at),
        Some(t + secs(1))
    );
    assert_eq!(store.agent("nobody").await.must("agent"), None);

    let deleted = store.delete_agent("ada").await.must("delete_agent");
    assert_eq!(deleted.map(|a| a.active), Some(vec!["h1".to_owned()]));
    assert_eq!(store.agent("ada").await.must("agent"), None);
    assert_eq!(store.delete_agent("ada").await.must("delete_agent"), None);
    assert_eq!(
        store.release_agent("h1", t).await.must("release_agent"),
        None,
        "a deleted agent holds nothing"
    );
}

/// Claims respect skill, status and capacity, pick the least loaded, are idempotent per
/// handoff; bind and release move handoffs between agents.
pub async fn agent_claims_respect_skill_status_and_capacity(store: DynStore) {
    let t = now();
    store
        .put_agent(&profile("ada", &["billing"], 2), t)
        .await
        .must("put_agent");
    store
        .put_agent(&profile("bob", &["billing", "compliance"], 1), t)
        .await
        .must("put_agent");
    let mut cat = profile("cat", &["billing"], 5);
    cat.status = AgentStatus::Away;
    store.put_agent(&cat, t).await.must("put_agent");

    assert_eq!(
        store
            .claim_agent("legal", "h0", t)
            .await
            .must("claim_agent"),
        None,
        "nobody has the skill"
    );
    let first = store
        .claim_agent("billing", "h1", t)
        .await
        .must("claim_agent")
        .expect("someone takes billing");
    assert_eq!(first.profile.id, "ada", "ties are broken by id");
    assert_eq!(first.active, ["h1"]);
    let again = store
        .claim_agent("billing", "h1", t)
        .await
        .must("claim_agent")
        .expect("idempotent");
    assert_eq!(again.profile.id, "ada");
    assert_eq!(again.active, ["h1"], "a repeated claim adds nothing");

    let second = store
        .claim_agent("billing", "h2", t)
        .await
        .must("claim_agent")
        .expect("bob is less loaded");
    assert_eq!(second.profile.id, "bob", "the least loaded agent is chosen");
    let third = store
        .claim_agent("billing", "h3", t)
        .await
        .must("claim_agent")
        .expect("ada has room for one more");
    assert_eq!(third.profile.id, "ada");
    assert_eq!(third.active, ["h1", "h3"]);
    assert_eq!(
        store
            .claim_agent("billing", "h4", t)
            .await
            .must("claim_agent"),
        None,
        "full agents and away agents take nothing"
    );

    assert_eq!(
        store.release_agent("h1", t).await.must("release_agent"),
        Some("ada".to_owned())
    );
    assert_eq!(
        store.release_agent("h1", t).await.must("release_agent"),
        None
    );
    let fourth = store
        .claim_agent("billing", "h4", t)
        .await
        .must("claim_agent")
        .expect("ada has room again");
    assert_eq!(fourth.profile.id, "ada");

    // Cat (away) takes h2 at the desk: bind ignores status and capacity, moves it from bob.
    let bound = store
        .bind_agent("cat", "h2", t)
        .await
        .must("bind_agent")
        .expect("cat exists");
    assert_eq!(bound.active, ["h2"]);
    let bob = store.agent("bob").await.must("agent").expect("bob");
    assert!(bob.active.is_empty(), "the handoff left its previous agent");
    assert_eq!(
        store.bind_agent("nobody", "h3", t).await.must("bind_agent"),
        None
    );
    let ada = store.agent("ada").await.must("agent").expect("ada");
    assert_eq!(
        ada.active,
        ["h3", "h4"],
        "an unknown agent's bind changes nothing"
    );
}

/// Concurrent claims never exceed an agent's capacity and never give one handoff twice.
pub async fn concurrent_agent_claims_respect_capacity(store: DynStore) {
    let t = now();
    store
        .put_agent(&profile("ada", &["billing"], 3), t)
        .await
        .must("put_agent");
    store
        .put_agent(&profile("bob", &["billing"], 2), t)
        .await
        .must("put_agent");
    let mut tasks = Vec::new();
    for i in 0..12 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let handoff = format!("h{}", i % 8);
            store
                .claim_agent("billing", &handoff, t)
                .await
                .must("claim_agent")
                .map(|a| (handoff, a.profile.id))
        }));
    }
    let mut claimed = Vec::new();
    for task in tasks {
        if let Some(c) = task.await.expect("task") {
            claimed.push(c);
        }
    }
    let agents = store.agents().await.must("agents");
    let held: Vec<&String> = agents.iter().flat_map(|a| &a.active).collect();
    let distinct: HashSet<&String> = held.iter().copied().collect();
    assert_eq!(held.len(), distinct.len(), "no handoff is held twice");
    assert_eq!(held.len(), 5, "both agents filled to capacity, no more");
    for a in &agents {
        assert!(a.active.len() <= a.profile.capacity as usize);
    }
    for (handoff, agent) in claimed {
        let holder = agents.iter().find(|a| a.active.contains(&handoff));
        assert_eq!(
            holder.map(|a| &a.profile.id),
            Some(&agent),
            "a claim's answer names the holder"
        );
    }
}

/// The waiting queue: idempotent enqueue, priority then age order, dequeue.
pub async fn handoff_queue_order(store: DynStore) {
    let t = now();
    let entry = |id: &str, priority: &str, at| QueuedHandoff {
        handoff_id: id.to_owned(),
        conversation_id: ConversationId::new(format!("conv_{id}")),
        queue: "billing".to_owned(),
        priority: priority.to_owned(),
        queued_at: at,
    };
    let low = entry("h_low", "low", t);
    let high_late = entry("h_high_late", "high", t + secs(5));
    let high_early = entry("h_high_early", "high", t + secs(1));
    let immediate = entry("h_now", "immediate", t + secs(9));
    for e in [&low, &high_late, &high_early, &immediate] {
        store.enqueue_handoff(e).await.must("enqueue_handoff");
    }
    let mut moved = high_early.clone();
    moved.queued_at = t + secs(60);
    moved.queue = "sales".to_owned();
    store.enqueue_handoff(&moved).await.must("enqueue_handoff");
    assert_eq!(
        store.queued_handoffs().await.must("queued_handoffs"),
        vec![
            immediate.clone(),
            high_early,
            high_late.clone(),
            low.clone()
        ],
        "priority first, then oldest; a second enqueue changes nothing"
    );
    assert!(store.dequeue_handoff("h_high_early").await.must("dequeue"));
    assert!(!store.dequeue_handoff("h_high_early").await.must("dequeue"));
    assert_eq!(
        store.queued_handoffs().await.must("queued_handoffs"),
        vec![immediate, high_late, low]
    );
}
