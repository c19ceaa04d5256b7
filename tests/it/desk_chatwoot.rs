//! Handoff to the Chatwoot desk, end to end, with the real binary, the fake Chatwoot API
//! (`tandem_testkit::chatwoot_fake`) and the generic webhook channel as the customer's
//! side: the briefing arrives as a private note in a new conversation, a signed agent
//! reply reaches the customer once (also when Chatwoot retries it), private notes never
//! do, the bot is silent while the agent owns the conversation, forged webhooks change
//! nothing, and resolving brings the bot back with a CSAT survey.

use crate::handoff::{agent_joined, agent_said, customer_says, texts_from};
use serde_json::Value;
use std::time::Duration;
use tandem_e2e::{FakeEndpoint, Tandem, eventually};
use tandem_testkit::chatwoot_fake::{ChatwootFake, sign, webhook};
use tandem_testkit::slack_fake::now_secs;

const TOKEN: &str = "cw-e2e-token";
const WEBHOOK_SECRET: &str = "cw-webhook-secret";

fn config(customer: &str, chatwoot: &str) -> String {
    format!(
        r#"
[channels.webhook]
url = "{customer}"
secret = "shh"
max_buttons = 0

[desks.chatwoot]
base_url = "{chatwoot}"
api_access_token = "{TOKEN}"
account_id = 7
inbox_id = 12
webhook_secret = "{WEBHOOK_SECRET}"

[admin]
tokens = ["admin-token-0123456789abcdef"]

[outbox]
lease_secs = 2
retry_base_ms = 200
retry_max_ms = 1000
"#
    )
}

async fn chatwoot_posts(
    tandem: &Tandem,
    hook: &Value,
    secret: Option<&str>,
    delivery: &str,
) -> u16 {
    let body = serde_json::to_vec(hook).unwrap();
    let mut req = tandem_e2e::http()
        .post(tandem.url("/desks/chatwoot/webhook"))
        .header("content-type", "application/json")
        .header("x-chatwoot-delivery", delivery);
    if let Some(secret) = secret {
        let (ts, sig) = sign(secret, now_secs(), &body);
        req = req
            .header("x-chatwoot-timestamp", ts)
            .header("x-chatwoot-signature", sig);
    }
    req.body(body).send().await.unwrap().status().as_u16()
}

fn contents(fake: &ChatwootFake, conversation: u64) -> Vec<(String, bool, String)> {
    fake.messages(conversation)
        .iter()
        .map(|m| {
            (
                m["message_type"].as_str().unwrap_or_default().to_owned(),
                m["private"].as_bool().unwrap_or_default(),
                m["content"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn refund_goes_to_chatwoot_and_comes_back_with_csat() {
    let dir = tempfile::tempdir().unwrap();
    let customer = FakeEndpoint::start(200).await;
    let chatwoot = ChatwootFake::start(TOKEN, 7).await;
    let tandem = Tandem::start(dir.path(), &config(&customer.url, chatwoot.base_url())).await;

    // The briefing: a contact, an open conversation, the briefing and transcript notes.
    customer_says(&tandem, "w1", "I want a refund for order 12345").await;
    let briefing = eventually(10, "briefing note at Chatwoot", || async {
        contents(&chatwoot, 345).into_iter().next()
    })
    .await;
    assert_eq!(
        (briefing.0.as_str(), briefing.1),
        ("outgoing", true),
        "a private note"
    );
    for needle in [
        "**Why:**",
        "refund",
        "Alice",
        "webhook: alice",
        "webhook · window open",
        "**Summary:**",
        "**Stalled at:**",
    ] {
        assert!(
            briefing.2.contains(needle),
            "briefing lacks {needle}: {}",
            briefing.2
        );
    }
    eventually(10, "transcript note", || async {
        contents(&chatwoot, 345)
            .iter()
            .any(|m| m.1 && m.2.contains("I want a refund for order 12345"))
            .then_some(())
    })
    .await;
    let conv = &chatwoot.conversations()[0];
    assert_eq!(conv["status"], "open");
    assert_eq!(conv["inbox_id"], 12);
    let contact = &chatwoot.contacts()[0];
    assert_eq!(contact["name"], "Alice");
    assert_eq!(
        texts_from(&customer, "system").len(),
        1,
        "told once that a person will reply"
    );

    // Forged and unsigned webhooks: 401, nothing happens.
    let forged =
        webhook::message_created(345, 9000, "forged words", "outgoing", false, 3, "Mallory");
    assert_eq!(
        chatwoot_posts(&tandem, &forged, Some("wrong"), "dl-forged").await,
        401
    );
    assert_eq!(
        chatwoot_posts(&tandem, &forged, None, "dl-unsigned").await,
        401
    );
    let forged_resolve = webhook::status_changed(345, "open", "resolved", None);
    assert_eq!(
        chatwoot_posts(&tandem, &forged_resolve, Some("wrong"), "dl-forged-2").await,
        401
    );

    // The agent replies (Chatwoot retries the delivery once); a private note stays inside.
    let reply = webhook::message_created(
        345,
        9001,
        "Hi Alice, I'm Jonas. Let me check that refund.",
        "outgoing",
        false,
        3,
        "Jonas Weber",
    );
    assert_eq!(
        chatwoot_posts(&tandem, &reply, Some(WEBHOOK_SECRET), "dl-1").await,
        200
    );
    assert_eq!(
        chatwoot_posts(&tandem, &reply, Some(WEBHOOK_SECRET), "dl-1").await,
        200
    );
    let note = webhook::message_created(
        345,
        9002,
        "VIP, approve without photo",
        "outgoing",
        true,
        3,
        "Jonas Weber",
    );
    assert_eq!(
        chatwoot_posts(&tandem, &note, Some(WEBHOOK_SECRET), "dl-2").await,
        200
    );
    eventually(10, "agent reply at the customer", || async {
        (!texts_from(&customer, "agent").is_empty()).then_some(())
    })
    .await;

    // While the agent owns it: customer messages go in as incoming messages, the bot says nothing.
    customer_says(&tandem, "w2", "what are your opening hours?").await;
    let relayed = eventually(10, "customer message in Chatwoot", || async {
        chatwoot
            .messages(345)
            .into_iter()
            .find(|m| m["content"] == "what are your opening hours?")
    })
    .await;
    assert_eq!(
        (
            relayed["message_type"].as_str(),
            relayed["private"].as_bool()
        ),
        (Some("incoming"), Some(false))
    );
    // Chatwoot's webhook for that relayed message comes back: dropped.
    let echo = webhook::message_created(
        345,
        relayed["id"].as_u64().unwrap(),
        "what are your opening hours?",
        "incoming",
        false,
        901,
        "Alice",
    );
    assert_eq!(
        chatwoot_posts(&tandem, &echo, Some(WEBHOOK_SECRET), "dl-3").await,
        200
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        texts_from(&customer, "bot").is_empty(),
        "the bot said nothing while the agent owned it"
    );
    assert_eq!(
        texts_from(&customer, "agent"),
        ["Hi Alice, I'm Jonas. Let me check that refund."],
        "one effect for the retried delivery; nothing from forged webhooks or private notes"
    );

    // Resolved in Chatwoot: the bot is back with a survey, and answers again.
    let resolved = webhook::status_changed(345, "open", "resolved", Some((3, "Jonas Weber")));
    assert_eq!(
        chatwoot_posts(&tandem, &resolved, Some(WEBHOOK_SECRET), "dl-4").await,
        200
    );
    let survey = eventually(10, "CSAT survey", || async {
        texts_from(&customer, "bot")
            .into_iter()
            .find(|t| t.contains("How did we do?"))
    })
    .await;
    assert!(
        survey.contains("1. 1") && survey.contains("5. 5"),
        "numbered: {survey}"
    );
    customer_says(&tandem, "w3", "5").await;
    eventually(10, "survey thanks", || async {
        texts_from(&customer, "bot")
            .iter()
            .any(|t| t.contains("Thank you for your feedback"))
            .then_some(())
    })
    .await;
    // The score is stored with the handoff, resolved by the Chatwoot agent.
    let admin = |path: String| {
        let url = tandem.url(&path);
        async move {
            tandem_e2e::http()
                .get(url)
                .bearer_auth("admin-token-0123456789abcdef")
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let found = admin("/api/v1/customers?identity=webhook:alice".into()).await;
    let customer_id = found[0]["id"].as_str().unwrap().to_owned();
    let convs = admin(format!("/api/v1/customers/{customer_id}/conversations")).await;
    let conv = admin(format!(
        "/api/v1/conversations/{}",
        convs[0]["id"].as_str().unwrap()
    ))
    .await;
    let past = &conv["past_handoffs"][0];
    assert_eq!(past["status"], "resolved");
    assert_eq!(past["csat"]["score"], 5);
    assert_eq!(past["agent"]["name"], "Jonas Weber");
    customer_says(&tandem, "w4", "what are your opening hours?").await;
    eventually(10, "the bot answers again", || async {
        texts_from(&customer, "bot")
            .iter()
            .any(|t| t.to_lowercase().contains("open"))
            .then_some(())
    })
    .await;
}

/// Issue 12: one owner per handoff on Chatwoot. Once the conversation is assigned to
/// Jonas, Bea's reply is refused with a private note and never reaches the customer;
/// reassigning the conversation to Bea in Chatwoot transfers the handoff, and hers goes
/// through.
#[tokio::test]
async fn chatwoot_takes_replies_only_from_the_owner_until_a_reassignment() {
    let dir = tempfile::tempdir().unwrap();
    let customer = FakeEndpoint::start(200).await;
    let chatwoot = ChatwootFake::start(TOKEN, 7).await;
    let tandem = Tandem::start(dir.path(), &config(&customer.url, chatwoot.base_url())).await;
    customer_says(&tandem, "w1", "I want a refund for order 12345").await;
    eventually(10, "briefing note at Chatwoot", || async {
        contents(&chatwoot, 345).into_iter().next()
    })
    .await;

    let to_jonas = webhook::assigned(345, (3, "Jonas Weber"));
    assert_eq!(
        chatwoot_posts(&tandem, &to_jonas, Some(WEBHOOK_SECRET), "dl-1").await,
        200
    );
    agent_joined(&customer).await;

    let bea = webhook::message_created(345, 9101, "Bea here!", "outgoing", false, 5, "Bea Berg");
    assert_eq!(
        chatwoot_posts(&tandem, &bea, Some(WEBHOOK_SECRET), "dl-2").await,
        200
    );
    eventually(10, "a private note refusing Bea's reply", || async {
        contents(&chatwoot, 345)
            .into_iter()
            .find(|m| m.1 && m.2.contains("Not sent to the customer") && m.2.contains("Jonas"))
    })
    .await;

    let to_bea = webhook::assigned(345, (5, "Bea Berg"));
    assert_eq!(
        chatwoot_posts(&tandem, &to_bea, Some(WEBHOOK_SECRET), "dl-3").await,
        200
    );
    eventually(10, "the transfer noted in Chatwoot", || async {
        contents(&chatwoot, 345)
            .into_iter()
            .find(|m| m.1 && m.2.starts_with("Transferred to Bea Berg"))
    })
    .await;
    let bea_again = webhook::message_created(
        345,
        9102,
        "Bea here, I have it now.",
        "outgoing",
        false,
        5,
        "Bea Berg",
    );
    assert_eq!(
        chatwoot_posts(&tandem, &bea_again, Some(WEBHOOK_SECRET), "dl-4").await,
        200
    );
    agent_said(&customer, "Bea here, I have it now.").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        texts_from(&customer, "agent"),
        ["Bea here, I have it now."],
        "the refused reply never reached the customer"
    );
}
