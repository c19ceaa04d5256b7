//! Link codes: a web chat customer gets a code and continues on Telegram with
//! `/start <code>`, or on WhatsApp by sending the code as a text (the `wa.me` deep link
//! fills it in): one customer, the conversation continues (the order number given on web
//! chat answers "where is my order?" on the other channel without asking again). A reused
//! or expired code links nothing and the customer is told why on that channel.

use serde_json::Value;
use tandem_e2e::{Tandem, WsClient, eventually, unix_now};
use tandem_testkit::fake::{TelegramFake, WhatsAppFake};
use tandem_testkit::payloads::{telegram_text, whatsapp_text};

const TOKEN: &str = "7012345678:AAe2e-token";
const SECRET: &str = "e2e_secret-token";
const ADMIN: &str = "admin-token-0123456789abcdef";

async fn admin(tandem: &Tandem, method: reqwest::Method, path: &str) -> (u16, Value) {
    tandem.api(ADMIN, method, path, None).await
}

async fn telegram(tandem: &Tandem, update: Value) {
    let status = tandem_e2e::http()
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
            .any(|t| t.contains("already used"))
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

const WA_SECRET: &str = "wa-app-secret";
const WA_TOKEN: &str = "wa-access-token";
const WA_NUMBER: &str = "109876543210987";
/// The business number customers write to (in the `wa.me` deep link).
const WA_DISPLAY: &str = "15551234567";
const WA_LENA: &str = "4915112345678";
const WA_OTHER: &str = "4915199990000";

/// Web chat and WhatsApp (on the fake Cloud API), admin API with both deep links;
/// `extra_admin` goes into `[admin]`.
async fn start_with_whatsapp(extra_admin: &str) -> (tempfile::TempDir, WhatsAppFake, Tandem) {
    let dir = tempfile::tempdir().unwrap();
    let fake = WhatsAppFake::start(WA_TOKEN, WA_NUMBER, "v21.0").await;
    let config = format!(
        r#"
[channels.webchat]

[channels.whatsapp]
app_secret = "{WA_SECRET}"
verify_token = "wa-verify"
access_token = "{WA_TOKEN}"
phone_number_id = "{WA_NUMBER}"
api_base = "{}"
api_version = "v21.0"

[admin]
tokens = ["{ADMIN}"]
link_urls = {{ whatsapp = "https://wa.me/{WA_DISPLAY}?text={{code}}", telegram = "https://t.me/shop_bot?start={{code}}" }}
{extra_admin}
"#,
        fake.base_url()
    );
    let tandem = Tandem::start(dir.path(), &config).await;
    fake.set_webhook(&tandem.url("/webhooks/whatsapp"), WA_SECRET);
    (dir, fake, tandem)
}

/// A signed WhatsApp text webhook from `from`.
async fn whatsapp(tandem: &Tandem, from: &str, wamid: &str, text: &str) {
    let body = whatsapp_text(WA_NUMBER, from, "WhatsApp user", text, wamid, unix_now());
    assert_eq!(
        tandem
            .post_meta("/webhooks/whatsapp", WA_SECRET, &body)
            .await,
        200
    );
}

/// The texts the fake Cloud API received for `to` (plain text bodies, and the body of
/// interactive messages with buttons), oldest first.
fn whatsapp_texts_to(fake: &WhatsAppFake, to: &str) -> Vec<String> {
    fake.delivered()
        .iter()
        .map(|r| r.json())
        .filter(|b| b["to"] == to)
        .filter_map(|b| {
            b["text"]["body"]
                .as_str()
                .or_else(|| b["interactive"]["body"]["text"].as_str())
                .map(str::to_owned)
        })
        .collect()
}

/// Waits for a text to `to` containing `needle`; returns every text to `to` so far.
async fn whatsapp_text_containing(fake: &WhatsAppFake, to: &str, needle: &str) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let texts = whatsapp_texts_to(fake, to);
        if texts.iter().any(|t| t.contains(needle)) {
            return texts;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no text containing {needle:?} to {to} within 15 s; got {texts:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// An anonymous web chat visitor; returns the client and the conversation id announced in
/// the welcome (stored with the customer at the first message).
async fn web_visitor(tandem: &Tandem) -> (WsClient, String) {
    let (web, welcome) = WsClient::hello(&tandem.addr, None).await;
    let conv = welcome["conversation_id"].as_str().unwrap().to_owned();
    (web, conv)
}

/// The customer id of conversation `conv` (once a first message created it).
async fn customer_of(tandem: &Tandem, conv: &str) -> String {
    let (status, c) = admin(
        tandem,
        reqwest::Method::GET,
        &format!("/api/v1/conversations/{conv}"),
    )
    .await;
    assert_eq!(status, 200, "{c}");
    c["customer_id"].as_str().unwrap().to_owned()
}

/// Issues a link code for `customer`; returns the code and the whole answer.
async fn issue_code(tandem: &Tandem, customer: &str) -> (String, Value) {
    let (status, issued) = admin(
        tandem,
        reqwest::Method::POST,
        &format!("/api/v1/customers/{customer}/link-codes"),
    )
    .await;
    assert_eq!(status, 201, "{issued}");
    (issued["code"].as_str().unwrap().to_owned(), issued)
}

/// `(channel, external_id, source)` of each identity of a customer, sorted.
async fn identities(tandem: &Tandem, customer: &str) -> Vec<(String, String, String)> {
    let (status, list) = admin(
        tandem,
        reqwest::Method::GET,
        &format!("/api/v1/customers/{customer}/identities"),
    )
    .await;
    assert_eq!(status, 200);
    let mut out: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["channel"].as_str().unwrap().to_owned(),
                i["external_id"].as_str().unwrap().to_owned(),
                i["source"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The id of the customer owning `whatsapp:<from>`.
async fn whatsapp_customer(tandem: &Tandem, from: &str) -> String {
    let (_, found) = admin(
        tandem,
        reqwest::Method::GET,
        &format!("/api/v1/customers?identity=whatsapp:{from}"),
    )
    .await;
    found[0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("a customer for whatsapp:{from}: {found}"))
        .to_owned()
}

/// Acceptance: web chat → WhatsApp with the code sent as a text; the order number given on
/// web chat answers "where is my order?" on WhatsApp without asking again; the code used
/// twice links nobody else.
#[tokio::test]
async fn web_chat_to_whatsapp_with_a_text_code_and_the_order_number_carries_over() {
    let (_dir, fake, tandem) = start_with_whatsapp("").await;

    // On web chat the bot asks for the order number and gets it.
    let (mut web, conv) = web_visitor(&tandem).await;
    web.say("w1", "where is my order?").await;
    let ask = web.recv_reply().await["text"].as_str().unwrap().to_owned();
    let customer = customer_of(&tandem, &conv).await;
    assert!(ask.contains("order number"), "the bot asks: {ask}");
    web.say("w2", "it's 12345").await;
    let answer = web.recv_reply().await["text"].as_str().unwrap().to_owned();
    assert!(answer.contains("12345"), "{answer}");

    // A code with the WhatsApp deep link (the Telegram one too).
    let (code, issued) = issue_code(&tandem, &customer).await;
    assert_eq!(
        issued["links"]["whatsapp"],
        format!("https://wa.me/{WA_DISPLAY}?text={code}")
    );
    assert_eq!(
        issued["links"]["telegram"],
        format!("https://t.me/shop_bot?start={code}")
    );
    let expires = issued["expires_at"].as_str().unwrap();
    assert!(expires.ends_with('Z') || expires.contains('+'), "{expires}");

    // The deep link opens WhatsApp with the code typed in; the customer sends it.
    whatsapp(&tandem, WA_LENA, "wamid.link-1", &code).await;
    whatsapp_text_containing(&fake, WA_LENA, "You're linked").await;
    assert_eq!(
        whatsapp_customer(&tandem, WA_LENA).await,
        customer,
        "one customer across web chat and WhatsApp"
    );
    let ids = identities(&tandem, &customer).await;
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(
        ids.contains(&("whatsapp".into(), WA_LENA.into(), "link_code".into())),
        "{ids:?}"
    );
    assert!(ids.iter().any(|(ch, _, _)| ch == "webchat"), "{ids:?}");
    let (_, found) = admin(
        &tandem,
        reqwest::Method::GET,
        &format!("/api/v1/customers/{customer}"),
    )
    .await;
    assert!(
        found["identities"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["verified"] == true || i["channel"] == "webchat"),
        "the WhatsApp identity is verified: {found}"
    );

    // The conversation continues on WhatsApp: the order number is known.
    whatsapp(&tandem, WA_LENA, "wamid.link-2", "where is my order?").await;
    let texts = whatsapp_text_containing(&fake, WA_LENA, "12345").await;
    let order_answer = texts.iter().find(|t| t.contains("12345")).unwrap();
    assert!(
        !order_answer.contains("What's your order number"),
        "{order_answer}"
    );
    assert!(
        !texts.iter().any(|t| t.contains("What's your order number")),
        "the number is not asked for again on WhatsApp: {texts:?}"
    );

    // Sent again by the same person: still linked, and told so.
    whatsapp(&tandem, WA_LENA, "wamid.link-3", &code).await;
    eventually(15, "linked again", || async {
        (whatsapp_texts_to(&fake, WA_LENA)
            .iter()
            .filter(|t| t.contains("You're linked"))
            .count()
            == 2)
            .then_some(())
    })
    .await;

    // Someone else reusing the code links nothing and is told why.
    whatsapp(&tandem, WA_OTHER, "wamid.reuse-1", &code.to_lowercase()).await;
    let told = whatsapp_text_containing(&fake, WA_OTHER, "already used").await;
    assert!(
        !told.iter().any(|t| t.contains("You're linked")),
        "{told:?}"
    );
    assert_ne!(whatsapp_customer(&tandem, WA_OTHER).await, customer);
    assert_eq!(
        identities(&tandem, &customer).await.len(),
        2,
        "the reused code added nobody"
    );
}

/// An expired code (`[admin].link_code_ttl_secs` shortened for the test) links nothing;
/// the WhatsApp sender is told it expired.
#[tokio::test]
async fn an_expired_code_sent_on_whatsapp_links_nothing_and_says_why() {
    let (_dir, fake, tandem) = start_with_whatsapp("link_code_ttl_secs = 1").await;
    let (mut web, conv) = web_visitor(&tandem).await;
    web.say("w1", "what are your opening hours?").await;
    web.recv_reply().await;
    let customer = customer_of(&tandem, &conv).await;

    let (code, issued) = issue_code(&tandem, &customer).await;
    let expires = issued["expires_at"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;

    whatsapp(&tandem, WA_LENA, "wamid.late-1", &code).await;
    let told = whatsapp_text_containing(&fake, WA_LENA, "expired").await;
    assert!(
        !told.iter().any(|t| t.contains("You're linked")),
        "expired at {expires}: {told:?}"
    );
    assert_ne!(whatsapp_customer(&tandem, WA_LENA).await, customer);
    let ids = identities(&tandem, &customer).await;
    assert_eq!(ids.len(), 1, "nothing linked: {ids:?}");
    assert_eq!(ids[0].0, "webchat");
}
