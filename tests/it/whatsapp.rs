//! WhatsApp end to end, with the real binary and the testkit's fake Cloud API: signed
//! webhooks get replies at the fake with the right recipient and body; forged ones are
//! refused and leave nothing; redeliveries have one effect; a 429 is retried after its
//! hint; a 401 is not retried and shows in metrics and logs; 131047 (synchronous or
//! reported later) becomes the template or an undeliverable message; buttons arrive as
//! interactive buttons, and as numbered text on a channel without buttons; a handoff
//! resolved after the window closed records its survey as skipped and sends nothing.

use serde_json::Value;
use std::time::Duration;
use tandem_e2e::{FakeEndpoint, Tandem, TestStore, eventually};
use tandem_testkit::Reply;
use tandem_testkit::fake::WhatsAppFake;
use tandem_testkit::payloads::whatsapp_text;

const SECRET: &str = "wa-app-secret";
const TOKEN: &str = "wa-access-token";
const NUMBER: &str = "109876543210987";
const CUSTOMER: &str = "4915112345678";

fn config(fake: &WhatsAppFake, template: bool) -> String {
    let template = if template {
        r#"window_template = { name = "case_follow_up", language = "en_US", params = ["{name}", "{text}"] }"#
    } else {
        ""
    };
    format!(
        r#"
[channels.whatsapp]
app_secret = "{SECRET}"
verify_token = "wa-verify"
access_token = "{TOKEN}"
phone_number_id = "{NUMBER}"
api_base = "{}"
api_version = "v21.0"
{template}

[outbox]
lease_secs = 5
retry_base_ms = 200
retry_max_ms = 1000
"#,
        fake.base_url()
    )
}

use tandem_e2e::unix_now as now;

/// Posts a text webhook from [`CUSTOMER`], signed with `secret`; returns the status.
async fn say(tandem: &Tandem, wamid: &str, text: &str, sent_at: i64, secret: &str) -> u16 {
    let body = whatsapp_text(NUMBER, CUSTOMER, "Lena Müller", text, wamid, sent_at);
    tandem.post_meta("/webhooks/whatsapp", secret, &body).await
}

async fn start(template: bool) -> (tempfile::TempDir, WhatsAppFake, Tandem) {
    start_on(&TestStore::Default, template).await
}

async fn start_on(store: &TestStore, template: bool) -> (tempfile::TempDir, WhatsAppFake, Tandem) {
    let dir = tempfile::tempdir().unwrap();
    let fake = WhatsAppFake::start(TOKEN, NUMBER, "v21.0").await;
    let tandem = Tandem::start(dir.path(), &store.config(&config(&fake, template))).await;
    fake.set_webhook(&tandem.url("/webhooks/whatsapp"), SECRET);
    (dir, fake, tandem)
}

#[tokio::test]
async fn handshake_reply_forgery_and_redelivery() {
    handshake_reply_forgery_and_redelivery_on(&TestStore::Default).await;
}

/// Also run on MongoDB (`mongodb.rs`).
pub(crate) async fn handshake_reply_forgery_and_redelivery_on(store: &TestStore) {
    let (_dir, fake, tandem) = start_on(store, false).await;
    let verify = |token: &str| {
        tandem_e2e::get(tandem.url(&format!(
            "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444"
        )))
    };
    let ok = verify("wa-verify").await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    assert_eq!(verify("wrong").await.unwrap().status(), 403);

    assert_eq!(
        say(&tandem, "wamid.forged", "hello", now(), "not-the-secret").await,
        401
    );
    for _ in 0..3 {
        assert_eq!(
            say(
                &tandem,
                "wamid.hours1",
                "what are your opening hours?",
                now(),
                SECRET
            )
            .await,
            200
        );
    }
    let sent = eventually(15, "the reply at the fake", || async {
        fake.delivered().first().cloned()
    })
    .await;
    let body = sent.json();
    assert_eq!(body["to"], CUSTOMER, "sent to the customer");
    assert_eq!(body["type"], "text");
    assert!(
        body["text"]["body"]
            .as_str()
            .unwrap()
            .contains("Monday to Friday"),
        "the bot's answer: {body}"
    );
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        fake.sends().len(),
        1,
        "three deliveries of one webhook, one reply"
    );
    assert_eq!(
        tandem
            .metric("tandem_messages_in_total{channel=\"whatsapp\"}")
            .await,
        1.0,
        "the forged one left nothing"
    );
    assert_eq!(
        tandem
            .metric("tandem_inbound_duplicates_total{channel=\"whatsapp\"}")
            .await,
        2.0
    );
}

#[tokio::test]
async fn rate_limited_send_is_delivered_once_after_the_hint() {
    let (_dir, fake, tandem) = start(false).await;
    fake.script(Reply::RateLimited {
        retry_after_secs: 2,
    });
    assert_eq!(
        say(
            &tandem,
            "wamid.rl",
            "what are your opening hours?",
            now(),
            SECRET
        )
        .await,
        200
    );
    let delivered = eventually(20, "delivery after the 429", || async {
        fake.delivered().first().cloned()
    })
    .await;
    let sends = fake.sends();
    assert_eq!(sends.len(), 2, "one 429, then one success");
    assert_eq!(sends[0].status, 429);
    let waited = delivered.at.duration_since(sends[0].at);
    assert!(
        waited >= Duration::from_secs(2),
        "retried after {waited:?}, before the 2 s hint"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(fake.delivered().len(), 1, "delivered once");
}

#[tokio::test]
async fn unauthorized_is_not_retried_and_is_visible() {
    let (_dir, fake, tandem) = start(false).await;
    fake.script(Reply::Unauthorized);
    assert_eq!(
        say(
            &tandem,
            "wamid.auth",
            "what are your opening hours?",
            now(),
            SECRET
        )
        .await,
        200
    );
    let series = "tandem_outbox_failures_total{channel=\"whatsapp\",kind=\"auth\"}";
    eventually(15, "the auth failure in metrics", || async {
        (tandem.metric(series).await == 1.0).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(fake.sends().len(), 1, "an auth failure is not retried");
    let logs = tandem.logs();
    assert!(
        logs.contains("credentials rejected"),
        "an operator-facing error is logged"
    );
    let info_and_above = logs
        .lines()
        .filter(|l| !l.contains("DEBUG") && !l.contains("TRACE"));
    for line in info_and_above {
        assert!(
            !line.contains(CUSTOMER),
            "no phone number at INFO or above: {line}"
        );
    }
}

#[tokio::test]
async fn window_closed_synchronously_falls_back_to_the_template() {
    let (_dir, fake, tandem) = start(true).await;
    fake.script(Reply::WindowClosed);
    assert_eq!(
        say(
            &tandem,
            "wamid.w1",
            "what are your opening hours?",
            now(),
            SECRET
        )
        .await,
        200
    );
    let sent = eventually(15, "the template", || async {
        fake.delivered().first().cloned()
    })
    .await;
    let body = sent.json();
    assert_eq!(body["type"], "template", "{body}");
    assert_eq!(body["template"]["name"], "case_follow_up");
    assert_eq!(
        body["template"]["components"][0]["parameters"][0]["text"],
        "Lena Müller"
    );
    assert!(
        body["template"]["components"][0]["parameters"][1]["text"]
            .as_str()
            .unwrap()
            .contains("Monday")
    );
    assert_eq!(
        fake.sends().len(),
        2,
        "the free-form attempt, then the template"
    );
}

#[tokio::test]
async fn window_closed_reported_later_queues_the_template() {
    let (_dir, fake, tandem) = start(true).await;
    fake.script(Reply::AcceptThenFail { code: 131_047 });
    assert_eq!(
        say(
            &tandem,
            "wamid.w2",
            "what are your opening hours?",
            now(),
            SECRET
        )
        .await,
        200
    );
    let template = eventually(15, "the template after the failed status", || async {
        fake.delivered()
            .into_iter()
            .find(|r| r.json()["type"] == "template")
    })
    .await;
    assert_eq!(template.json()["to"], CUSTOMER);
    let series = "tandem_outbox_failures_total{channel=\"whatsapp\",kind=\"window_closed\"}";
    assert_eq!(
        tandem.metric(series).await,
        1.0,
        "the accepted free-form message is marked failed"
    );
    assert_eq!(
        tandem
            .metric("tandem_delivery_reports_total{channel=\"whatsapp\",status=\"failed\"}")
            .await,
        1.0
    );
}

#[tokio::test]
async fn outside_the_window_without_a_template_is_undeliverable_not_sent() {
    let (_dir, fake, tandem) = start(false).await;
    // The customer's message is two days old: the 24-hour window is closed.
    assert_eq!(
        say(
            &tandem,
            "wamid.old",
            "what are your opening hours?",
            now() - 2 * 86_400,
            SECRET
        )
        .await,
        200
    );
    let series = "tandem_outbox_failures_total{channel=\"whatsapp\",kind=\"window_closed\"}";
    eventually(15, "the undeliverable reply in metrics", || async {
        (tandem.metric(series).await == 1.0).then_some(())
    })
    .await;
    assert!(
        fake.sends().is_empty(),
        "nothing is sent into a closed window"
    );
    assert!(
        tandem.logs().contains("undeliverable: window_closed"),
        "the reason is visible"
    );
}

#[tokio::test]
async fn buttons_are_interactive_on_whatsapp_and_numbered_text_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let fake = WhatsAppFake::start(TOKEN, NUMBER, "v21.0").await;
    let endpoint = FakeEndpoint::start(200).await;
    let config = format!(
        "{}\n[channels.webhook]\nurl = \"{}\"\nsecret = \"shh\"\nmax_buttons = 0\n",
        config(&fake, false),
        endpoint.url
    );
    let tandem = Tandem::start(dir.path(), &config).await;

    assert_eq!(say(&tandem, "wamid.hi", "hi", now(), SECRET).await, 200);
    let sent = eventually(15, "the greeting on WhatsApp", || async {
        fake.delivered().first().cloned()
    })
    .await;
    let body = sent.json();
    assert_eq!(body["type"], "interactive", "{body}");
    assert_eq!(body["interactive"]["type"], "button");
    let titles: Vec<&str> = body["interactive"]["action"]["buttons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["reply"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Track my order", "Shipping", "Returns"]);

    post_generic(&tandem, "g1", "hi").await;
    let reply = eventually(15, "the greeting on the webhook channel", || async {
        endpoint.delivered().first().map(|r| r.json())
    })
    .await;
    let text = reply["text"].as_str().unwrap();
    assert!(
        text.ends_with("1. Track my order\n2. Shipping\n3. Returns"),
        "numbered text: {text}"
    );
    assert!(reply["buttons"].as_array().is_none_or(Vec::is_empty));

    // "2" picks the second choice's payload ("shipping information").
    post_generic(&tandem, "g2", "2").await;
    let answer: Value = eventually(15, "the answer to choice 2", || async {
        endpoint.delivered().get(1).map(|r| r.json())
    })
    .await;
    assert!(
        answer["text"]
            .as_str()
            .unwrap()
            .contains("Standard delivery"),
        "{answer}"
    );
}

async fn post_generic(tandem: &Tandem, id: &str, text: &str) {
    let body = serde_json::json!({"id": id, "from": {"id": "web-1"}, "text": text});
    crate::handoff::post_generic(tandem, &body).await;
}

/// Resolving a handoff whose customer's WhatsApp window has closed asks nothing (no
/// survey can be delivered there): the CSAT is recorded as skipped, and nothing is sent.
#[tokio::test]
async fn csat_is_skipped_when_the_window_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let fake = WhatsAppFake::start(TOKEN, NUMBER, "v21.0").await;
    let desk = FakeEndpoint::start(200).await;
    let config = format!(
        "{}\n[desks.webhook]\nurl = \"{}\"\nsecret = \"desk-secret\"\n\n[admin]\ntokens = [\"admin-token-0123456789abcdef\"]\n",
        config(&fake, false),
        desk.url
    );
    let tandem = Tandem::start(dir.path(), &config).await;
    // The refund request is two days old: the window closed long ago.
    assert_eq!(
        say(
            &tandem,
            "wamid.late",
            "I want a refund",
            now() - 2 * 86_400,
            SECRET
        )
        .await,
        200
    );
    let requested = eventually(15, "handoff at the desk", || async {
        crate::handoff::desk_bodies(&desk, "handoff.requested")
            .into_iter()
            .next()
    })
    .await
    .json();
    assert_eq!(requested["window"]["open"], false, "the briefing says so");
    let handoff = requested["handoff_id"].as_str().unwrap().to_owned();
    let conversation = requested["conversation_id"].as_str().unwrap().to_owned();
    let status = crate::handoff::desk_posts(
        &tandem,
        "late-resolve",
        serde_json::json!({"type": "handoff.resolved", "handoff_id": handoff, "agent": {"id": "ada"}}),
        b"desk-secret",
    )
    .await;
    assert_eq!(status, 200);
    let csat = eventually(15, "the survey recorded as skipped", || async {
        let c: Value = tandem_e2e::http()
            .get(tandem.url(&format!("/api/v1/conversations/{conversation}")))
            .bearer_auth("admin-token-0123456789abcdef")
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let csat = c["past_handoffs"].get(0)?["csat"].clone();
        (!csat.is_null()).then_some(csat)
    })
    .await;
    assert_eq!(csat["skipped"], "window_closed", "{csat}");
    assert_eq!(csat["score"], Value::Null);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        fake.sends().is_empty(),
        "no survey (nor anything else) into a closed window"
    );
}

/// A backlog older than the recovery sweep's threshold (10 s) makes no turn twice: one
/// sender's messages wait in their worker's queue behind a slow model, the sweep finds
/// them still pending, and each is still planned once (one model call each) and answered
/// once, in order.
#[tokio::test]
async fn a_backlog_older_than_the_sweep_is_processed_once() {
    const MESSAGES: usize = 9;
    let llm = tandem_e2e::FakeLlm::start_text("On its way.", Duration::from_millis(1800)).await;
    let dir = tempfile::tempdir().unwrap();
    let fake = WhatsAppFake::start(TOKEN, NUMBER, "v21.0").await;
    let config = format!(
        "{}\n[bot]\nkind = \"llm\"\n\n[bot.llm]\nbase_url = \"{}\"\nmodel = \"fake-model\"\napi_key = \"sk-e2e\"\ntimeout_ms = 8000\n\n[server]\nsender_rate_limit = {{ per_second = 100, burst = 100 }}\n",
        config(&fake, false),
        llm.base_url
    );
    let tandem = Tandem::start(dir.path(), &config).await;
    for k in 0..MESSAGES {
        let status = say(
            &tandem,
            &format!("wamid.backlog.{k}"),
            &format!("question number {k}"),
            now(),
            SECRET,
        )
        .await;
        assert_eq!(status, 200, "message {k} acknowledged");
    }
    // About 16 s of model time: the last messages wait past the sweep's 10 s.
    eventually(90, "every message answered", || async {
        (fake.sends().len() >= MESSAGES).then_some(())
    })
    .await;
    // Copies a sweep queued would show up as more model calls and sends within a few s.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        llm.requests().len(),
        MESSAGES,
        "each message planned once (one model call each)"
    );
    assert_eq!(fake.sends().len(), MESSAGES, "each message answered once");
}
