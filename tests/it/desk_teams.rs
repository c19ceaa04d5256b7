//! Handoff to the Microsoft Teams desk, end to end, with the real binary, the testkit's
//! fake Bot Framework (signing keys, token endpoint, Bot Connector with channel threads)
//! and the generic webhook channel as the customer's side: the briefing card starts a
//! thread in the support channel, later customer messages land in that thread, the
//! agent's Accept and thread reply reach the customer once (also when Bot Framework
//! redelivers the activity) while the bot stays silent, a forged token changes nothing,
//! and Resolve brings the bot back with a CSAT survey.

use crate::handoff::customer_says_as;
use crate::handoff::{agent_joined, agent_said, texts_from};
use serde_json::{Value, json};
use std::time::Duration;
use tandem_e2e::{FakeEndpoint, Tandem, eventually};
use tandem_testkit::Reply;
use tandem_testkit::fake::{TEAMS_TENANT, TeamsFake, TeamsUser, TokenKind};

const APP_ID: &str = "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
const PASSWORD: &str = "e2e-teams-desk-secret";
const CHANNEL: &str = "19:d3sKsupp0rtQueue@thread.tacv2";

fn config(customer: &str, fake: &TeamsFake) -> String {
    format!(
        r#"
[channels.webhook]
url = "{customer}"
secret = "shh"
max_buttons = 0

[desks.teams]
app_id = "{APP_ID}"
app_password = "{PASSWORD}"
tenant_id = "{TEAMS_TENANT}"
openid_metadata_url = "{}"
token_url = "{}"
service_url = "{}"
channel_id = "{CHANNEL}"

[admin]
tokens = ["admin-token-0123456789abcdef"]

[outbox]
lease_secs = 2
retry_base_ms = 200
retry_max_ms = 1000
"#,
        fake.openid_metadata_url(),
        fake.token_url(),
        fake.service_url(),
    )
}

fn agent() -> TeamsUser {
    TeamsUser::new(
        "29:1AgentJonasQpXz",
        "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c99",
        "Jonas Weber",
    )
}

/// An activity from the agent in `thread` (a channel thread), as Teams sends it.
fn in_thread(fake: &TeamsFake, thread: &str, id: &str) -> Value {
    json!({
        "type": "message",
        "id": id,
        "timestamp": "2026-01-01T10:05:00.000Z",
        "channelId": "msteams",
        "serviceUrl": fake.service_url(),
        "from": agent().account(),
        "conversation": {"conversationType": "channel", "tenantId": TEAMS_TENANT, "id": thread, "isGroup": true},
        "recipient": {"id": format!("28:{APP_ID}"), "name": "Tandem Desk"},
        "channelData": {"tenant": {"id": TEAMS_TENANT}, "channel": {"id": CHANNEL}, "team": {"id": "19:team@thread.tacv2"}},
        "locale": "en-US",
    })
}

fn reply(fake: &TeamsFake, thread: &str, id: &str, text: &str) -> Value {
    let mut a = in_thread(fake, thread, id);
    a["text"] = json!(format!("<at>Tandem Desk</at> {text}"));
    a["textFormat"] = json!("plain");
    a["entities"] = json!([{"type": "mention", "text": "<at>Tandem Desk</at>",
        "mentioned": {"id": format!("28:{APP_ID}"), "name": "Tandem Desk"}}]);
    a
}

fn submit(fake: &TeamsFake, thread: &str, id: &str, action: &str, handoff_id: &str) -> Value {
    let mut a = in_thread(fake, thread, id);
    a["value"] = json!({"tandem": action, "handoff_id": handoff_id});
    a["replyToId"] = json!(thread.split("messageid=").nth(1).unwrap_or_default());
    a
}

async fn post(tandem: &Tandem, activity: &Value, bearer: &str) -> u16 {
    tandem
        .post_activity("/desks/teams/messages", activity, bearer)
        .await
}

async fn post_valid(tandem: &Tandem, fake: &TeamsFake, activity: &Value) -> u16 {
    post(tandem, activity, &fake.bearer(activity, TokenKind::Valid)).await
}

fn thread_texts(fake: &TeamsFake, thread: &str) -> Vec<String> {
    fake.posts_to(thread)
        .iter()
        .map(|p| p["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn refund_goes_to_a_teams_thread_and_comes_back_with_csat() {
    let dir = tempfile::tempdir().unwrap();
    let customer = FakeEndpoint::start(200).await;
    let fake = TeamsFake::start(APP_ID, PASSWORD).await;
    let tandem = Tandem::start(dir.path(), &config(&customer.url, &fake)).await;

    // The briefing: a new thread in the channel, its first post the card.
    customer_says_as(&tandem, "alice", "t1", "I want a refund for order 12345").await;
    let (thread, body) = eventually(10, "briefing thread in the Teams channel", || async {
        fake.channel_threads().into_iter().next()
    })
    .await;
    assert!(
        thread.starts_with(&format!("{CHANNEL};messageid=")),
        "{thread}"
    );
    assert_eq!(body["isGroup"], true);
    assert_eq!(body["channelData"]["channel"]["id"], CHANNEL);
    assert_eq!(body["tenantId"], TEAMS_TENANT);
    let card = &body["activity"]["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let text = card["content"].to_string();
    for needle in [
        "priority",
        "Why:",
        "refund",
        "alice",
        "webhook: alice",
        "window open",
        "Stalled at",
        "Customer (webhook): I want a refund for order 12345",
        "Action.Submit",
        "\"accept\"",
        "\"resolve\"",
        "\"release\"",
    ] {
        assert!(text.contains(needle), "briefing lacks {needle}: {text}");
    }
    let handoff_id = card["content"]["actions"][0]["data"]["handoff_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Outbound calls carry a token the fake issued.
    assert!(!fake.issued_tokens().is_empty());
    assert_eq!(
        texts_from(&customer, "system").len(),
        1,
        "told once that a person will reply"
    );

    // A later customer message is appended in the thread.
    customer_says_as(&tandem, "alice", "t2", "it was charged twice").await;
    eventually(10, "customer message in the thread", || async {
        thread_texts(&fake, &thread)
            .iter()
            .any(|t| t.contains("Customer (webhook): it was charged twice"))
            .then_some(())
    })
    .await;

    // A forged token: 401, nothing happens.
    let forged = reply(&fake, &thread, "1767261700001", "forged words");
    for kind in [TokenKind::BadSignature, TokenKind::WrongAudience] {
        assert_eq!(
            post(&tandem, &forged, &fake.bearer(&forged, kind)).await,
            401
        );
    }
    assert_eq!(
        post(
            &tandem,
            &forged,
            &fake.bearer(&forged, TokenKind::Unendorsed)
        )
        .await,
        403
    );

    // The agent accepts, then answers in the thread; Bot Framework redelivers the reply.
    let accept = submit(&fake, &thread, "1767261700002", "accept", &handoff_id);
    assert_eq!(post_valid(&tandem, &fake, &accept).await, 200);
    let answer = reply(
        &fake,
        &thread,
        "1767261700003",
        "Hi Alice, I'm Jonas. Let me check that refund.",
    );
    assert_eq!(post_valid(&tandem, &fake, &answer).await, 200);
    assert_eq!(post_valid(&tandem, &fake, &answer).await, 200);
    eventually(10, "agent reply at the customer", || async {
        (!texts_from(&customer, "agent").is_empty()).then_some(())
    })
    .await;

    // While the agent owns it: the bot says nothing.
    customer_says_as(&tandem, "alice", "t3", "what are your opening hours?").await;
    eventually(10, "second customer message in the thread", || async {
        thread_texts(&fake, &thread)
            .iter()
            .any(|t| t.contains("what are your opening hours?"))
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        texts_from(&customer, "bot").is_empty(),
        "the bot said nothing while the agent owned it"
    );
    assert_eq!(
        texts_from(&customer, "agent"),
        ["Hi Alice, I'm Jonas. Let me check that refund."],
        "one effect for the redelivered activity, mention removed, nothing forged"
    );
    assert_eq!(fake.channel_threads().len(), 1, "one thread per handoff");

    // Resolve: the bot is back with a survey.
    let resolve = submit(&fake, &thread, "1767261700004", "resolve", &handoff_id);
    assert_eq!(post_valid(&tandem, &fake, &resolve).await, 200);
    let survey = eventually(10, "CSAT survey", || async {
        texts_from(&customer, "bot")
            .into_iter()
            .find(|t| t.contains("How did we do?"))
    })
    .await;
    assert!(survey.contains("1. 1"), "numbered: {survey}");
    customer_says_as(&tandem, "alice", "t4", "5").await;
    eventually(10, "survey thanks", || async {
        texts_from(&customer, "bot")
            .iter()
            .any(|t| t.contains("Thank you for your feedback"))
            .then_some(())
    })
    .await;

    // The handoff is resolved by the Teams agent (their Entra object id).
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
    assert_eq!(past["id"], handoff_id.as_str());
    assert_eq!(past["status"], "resolved");
    assert_eq!(past["agent"]["id"], agent().subject());
}

#[tokio::test]
async fn teams_rate_limits_and_outages_are_retried_without_a_second_thread() {
    let dir = tempfile::tempdir().unwrap();
    let customer = FakeEndpoint::start(200).await;
    let fake = TeamsFake::start(APP_ID, PASSWORD).await;
    fake.script(Reply::RateLimited {
        retry_after_secs: 1,
    });
    fake.script_error(502, "ServiceError", None);
    let tandem = Tandem::start(dir.path(), &config(&customer.url, &fake)).await;

    customer_says_as(
        &tandem,
        "bob",
        "r1",
        "I want a refund, my card was charged twice",
    )
    .await;
    eventually(20, "briefing after retries", || async {
        fake.channel_threads().into_iter().next()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(fake.channel_threads().len(), 1, "one thread");
    assert!(fake.created_conversations().len() >= 3);
    assert!(texts_from(&customer, "bot").is_empty());

    // Activities outside any handoff thread are acknowledged and change nothing.
    let stray = reply(
        &fake,
        &format!("{CHANNEL};messageid=1"),
        "1767261799999",
        "hello?",
    );
    assert_eq!(post_valid(&tandem, &fake, &stray).await, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(texts_from(&customer, "agent").is_empty());
}

/// Issue 12: one owner per handoff on Teams. After Jonas accepted, Bea's thread reply is
/// refused with a reply in the thread naming Jonas and never reaches the customer; after
/// Jonas writes `!transfer <Bea's id>`, hers goes through.
#[tokio::test]
async fn teams_takes_replies_only_from_the_owner_until_a_transfer() {
    let dir = tempfile::tempdir().unwrap();
    let customer = FakeEndpoint::start(200).await;
    let fake = TeamsFake::start(APP_ID, PASSWORD).await;
    let tandem = Tandem::start(dir.path(), &config(&customer.url, &fake)).await;
    customer_says_as(&tandem, "alice", "t1", "I want a refund for order 12345").await;
    let (thread, body) = eventually(10, "briefing thread in the Teams channel", || async {
        fake.channel_threads().into_iter().next()
    })
    .await;
    let handoff_id =
        body["activity"]["attachments"][0]["content"]["actions"][0]["data"]["handoff_id"]
            .as_str()
            .unwrap()
            .to_owned();
    let bea = TeamsUser::new(
        "29:1AgentBeaQpXz",
        "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b",
        "Bea Berg",
    );
    let from_bea = |id: &str, text: &str| {
        let mut a = reply(&fake, &thread, id, text);
        a["from"] = bea.account();
        a
    };

    let accept = submit(&fake, &thread, "act-accept", "accept", &handoff_id);
    assert_eq!(post_valid(&tandem, &fake, &accept).await, 200);
    agent_joined(&customer).await;

    assert_eq!(
        post_valid(&tandem, &fake, &from_bea("act-b1", "Bea here!")).await,
        200
    );
    eventually(10, "a refusal in the thread", || async {
        thread_texts(&fake, &thread)
            .into_iter()
            .find(|t| t.contains("Jonas Weber is handling this conversation"))
    })
    .await;

    let transfer = reply(
        &fake,
        &thread,
        "act-transfer",
        "!transfer 5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b",
    );
    assert_eq!(post_valid(&tandem, &fake, &transfer).await, 200);
    eventually(10, "the transfer noted in the thread", || async {
        thread_texts(&fake, &thread)
            .into_iter()
            .find(|t| t.starts_with("Transferred to"))
    })
    .await;
    let after = from_bea("act-b2", "Bea here, I have it now.");
    assert_eq!(post_valid(&tandem, &fake, &after).await, 200);
    agent_said(&customer, "Bea here, I have it now.").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        texts_from(&customer, "agent"),
        ["Bea here, I have it now."],
        "the refused reply and the transfer command never reached the customer"
    );
}
