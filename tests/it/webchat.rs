//! Web chat end to end: welcome, answers, fallback, resume across restarts, dedupe.

use crate::WEBCHAT_ONLY;
use serde_json::json;
use tandem_e2e::{Tandem, TestStore, WsClient};

#[tokio::test]
async fn hello_message_answer_and_fallback() {
    hello_message_answer_and_fallback_on(&TestStore::Default).await;
}

/// Also run on MongoDB (`mongodb.rs`).
pub(crate) async fn hello_message_answer_and_fallback_on(store: &TestStore) {
    let dir = tempfile::tempdir().unwrap();
    let tandem = Tandem::start(dir.path(), &store.config(WEBCHAT_ONLY)).await;
    let (mut c, welcome) = WsClient::hello(&tandem.addr, None).await;
    assert_eq!(welcome["verified"], false);
    assert!(welcome["session"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(
        welcome["conversation_id"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    assert!(
        c.history
            .iter()
            .any(|f| f["type"] == "message" && f["from"] == "bot"),
        "a new visitor is greeted: {:?}",
        c.history
    );

    c.say("m1", "what are your opening hours?").await;
    let answer = c.recv_reply().await;
    assert_eq!(answer["from"], "bot");
    let text = answer["text"].as_str().unwrap().to_lowercase();
    assert!(
        text.contains("open") || text.contains("hours"),
        "an opening-hours answer, got {text:?}"
    );
    assert!(
        answer["at"].as_str().is_some_and(|s| s.contains('T')),
        "RFC 3339 time"
    );

    c.say("m2", "the purple elephant sings quantum jazz").await;
    let fallback = c.recv_reply().await;
    let text = fallback["text"].as_str().unwrap().to_lowercase();
    assert!(
        text.contains("sorry") || text.contains("didn't"),
        "a fallback reply, got {text:?}"
    );
    assert_eq!(
        tandem
            .metric("tandem_messages_in_total{channel=\"webchat\"}")
            .await,
        2.0
    );
}

#[tokio::test]
async fn resume_after_restart_replays_history() {
    resume_after_restart_replays_history_on(&TestStore::Default).await;
}

/// Also run on MongoDB (`mongodb.rs`).
pub(crate) async fn resume_after_restart_replays_history_on(store: &TestStore) {
    let dir = tempfile::tempdir().unwrap();
    let tandem = Tandem::start(dir.path(), &store.config(WEBCHAT_ONLY)).await;
    let (mut c, welcome) = WsClient::hello(&tandem.addr, None).await;
    let session = welcome["session"].as_str().unwrap().to_owned();
    let conversation = welcome["conversation_id"].clone();
    c.say("q1", "how do I reset my password?").await;
    let answer = c.recv_reply().await;
    drop(c);
    assert!(tandem.terminate().await.success(), "clean exit on SIGTERM");

    let tandem = Tandem::start(dir.path(), &store.config(WEBCHAT_ONLY)).await;
    let (mut c, welcome) = WsClient::hello(&tandem.addr, Some(&session)).await;
    assert!(c.drain(1).await.is_empty(), "nothing after the replay");
    assert_eq!(
        welcome["conversation_id"], conversation,
        "same conversation after restart"
    );
    let history = std::mem::take(&mut c.history);
    let messages: Vec<_> = history.iter().filter(|f| f["type"] == "message").collect();
    let question = messages
        .iter()
        .position(|f| f["from"] == "customer" && f["text"] == "how do I reset my password?");
    let reply = messages.iter().position(|f| f["id"] == answer["id"]);
    assert!(question.is_some(), "customer message replayed: {history:?}");
    assert!(reply.is_some(), "bot answer replayed: {history:?}");
    assert!(question < reply, "oldest first");

    // A forged or foreign token starts a fresh visitor instead.
    let (_c2, other) = WsClient::hello(&tandem.addr, Some("v1.anon:someoneelse.deadbeef")).await;
    assert_ne!(other["conversation_id"], conversation);
}

#[tokio::test]
async fn same_client_id_twice_has_one_effect() {
    let dir = tempfile::tempdir().unwrap();
    let tandem = Tandem::start(dir.path(), WEBCHAT_ONLY).await;
    let (mut c, _) = WsClient::hello(&tandem.addr, None).await;
    c.say("dup", "where is my order #12345?").await;
    c.say("dup", "where is my order #12345?").await;
    // Wait for the one reply and for the duplicate to be counted (no fixed wait: a loaded
    // machine may take longer than any short window), then make sure no second reply follows.
    c.recv_reply().await;
    tandem_e2e::eventually(30, "the duplicate to be counted", || async {
        let n = tandem
            .metric("tandem_inbound_duplicates_total{channel=\"webchat\"}")
            .await;
        (n >= 1.0).then_some(())
    })
    .await;
    let frames = c.drain(2).await;
    let replies: Vec<_> = frames
        .iter()
        .filter(|f| f["type"] == "message" && f["from"] != "customer")
        .collect();
    assert!(
        replies.is_empty(),
        "exactly one bot reply, got a second: {frames:?}"
    );
    assert_eq!(
        tandem
            .metric("tandem_messages_in_total{channel=\"webchat\"}")
            .await,
        1.0
    );
    assert_eq!(
        tandem
            .metric("tandem_inbound_duplicates_total{channel=\"webchat\"}")
            .await,
        1.0
    );
}

#[tokio::test]
async fn verified_web_user() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{WEBCHAT_ONLY}identity_secret = \"topsecret\"\n");
    let tandem = Tandem::start(dir.path(), &config).await;
    let good = tandem_e2e::hmac_hex(b"topsecret", &[b"user-42"]);
    let mut c = WsClient::connect(&tandem.addr).await;
    c.send(json!({"type":"hello","user":{"id":"user-42","email":"e@x.test","name":"Ada"},"user_hash": good})).await;
    let welcome = c.recv_type("welcome").await;
    assert_eq!(welcome["verified"], true);

    let mut c = WsClient::connect(&tandem.addr).await;
    c.send(json!({"type":"hello","user":{"id":"user-42"},"user_hash": "00".repeat(32)}))
        .await;
    let forged = c.recv_type("welcome").await;
    assert_eq!(forged["verified"], false, "a wrong hash is anonymous");
    assert_ne!(forged["conversation_id"], welcome["conversation_id"]);
}
