//! Pluggable bots end to end, with the real binary: the LLM bot over a fake
//! OpenAI-compatible endpoint (grounded on the knowledge base, the built-in bot answering
//! when the model stalls, `I_DONT_KNOW` counted as a fallback up to the hand-off) and the
//! Rasa bot over a fake Rasa REST channel, its buttons reaching a Telegram customer as an
//! inline keyboard.

use serde_json::{Value, json};
use std::time::Duration;
use tandem_e2e::{FakeLlm, FakeRasa, Tandem, WsClient, eventually};
use tandem_testkit::fake::TelegramFake;
use tandem_testkit::payloads::telegram_text;

const HOURS: &str = "Our customer service and shop are open Monday to Friday 9:00-18:00";

fn llm_config(llm: &FakeLlm) -> String {
    format!(
        r#"
[channels.webchat]

[bot]
kind = "llm"

[bot.llm]
base_url = "{}"
model = "fake-model"
api_key = "sk-e2e"
timeout_ms = 1000
"#,
        llm.base_url
    )
}

/// The user prompt of the `n`th request the fake model received.
fn prompt(llm: &FakeLlm, n: usize) -> String {
    let requests = llm.requests();
    let body: &Value = &requests[n].1;
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn llm_bot_answers_from_the_knowledge_base_and_falls_back() {
    let llm = FakeLlm::start_text("We are open weekdays from nine to six.", Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let tandem = Tandem::start(dir.path(), &llm_config(&llm)).await;
    let (mut c, _welcome) = WsClient::hello(&tandem.addr, None).await;

    // A knowledge-base question: the model's answer, from a prompt holding the entry.
    c.say("m1", "what are your opening hours?").await;
    let reply = c.recv_reply().await;
    assert_eq!(reply["from"], "bot");
    assert_eq!(reply["text"], "We are open weekdays from nine to six.");
    let sent = prompt(&llm, 0);
    assert!(
        sent.contains(HOURS),
        "the KB entry is in the prompt: {sent}"
    );
    assert!(sent.contains("what are your opening hours?"));
    assert_eq!(llm.requests()[0].1["model"], "fake-model");

    // The model stalls past the timeout: the built-in bot answers, within about it.
    llm.script("too late", Duration::from_secs(10));
    let asked = std::time::Instant::now();
    c.say("m2", "when are you open?").await;
    let reply = c.recv_reply().await;
    assert!(
        reply["text"].as_str().unwrap().starts_with(HOURS),
        "{reply}"
    );
    assert!(asked.elapsed() < Duration::from_secs(5));
    let logs = tandem.logs();
    assert!(logs.contains("timed out"), "a warning is logged");
    assert!(
        !logs.contains("when are you open"),
        "no message text in logs"
    );
}

#[tokio::test]
async fn llm_i_dont_know_counts_toward_the_fallback_hand_off() {
    let llm = FakeLlm::start_text("I_DONT_KNOW", Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let tandem = Tandem::start(dir.path(), &llm_config(&llm)).await;
    let (mut c, _welcome) = WsClient::hello(&tandem.addr, None).await;
    let has_human_button = |frame: &Value| {
        frame["buttons"]
            .as_array()
            .is_some_and(|b| b.iter().any(|b| b["payload"] == "talk_to_human"))
    };
    // Messages the built-in bot would answer; the model does not know: three strikes.
    c.say("f1", "hello").await;
    let first = c.recv_reply().await;
    assert_eq!(first["from"], "bot");
    assert!(
        first["text"]
            .as_str()
            .unwrap()
            .starts_with("Sorry, I didn't get that"),
        "{first}"
    );
    assert!(
        !has_human_button(&first),
        "strike 1: rephrase only: {first}"
    );
    c.say("f2", "good morning").await;
    let second = c.recv_reply().await;
    assert!(
        has_human_button(&second),
        "strike 2 offers a person: {second}"
    );
    c.say("f3", "hi there").await;
    let third = c.recv_reply().await;
    assert_eq!(third["from"], "system", "strike 3 hands off: {third}");
    assert_eq!(llm.requests().len(), 3, "the model was asked each time");
}

#[tokio::test]
async fn rasa_text_and_buttons_reach_a_telegram_customer() {
    const TOKEN: &str = "7012345678:AAe2e-token";
    const SECRET: &str = "e2e_secret-token";
    let rasa = FakeRasa::start(json!([
        {"recipient_id": "x", "text": "Which size would you like?"},
        {"recipient_id": "x", "text": "Pick one:", "buttons": [
            {"title": "Small", "payload": "/choose_size{\"size\":\"s\"}"},
            {"title": "Large", "payload": "/choose_size{\"size\":\"l\"}"}
        ]}
    ]))
    .await;
    let telegram = TelegramFake::start(TOKEN).await;
    let config = format!(
        r#"
[channels.webchat]

[channels.telegram]
bot_token = "{TOKEN}"
secret_token = "{SECRET}"
mode = "webhook"
api_base = "{}"
bot = "rasa"

[bot.rasa]
url = "{}"
timeout_ms = 2000
"#,
        telegram.base_url(),
        rasa.url
    );
    let dir = tempfile::tempdir().unwrap();
    let tandem = Tandem::start(dir.path(), &config).await;
    eventually(10, "setWebhook at start", || async { telegram.webhook() }).await;

    let update = telegram_text(
        910_001,
        5_123_456_789,
        "I want a t-shirt",
        tandem_e2e::unix_now(),
    );
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
    let sent = eventually(15, "the reply", || async {
        telegram.delivered().first().map(|r| r.json())
    })
    .await;
    assert_eq!(sent["chat_id"], json!(5_123_456_789_i64));
    let text = sent["text"].as_str().unwrap();
    assert!(text.contains("Which size would you like?"), "{sent}");
    assert!(text.contains("Pick one:"), "{sent}");
    let keyboard = &sent["reply_markup"]["inline_keyboard"];
    let titles: Vec<&str> = keyboard
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap())
        .map(|b| b["text"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Small", "Large"], "{sent}");

    // Rasa was asked with the message, keyed by the conversation.
    let asked = rasa.requests();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0]["message"], "I want a t-shirt");
    assert!(asked[0]["sender"].as_str().is_some_and(|s| !s.is_empty()));

    // The web chat, with no `bot` of its own, keeps the built-in bot.
    let (mut c, _) = WsClient::hello(&tandem.addr, None).await;
    c.say("w1", "what are your opening hours?").await;
    let reply = c.recv_reply().await;
    assert!(
        reply["text"].as_str().unwrap().starts_with(HOURS),
        "{reply}"
    );
    assert_eq!(rasa.requests().len(), 1);
}
