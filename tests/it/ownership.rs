//! One owner per handoff, end to end, on the generic webhook desk and the console: once
//! agent A accepted, agent B's reply, accept, resolve or release is refused at the desk
//! (409 / an error frame) and never reaches the customer; after A transfers the handoff
//! to B, B's reply goes through and A's is refused. A captured, correctly signed desk
//! event replayed with another (or no) delivery header has no second effect.

use crate::handoff::{
    agent_joined, agent_said, assert_valid, config, customer_says, desk_bodies, schema, texts_from,
};
use serde_json::{Value, json};
use std::time::Duration;
use tandem_e2e::{FakeEndpoint, Tandem, WsClient, eventually, hmac_hex};

const DESK_SECRET: &[u8] = b"desk-secret";

/// Posts `event` to the webhook desk; returns the status and the JSON answer.
async fn desk_answer(tandem: &Tandem, event: Value) -> (u16, Value) {
    let body = serde_json::to_vec(&event).unwrap();
    let ts = tandem_e2e::unix_now().to_string();
    let sig = hmac_hex(DESK_SECRET, &[ts.as_bytes(), b".", &body]);
    let r = tandem_e2e::http()
        .post(tandem.url("/desks/webhook/events"))
        .header("x-tandem-timestamp", ts)
        .header("x-tandem-signature", format!("sha256={sig}"))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn handoff_at_desk(tandem: &Tandem, desk: &FakeEndpoint) -> String {
    customer_says(tandem, "c1", "I want a refund for order 12345").await;
    let requested = eventually(10, "handoff.requested at the desk", || async {
        desk_bodies(desk, "handoff.requested").into_iter().next()
    })
    .await;
    requested.json()["handoff_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn webhook_desk_takes_actions_only_from_the_owner_until_a_transfer() {
    let dir = tempfile::tempdir().unwrap();
    let customer = FakeEndpoint::start(200).await;
    let desk = FakeEndpoint::start(200).await;
    let tandem = Tandem::start(dir.path(), &config(&customer.url, &desk.url)).await;
    let h = handoff_at_desk(&tandem, &desk).await;

    let accept = json!({"type":"handoff.accepted","handoff_id":h,"agent":{"id":"ann","name":"Ann"},"event_id":"e1"});
    assert_eq!(desk_answer(&tandem, accept).await.0, 200);
    agent_joined(&customer).await;

    // Bea is not the owner: every action of hers is refused, with who holds it.
    for (i, event) in [
        json!({"type":"agent.message","handoff_id":h,"agent":{"id":"bea","name":"Bea"},"text":"Bea here, I'll take it"}),
        json!({"type":"handoff.accepted","handoff_id":h,"agent":{"id":"bea"}}),
        json!({"type":"handoff.resolved","handoff_id":h,"agent":{"id":"bea"}}),
        json!({"type":"handoff.released","handoff_id":h,"agent":{"id":"bea"}}),
        json!({"type":"handoff.transferred","handoff_id":h,"agent":{"id":"bea"},"to_agent":{"id":"bea"}}),
    ]
    .into_iter()
    .enumerate()
    {
        let mut event = event;
        event["event_id"] = json!(format!("bea-{i}"));
        let (status, answer) = desk_answer(&tandem, event).await;
        assert_eq!(status, 409, "{answer}");
        assert_eq!(answer["error"], "not_owner");
        assert_eq!(answer["owner"]["id"], "ann");
        assert!(answer["message"].as_str().unwrap().contains("Ann"));
    }

    // Ann's reply goes through.
    let ann = json!({"type":"agent.message","handoff_id":h,"agent":{"id":"ann"},"text":"Hi, Ann here.","event_id":"e2"});
    assert_eq!(desk_answer(&tandem, ann).await.0, 200);
    let delivered = eventually(10, "Ann's reply at the customer", || async {
        customer
            .delivered()
            .into_iter()
            .map(|r| r.json())
            .find(|b| b["text"] == "Hi, Ann here.")
    })
    .await;
    assert_eq!(
        delivered["agent_name"], "Ann",
        "the customer sees the agent's name (known from the accept)"
    );

    // Ann transfers to Bea: the desk is told, Bea's reply goes through, Ann's is refused.
    let transfer = json!({"type":"handoff.transferred","handoff_id":h,"agent":{"id":"ann"},"to_agent":{"id":"bea","name":"Bea"},"event_id":"e3"});
    assert_eq!(desk_answer(&tandem, transfer).await.0, 200);
    let schema = schema();
    let updated = eventually(10, "handoff.updated (transferred) at the desk", || async {
        desk_bodies(&desk, "handoff.updated")
            .into_iter()
            .find(|r| r.json()["change"] == "transferred")
    })
    .await;
    assert_valid(&schema, &updated);
    assert_eq!(updated.json()["assignee"]["id"], "bea");
    let bea = json!({"type":"agent.message","handoff_id":h,"agent":{"id":"bea"},"text":"Bea here, I have your case now.","event_id":"e4"});
    assert_eq!(desk_answer(&tandem, bea).await.0, 200);
    agent_said(&customer, "Bea here, I have your case now.").await;
    let ann_again = json!({"type":"agent.message","handoff_id":h,"agent":{"id":"ann"},"text":"Ann again","event_id":"e5"});
    let (status, answer) = desk_answer(&tandem, ann_again).await;
    assert_eq!(status, 409);
    assert_eq!(answer["owner"]["id"], "bea");

    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        texts_from(&customer, "agent"),
        ["Hi, Ann here.", "Bea here, I have your case now."],
        "refused replies never reached the customer"
    );
}

#[tokio::test]
async fn a_supervisor_acts_on_any_handoff_and_a_transfer_to_a_queue_frees_it() {
    let dir = tempfile::tempdir().unwrap();
    let customer = FakeEndpoint::start(200).await;
    let desk = FakeEndpoint::start(200).await;
    let config = format!(
        "{}\n[handoff]\nsupervisors = [\"sue\"]\n",
        config(&customer.url, &desk.url)
    );
    let tandem = Tandem::start(dir.path(), &config).await;
    let h = handoff_at_desk(&tandem, &desk).await;
    let accept =
        json!({"type":"handoff.accepted","handoff_id":h,"agent":{"id":"ann"},"event_id":"e1"});
    assert_eq!(desk_answer(&tandem, accept).await.0, 200);
    agent_joined(&customer).await;
    // The supervisor sends the handoff back to a queue; then anyone may take it.
    let back = json!({"type":"handoff.transferred","handoff_id":h,"agent":{"id":"sue"},"to_queue":"billing","event_id":"e2"});
    assert_eq!(desk_answer(&tandem, back).await.0, 200);
    let updated = eventually(10, "handoff.updated (transferred to a queue)", || async {
        desk_bodies(&desk, "handoff.updated")
            .into_iter()
            .find(|r| r.json()["change"] == "transferred")
    })
    .await;
    assert_eq!(updated.json()["target"], "billing");
    assert!(updated.json()["assignee"].is_null());
    let bea = json!({"type":"agent.message","handoff_id":h,"agent":{"id":"bea"},"text":"Bea from billing here.","event_id":"e3"});
    assert_eq!(desk_answer(&tandem, bea).await.0, 200);
    agent_said(&customer, "Bea from billing here.").await;
}

#[tokio::test]
async fn a_replayed_signed_desk_event_with_another_delivery_header_has_no_effect() {
    let dir = tempfile::tempdir().unwrap();
    let customer = FakeEndpoint::start(200).await;
    let desk = FakeEndpoint::start(200).await;
    let tandem = Tandem::start(dir.path(), &config(&customer.url, &desk.url)).await;
    let h = handoff_at_desk(&tandem, &desk).await;

    // Two captured requests: one without an event id (deduplicated on the signed
    // timestamp and body), one with an event id, re-signed later by the desk's retry.
    let captured = |event: Value| {
        let body = serde_json::to_vec(&event).unwrap();
        let ts = tandem_e2e::unix_now().to_string();
        let sig = hmac_hex(DESK_SECRET, &[ts.as_bytes(), b".", &body]);
        (ts, sig, body)
    };
    let send = |(ts, sig, body): (String, String, Vec<u8>), delivery: Option<&str>| {
        let mut r = tandem_e2e::http()
            .post(tandem.url("/desks/webhook/events"))
            .header("x-tandem-timestamp", ts)
            .header("x-tandem-signature", format!("sha256={sig}"))
            .body(body);
        if let Some(d) = delivery {
            r = r.header("x-tandem-delivery", d);
        }
        async move { r.send().await.unwrap().status().as_u16() }
    };
    let plain = captured(
        json!({"type":"agent.message","handoff_id":h,"agent":{"id":"ann"},"text":"Your refund is on its way."}),
    );
    for delivery in [Some("d-1"), Some("d-2"), None, Some("d-3")] {
        assert_eq!(send(plain.clone(), delivery).await, 200);
    }
    let with_id = json!({"type":"agent.message","handoff_id":h,"agent":{"id":"ann"},"text":"Anything else?","event_id":"evt-9"});
    for delivery in [Some("x-1"), None] {
        assert_eq!(send(captured(with_id.clone()), delivery).await, 200);
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    eventually(10, "both replies at the customer", || async {
        (texts_from(&customer, "agent").len() >= 2).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        texts_from(&customer, "agent"),
        ["Your refund is on its way.", "Anything else?"],
        "each reached the customer once"
    );
}

const TOKEN: &str = "console-token-0123456789";

/// A console agent connected and greeted.
async fn console_agent(tandem: &Tandem, id: &str, name: &str) -> WsClient {
    let mut ws =
        WsClient::connect_url(&format!("ws://{}/console/ws?token={TOKEN}", tandem.addr)).await;
    ws.recv_type("snapshot").await;
    ws.send(json!({"type": "hello", "agent": {"id": id, "name": name}}))
        .await;
    ws
}

/// The answer (`ack` or `error`) to the action with id `id`.
async fn answer_to(ws: &mut WsClient, id: &str) -> Value {
    loop {
        let f = ws.recv().await;
        if (f["type"] == "ack" || f["type"] == "error") && f["id"] == id {
            return f;
        }
    }
}

#[tokio::test]
async fn console_refuses_another_agents_reply_until_a_transfer() {
    let dir = tempfile::tempdir().unwrap();
    let customer = FakeEndpoint::start(200).await;
    let config = format!(
        r#"
[channels.webhook]
url = "{}"
secret = "shh"
max_buttons = 0

[desks.console]
tokens = ["{TOKEN}"]

[outbox]
lease_secs = 2
retry_base_ms = 200
retry_max_ms = 1000
"#,
        customer.url
    );
    let tandem = Tandem::start(dir.path(), &config).await;
    let mut ann = console_agent(&tandem, "ann", "Ann").await;
    let mut bea = console_agent(&tandem, "bea", "Bea").await;
    customer_says(&tandem, "c1", "I want a refund").await;
    let h = ann.recv_type("handoff").await["handoff"]["handoff_id"]
        .as_str()
        .unwrap()
        .to_owned();

    ann.send(json!({"type": "accept", "handoff_id": h, "id": "a1"}))
        .await;
    assert_eq!(answer_to(&mut ann, "a1").await["type"], "ack");
    agent_joined(&customer).await;

    for (frame, id) in [
        (
            json!({"type": "message", "handoff_id": h, "id": "b1", "text": "Bea here"}),
            "b1",
        ),
        (json!({"type": "accept", "handoff_id": h, "id": "b2"}), "b2"),
        (
            json!({"type": "resolve", "handoff_id": h, "id": "b3"}),
            "b3",
        ),
        (
            json!({"type": "release", "handoff_id": h, "id": "b4"}),
            "b4",
        ),
        (
            json!({"type": "transfer", "handoff_id": h, "id": "b5", "to_agent": {"id": "bea"}}),
            "b5",
        ),
    ] {
        bea.send(frame).await;
        let answer = answer_to(&mut bea, id).await;
        assert_eq!(answer["type"], "error", "{answer}");
        assert_eq!(answer["code"], "not_owner");
        assert!(answer["message"].as_str().unwrap().contains("Ann"));
    }

    ann.send(json!({"type": "transfer", "handoff_id": h, "id": "a2", "to_agent": {"id": "bea", "name": "Bea"}}))
        .await;
    assert_eq!(answer_to(&mut ann, "a2").await["type"], "ack");
    // The console shows Bea as the owner once the core applied the transfer.
    loop {
        let f = bea.recv_type("handoff").await;
        if f["handoff"]["accepted_by"]["id"] == "bea" {
            break;
        }
    }
    bea.send(
        json!({"type": "message", "handoff_id": h, "id": "b6", "text": "Bea here, I have it now."}),
    )
    .await;
    assert_eq!(answer_to(&mut bea, "b6").await["type"], "ack");
    agent_said(&customer, "Bea here, I have it now.").await;
    ann.send(json!({"type": "message", "handoff_id": h, "id": "a3", "text": "Ann again"}))
        .await;
    assert_eq!(answer_to(&mut ann, "a3").await["code"], "not_owner");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        texts_from(&customer, "agent"),
        ["Bea here, I have it now."],
        "refused replies never reached the customer"
    );
}
