//! How far an agent's reply got, shown in each desk, end to end with the real binary: a
//! WhatsApp customer whose 24-hour window closed two days ago is handed off; the agent's
//! reply can't be sent, and the desk shows it where the agent works: a thread reply and ❌
//! on the reply in Slack, a signed `agent.message.status` at the webhook desk, the
//! reply's failed status in Chatwoot. Nothing reaches WhatsApp.

use crate::handoff::{assert_valid, desk_posts, schema};
use serde_json::{Value, json};
use tandem_e2e::{FakeEndpoint, Tandem, eventually};
use tandem_testkit::chatwoot_fake::{ChatwootFake, webhook};
use tandem_testkit::fake::WhatsAppFake;
use tandem_testkit::slack_fake::{SlackFake, now_secs, sign};

const WA_SECRET: &str = "wa-secret";
const WA_NUMBER: &str = "1098765";

fn whatsapp(fake: &WhatsAppFake) -> String {
    format!(
        r#"
[channels.whatsapp]
app_secret = "{WA_SECRET}"
verify_token = "wa-verify"
access_token = "wa-token"
phone_number_id = "{WA_NUMBER}"
api_base = "{}"
api_version = "v21.0"

[outbox]
lease_secs = 2
retry_base_ms = 200
retry_max_ms = 1000
"#,
        fake.base_url()
    )
}

/// Lena asks for a refund on WhatsApp, two days ago: a handoff, into a closed window.
async fn lena_asks_two_days_ago(tandem: &Tandem) {
    let body = tandem_testkit::payloads::whatsapp_text(
        WA_NUMBER,
        "4915112345678",
        "Lena Müller",
        "I want a refund for order 12345",
        "wamid.old",
        tandem_e2e::unix_now() - 2 * 86_400,
    );
    assert_eq!(
        tandem
            .post_meta("/webhooks/whatsapp", WA_SECRET, &body)
            .await,
        200
    );
}

async fn start(desk: &str) -> (tempfile::TempDir, WhatsAppFake, Tandem) {
    let dir = tempfile::tempdir().unwrap();
    let fake = WhatsAppFake::start("wa-token", WA_NUMBER, "v21.0").await;
    let config = format!("{}\n{desk}", whatsapp(&fake));
    let tandem = Tandem::start(dir.path(), &config).await;
    fake.set_webhook(&tandem.url("/webhooks/whatsapp"), WA_SECRET);
    (dir, fake, tandem)
}

#[tokio::test]
async fn slack_shows_a_reply_into_a_closed_whatsapp_window_in_its_thread() {
    let slack = SlackFake::start("xoxb-e2e-token").await;
    let desk = format!(
        r#"
[desks.slack]
bot_token = "xoxb-e2e-token"
signing_secret = "slack-signing-secret"
channel_id = "C0SUPPORT1"
api_base = "{}"
"#,
        slack.base_url()
    );
    let (_dir, wa, tandem) = start(&desk).await;
    lena_asks_two_days_ago(&tandem).await;
    eventually(15, "the briefing at Slack", || async {
        slack.roots().into_iter().next()
    })
    .await;
    let root_ts = SlackFake::ts_of(0);
    // The transcript follows the root once the desk remembered the thread.
    eventually(15, "the transcript in the thread", || async {
        (!slack.replies(&root_ts).is_empty()).then_some(())
    })
    .await;
    let before = slack.replies(&root_ts).len();

    // The agent answers in the thread.
    let reply_ts = format!("{}.000200", now_secs());
    let body = serde_json::to_vec(&json!({
        "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "team_id": "T0ACME1234", "api_app_id": "A0GATEWAY1",
        "type": "event_callback", "event_id": "Ev0WINDOW01", "event_time": now_secs(),
        "event": {
            "type": "message", "user": "U0AGENT001", "text": "Hi Lena, I'm Jonas. Refund on its way.",
            "channel": "C0SUPPORT1", "ts": reply_ts, "thread_ts": root_ts,
            "parent_user_id": "U0BOTUSER1", "channel_type": "channel", "team": "T0ACME1234"
        }
    }))
    .unwrap();
    let (ts, sig) = sign("slack-signing-secret", now_secs(), &body);
    let status = tandem_e2e::http()
        .post(tandem.url("/desks/slack/events"))
        .header("x-slack-request-timestamp", ts)
        .header("x-slack-signature", sig)
        .body(body)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);

    // The failure shows in the thread, naming the agent, and on the reply.
    let note = eventually(30, "the failure in the Slack thread", || async {
        slack
            .replies(&root_ts)
            .iter()
            .skip(before)
            .map(|r| r["text"].as_str().unwrap_or_default().to_owned())
            .find(|t| t.contains("Not delivered"))
    })
    .await;
    assert!(note.starts_with("<@U0AGENT001> "), "{note}");
    assert!(
        note.contains("Not delivered to the customer: window closed."),
        "{note}"
    );
    eventually(10, "❌ on the agent's reply", || async {
        (slack.reactions_on(&reply_ts) == ["x"]).then_some(())
    })
    .await;
    assert!(wa.sends().is_empty(), "nothing went into the closed window");
}

#[tokio::test]
async fn the_webhook_desk_gets_a_signed_undeliverable_status() {
    let desk = FakeEndpoint::start(200).await;
    let (_dir, wa, tandem) = start(&format!(
        "[desks.webhook]\nurl = \"{}\"\nsecret = \"desk-secret\"\n",
        desk.url
    ))
    .await;
    lena_asks_two_days_ago(&tandem).await;
    let requested = eventually(15, "handoff.requested at the desk", || async {
        crate::handoff::desk_bodies(&desk, "handoff.requested")
            .into_iter()
            .next()
    })
    .await;
    let handoff_id = requested.json()["handoff_id"].as_str().unwrap().to_owned();
    let reply = json!({"type": "agent.message", "handoff_id": handoff_id,
                       "agent": {"id": "a1", "name": "Sam"}, "text": "Hi Lena, refund on its way."});
    assert_eq!(
        desk_posts(&tandem, "reply-1", reply, b"desk-secret").await,
        200
    );

    let status = eventually(30, "agent.message.status at the desk", || async {
        crate::handoff::desk_bodies(&desk, "agent.message.status")
            .into_iter()
            .next()
    })
    .await;
    assert_valid(&schema(), &status);
    let body = status.json();
    assert_eq!(body["handoff_id"], handoff_id.as_str());
    assert_eq!(body["event_key"], "event:reply-1");
    assert_eq!(body["event_id"], "reply-1");
    assert_eq!(body["state"], "undeliverable");
    assert_eq!(body["detail"], "window closed");
    assert!(
        body["at"].as_str().is_some_and(|a| a.ends_with('Z')),
        "{body}"
    );
    assert!(wa.sends().is_empty(), "nothing went into the closed window");
}

#[tokio::test]
async fn chatwoot_marks_a_reply_into_a_closed_window_failed() {
    let chatwoot = ChatwootFake::start("cw-e2e-token", 7).await;
    let desk = format!(
        r#"
[desks.chatwoot]
base_url = "{}"
api_access_token = "cw-e2e-token"
account_id = 7
inbox_id = 12
webhook_secret = "cw-webhook-secret"
"#,
        chatwoot.base_url()
    );
    let (_dir, wa, tandem) = start(&desk).await;
    lena_asks_two_days_ago(&tandem).await;
    let conv = eventually(15, "the conversation at Chatwoot", || async {
        chatwoot
            .conversations()
            .first()
            .and_then(|c| c["id"].as_u64())
    })
    .await;
    // The briefing note follows once the desk remembered the conversation.
    eventually(15, "the briefing note", || async {
        (!chatwoot.messages(conv).is_empty()).then_some(())
    })
    .await;
    let text = "Hi Lena, refund on its way.";
    let mid = chatwoot.add_agent_message(conv, text);
    let hook = webhook::message_created(conv, mid, text, "outgoing", false, 3, "Jonas Weber");
    let body = serde_json::to_vec(&hook).unwrap();
    let (ts, sig) = tandem_testkit::chatwoot_fake::sign("cw-webhook-secret", now_secs(), &body);
    let status = tandem_e2e::http()
        .post(tandem.url("/desks/chatwoot/webhook"))
        .header("content-type", "application/json")
        .header("x-chatwoot-timestamp", ts)
        .header("x-chatwoot-signature", sig)
        .body(body)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);

    let message: Value = eventually(30, "the reply marked failed in Chatwoot", || async {
        chatwoot
            .message(conv, mid)
            .filter(|m| m["status"] == "failed")
    })
    .await;
    assert_eq!(
        message["content_attributes"]["external_error"],
        "Not delivered to the customer: window closed"
    );
    assert!(wa.sends().is_empty(), "nothing went into the closed window");
}
