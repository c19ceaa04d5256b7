//! The outbox is durable: replies held back by a failing channel survive kill -9 and are
//! delivered once each after restart.

use serde_json::json;
use std::collections::{HashMap, HashSet};
use tandem_e2e::{FakeEndpoint, Tandem, TestStore, eventually, hmac_hex};

pub(crate) fn config(url: &str) -> String {
    format!(
        r#"
[channels.webhook]
url = "{url}"
secret = "shh"

[outbox]
lease_secs = 2
retry_base_ms = 200
retry_max_ms = 500
"#
    )
}

pub(crate) async fn post_message(tandem: &Tandem, id: &str, from: &str, text: &str) -> u16 {
    let body = serde_json::to_vec(&json!({"id": id, "from": {"id": from}, "text": text})).unwrap();
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let sig = hmac_hex(b"shh", &[ts.as_bytes(), b".", &body]);
    tandem_e2e::http()
        .post(tandem.url("/webhooks/generic"))
        .header("content-type", "application/json")
        .header("x-tandem-timestamp", ts)
        .header("x-tandem-signature", format!("sha256={sig}"))
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn kill9_with_unsent_replies_then_every_reply_delivered_once() {
    kill9_with_unsent_replies_then_every_reply_delivered_once_on(&TestStore::Default).await;
}

/// Also run on MongoDB (`mongodb.rs`).
pub(crate) async fn kill9_with_unsent_replies_then_every_reply_delivered_once_on(
    store: &TestStore,
) {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = FakeEndpoint::start(503).await;
    let tandem = Tandem::start(dir.path(), &store.config(&config(&endpoint.url))).await;
    let customers = ["alice", "bob", "carol"];
    for (i, who) in customers.iter().enumerate() {
        for n in 0..2 {
            let status = post_message(
                &tandem,
                &format!("{who}-{n}"),
                who,
                "what are your opening hours?",
            )
            .await;
            assert_eq!(status, 200, "message {i}/{n} accepted");
        }
    }
    // Replies exist and are failing.
    eventually(20, "failing delivery attempts", || async {
        (endpoint.requests().len() >= 3
            && tandem
                .metric("tandem_outbox_retries_total{channel=\"webhook\"}")
                .await
                >= 3.0)
            .then_some(())
    })
    .await;
    assert!(endpoint.delivered().is_empty());
    store.before_kill9();
    tandem.kill9().await;

    endpoint.set_status(200);
    let tandem = Tandem::start(dir.path(), &store.config(&config(&endpoint.url))).await;
    // On MongoDB a turn the kill interrupted mid-transaction keeps its writes locked until
    // the server aborts the abandoned transaction (60 s by default): that one message waits.
    let wait = if store.is_mongodb() { 100 } else { 30 };
    eventually(wait, "six replies delivered", || async {
        (endpoint.delivered().len() >= 6).then_some(())
    })
    .await;
    // Give any duplicate a chance to show up.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let delivered = endpoint.delivered();
    assert_eq!(
        delivered.len(),
        6,
        "exactly one delivery per reply: {delivered:?}"
    );
    let ids: HashSet<String> = delivered
        .iter()
        .map(|r| {
            r.headers
                .get("x-tandem-delivery")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 6, "six distinct outbox entries");
    let mut per_customer: HashMap<String, usize> = HashMap::new();
    for r in &delivered {
        let body = r.json();
        assert_eq!(body["from"], "bot");
        // Signed like every Tandem webhook.
        let ts = r
            .headers
            .get("x-tandem-timestamp")
            .unwrap()
            .to_str()
            .unwrap();
        let sig = r
            .headers
            .get("x-tandem-signature")
            .unwrap()
            .to_str()
            .unwrap();
        assert_eq!(
            sig,
            format!(
                "sha256={}",
                hmac_hex(b"shh", &[ts.as_bytes(), b".", &r.body])
            )
        );
        *per_customer
            .entry(body["to"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    for who in customers {
        assert_eq!(per_customer.get(who), Some(&2), "two replies for {who}");
    }
    assert_eq!(tandem.metric("tandem_outbox_depth").await, 0.0);
}

#[tokio::test]
async fn redelivered_webhook_has_one_effect_and_forged_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = FakeEndpoint::start(200).await;
    let tandem = Tandem::start(dir.path(), &config(&endpoint.url)).await;
    for _ in 0..3 {
        assert_eq!(
            post_message(&tandem, "same-id", "dave", "how do I reset my password?").await,
            200
        );
    }
    let forged = tandem_e2e::http()
        .post(tandem.url("/webhooks/generic"))
        .header("x-tandem-timestamp", "1")
        .header("x-tandem-signature", "sha256=00")
        .body(r#"{"id":"f","from":{"id":"eve"},"text":"hi"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    eventually(10, "one reply", || async {
        (!endpoint.delivered().is_empty()).then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(endpoint.delivered().len(), 1);
    assert_eq!(
        tandem
            .metric("tandem_messages_in_total{channel=\"webhook\"}")
            .await,
        1.0
    );
    assert_eq!(
        tandem
            .metric("tandem_inbound_duplicates_total{channel=\"webhook\"}")
            .await,
        2.0
    );
}
