//! Handoff to the Slack desk, end to end, with the real binary, the fake Slack Web API
//! (`tandem_testkit::slack_fake`) and the generic webhook channel as the customer's side:
//! the briefing lands as a root message, a signed thread reply reaches the customer once
//! (also when Slack redelivers it), the bot is silent while the agent owns the
//! conversation, forged requests change nothing, and Resolve brings the bot back with a
//! CSAT survey.

use crate::handoff::{agent_said, customer_says, texts_from};
use serde_json::{Value, json};
use std::time::Duration;
use tandem_e2e::{FakeEndpoint, Tandem, eventually};
use tandem_testkit::slack_fake::{SlackFake, now_secs, sign};

const TOKEN: &str = "xoxb-e2e-token";
const SIGNING_SECRET: &str = "slack-signing-secret";

fn config(customer: &str, slack: &str) -> String {
    format!(
        r#"
[channels.webhook]
url = "{customer}"
secret = "shh"
max_buttons = 0

[desks.slack]
bot_token = "{TOKEN}"
signing_secret = "{SIGNING_SECRET}"
channel_id = "C0SUPPORT1"
api_base = "{slack}"

[admin]
tokens = ["admin-token-0123456789abcdef"]

[outbox]
lease_secs = 2
retry_base_ms = 200
retry_max_ms = 1000
"#
    )
}

/// POSTs `body` to `path` signed with `secret`, with extra headers.
async fn slack_posts(
    tandem: &Tandem,
    path: &str,
    body: &[u8],
    secret: &str,
    extra: &[(&str, &str)],
) -> u16 {
    let (ts, sig) = sign(secret, now_secs(), body);
    let mut req = tandem_e2e::http()
        .post(tandem.url(path))
        .header("x-slack-request-timestamp", ts)
        .header("x-slack-signature", sig)
        .body(body.to_vec());
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap().status().as_u16()
}

fn thread_reply(event_id: &str, thread_ts: &str, text: &str) -> Vec<u8> {
    thread_reply_from("U0AGENT001", event_id, thread_ts, text)
}

fn thread_reply_from(user: &str, event_id: &str, thread_ts: &str, text: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "team_id": "T0ACME1234", "api_app_id": "A0GATEWAY1",
        "type": "event_callback", "event_id": event_id, "event_time": now_secs(),
        "event": {
            "type": "message", "user": user, "text": text, "channel": "C0SUPPORT1",
            "ts": format!("{}.000200", now_secs()), "thread_ts": thread_ts, "parent_user_id": "U0BOTUSER1",
            "channel_type": "channel", "team": "T0ACME1234"
        }
    }))
    .unwrap()
}

fn click(action_id: &str, handoff_id: &str, root_ts: &str) -> Vec<u8> {
    let payload = json!({
        "type": "block_actions",
        "user": {"id": "U0AGENT001", "username": "jonas.weber", "name": "jonas.weber", "team_id": "T0ACME1234"},
        "container": {"type": "message", "message_ts": root_ts, "channel_id": "C0SUPPORT1", "is_ephemeral": false},
        "channel": {"id": "C0SUPPORT1", "name": "support-queue"},
        "actions": [{"action_id": action_id, "block_id": "tandem_actions", "value": handoff_id,
                     "type": "button", "action_ts": format!("{}.123456", now_secs())}]
    });
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish()
        .into_bytes()
}

fn root_text(root: &Value) -> String {
    root["blocks"].to_string()
}

#[tokio::test]
async fn refund_goes_to_slack_and_comes_back_with_csat() {
    let dir = tempfile::tempdir().unwrap();
    let customer = FakeEndpoint::start(200).await;
    let slack = SlackFake::start(TOKEN).await;
    let tandem = Tandem::start(dir.path(), &config(&customer.url, slack.base_url())).await;

    // The briefing: a root message in the channel, the transcript in its thread.
    customer_says(&tandem, "s1", "I want a refund for order 12345").await;
    let root = eventually(10, "briefing root message at Slack", || async {
        slack.roots().into_iter().next()
    })
    .await;
    assert_eq!(root["channel"], "C0SUPPORT1");
    let blocks = root_text(&root);
    assert_eq!(root["blocks"][0]["type"], "header");
    assert!(
        root["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("priority"),
        "{blocks}"
    );
    for needle in [
        "*Why:*",
        "refund",
        "Alice",
        "webhook: alice",
        "webhook · window open",
        "*Summary:*",
        "Stalled at",
        "tandem_accept",
        "tandem_resolve",
        "tandem_release",
    ] {
        assert!(blocks.contains(needle), "briefing lacks {needle}: {blocks}");
    }
    let handoff_id = root["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "actions")
        .map(|b| b["elements"][0]["value"].as_str().unwrap().to_owned())
        .unwrap();
    let root_ts = SlackFake::ts_of(0);
    eventually(10, "transcript in the thread", || async {
        slack
            .replies(&root_ts)
            .iter()
            .any(|r| {
                r["text"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("I want a refund for order 12345")
            })
            .then_some(())
    })
    .await;
    assert_eq!(
        texts_from(&customer, "system").len(),
        1,
        "told once that a person will reply"
    );

    // Forged requests: 401, nothing happens.
    let forged_reply = thread_reply("EvForged", &root_ts, "forged words");
    assert_eq!(
        slack_posts(&tandem, "/desks/slack/events", &forged_reply, "wrong", &[]).await,
        401
    );
    let forged_click = click("tandem_resolve", &handoff_id, &root_ts);
    let form = [("content-type", "application/x-www-form-urlencoded")];
    assert_eq!(
        slack_posts(
            &tandem,
            "/desks/slack/interactions",
            &forged_click,
            "wrong",
            &form
        )
        .await,
        401
    );

    // The agent answers in the thread; Slack redelivers the same event once.
    let reply = thread_reply(
        "Ev0A1B2C3D4E",
        &root_ts,
        "Hi Alice, I'm Jonas. Let me check that refund.",
    );
    assert_eq!(
        slack_posts(&tandem, "/desks/slack/events", &reply, SIGNING_SECRET, &[]).await,
        200
    );
    let retry = [
        ("x-slack-retry-num", "1"),
        ("x-slack-retry-reason", "http_timeout"),
    ];
    assert_eq!(
        slack_posts(
            &tandem,
            "/desks/slack/events",
            &reply,
            SIGNING_SECRET,
            &retry
        )
        .await,
        200
    );
    eventually(10, "agent reply at the customer", || async {
        (!texts_from(&customer, "agent").is_empty()).then_some(())
    })
    .await;

    // While the agent owns it: customer messages go to the thread, the bot says nothing.
    customer_says(&tandem, "s2", "what are your opening hours?").await;
    eventually(10, "customer message in the thread", || async {
        slack
            .replies(&root_ts)
            .iter()
            .any(|r| {
                r["text"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("what are your opening hours?")
            })
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
        "one effect for the redelivered event; nothing from the forged one"
    );

    // Resolve: the bot is back with a survey, and answers again.
    let resolve = click("tandem_resolve", &handoff_id, &root_ts);
    assert_eq!(
        slack_posts(
            &tandem,
            "/desks/slack/interactions",
            &resolve,
            SIGNING_SECRET,
            &form
        )
        .await,
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
    eventually(10, "root settled", || async {
        slack
            .updates()
            .iter()
            .any(|u| u["blocks"].to_string().contains("Resolved by"))
            .then_some(())
    })
    .await;
    customer_says(&tandem, "s3", "5").await;
    eventually(10, "survey thanks", || async {
        texts_from(&customer, "bot")
            .iter()
            .any(|t| t.contains("Thank you for your feedback"))
            .then_some(())
    })
    .await;
    // The score is stored with the handoff; the clicking agent resolved it.
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
    assert_eq!(past["csat"]["score"], 5);
    assert_eq!(past["agent"]["id"], "U0AGENT001");
    customer_says(&tandem, "s4", "what are your opening hours?").await;
    eventually(10, "the bot answers again", || async {
        texts_from(&customer, "bot")
            .iter()
            .any(|t| t.to_lowercase().contains("open"))
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn slack_rate_limits_and_outages_are_retried_by_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let customer = FakeEndpoint::start(200).await;
    let slack = SlackFake::start(TOKEN).await;
    slack.script(tandem_testkit::slack_fake::SlackReply::RateLimited {
        retry_after_secs: 1,
    });
    slack.script(tandem_testkit::slack_fake::SlackReply::Status(503));
    slack.script(tandem_testkit::slack_fake::SlackReply::Error(
        "internal_error".into(),
    ));
    let tandem = Tandem::start(dir.path(), &config(&customer.url, slack.base_url())).await;

    customer_says(&tandem, "r1", "I want a refund, my card was charged twice").await;
    eventually(20, "briefing after retries", || async {
        slack.roots().into_iter().next()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(slack.roots().len(), 1, "one root message");
    assert!(slack.calls("chat.postMessage").len() >= 4);
    assert!(texts_from(&customer, "bot").is_empty());
}

#[tokio::test]
async fn url_verification_is_answered_with_the_challenge() {
    let dir = tempfile::tempdir().unwrap();
    let customer = FakeEndpoint::start(200).await;
    let slack = SlackFake::start(TOKEN).await;
    let tandem = Tandem::start(dir.path(), &config(&customer.url, slack.base_url())).await;
    let body = br#"{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let (ts, sig) = sign(SIGNING_SECRET, now_secs(), body);
    let answer: Value = tandem_e2e::http()
        .post(tandem.url("/desks/slack/events"))
        .header("x-slack-request-timestamp", ts)
        .header("x-slack-signature", sig)
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );
}

/// Acceptance item 1 as written: a WhatsApp customer (fake Graph API) hands off to Slack.
#[tokio::test]
async fn whatsapp_customer_reaches_slack_and_gets_the_agent_reply() {
    use tandem_testkit::fake::WhatsAppFake;
    use tandem_testkit::payloads::{meta_signature, whatsapp_text};
    const PHONE_ID: &str = "109876543210987";
    const APP_SECRET: &str = "wa-app-secret";
    let dir = tempfile::tempdir().unwrap();
    let graph = WhatsAppFake::start("wa-token", PHONE_ID, "v21.0").await;
    let slack = SlackFake::start(TOKEN).await;
    let config = format!(
        r#"
[channels.whatsapp]
app_secret = "{APP_SECRET}"
verify_token = "verify-me"
access_token = "wa-token"
phone_number_id = "{PHONE_ID}"
api_base = "{graph}"
api_version = "v21.0"

[desks.slack]
bot_token = "{TOKEN}"
signing_secret = "{SIGNING_SECRET}"
channel_id = "C0SUPPORT1"
api_base = "{slack}"

[outbox]
lease_secs = 2
retry_base_ms = 200
retry_max_ms = 1000
"#,
        graph = graph.base_url(),
        slack = slack.base_url()
    );
    let tandem = Tandem::start(dir.path(), &config).await;
    let says = |n: u32, text: &'static str| {
        let url = tandem.url("/webhooks/whatsapp");
        async move {
            let body = whatsapp_text(
                PHONE_ID,
                "4915112345678",
                "Lena Müller",
                text,
                &format!("wamid.E2E{n}"),
                now_secs(),
            );
            let status = tandem_e2e::http()
                .post(url)
                .header("content-type", "application/json")
                .header(
                    "x-hub-signature-256",
                    meta_signature(APP_SECRET, body.as_bytes()),
                )
                .body(body)
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 200);
        }
    };
    // Everything the customer received, as text (text bodies and interactive bodies).
    let received = || -> Vec<String> {
        graph
            .delivered()
            .iter()
            .map(|r| r.json().to_string())
            .collect()
    };

    says(1, "I want a refund").await;
    let root = eventually(10, "briefing root message at Slack", || async {
        slack.roots().into_iter().next()
    })
    .await;
    let blocks = root_text(&root);
    for needle in [
        "*Why:*",
        "refund",
        "Lena Müller",
        "whatsapp: 4915112345678",
        "window open",
        "*Summary:*",
    ] {
        assert!(blocks.contains(needle), "briefing lacks {needle}: {blocks}");
    }
    let root_ts = SlackFake::ts_of(0);
    let handoff_id = root["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "actions")
        .map(|b| b["elements"][0]["value"].as_str().unwrap().to_owned())
        .unwrap();
    // The transcript follows the root once the desk remembered the thread: a reply before
    // that would be outside any handoff thread.
    eventually(10, "transcript in the thread", || async {
        (!slack.replies(&root_ts).is_empty()).then_some(())
    })
    .await;

    let reply = thread_reply("EvWa1", &root_ts, "Hallo Lena, hier ist Jonas.");
    assert_eq!(
        slack_posts(&tandem, "/desks/slack/events", &reply, SIGNING_SECRET, &[]).await,
        200
    );
    eventually(30, "agent reply at the Graph API", || async {
        received()
            .iter()
            .any(|b| b.contains("Hallo Lena, hier ist Jonas."))
            .then_some(())
    })
    .await;
    let before = received().len();
    says(2, "what are your opening hours?").await;
    eventually(10, "customer message in the thread", || async {
        slack
            .replies(&root_ts)
            .iter()
            .any(|r| {
                r["text"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("what are your opening hours?")
            })
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        received().len(),
        before,
        "the bot said nothing while the agent owned it"
    );

    let resolve = click("tandem_resolve", &handoff_id, &root_ts);
    let form = [("content-type", "application/x-www-form-urlencoded")];
    assert_eq!(
        slack_posts(
            &tandem,
            "/desks/slack/interactions",
            &resolve,
            SIGNING_SECRET,
            &form
        )
        .await,
        200
    );
    eventually(10, "CSAT prompt at the Graph API", || async {
        received()
            .iter()
            .any(|b| b.contains("How did we do?"))
            .then_some(())
    })
    .await;
    says(3, "5").await;
    eventually(10, "survey thanks", || async {
        received()
            .iter()
            .any(|b| b.contains("Thank you for your feedback"))
            .then_some(())
    })
    .await;
}

/// Issue 12: one owner per handoff on Slack. Once Jonas answered (which takes the
/// handoff), Bea's thread reply is refused with a reply in the thread naming the owner,
/// and never reaches the customer; after Jonas writes `!transfer <@Bea>`, hers goes through.
#[tokio::test]
async fn slack_takes_replies_only_from_the_owner_until_a_transfer() {
    let dir = tempfile::tempdir().unwrap();
    let customer = FakeEndpoint::start(200).await;
    let slack = SlackFake::start(TOKEN).await;
    let tandem = Tandem::start(dir.path(), &config(&customer.url, slack.base_url())).await;
    customer_says(&tandem, "s1", "I want a refund for order 12345").await;
    eventually(10, "briefing root message at Slack", || async {
        slack.roots().into_iter().next()
    })
    .await;
    let root_ts = SlackFake::ts_of(0);
    let post = |body: Vec<u8>| {
        let tandem = &tandem;
        async move { slack_posts(tandem, "/desks/slack/events", &body, SIGNING_SECRET, &[]).await }
    };
    assert_eq!(
        post(thread_reply("EvJ1", &root_ts, "Jonas here, on it.")).await,
        200
    );
    agent_said(&customer, "Jonas here, on it.").await;

    assert_eq!(
        post(thread_reply_from(
            "U0AGENT002",
            "EvB1",
            &root_ts,
            "Bea here!"
        ))
        .await,
        200
    );
    let refusal = eventually(10, "a refusal in the thread", || async {
        slack.replies(&root_ts).into_iter().find(|r| {
            r["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("<@U0AGENT002>") && t.contains("U0AGENT001"))
        })
    })
    .await;
    assert!(
        refusal["text"].as_str().unwrap().contains("transfer"),
        "{refusal}"
    );

    assert_eq!(
        post(thread_reply("EvJ2", &root_ts, "!transfer <@U0AGENT002>")).await,
        200
    );
    eventually(10, "the transfer noted in the thread", || async {
        slack.replies(&root_ts).into_iter().find(|r| {
            r["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("Transferred to <@U0AGENT002>"))
        })
    })
    .await;
    assert_eq!(
        post(thread_reply_from(
            "U0AGENT002",
            "EvB2",
            &root_ts,
            "Bea here, I have it now."
        ))
        .await,
        200
    );
    agent_said(&customer, "Bea here, I have it now.").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        texts_from(&customer, "agent"),
        ["Jonas here, on it.", "Bea here, I have it now."],
        "the refused reply and the transfer command never reached the customer"
    );
}
