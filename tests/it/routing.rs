//! Routing end to end (issue 5): agents with skills, capacity and status set through the
//! admin API; a handoff goes to an available agent with the skill and spare capacity,
//! else waits in the queue (priority first) until capacity frees; an SLA breach re-routes
//! to the overflow queue; every policy decision is recorded and escalations are counted
//! by category.

use crate::handoff::{assert_valid, config, customer_says_as, desk_bodies, desk_posts, schema};
use serde_json::{Value, json};
use tandem_e2e::{FakeEndpoint, Tandem, eventually};

const ADMIN: &str = "admin-token-0123456789abcdef";
const DESK_SECRET: &[u8] = b"desk-secret";

async fn admin(
    tandem: &Tandem,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    tandem.api(ADMIN, method, path, body).await
}

/// The handoff of the desk's `handoff.requested` for customer `from`.
fn handoff_of(desk: &FakeEndpoint, from: &str) -> Option<(String, String)> {
    desk_bodies(desk, "handoff.requested")
        .into_iter()
        .map(|r| r.json())
        .find(|b| {
            b["customer"]["identities"]
                .as_array()
                .is_some_and(|ids| ids.iter().any(|i| i["external_id"] == from))
        })
        .map(|b| {
            (
                b["handoff_id"].as_str().unwrap().to_owned(),
                b["conversation_id"].as_str().unwrap().to_owned(),
            )
        })
}

fn updates(desk: &FakeEndpoint, handoff: &str) -> Vec<Value> {
    desk_bodies(desk, "handoff.updated")
        .into_iter()
        .map(|r| r.json())
        .filter(|b| b["handoff_id"] == handoff)
        .collect()
}

#[tokio::test]
async fn handoffs_go_to_agents_with_the_skill_and_capacity_else_wait_in_priority_order() {
    let dir = tempfile::tempdir().unwrap();
    let customer = FakeEndpoint::start(200).await;
    let desk = FakeEndpoint::start(200).await;
    let tandem = Tandem::start(dir.path(), &config(&customer.url, &desk.url)).await;

    // Validation: a bad status or an unknown field is a 400, an unknown agent a 404.
    let (status, _) = admin(
        &tandem,
        reqwest::Method::PUT,
        "/api/v1/agents/ada",
        Some(json!({"skills": ["billing"], "capacity": 1, "status": "sleeping"})),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = admin(
        &tandem,
        reqwest::Method::PUT,
        "/api/v1/agents/ada",
        Some(json!({"skills": ["billing"], "capacity": 1, "colour": "red"})),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = admin(
        &tandem,
        reqwest::Method::PATCH,
        "/api/v1/agents/nobody",
        Some(json!({"status": "away"})),
    )
    .await;
    assert_eq!(status, 404);

    // Ada serves billing, one handoff at a time; Cy serves compliance but is away.
    let (status, ada) = admin(
        &tandem,
        reqwest::Method::PUT,
        "/api/v1/agents/ada",
        Some(json!({"name": "Ada", "skills": ["billing", "sales"], "capacity": 1})),
    )
    .await;
    assert_eq!(status, 200, "{ada}");
    assert_eq!(ada["status"], "available");
    assert_eq!(ada["load"], 0);
    let (status, _) = admin(
        &tandem,
        reqwest::Method::PUT,
        "/api/v1/agents/cy",
        Some(json!({"name": "Cy", "skills": ["compliance"], "capacity": 2, "status": "away"})),
    )
    .await;
    assert_eq!(status, 200);

    // A billing handoff is assigned to Ada at once.
    customer_says_as(&tandem, "ann", "ann-1", "I want a refund").await;
    let (ann_handoff, ann_conv) = eventually(10, "Ann's handoff at the desk", || async {
        handoff_of(&desk, "ann")
    })
    .await;
    let assigned = eventually(10, "Ann's handoff assigned", || async {
        updates(&desk, &ann_handoff).into_iter().next()
    })
    .await;
    assert_eq!(assigned["change"], "assigned");
    assert_eq!(assigned["assignee"]["id"], "ada");
    assert_eq!(assigned["target"], "billing");
    let (_, conv) = admin(
        &tandem,
        reqwest::Method::GET,
        &format!("/api/v1/conversations/{ann_conv}"),
        None,
    )
    .await;
    let h = &conv["handoff"];
    assert_eq!(h["assignee"]["id"], "ada", "{conv}");
    assert_eq!(h["routing"][0]["change"], "assigned");

    // Ada is full: the next billing handoff waits; a compliance one waits too (Cy is away),
    // ahead of it because it is more urgent.
    customer_says_as(&tandem, "bob", "bob-1", "I was charged twice").await;
    let (bob_handoff, _) = eventually(10, "Bob's handoff at the desk", || async {
        handoff_of(&desk, "bob")
    })
    .await;
    customer_says_as(&tandem, "cat", "cat-1", "my account was HACKED!!!").await;
    let (cat_handoff, _) = eventually(10, "Cat's handoff at the desk", || async {
        handoff_of(&desk, "cat")
    })
    .await;
    let queue = eventually(10, "both waiting", || async {
        let (_, q) = admin(&tandem, reqwest::Method::GET, "/api/v1/queues", None).await;
        (q.as_array().map_or(0, Vec::len) == 2).then_some(q)
    })
    .await;
    assert_eq!(
        queue[0]["handoff_id"],
        cat_handoff.as_str(),
        "immediate first: {queue}"
    );
    assert_eq!(queue[0]["queue"], "compliance");
    assert_eq!(queue[1]["handoff_id"], bob_handoff.as_str());
    assert!(
        updates(&desk, &bob_handoff).is_empty(),
        "nobody could take Bob's"
    );

    // Ada resolves Ann's: her capacity goes to Bob's, the next billing handoff.
    let status = desk_posts(&tandem, "d-ann-resolve",
        json!({"type": "handoff.resolved", "handoff_id": ann_handoff, "agent": {"id": "ada", "name": "Ada"}}),
        DESK_SECRET).await;
    assert_eq!(status, 200);
    let bob_assigned = eventually(10, "Bob's handoff assigned to Ada", || async {
        updates(&desk, &bob_handoff).into_iter().next()
    })
    .await;
    assert_eq!(bob_assigned["assignee"]["id"], "ada");
    assert_valid(&schema(), &desk_bodies(&desk, "handoff.updated")[0]);

    // Cy comes back: Cat's handoff is assigned to them; the queue is empty.
    let (status, cy) = admin(
        &tandem,
        reqwest::Method::PATCH,
        "/api/v1/agents/cy",
        Some(json!({"status": "available"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(cy["status"], "available");
    let cat_assigned = eventually(10, "Cat's handoff assigned to Cy", || async {
        updates(&desk, &cat_handoff).into_iter().next()
    })
    .await;
    assert_eq!(cat_assigned["assignee"]["id"], "cy");
    let (_, queue) = admin(&tandem, reqwest::Method::GET, "/api/v1/queues", None).await;
    assert_eq!(queue, json!([]));
    let (_, agents) = admin(&tandem, reqwest::Method::GET, "/api/v1/agents", None).await;
    let load = |id: &str| {
        agents
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == id)
            .unwrap()["active"]
            .clone()
    };
    assert_eq!(load("ada"), json!([bob_handoff]));
    assert_eq!(load("cy"), json!([cat_handoff]));

    // Cy accepts; deleting Ada puts Bob's (assigned, not accepted) back in the queue.
    let status = desk_posts(
        &tandem,
        "d-cat-accept",
        json!({"type": "handoff.accepted", "handoff_id": cat_handoff, "agent": {"id": "cy"}}),
        DESK_SECRET,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = admin(&tandem, reqwest::Method::DELETE, "/api/v1/agents/ada", None).await;
    assert_eq!(status, 200);
    let (status, _) = admin(&tandem, reqwest::Method::GET, "/api/v1/agents/ada", None).await;
    assert_eq!(status, 404);
    eventually(10, "Bob's handoff back in the queue", || async {
        let (_, q) = admin(&tandem, reqwest::Method::GET, "/api/v1/queues", None).await;
        (q[0]["handoff_id"] == bob_handoff.as_str()).then_some(())
    })
    .await;

    // Metrics: escalations by category; every decision recorded, escalating or not.
    let metrics = tandem.metrics().await;
    assert!(
        metrics.contains("tandem_escalations_by_category_total{category=\"revenue\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tandem_escalations_by_category_total{category=\"legal\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tandem_handoff_assignments_total{queue=\"billing\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn sla_breach_reroutes_to_the_overflow_queue_and_frees_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let customer = FakeEndpoint::start(200).await;
    let desk = FakeEndpoint::start(200).await;
    let config = format!(
        "{}\n[handoff]\non_sla_breach = \"reroute\"\nsla_secs = {{ high = 2 }}\noverflow = {{ billing = \"support_lead\" }}\n",
        config(&customer.url, &desk.url)
    );
    let tandem = Tandem::start(dir.path(), &config).await;
    admin(
        &tandem,
        reqwest::Method::PUT,
        "/api/v1/agents/ada",
        Some(json!({"skills": ["billing"], "capacity": 1})),
    )
    .await;
    admin(
        &tandem,
        reqwest::Method::PUT,
        "/api/v1/agents/lee",
        Some(json!({"skills": ["support_lead"], "capacity": 3})),
    )
    .await;

    // A question first: a decision not to escalate, recorded but not counted.
    customer_says_as(&tandem, "dan", "dan-0", "what are your opening hours?").await;
    customer_says_as(&tandem, "dan", "dan-1", "I want a refund").await;
    let (handoff, conv) = eventually(10, "handoff at the desk", || async {
        handoff_of(&desk, "dan")
    })
    .await;
    let first = eventually(10, "assigned to Ada", || async {
        updates(&desk, &handoff).into_iter().next()
    })
    .await;
    assert_eq!(first["assignee"]["id"], "ada");

    // Ada never accepts: after the 2 s SLA the handoff moves to support_lead, to Lee.
    let rerouted = eventually(15, "re-routed", || async {
        updates(&desk, &handoff)
            .into_iter()
            .find(|u| u["change"] == "rerouted")
    })
    .await;
    assert_eq!(rerouted["target"], "support_lead");
    assert_eq!(rerouted["assignee"], Value::Null);
    let lee = eventually(10, "assigned in the new queue", || async {
        updates(&desk, &handoff)
            .into_iter()
            .find(|u| u["change"] == "assigned" && u["assignee"]["id"] == "lee")
    })
    .await;
    assert_eq!(lee["target"], "support_lead");
    let (_, ada) = admin(&tandem, reqwest::Method::GET, "/api/v1/agents/ada", None).await;
    assert_eq!(ada["load"], 0, "Ada was released: {ada}");
    let (_, c) = admin(
        &tandem,
        reqwest::Method::GET,
        &format!("/api/v1/conversations/{conv}"),
        None,
    )
    .await;
    let steps: Vec<&str> = c["handoff"]["routing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["change"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["assigned", "rerouted", "assigned"], "{c}");
    assert_eq!(c["handoff"]["routing"][1]["from"], "billing");
    let metrics = tandem.metrics().await;
    assert!(
        metrics.contains("tandem_handoff_reroutes_total{from=\"billing\",to=\"support_lead\"} 1"),
        "{metrics}"
    );

    // Every decision is recorded: the question (not escalated) and the refund (escalated).
    let (_, decisions) = admin(
        &tandem,
        reqwest::Method::GET,
        &format!("/api/v1/conversations/{conv}/escalations"),
        None,
    )
    .await;
    let outcomes: Vec<bool> = decisions
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["escalate"].as_bool().unwrap())
        .collect();
    assert_eq!(outcomes, [false, true], "{decisions}");
    assert!(
        metrics.contains("tandem_policy_decisions_total{escalate=\"false\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tandem_escalations_by_category_total{category=\"revenue\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_waiting_handoff_keeps_its_sla_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let customer = FakeEndpoint::start(200).await;
    let desk = FakeEndpoint::start(200).await;
    let config = format!(
        "{}\n[handoff]\non_sla_breach = \"reroute\"\nsla_secs = {{ high = 3 }}\noverflow = {{ billing = \"support_lead\" }}\n",
        config(&customer.url, &desk.url)
    );
    let tandem = Tandem::start(dir.path(), &config).await;
    customer_says_as(&tandem, "eve", "eve-1", "I want a refund").await;
    let (handoff, _) = eventually(10, "handoff at the desk", || async {
        handoff_of(&desk, "eve")
    })
    .await;
    eventually(10, "queued (no agents)", || async {
        let (_, q) = admin(&tandem, reqwest::Method::GET, "/api/v1/queues", None).await;
        (q[0]["handoff_id"] == handoff.as_str()).then_some(())
    })
    .await;
    // Stopped before its SLA passed: the in-memory timer is gone with the process.
    assert!(tandem.terminate().await.success());
    let tandem = Tandem::start(dir.path(), &config).await;
    let rerouted = eventually(15, "re-routed after the restart", || async {
        updates(&desk, &handoff)
            .into_iter()
            .find(|u| u["change"] == "rerouted")
    })
    .await;
    assert_eq!(rerouted["target"], "support_lead");
    let (_, q) = admin(&tandem, reqwest::Method::GET, "/api/v1/queues", None).await;
    assert_eq!(
        q[0]["queue"], "support_lead",
        "waiting in the new queue: {q}"
    );
}

/// Messages from `from` to customer `to` on the generic webhook channel.
fn said_to(customer: &FakeEndpoint, to: &str, from: &str) -> Vec<String> {
    customer
        .delivered()
        .iter()
        .map(|r| r.json())
        .filter(|b| b["to"] == to && b["from"] == from)
        .map(|b| b["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Issue 11, acceptance 4: a `kill -9` with an SLA timer (a handoff waiting in the queue)
/// and an inactivity check-in pending; after the restart each fires exactly once, at its
/// due time: not at the restart, not twice.
#[tokio::test]
async fn a_check_in_and_an_sla_pending_at_kill9_each_fire_once_at_their_time() {
    const DUE: u64 = 15;
    let dir = tempfile::tempdir().unwrap();
    let customer = FakeEndpoint::start(200).await;
    let desk = FakeEndpoint::start(200).await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let policy = std::fs::read_to_string(root.join("config/policy.toml"))
        .unwrap()
        .replace(
            "inactivity_check_in_secs = 120",
            &format!("inactivity_check_in_secs = {DUE}"),
        );
    let policy_path = dir.path().join("policy.toml");
    std::fs::write(&policy_path, policy).unwrap();
    let config = format!(
        "{}\n[handoff]\non_sla_breach = \"reroute\"\nsla_secs = {{ high = {DUE} }}\noverflow = {{ billing = \"support_lead\" }}\n\n[policy]\npath = \"{}\"\n",
        config(&customer.url, &desk.url),
        policy_path.display(),
    );
    let tandem = Tandem::start(dir.path(), &config).await;

    customer_says_as(&tandem, "eve", "eve-1", "I want a refund").await;
    let (handoff, _) = eventually(10, "handoff at the desk", || async {
        handoff_of(&desk, "eve")
    })
    .await;
    let sla_started = std::time::Instant::now();
    customer_says_as(&tandem, "bob", "bob-1", "what are your opening hours?").await;
    eventually(10, "the bot's answer to bob", || async {
        (!said_to(&customer, "bob", "bot").is_empty()).then_some(())
    })
    .await;
    let answered = std::time::Instant::now();
    eventually(10, "eve queued (no agents)", || async {
        let (_, q) = admin(&tandem, reqwest::Method::GET, "/api/v1/queues", None).await;
        (q[0]["handoff_id"] == handoff.as_str()).then_some(())
    })
    .await;

    tandem.kill9().await;
    let tandem = Tandem::start(dir.path(), &config).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert!(
        answered.elapsed().as_secs() < DUE - 3,
        "the restart took too long for this test to tell 'at restart' from 'when due'"
    );
    assert!(
        said_to(&customer, "bob", "system").is_empty(),
        "no check-in at the restart"
    );
    assert!(
        updates(&desk, &handoff)
            .iter()
            .all(|u| u["change"] != "rerouted"),
        "no SLA breach at the restart"
    );

    let check_in = eventually(DUE + 15, "the check-in after the restart", || async {
        said_to(&customer, "bob", "system").into_iter().next()
    })
    .await;
    let check_in_at = answered.elapsed();
    assert!(check_in.contains("still there"), "{check_in}");
    assert!(
        check_in_at.as_secs() + 1 >= DUE,
        "the check-in came when due ({DUE} s after the answer), not early: {check_in_at:?}"
    );
    eventually(DUE + 15, "the SLA re-route after the restart", || async {
        updates(&desk, &handoff)
            .into_iter()
            .find(|u| u["change"] == "rerouted")
    })
    .await;
    let rerouted_at = sla_started.elapsed();
    assert!(
        rerouted_at.as_secs() + 1 >= DUE,
        "the SLA breach came when due, not early: {rerouted_at:?}"
    );

    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    assert_eq!(
        said_to(&customer, "bob", "system").len(),
        1,
        "exactly one check-in"
    );
    assert_eq!(
        updates(&desk, &handoff)
            .iter()
            .filter(|u| u["change"] == "rerouted")
            .count(),
        1,
        "exactly one re-route"
    );
    drop(tandem);
}
