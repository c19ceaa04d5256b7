//! The built-in agent console, end to end: agents connect over the console's WebSocket
//! with a token, see the queue (durably, also after a restart), read the briefing, accept,
//! reply (once, even when a frame is resent) and resolve; the customer is on the generic
//! webhook channel.

use crate::handoff::customer_says_as;
use crate::handoff::texts_from;
use serde_json::{Value, json};
use std::time::Duration;
use tandem_e2e::{FakeEndpoint, Tandem, TestStore, WsClient, eventually};

const TOKEN: &str = "console-token-0123456789";

fn config(customer: &str) -> String {
    format!(
        r#"
[channels.webhook]
url = "{customer}"
secret = "shh"
max_buttons = 0

[desks.console]
tokens = ["{TOKEN}"]

[outbox]
lease_secs = 2
retry_base_ms = 200
retry_max_ms = 1000
"#
    )
}

/// Connects an agent with the token in the URL, says hello, returns the snapshot.
async fn agent(tandem: &Tandem, id: &str, name: &str) -> (WsClient, Value) {
    let mut ws =
        WsClient::connect_url(&format!("ws://{}/console/ws?token={TOKEN}", tandem.addr)).await;
    let snapshot = ws.recv_type("snapshot").await;
    ws.send(json!({"type": "hello", "agent": {"id": id, "name": name}}))
        .await;
    (ws, snapshot)
}

/// The next `handoff` frame satisfying `ok`.
async fn handoff_where(ws: &mut WsClient, ok: impl Fn(&Value) -> bool) -> Value {
    loop {
        let f = ws.recv_type("handoff").await;
        if ok(&f["handoff"]) {
            return f["handoff"].clone();
        }
    }
}

fn transcript_has(h: &Value, from: &str, text: &str) -> bool {
    h["transcript"]
        .as_array()
        .is_some_and(|t| t.iter().any(|l| l["from"] == from && l["text"] == text))
}

#[tokio::test]
async fn console_refuses_a_wrong_token() {
    let dir = tempfile::tempdir().unwrap();
    let customer = FakeEndpoint::start(200).await;
    let tandem = Tandem::start(dir.path(), &config(&customer.url)).await;
    let url = format!(
        "ws://{}/console/ws?token=wrong-token-0123456789",
        tandem.addr
    );
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 401),
        other => panic!("expected 401, got {other:?}"),
    }
    // A token in the first frame instead of the URL: a wrong one ends the connection.
    let mut ws = WsClient::connect_url(&format!("ws://{}/console/ws", tandem.addr)).await;
    ws.send(json!({"type": "hello", "token": "nope", "agent": {"id": "eve"}}))
        .await;
    assert_eq!(ws.recv_type("error").await["code"], "unauthorized");
    // The right one in the first frame works.
    let mut ws = WsClient::connect_url(&format!("ws://{}/console/ws", tandem.addr)).await;
    ws.send(json!({"type": "hello", "token": TOKEN, "agent": {"id": "sam"}}))
        .await;
    assert_eq!(ws.recv_type("snapshot").await["handoffs"], json!([]));
    let page = reqwest::get(tandem.url("/console")).await.unwrap();
    assert_eq!(page.status(), 200);
}

#[tokio::test]
async fn agent_takes_a_refund_in_the_console() {
    agent_takes_a_refund_in_the_console_on(&TestStore::Default).await;
}

/// Also run on MongoDB (`mongodb.rs`).
pub(crate) async fn agent_takes_a_refund_in_the_console_on(store: &TestStore) {
    let dir = tempfile::tempdir().unwrap();
    let customer = FakeEndpoint::start(200).await;
    let tandem = Tandem::start(dir.path(), &store.config(&config(&customer.url))).await;

    let (mut sam, snapshot) = agent(&tandem, "sam", "Sam").await;
    assert_eq!(snapshot["handoffs"], json!([]));

    customer_says_as(&tandem, "alice", "c1", "I want a refund").await;
    let h = handoff_where(&mut sam, |_| true).await;
    let handoff_id = h["handoff_id"].as_str().unwrap().to_owned();
    assert_eq!(h["status"], "queued");
    assert_eq!(h["reason"]["category"], "revenue");
    assert!(
        h["reason"]["triggers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["evidence"] == "refund"),
        "{h:#}"
    );
    assert!(h["customer"]["identities"][0]["external_id"] == "alice");
    assert!(!h["summary"]["text"].as_str().unwrap().is_empty());
    assert!(transcript_has(&h, "customer", "I want a refund"));

    // A later customer message appears in the same handoff.
    customer_says_as(&tandem, "alice", "c2", "it was order 12345").await;
    handoff_where(&mut sam, |h| {
        h["handoff_id"] == handoff_id.as_str()
            && transcript_has(h, "customer", "it was order 12345")
    })
    .await;

    // Bad frames are answered, never fatal.
    sam.send(json!({"type": "accept", "handoff_id": "no-such", "id": "x1"}))
        .await;
    assert_eq!(sam.recv_type("error").await["code"], "unknown_handoff");
    sam.send(json!({"type": "message", "handoff_id": handoff_id, "id": "x2", "text": " "}))
        .await;
    assert_eq!(sam.recv_type("error").await["code"], "empty_text");
    sam.send_raw(tokio_tungstenite::tungstenite::Message::Text(
        "{nope".into(),
    ))
    .await;
    assert_eq!(sam.recv_type("error").await["code"], "bad_frame");
    let big = json!({"type": "message", "handoff_id": handoff_id, "id": "x3", "text": "a".repeat(70_000)});
    sam.send(big).await;
    assert_eq!(sam.recv_type("error").await["code"], "frame_too_large");

    // Accept, then reply; the reply frame is sent twice with the same id.
    sam.send(json!({"type": "accept", "handoff_id": handoff_id, "id": "a1"}))
        .await;
    assert_eq!(sam.recv_type("ack").await["id"], "a1");
    let reply = json!({"type": "message", "handoff_id": handoff_id, "id": "m1", "text": "Hi, I'm Sam. Let me check that refund."});
    sam.send(reply.clone()).await;
    assert_eq!(sam.recv_type("ack").await["id"], "m1");
    sam.send(reply).await;
    assert_eq!(
        sam.recv_type("ack").await["id"],
        "m1",
        "a resent frame is acked"
    );
    let h = handoff_where(&mut sam, |h| {
        transcript_has(h, "agent", "Hi, I'm Sam. Let me check that refund.")
    })
    .await;
    assert_eq!(h["status"], "accepted");
    assert_eq!(h["accepted_by"]["id"], "sam");
    eventually(10, "the agent's reply at the customer", || async {
        (!texts_from(&customer, "agent").is_empty()).then_some(())
    })
    .await;

    // While the agent owns it, the bot stays silent.
    customer_says_as(&tandem, "alice", "c3", "what are your opening hours?").await;
    handoff_where(&mut sam, |h| {
        transcript_has(h, "customer", "what are your opening hours?")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        texts_from(&customer, "bot").is_empty(),
        "the bot said nothing while the agent owned it"
    );
    assert_eq!(
        texts_from(&customer, "agent"),
        ["Hi, I'm Sam. Let me check that refund."],
        "the resent frame had no second effect"
    );

    // A second agent connecting later sees the open handoff, with everything so far.
    let (_kim, snapshot) = agent(&tandem, "kim", "Kim").await;
    let listed = &snapshot["handoffs"][0];
    assert_eq!(listed["handoff_id"], handoff_id.as_str());
    assert!(transcript_has(
        listed,
        "agent",
        "Hi, I'm Sam. Let me check that refund."
    ));
    assert!(transcript_has(listed, "customer", "it was order 12345"));

    // Resolve: gone from the queue, and the customer gets the survey.
    sam.send(json!({"type": "resolve", "handoff_id": handoff_id, "id": "r1"}))
        .await;
    assert_eq!(sam.recv_type("ack").await["id"], "r1");
    let closed = sam.recv_type("closed").await;
    assert_eq!(closed["handoff_id"], handoff_id.as_str());
    eventually(10, "CSAT survey", || async {
        texts_from(&customer, "bot")
            .into_iter()
            .find(|t| t.contains("How did we do?"))
    })
    .await;
    // Acting on a closed handoff is refused.
    sam.send(json!({"type": "message", "handoff_id": handoff_id, "id": "m2", "text": "hello?"}))
        .await;
    assert_eq!(sam.recv_type("error").await["code"], "not_open");
    let (_lee, snapshot) = agent(&tandem, "lee", "Lee").await;
    assert_eq!(snapshot["handoffs"], json!([]));
}

#[tokio::test]
async fn open_handoffs_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let customer = FakeEndpoint::start(200).await;
    let tandem = Tandem::start(dir.path(), &config(&customer.url)).await;
    let (mut sam, _) = agent(&tandem, "sam", "Sam").await;
    customer_says_as(&tandem, "bob", "c1", "I want a refund").await;
    let h = handoff_where(&mut sam, |_| true).await;
    drop(sam);
    assert_eq!(tandem.terminate().await.code(), Some(0));

    let tandem = Tandem::start(dir.path(), &config(&customer.url)).await;
    let (_sam, snapshot) = agent(&tandem, "sam", "Sam").await;
    assert_eq!(snapshot["handoffs"][0]["handoff_id"], h["handoff_id"]);
    assert!(transcript_has(
        &snapshot["handoffs"][0],
        "customer",
        "I want a refund"
    ));
}
