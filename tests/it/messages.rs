//! The proactive message API (`POST /api/v1/messages`) end to end: a business message
//! reaches a customer on the first channel of their preferred order whose window allows
//! it, an idempotency key makes a repeat harmless, and a customer no channel can reach
//! now gets a clear `undeliverable` answer with nothing sent.

use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use tandem_e2e::{Tandem, eventually, unix_now};
use tandem_testkit::fake::{TelegramFake, WhatsAppFake};
use tandem_testkit::payloads::telegram_text;

const ADMIN: &str = "admin-e2e-token-messages";
const TG_TOKEN: &str = "7012345678:AAmessages";
const TG_SECRET: &str = "messages-secret";
const WA_SECRET: &str = "wa-app-secret";
const WA_TOKEN: &str = "wa-access-token";
const WA_NUMBER: &str = "106540352242922";
const CHAT: i64 = 5_550_000_123;

async fn start(template: bool) -> (tempfile::TempDir, TelegramFake, WhatsAppFake, Tandem) {
    let dir = tempfile::tempdir().unwrap();
    let telegram = TelegramFake::start(TG_TOKEN).await;
    let whatsapp = WhatsAppFake::start(WA_TOKEN, WA_NUMBER, "v21.0").await;
    let template = if template {
        r#"window_template = { name = "case_follow_up", language = "en_US", params = ["{name}", "{text}"] }"#
    } else {
        ""
    };
    let config = format!(
        r#"
[admin]
tokens = ["{ADMIN}"]

[channels.telegram]
bot_token = "{TG_TOKEN}"
secret_token = "{TG_SECRET}"
mode = "webhook"
api_base = "{tg}"

[channels.whatsapp]
app_secret = "{WA_SECRET}"
verify_token = "wa-verify"
access_token = "{WA_TOKEN}"
phone_number_id = "{WA_NUMBER}"
api_base = "{wa}"
api_version = "v21.0"
{template}

[outbox]
lease_secs = 5
retry_base_ms = 200
retry_max_ms = 1000
"#,
        tg = telegram.base_url(),
        wa = whatsapp.base_url(),
    );
    let tandem = Tandem::start(dir.path(), &config).await;
    whatsapp.set_webhook(&tandem.url("/webhooks/whatsapp"), WA_SECRET);
    (dir, telegram, whatsapp, tandem)
}

/// A Telegram customer (who wrote once and got the bot's answer) who also has a linked
/// WhatsApp number they never wrote from: WhatsApp's window is closed for them.
async fn telegram_customer_with_whatsapp(tandem: &Tandem, telegram: &TelegramFake) -> String {
    let status = tandem_e2e::http()
        .post(tandem.url("/webhooks/telegram"))
        .header("x-telegram-bot-api-secret-token", TG_SECRET)
        .json(&telegram_text(
            700_001,
            CHAT,
            "what are your opening hours?",
            unix_now(),
        ))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    eventually(15, "the bot's answer on Telegram", || async {
        telegram.delivered().first().cloned()
    })
    .await;
    let (status, found) = tandem
        .api(
            ADMIN,
            Method::GET,
            &format!("/api/v1/customers?identity=telegram:{CHAT}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{found}");
    let id = found[0]["id"].as_str().unwrap().to_owned();
    let (status, linked) = tandem
        .api(
            ADMIN,
            Method::POST,
            &format!("/api/v1/customers/{id}/identities"),
            Some(json!({"channel": "whatsapp", "external_id": "15550001234"})),
        )
        .await;
    assert_eq!(status, 201, "{linked}");
    id
}

async fn send(tandem: &Tandem, body: Value) -> (u16, Value) {
    tandem
        .api(ADMIN, Method::POST, "/api/v1/messages", Some(body))
        .await
}

#[tokio::test]
async fn a_closed_whatsapp_window_falls_through_to_telegram_once_per_key() {
    let (_dir, telegram, whatsapp, tandem) = start(false).await;
    let customer = telegram_customer_with_whatsapp(&tandem, &telegram).await;
    let request = json!({
        "customer_id": customer,
        "text": "Your order 4417 has shipped.",
        "channels": ["whatsapp", "telegram"],
        "idempotency_key": "order-4417-shipped",
    });

    let (status, first) = send(&tandem, request.clone()).await;
    assert_eq!(status, 202, "{first}");
    assert_eq!(first["status"], "queued", "{first}");
    assert_eq!(first["channel"], "telegram", "{first}");
    assert_eq!(first["via"], "text");
    assert_eq!(
        first["skipped"],
        json!([{"channel": "whatsapp", "reason": "window_closed"}]),
        "WhatsApp was tried first and passed over"
    );
    let sent = eventually(15, "the message on Telegram", || async {
        telegram
            .delivered()
            .into_iter()
            .map(|r| r.json())
            .find(|b| b["text"].as_str().is_some_and(|t| t.contains("4417")))
    })
    .await;
    assert_eq!(sent["chat_id"], json!(CHAT));

    // The same key again (in the body, then in the header): the same answer, nothing sent.
    let (status, again) = send(&tandem, request.clone()).await;
    assert_eq!(status, 202);
    assert_eq!(
        again, first,
        "a repeat answers what the first request answered"
    );
    let by_header = tandem_e2e::http()
        .post(tandem.url("/api/v1/messages"))
        .bearer_auth(ADMIN)
        .header("idempotency-key", "order-4417-shipped")
        .json(
            &json!({"customer_id": customer, "text": "Your order 4417 has shipped.",
                      "channels": ["whatsapp", "telegram"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(by_header.status(), 202);
    assert_eq!(by_header.json::<Value>().await.unwrap(), first);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let copies = telegram
        .sends()
        .iter()
        .filter(|r| {
            r.json()["text"]
                .as_str()
                .is_some_and(|t| t.contains("4417"))
        })
        .count();
    assert_eq!(copies, 1, "three requests with one key, one message");
    assert!(whatsapp.sends().is_empty(), "nothing went to WhatsApp");

    // The transcript shows it, from the system, on Telegram.
    let (_, conversations) = tandem
        .api(
            ADMIN,
            Method::GET,
            &format!("/api/v1/customers/{customer}/conversations"),
            None,
        )
        .await;
    let conversation = conversations[0]["id"].as_str().unwrap();
    let (_, transcript) = tandem
        .api(
            ADMIN,
            Method::GET,
            &format!("/api/v1/conversations/{conversation}/transcript"),
            None,
        )
        .await;
    let entry = transcript
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == first["message_id"])
        .unwrap_or_else(|| panic!("message in the transcript: {transcript}"));
    assert_eq!(entry["from"], "system");
    assert_eq!(entry["channel"], "telegram");
}

#[tokio::test]
async fn no_open_window_and_no_template_is_undeliverable_and_sends_nothing() {
    let (_dir, telegram, whatsapp, tandem) = start(false).await;
    let customer = telegram_customer_with_whatsapp(&tandem, &telegram).await;

    let (status, answer) = send(
        &tandem,
        json!({"customer_id": customer, "text": "Payment failed", "channels": ["whatsapp", "messenger"]}),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["status"], "undeliverable");
    assert_eq!(
        answer["skipped"],
        json!([
            {"channel": "whatsapp", "reason": "window_closed"},
            {"channel": "messenger", "reason": "no_identity"},
        ])
    );
    // By identity, with no order: the customer's channels, Telegram (where they wrote) first.
    let (status, answer) = send(
        &tandem,
        json!({"identity": format!("telegram:{CHAT}"), "text": "Payment failed"}),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["channel"], "telegram");
    assert_eq!(answer["skipped"], json!([]));

    // Bad requests and unknown customers are told apart.
    let (status, _) = send(&tandem, json!({"text": "x"})).await;
    assert_eq!(status, 400);
    let (status, _) = send(&tandem, json!({"customer_id": customer, "text": "  "})).await;
    assert_eq!(status, 400);
    let (status, _) = send(&tandem, json!({"customer_id": "cus_nobody", "text": "hi"})).await;
    assert_eq!(status, 404);
    let unauthenticated = tandem_e2e::http()
        .post(tandem.url("/api/v1/messages"))
        .json(&json!({"customer_id": customer, "text": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(whatsapp.sends().is_empty());
}

#[tokio::test]
async fn a_closed_whatsapp_window_takes_the_callers_template() {
    let (_dir, telegram, whatsapp, tandem) = start(true).await;
    let customer = telegram_customer_with_whatsapp(&tandem, &telegram).await;
    let (status, answer) = send(
        &tandem,
        json!({
            "customer_id": customer,
            "text": "Your payment failed; please update your card.",
            "template": {"name": "payment_failed", "language": "en_US", "params": ["4417"]},
            "channels": ["whatsapp", "telegram"],
        }),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["channel"], "whatsapp");
    assert_eq!(answer["via"], "template");
    let sent = eventually(15, "the template on WhatsApp", || async {
        whatsapp.delivered().first().map(|r| r.json())
    })
    .await;
    assert_eq!(sent["type"], "template", "{sent}");
    assert_eq!(sent["template"]["name"], "payment_failed", "{sent}");
    assert_eq!(sent["to"], "15550001234");
}
