//! The LLM and Rasa bots against local fake servers: answers, fallbacks, and the built-in
//! bot standing in when the backend is slow or failing.

use crate::{ChannelBots, KnowledgeBot, LlmBot, OpenAiClient, OpenAiConfig, RasaBot, RasaConfig};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tandem_core::ai::{Bot, BotAnswer, BotQuestion};
use tandem_model::Button;

const HOURS: &str = "Our customer service and shop are open Monday to Friday 9:00-18:00";

/// A scripted HTTP answer: status, body, delay; every request body is recorded.
#[derive(Clone)]
struct Fake {
    status: u16,
    body: String,
    delay: Duration,
    seen: Arc<Mutex<Vec<Value>>>,
}

async fn handle(State(fake): State<Fake>, body: String) -> Response {
    fake.seen
        .lock()
        .expect("lock")
        .push(serde_json::from_str(&body).unwrap_or(Value::Null));
    tokio::time::sleep(fake.delay).await;
    (
        StatusCode::from_u16(fake.status).expect("status"),
        [("content-type", "application/json")],
        fake.body.clone(),
    )
        .into_response()
}

/// Serves `fake` on loopback at `path`; returns the base URL.
async fn serve(path: &str, fake: Fake) -> String {
    let app = Router::new().route(path, post(handle)).with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

fn fake(status: u16, body: impl Into<String>, delay: Duration) -> Fake {
    Fake {
        status,
        body: body.into(),
        delay,
        seen: Arc::default(),
    }
}

fn completion(content: &str) -> String {
    json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]})
        .to_string()
}

fn builtin() -> Arc<KnowledgeBot> {
    Arc::new(KnowledgeBot::builtin())
}

async fn llm_bot(fake: Fake, timeout: Duration) -> LlmBot {
    let base = serve("/v1/chat/completions", fake).await;
    let client = OpenAiClient::new(
        OpenAiConfig {
            base_url: format!("{base}/v1"),
            api_key: Some("sk-test".into()),
            model: "test-model".into(),
            timeout,
        },
        reqwest::Client::new(),
    );
    LlmBot::new(client, builtin(), 3)
}

async fn ask(bot: &dyn Bot, text: &str) -> BotAnswer {
    let slots = BTreeMap::new();
    bot.answer(BotQuestion {
        text,
        slots: &slots,
        last_intent: None,
        channel: "webchat",
        conversation: "conv-1",
    })
    .await
}

#[tokio::test]
async fn llm_answers_from_the_matching_entries_only() {
    let f = fake(200, completion("We open at nine."), Duration::ZERO);
    let seen = f.seen.clone();
    let bot = llm_bot(f, Duration::from_secs(5)).await;
    let a = ask(&bot, "what are your opening hours?").await;
    assert_eq!(a.text, "We open at nine.");
    assert!(!a.fallback);
    assert_eq!(a.intent.as_deref(), Some("opening_hours"));
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1);
    let prompt = seen[0].to_string();
    assert!(
        prompt.contains(HOURS),
        "the entry is in the prompt: {prompt}"
    );
    assert!(prompt.contains("I_DONT_KNOW"), "the sentinel is explained");
    assert!(prompt.contains("what are your opening hours?"));
    // Only the best entries: the password-reset answer is not relevant.
    assert!(!prompt.contains("Forgot password"), "{prompt}");
}

#[tokio::test]
async fn llm_sentinel_empty_or_garbled_answers_are_fallbacks() {
    let kb = KnowledgeBot::builtin();
    let fallback = kb.knowledge_base().fallback.clone();
    for answer in [
        completion("I_DONT_KNOW"),
        completion(" \"I_DONT_KNOW.\" "),
        completion(""),
        completion(&"x".repeat(5000)),
        "{\"choices\": []}".to_owned(),
        "not json at all".to_owned(),
    ] {
        let bot = llm_bot(
            fake(200, answer.clone(), Duration::ZERO),
            Duration::from_secs(5),
        )
        .await;
        let a = ask(&bot, "what are your opening hours?").await;
        assert!(a.fallback, "{answer:.60} is a fallback");
        assert_eq!(a.text, fallback);
    }
}

#[tokio::test]
async fn llm_slow_or_failing_endpoint_lets_the_builtin_bot_answer() {
    for (status, delay) in [(200, Duration::from_secs(5)), (500, Duration::ZERO)] {
        let bot = llm_bot(
            fake(status, completion("late"), delay),
            Duration::from_millis(300),
        )
        .await;
        let started = std::time::Instant::now();
        let a = ask(&bot, "what are your opening hours?").await;
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(!a.fallback);
        assert!(a.text.starts_with(HOURS), "{}", a.text);
    }
}

#[tokio::test]
async fn llm_is_not_asked_when_no_entry_matches() {
    let f = fake(200, completion("made up"), Duration::ZERO);
    let seen = f.seen.clone();
    let bot = llm_bot(f, Duration::from_secs(5)).await;
    let a = ask(&bot, "zzqx vbnm").await;
    assert!(a.fallback);
    assert!(seen.lock().expect("lock").is_empty());
}

async fn rasa_bot(fake: Fake, timeout: Duration) -> RasaBot {
    let base = serve("/webhooks/rest/webhook", fake).await;
    RasaBot::new(
        RasaConfig { url: base, timeout },
        reqwest::Client::new(),
        builtin(),
    )
}

#[tokio::test]
async fn rasa_texts_and_buttons_become_the_reply() {
    let body = json!([
        {"recipient_id": "conv-1", "text": "Which size?"},
        {"recipient_id": "conv-1", "text": "Pick one:", "buttons": [
            {"title": "Small", "payload": "/choose{\"size\":\"s\"}"},
            {"title": "Large"}
        ]}
    ]);
    let f = fake(200, body.to_string(), Duration::ZERO);
    let seen = f.seen.clone();
    let bot = rasa_bot(f, Duration::from_secs(5)).await;
    let a = ask(&bot, "I want a shirt").await;
    assert!(!a.fallback);
    assert_eq!(a.text, "Which size?\n\nPick one:");
    assert_eq!(
        a.buttons,
        vec![
            Button {
                title: "Small".into(),
                payload: "/choose{\"size\":\"s\"}".into()
            },
            Button {
                title: "Large".into(),
                payload: "Large".into()
            },
        ]
    );
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(
        seen,
        vec![json!({"sender": "conv-1", "message": "I want a shirt"})]
    );
}

#[tokio::test]
async fn rasa_empty_or_garbled_answers_are_fallbacks() {
    for body in [
        "[]",
        "{\"oops\": 1}",
        "<html>",
        "[{\"recipient_id\": \"x\"}]",
    ] {
        let bot = rasa_bot(fake(200, body, Duration::ZERO), Duration::from_secs(5)).await;
        let a = ask(&bot, "what are your opening hours?").await;
        assert!(a.fallback, "{body} is a fallback");
    }
}

#[tokio::test]
async fn rasa_slow_or_failing_server_lets_the_builtin_bot_answer() {
    for (status, delay) in [(200, Duration::from_secs(5)), (503, Duration::ZERO)] {
        let bot = rasa_bot(fake(status, "[]", delay), Duration::from_millis(300)).await;
        let a = ask(&bot, "what are your opening hours?").await;
        assert!(!a.fallback);
        assert!(a.text.starts_with(HOURS), "{}", a.text);
    }
    // Nothing listening at all.
    let bot = RasaBot::new(
        RasaConfig {
            url: "http://127.0.0.1:9".into(),
            timeout: Duration::from_secs(2),
        },
        reqwest::Client::new(),
        builtin(),
    );
    let a = ask(&bot, "what are your opening hours?").await;
    assert!(a.text.starts_with(HOURS));
}

#[tokio::test]
async fn channel_bots_ask_the_channel_s_bot_else_the_default() {
    let rasa = rasa_bot(
        fake(
            200,
            json!([{"text": "from rasa"}]).to_string(),
            Duration::ZERO,
        ),
        Duration::from_secs(5),
    )
    .await;
    let bots = ChannelBots::new(builtin()).with("telegram", Arc::new(rasa));
    let slots = BTreeMap::new();
    let q = |channel| BotQuestion {
        text: "what are your opening hours?",
        slots: &slots,
        last_intent: None,
        channel,
        conversation: "c",
    };
    assert_eq!(bots.answer(q("telegram")).await.text, "from rasa");
    assert!(bots.answer(q("webchat")).await.text.starts_with(HOURS));
    assert_eq!(bots.greeting(), KnowledgeBot::builtin().greeting());
}

/// Serves `fake` at `/bot` and records the signature headers next to each body.
async fn http_bot(
    fake: Fake,
    timeout: Duration,
) -> (crate::HttpBot, Arc<Mutex<Vec<(String, String)>>>) {
    let headers: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let seen = headers.clone();
    let app = Router::new()
        .route(
            "/bot",
            post(
                move |State(fake): State<Fake>, h: axum::http::HeaderMap, body: String| {
                    let seen = seen.clone();
                    async move {
                        let get = |n: &str| {
                            h.get(n)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_owned()
                        };
                        seen.lock()
                            .expect("lock")
                            .push((get("x-tandem-timestamp"), get("x-tandem-signature")));
                        handle(State(fake), body).await
                    }
                },
            ),
        )
        .with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let bot = crate::HttpBot::new(
        crate::HttpBotConfig {
            url: format!("http://{addr}/bot"),
            secret: "bot-secret".into(),
            timeout,
        },
        reqwest::Client::new(),
        builtin(),
    );
    (bot, headers)
}

#[tokio::test]
async fn http_bot_signs_its_question_and_answers_the_reply() {
    let f = fake(
        200,
        json!({"text": "Hi from the HTTP bot", "buttons": [{"title": "Yes", "payload": "yes"}], "intent": "hello", "confidence": 0.7}).to_string(),
        Duration::ZERO,
    );
    let bodies = f.seen.clone();
    let (bot, headers) = http_bot(f, Duration::from_secs(5)).await;
    let a = ask(&bot, "hello there").await;
    assert!(!a.fallback);
    assert_eq!(a.text, "Hi from the HTTP bot");
    assert_eq!(a.intent.as_deref(), Some("hello"));
    assert_eq!(a.buttons.len(), 1);
    let body = bodies.lock().expect("lock")[0].clone();
    assert_eq!(body["version"], 1);
    assert_eq!(body["type"], "bot.question");
    assert_eq!(body["conversation_id"], "conv-1");
    assert_eq!(body["channel"], "webchat");
    assert_eq!(body["text"], "hello there");
    let (ts, sig) = headers.lock().expect("lock")[0].clone();
    let raw = body.to_string();
    let expected = tandem_sdk::signature::hmac_sha256_hex(
        b"bot-secret",
        &[ts.as_bytes(), b".", raw.as_bytes()],
    );
    assert_eq!(sig, format!("sha256={expected}"));
}

#[tokio::test]
async fn http_bot_fallbacks_and_failures() {
    let kb_fallback = KnowledgeBot::builtin().knowledge_base().fallback.clone();
    for (body, text) in [
        (json!({"fallback": true}).to_string(), kb_fallback.as_str()),
        (
            json!({"fallback": true, "text": "Rephrase?"}).to_string(),
            "Rephrase?",
        ),
        (json!({"text": "   "}).to_string(), kb_fallback.as_str()),
        ("garbage".to_owned(), kb_fallback.as_str()),
    ] {
        let (bot, _) = http_bot(
            fake(200, body.clone(), Duration::ZERO),
            Duration::from_secs(5),
        )
        .await;
        let a = ask(&bot, "what are your opening hours?").await;
        assert!(a.fallback, "{body}");
        assert_eq!(a.text, text, "{body}");
    }
    for (status, delay) in [(500, Duration::ZERO), (200, Duration::from_secs(5))] {
        let (bot, _) = http_bot(
            fake(status, json!({"text": "late"}).to_string(), delay),
            Duration::from_millis(300),
        )
        .await;
        let a = ask(&bot, "what are your opening hours?").await;
        assert!(a.text.starts_with(HOURS), "{}", a.text);
    }
}

/// What each bot says about how it answered (the AI audit trail): who, which model, what
/// was sent and answered, and why the built-in bot stood in.
#[tokio::test]
async fn bots_describe_how_they_answered() {
    let kb = ask(&KnowledgeBot::builtin(), "what are your opening hours?").await;
    let call = kb.call.expect("the knowledge-base bot names itself");
    assert_eq!(call.provider, crate::KNOWLEDGE);
    assert!(call.request.is_none() && !call.fell_back);

    let bot = llm_bot(
        fake(200, completion("We open at nine."), Duration::ZERO),
        Duration::from_secs(5),
    )
    .await;
    let a = ask(&bot, "what are your opening hours?").await;
    let call = a.call.expect("the LLM bot describes its call");
    assert_eq!(call.provider, crate::LLM);
    assert_eq!(call.model.as_deref(), Some("test-model"));
    let request = call.request.expect("the request body");
    assert!(request.contains("what are your opening hours?") && request.contains(HOURS));
    assert!(
        !request.contains("sk-test"),
        "the API key is not in the body"
    );
    assert_eq!(call.response.as_deref(), Some("We open at nine."));
    assert!(!call.fell_back && call.error.is_none());

    // The model stalls: the built-in bot answers, the call says why.
    let bot = llm_bot(
        fake(200, completion("late"), Duration::from_secs(5)),
        Duration::from_millis(200),
    )
    .await;
    let a = ask(&bot, "what are your opening hours?").await;
    assert!(a.text.starts_with(HOURS));
    let call = a.call.expect("call");
    assert_eq!(call.provider, crate::LLM);
    assert!(call.fell_back);
    assert_eq!(call.error.as_deref(), Some("timeout"));
    assert!(call.request.is_some() && call.response.is_none());

    // Rasa refusing: status in the error; Rasa answering: the raw answer.
    let bot = rasa_bot(fake(503, "", Duration::ZERO), Duration::from_secs(5)).await;
    let call = ask(&bot, "hello").await.call.expect("call");
    assert_eq!(call.provider, crate::RASA);
    assert_eq!(call.error.as_deref(), Some("status 503"));
    let body = json!([{"recipient_id": "x", "text": "Hi from Rasa"}]).to_string();
    let bot = rasa_bot(
        fake(200, body.clone(), Duration::ZERO),
        Duration::from_secs(5),
    )
    .await;
    let call = ask(&bot, "hello").await.call.expect("call");
    assert_eq!(call.response.as_deref(), Some(body.as_str()));
    assert!(call.request.expect("request").contains("hello"));

    // The HTTP bot: its signed body is the request.
    let (bot, _) = http_bot(
        fake(200, json!({"text": "Hi"}).to_string(), Duration::ZERO),
        Duration::from_secs(5),
    )
    .await;
    let call = ask(&bot, "hello").await.call.expect("call");
    assert_eq!(call.provider, crate::HTTP);
    assert!(call.request.expect("request").contains("bot.question"));
    assert!(!call.fell_back);
}
