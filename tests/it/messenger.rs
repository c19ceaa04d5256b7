//! Messenger end to end, with the real binary and the testkit's fake Send API: signed
//! events get replies with the right recipient and body, forged ones are refused and
//! leave nothing, redeliveries and our own echoes have no second effect, delivery
//! receipts are recorded, and a bot reply outside the 24-hour window is marked
//! undeliverable instead of being sent, while an agent's reply from the desk goes out
//! tagged `HUMAN_AGENT` (7-day window).

use serde_json::json;
use std::time::Duration;
use tandem_e2e::{Tandem, eventually};
use tandem_testkit::fake::MessengerFake;
use tandem_testkit::payloads::{messenger_event, messenger_text};

const SECRET: &str = "fb-app-secret";
const TOKEN: &str = "fb-page-token";
const PAGE: &str = "112233445566778";
const PSID: &str = "6876543210987654";

fn config(fake: &MessengerFake) -> String {
    format!(
        r#"
[channels.messenger]
app_secret = "{SECRET}"
verify_token = "fb-verify"
page_access_token = "{TOKEN}"
api_base = "{}"
api_version = "v21.0"

[outbox]
lease_secs = 5
retry_base_ms = 200
retry_max_ms = 1000
"#,
        fake.base_url()
    )
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn post(tandem: &Tandem, body: &str, secret: &str) -> u16 {
    tandem.post_meta("/webhooks/messenger", secret, body).await
}

#[tokio::test]
async fn reply_forgery_redelivery_echo_and_receipts() {
    let dir = tempfile::tempdir().unwrap();
    let fake = MessengerFake::start(TOKEN, "v21.0").await;
    let tandem = Tandem::start(dir.path(), &config(&fake)).await;

    let forged = messenger_text(PAGE, PSID, "hello", "m_forged", now_ms());
    assert_eq!(post(&tandem, &forged, "not-the-secret").await, 401);
    let text = messenger_text(
        PAGE,
        PSID,
        "what are your opening hours?",
        "m_hours",
        now_ms(),
    );
    for _ in 0..3 {
        assert_eq!(post(&tandem, &text, SECRET).await, 200);
    }
    let sent = eventually(15, "the reply", || async {
        fake.delivered().first().cloned()
    })
    .await;
    let body = sent.json();
    assert_eq!(body["recipient"]["id"], PSID, "sent to the customer");
    assert_eq!(body["messaging_type"], "RESPONSE");
    assert!(
        body["message"]["text"]
            .as_str()
            .unwrap()
            .contains("Monday to Friday"),
        "{body}"
    );
    assert_eq!(sent.query_param("access_token").as_deref(), Some(TOKEN));

    // Our own reply echoed back is ignored.
    let echo = messenger_event(
        PAGE,
        PAGE,
        now_ms(),
        json!({"message": {"is_echo": true, "app_id": 1, "metadata": "tandem:out_1", "mid": "m_echo", "text": "Our customer service..."}}),
    );
    assert_eq!(post(&tandem, &echo, SECRET).await, 200);
    // The delivery receipt for everything sent so far.
    let receipt = messenger_event(
        PAGE,
        PSID,
        now_ms(),
        json!({"delivery": {"watermark": now_ms()}}),
    );
    assert_eq!(post(&tandem, &receipt, SECRET).await, 200);

    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        fake.sends().len(),
        1,
        "one reply: no second effect from redeliveries or the echo"
    );
    assert_eq!(
        tandem
            .metric("tandem_messages_in_total{channel=\"messenger\"}")
            .await,
        1.0
    );
    assert_eq!(
        tandem
            .metric("tandem_inbound_duplicates_total{channel=\"messenger\"}")
            .await,
        2.0
    );
    assert_eq!(
        tandem
            .metric("tandem_delivery_reports_total{channel=\"messenger\",status=\"delivered\"}")
            .await,
        1.0
    );
}

#[tokio::test]
async fn a_bot_reply_outside_the_window_is_undeliverable() {
    let dir = tempfile::tempdir().unwrap();
    let fake = MessengerFake::start(TOKEN, "v21.0").await;
    let tandem = Tandem::start(dir.path(), &config(&fake)).await;
    let two_days_ago = now_ms() - 2 * 86_400_000;
    let text = messenger_text(
        PAGE,
        PSID,
        "what are your opening hours?",
        "m_old",
        two_days_ago,
    );
    assert_eq!(post(&tandem, &text, SECRET).await, 200);
    let series = "tandem_outbox_failures_total{channel=\"messenger\",kind=\"window_closed\"}";
    eventually(15, "the undeliverable reply", || async {
        (tandem.metric(series).await == 1.0).then_some(())
    })
    .await;
    assert!(
        fake.sends().is_empty(),
        "a bot message is not sent outside the window (HUMAN_AGENT is for agents)"
    );
}

/// An agent may answer for 7 days after the customer's last message: two days after it,
/// the bot's notice is not sent (window closed for bots), but the agent's reply from the
/// desk goes out tagged `HUMAN_AGENT`.
#[tokio::test]
async fn an_agent_reply_outside_the_24_hour_window_is_tagged_human_agent() {
    let dir = tempfile::tempdir().unwrap();
    let fake = MessengerFake::start(TOKEN, "v21.0").await;
    let desk = tandem_e2e::FakeEndpoint::start(200).await;
    let config = format!(
        "{}\n[desks.webhook]\nurl = \"{}\"\nsecret = \"desk-secret\"\n",
        config(&fake),
        desk.url
    );
    let tandem = Tandem::start(dir.path(), &config).await;
    let two_days_ago = now_ms() - 2 * 86_400_000;
    let text = messenger_text(PAGE, PSID, "I want a refund", "m_refund", two_days_ago);
    assert_eq!(post(&tandem, &text, SECRET).await, 200);
    let requested = eventually(15, "handoff at the desk", || async {
        crate::handoff::desk_bodies(&desk, "handoff.requested")
            .into_iter()
            .next()
    })
    .await
    .json();
    let handoff = requested["handoff_id"].as_str().unwrap().to_owned();
    let status = crate::handoff::desk_posts(
        &tandem,
        "agent-late-reply",
        json!({"type": "agent.message", "handoff_id": handoff, "agent": {"id": "ada", "name": "Ada"},
               "text": "Hi, Ada here: your refund is on its way."}),
        b"desk-secret",
    )
    .await;
    assert_eq!(status, 200);
    let sent = eventually(15, "the agent's reply", || async {
        fake.delivered().into_iter().find(|r| {
            r.json()["message"]["text"]
                .as_str()
                .is_some_and(|t| t.contains("Ada here"))
        })
    })
    .await;
    let body = sent.json();
    assert_eq!(body["recipient"]["id"], PSID);
    assert_eq!(body["messaging_type"], "MESSAGE_TAG", "{body}");
    assert_eq!(body["tag"], "HUMAN_AGENT", "{body}");
    assert_eq!(
        fake.sends().len(),
        1,
        "only the agent's reply: the bot's notice stayed undeliverable"
    );
}
