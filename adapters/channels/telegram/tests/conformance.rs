//! The adapter conformance kit and the fixture snapshots, run against the Telegram
//! channel with the kit's fake Bot API (webhook mode; the shutdown scenario runs the
//! long-polling worker).

use tandem_channel_telegram::{Telegram, TelegramConfig};
use tandem_testkit::fake::TelegramFake;
use tandem_testkit::http::Request;
use tandem_testkit::payloads::{telegram_text, telegram_update};
use tandem_testkit::{Body, ChannelDriver, Recorded, Reply};

const TOKEN: &str = "7012345678:AAconformance";
const SECRET: &str = "conformance_secret-1";

#[derive(Default)]
struct Driver;

fn request(body: Vec<u8>, secret: &str) -> Request<Body> {
    Request::post("/webhooks/telegram")
        .header("content-type", "application/json")
        .header("x-telegram-bot-api-secret-token", secret)
        .body(Body::from(body))
        .expect("valid request")
}

fn config(platform: &TelegramFake, mode: &str) -> TelegramConfig {
    let toml = format!(
        r#"
        bot_token = "{TOKEN}"
        secret_token = "{SECRET}"
        mode = "{mode}"
        poll_timeout_secs = 5
        api_base = "{}"
        "#,
        platform.base_url()
    );
    toml::from_str(&toml).expect("driver config")
}

impl ChannelDriver for Driver {
    type Factory = Telegram;
    type Platform = TelegramFake;
    const EXAMPLE: &'static str = include_str!("../../../../config/examples/telegram.toml");

    async fn start_platform(&self) -> TelegramFake {
        TelegramFake::start(TOKEN).await
    }

    fn config(&self, platform: &TelegramFake) -> TelegramConfig {
        config(platform, "webhook")
    }

    fn worker_config(&self, platform: &TelegramFake) -> Option<TelegramConfig> {
        Some(config(platform, "polling"))
    }

    fn sender(&self) -> String {
        "5123456789".into()
    }

    fn inbound_text(&self, from: &str, text: &str, id: &str) -> Request<Body> {
        let update = telegram_text(
            id.parse().expect("numeric id"),
            from.parse().expect("numeric user"),
            text,
            1_767_261_600,
        );
        request(update.to_string().into_bytes(), SECRET)
    }

    fn inbound_forged(&self, from: &str, text: &str, id: &str) -> Request<Body> {
        let update = telegram_text(
            id.parse().expect("numeric id"),
            from.parse().expect("numeric user"),
            text,
            1_767_261_600,
        );
        request(update.to_string().into_bytes(), "not-the-secret")
    }

    fn inbound_unsupported(&self, from: &str, id: &str) -> Option<Request<Body>> {
        let user: i64 = from.parse().expect("numeric user");
        let update = telegram_update(
            id.parse().expect("numeric id"),
            "poll_answer",
            serde_json::json!({"poll_id": "p1", "user": {"id": user, "is_bot": false, "first_name": "Sofia"}, "option_ids": [1]}),
        );
        Some(request(update.to_string().into_bytes(), SECRET))
    }

    fn inbound_raw(&self, body: Vec<u8>) -> Request<Body> {
        request(body, SECRET)
    }

    fn script(&self, platform: &TelegramFake, reply: Reply) {
        platform.script(reply);
    }

    fn sends(&self, platform: &TelegramFake) -> Vec<Recorded> {
        platform.sends()
    }
}

tandem_testkit::channel_conformance!(Driver);
tandem_testkit::check_inbound_fixtures!(Driver);

/// Issue 18 item 8: a redelivered callback query is recorded once and answered once.
#[tokio::test]
async fn a_redelivered_callback_query_is_answered_once() {
    let h = tandem_testkit::Harness::<Driver>::start().await;
    let update = include_bytes!("fixtures/inbound/update_callback_query.json").to_vec();
    for _ in 0..2 {
        let (status, _) = h.call(h.driver.inbound_raw(update.clone())).await;
        assert_eq!(status, 200);
    }
    assert_eq!(h.inbound.accepted().len(), 1);
    tandem_testkit::eventually(5, "the answer", || async {
        (!h.platform.calls("answerCallbackQuery").is_empty()).then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(h.platform.calls("answerCallbackQuery").len(), 1);
}

/// Issue 18 acceptance 2: an update Tandem does not use (and one teloxide cannot read)
/// is answered 2xx.
#[tokio::test]
async fn unused_and_unreadable_updates_are_acknowledged() {
    let h = tandem_testkit::Harness::<Driver>::start().await;
    for body in [
        serde_json::json!({"update_id": 900, "channel_post": {"message_id": 1, "chat": {"id": -1001, "type": "channel", "title": "News"}, "date": 1, "text": "hello"}}),
        serde_json::json!({"update_id": 901, "message": {"message_id": 2, "from": {"id": 42, "first_name": "Ana"}, "chat": {"id": 42}, "date": 1, "text": "hi"}}),
        serde_json::json!({"update_id": 902, "chat_boost": {"chat": {"id": -1}, "boost": {}}}),
    ] {
        let (status, _) = h
            .call(h.driver.inbound_raw(body.to_string().into_bytes()))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let accepted = h.inbound.accepted();
    assert_eq!(accepted.len(), 1);
    assert_eq!(
        accepted[0].content,
        tandem_sdk::model::Content::Text { text: "hi".into() }
    );
}
