//! Link codes: a web chat customer gets a code and continues on Telegram with
//! `/start <code>`: one customer, the conversation continues (the order number given on
//! web chat answers "where is my order?" on Telegram). A reused code links nothing and the
//! customer is told why.

use serde_json::Value;
use tandem_e2e::{Tandem, WsClient, eventually};
use tandem_testkit::fake::TelegramFake;
use tandem_testkit::payloads::telegram_text;

const TOKEN: &str = "7012345678:AAe2e-token";
const SECRET: &str = "e2e_secret-token";
const ADMIN: &str = "admin-token-0123456789abcdef";

async fn admin(tandem: &Tandem, method: reqwest::Method, path: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .request(method, tandem.url(path))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn telegram(tandem: &Tandem, update: Value) {
    let status = reqwest::Client::new()
        .post(tandem.url("/webhooks/telegram"))
        .header("content-type", "application/json")
        .header("x-telegram-bot-api-secret-token", SECRET)
        .body(update.to_string())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
}

fn texts_to(fake: &TelegramFake, chat: i64) -> Vec<String> {
    fake.delivered()
        .iter()
        .map(|r| r.json())
        .filter(|b| b["chat_id"] == chat)
        .filter_map(|b| b["text"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn web_chat_to_telegram_with_a_link_code() {
    let dir = tempfile::tempdir().unwrap();
    let fake = TelegramFake::start(TOKEN).await;
    let config = format!(
        "[channels.webchat]\n\n[channels.telegram]\nbot_token = \"{TOKEN}\"\nsecret_token = \"{SECRET}\"\nmode = \"webhook\"\napi_base = \"{}\"\n\n[admin]\ntokens = [\"{ADMIN}\"]\nlink_urls = {{ telegram = \"https://t.me/shop_bot?start={{code}}\" }}\n",
        fake.base_url()
    );
    let tandem = Tandem::start(dir.path(), &config).await;
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    };

    let (mut web, welcome) = WsClient::hello(&tandem.addr, None).await;
    web.say("w1", "where is my order #12345?").await;
    assert!(
        web.recv_reply().await["text"]
            .as_str()
            .unwrap()
            .contains("12345")
    );
    let conv = welcome["conversation_id"].as_str().unwrap();
    let (_, c) = admin(
        &tandem,
        reqwest::Method::GET,
        &format!("/api/v1/conversations/{conv}"),
    )
    .await;
    let customer = c["customer_id"].as_str().unwrap().to_owned();

    let (status, issued) = admin(
        &tandem,
        reqwest::Method::POST,
        &format!("/api/v1/customers/{customer}/link-codes"),
    )
    .await;
    assert_eq!(status, 201);
    let code = issued["code"].as_str().unwrap().to_owned();
    assert_eq!(
        issued["links"]["telegram"],
        format!("https://t.me/shop_bot?start={code}")
    );

    // The customer opens the deep link on Telegram: /start <code>.
    telegram(
        &tandem,
        telegram_text(950_001, 777_000_001, &format!("/start {code}"), now()),
    )
    .await;
    eventually(10, "linked notice on Telegram", || async {
        texts_to(&fake, 777_000_001)
            .iter()
            .any(|t| t.contains("You're linked"))
            .then_some(())
    })
    .await;
    let (_, found) = admin(
        &tandem,
        reqwest::Method::GET,
        "/api/v1/customers?identity=telegram:777000001",
    )
    .await;
    assert_eq!(
        found[0]["id"],
        customer.as_str(),
        "one customer across web chat and Telegram"
    );

    // The conversation continues: the order number is known.
    telegram(
        &tandem,
        telegram_text(950_002, 777_000_001, "where is my order?", now()),
    )
    .await;
    eventually(10, "order answer on Telegram", || async {
        texts_to(&fake, 777_000_001)
            .iter()
            .any(|t| t.contains("12345"))
            .then_some(())
    })
    .await;

    // Someone else reusing the code links nothing and is told why.
    telegram(
        &tandem,
        telegram_text(950_003, 777_000_002, &format!("/start {code}"), now()),
    )
    .await;
    eventually(10, "expired notice", || async {
        texts_to(&fake, 777_000_002)
            .iter()
            .any(|t| t.contains("expired or was already used"))
            .then_some(())
    })
    .await;
    let (_, other) = admin(
        &tandem,
        reqwest::Method::GET,
        "/api/v1/customers?identity=telegram:777000002",
    )
    .await;
    assert_ne!(other[0]["id"], customer.as_str());
}
