//! The AI audit trail end to end (issue 17, acceptance 5): with the LLM bot and the
//! OpenAI-compatible summarizer over a fake model server, the admin API lists every AI
//! decision of a conversation (sentiment, intent, the bot's answer with model, prompt,
//! answer and latency, the handoff briefing naming its summarizer); with
//! `[ai] store_prompts = false` only SHA-256 hashes of prompts and answers are kept.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;
use tandem_e2e::{FakeLlm, Tandem, WsClient, eventually};

const TOKEN: &str = "admin-token-0123456789abcdef";
const QUESTION: &str = "what are your opening hours?";
const ANSWER: &str = "We are open weekdays from nine to six.";

fn config(llm: &FakeLlm, store_prompts: bool) -> String {
    format!(
        r#"
[channels.webchat]

[desks.console]
tokens = ["console-token-0123456789"]

[bot]
kind = "llm"

[bot.llm]
base_url = "{url}"
model = "fake-model"
api_key = "sk-e2e"
timeout_ms = 3000

[ai]
provider = "openai"
base_url = "{url}"
model = "fake-summarizer"
timeout_ms = 3000
store_prompts = {store_prompts}

[admin]
tokens = ["{TOKEN}"]
"#,
        url = llm.base_url
    )
}

async fn audit(tandem: &Tandem, conversation: &str) -> Vec<Value> {
    let (status, body) = tandem
        .api(
            TOKEN,
            reqwest::Method::GET,
            &format!("/api/v1/conversations/{conversation}/ai-audit"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["records"].as_array().expect("records").clone()
}

fn of_kind<'a>(records: &'a [Value], kind: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["kind"] == kind).collect()
}

fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[tokio::test]
async fn admin_api_lists_every_ai_decision_of_a_conversation() {
    // The model takes 300 ms: the recorded latency shows it.
    let llm = FakeLlm::start_text(ANSWER, Duration::from_millis(300)).await;
    let dir = tempfile::tempdir().unwrap();
    let tandem = Tandem::start(dir.path(), &config(&llm, true)).await;
    let (mut c, welcome) = WsClient::hello(&tandem.addr, None).await;
    let conversation = welcome["conversation_id"].as_str().unwrap().to_owned();

    c.say("q1", QUESTION).await;
    let reply = c.recv_reply().await;
    assert_eq!(reply["text"], ANSWER);

    // The reply is sent after its turn committed: the records are there.
    let records = audit(&tandem, &conversation).await;
    let kinds: Vec<&str> = records
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["sentiment", "intent", "bot_answer"], "{records:#?}");
    let sentiment = &records[0];
    assert_eq!(sentiment["provider"], "builtin");
    assert_eq!(sentiment["model"], "vader");
    assert!(sentiment["sentiment"].is_number());
    assert!(
        ["positive", "neutral", "negative"]
            .contains(&sentiment["sentiment_label"].as_str().unwrap())
    );
    let intent = &records[1];
    assert_eq!(intent["provider"], "builtin");
    assert!(intent["intent"].as_str().is_some_and(|i| !i.is_empty()));
    let c1 = intent["confidence"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&c1), "{intent}");

    let bot = &records[2];
    assert_eq!(bot["bot"], "llm");
    assert_eq!(bot["provider"], "llm");
    assert_eq!(bot["model"], "fake-model");
    assert_eq!(bot["fallback"], false);
    assert_eq!(bot["fell_back"], false);
    assert!(
        bot["intent"].as_str().is_some(),
        "the KB entry the answer is grounded on"
    );
    let request = bot["request"].as_str().expect("the request is kept");
    assert!(request.contains(QUESTION), "{request}");
    assert!(
        request.contains("fake-model"),
        "the request body as sent: {request}"
    );
    assert!(
        !request.contains("sk-e2e"),
        "the API key is not part of the record"
    );
    assert_eq!(bot["response"], ANSWER);
    assert!(bot["request_sha256"].is_null());
    let latency = bot["latency_ms"].as_u64().unwrap();
    assert!((300..3000).contains(&latency), "latency {latency} ms");
    for r in &records {
        assert_eq!(r["conversation_id"], conversation.as_str());
        assert_eq!(r["message_seq"], records[0]["message_seq"]);
    }

    // A person is asked for: the handoff's briefing is written by the model.
    llm.script(
        json!({"intent": "human_request", "attempted": ["opening hours"],
               "status": "Asked for a person.", "sentiment": "neutral",
               "text": "The customer wants to talk to a person."})
        .to_string(),
        Duration::ZERO,
    );
    c.say("q2", "I want to talk to a person").await;
    let notice = c.recv_reply().await;
    assert_eq!(notice["from"], "system", "the handoff notice: {notice}");
    let records = eventually(10, "the briefing's audit record", || {
        let tandem = &tandem;
        let conversation = conversation.clone();
        async move {
            let records = audit(tandem, &conversation).await;
            (!of_kind(&records, "briefing_summary").is_empty()).then_some(records)
        }
    })
    .await;
    let briefing = of_kind(&records, "briefing_summary")[0];
    assert_eq!(briefing["summarizer"], "openai");
    assert_eq!(briefing["model"], "fake-summarizer");
    assert_eq!(briefing["fell_back"], false);
    assert_eq!(briefing["intent"], "human_request");
    let prompt = briefing["request"].as_str().unwrap();
    assert!(prompt.contains("I want to talk to a person"), "{prompt}");
    assert!(
        briefing["response"]
            .as_str()
            .unwrap()
            .contains("The customer wants to talk to a person."),
        "{briefing}"
    );
    // Oldest first: the first turn's three, then the second turn's.
    assert_eq!(records.len(), 7, "{records:#?}");
    assert_eq!(records[6]["kind"], "briefing_summary");

    // Unknown conversation, missing token.
    let (status, _) = tandem
        .api(
            TOKEN,
            reqwest::Method::GET,
            "/api/v1/conversations/conv_nope/ai-audit",
            None,
        )
        .await;
    assert_eq!(status, 404);
    let anon =
        tandem_e2e::get(tandem.url(&format!("/api/v1/conversations/{conversation}/ai-audit")))
            .await
            .unwrap();
    assert_eq!(anon.status(), 401);

    let logs = tandem.logs();
    assert!(!logs.contains(QUESTION), "no message text in the logs");
    assert!(!logs.contains(ANSWER), "no model answer in the logs");
}

#[tokio::test]
async fn without_store_prompts_only_hashes_are_kept() {
    let llm = FakeLlm::start_text(ANSWER, Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let tandem = Tandem::start(dir.path(), &config(&llm, false)).await;
    let (mut c, welcome) = WsClient::hello(&tandem.addr, None).await;
    let conversation = welcome["conversation_id"].as_str().unwrap().to_owned();

    c.say("q1", QUESTION).await;
    assert_eq!(c.recv_reply().await["text"], ANSWER);

    let records = audit(&tandem, &conversation).await;
    let bot = of_kind(&records, "bot_answer")[0];
    assert_eq!(bot["bot"], "llm");
    assert_eq!(bot["model"], "fake-model");
    assert!(
        bot["request"].is_null() && bot["response"].is_null(),
        "{bot}"
    );
    let is_hex64 = |v: &Value| {
        v.as_str()
            .is_some_and(|h| h.len() == 64 && h.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')))
    };
    assert!(is_hex64(&bot["request_sha256"]), "{bot}");
    assert_eq!(bot["response_sha256"], sha256(ANSWER));
    // The hash is of the exact request body the model received.
    let sent = llm.requests()[0].1.clone();
    assert_eq!(bot["request_sha256"], sha256(&sent.to_string()));
    let all = serde_json::to_string(&records).unwrap();
    assert!(
        !all.contains(QUESTION),
        "no prompt text in the records: {all}"
    );
    assert!(
        !all.contains(ANSWER),
        "no answer text in the records: {all}"
    );
    assert!(of_kind(&records, "sentiment").len() == 1 && of_kind(&records, "intent").len() == 1);
}
