use super::*;
use crate::turn::UnderstandingTrace;

fn scope<'a>(
    conversation: &'a ConversationId,
    customer: &'a CustomerId,
    store_prompts: bool,
) -> AuditScope<'a> {
    AuditScope {
        conversation,
        customer,
        message_seq: 4,
        at: tandem_model::now(),
        store_prompts,
    }
}

fn llm_answer() -> BotAnswer {
    BotAnswer {
        intent: Some("opening_hours".into()),
        confidence: 0.8,
        text: "We are open weekdays.".into(),
        call: Some(
            AiCall::new("llm")
                .with_model("gpt-test")
                .with_request("Customer message:\nwhen are you open?")
                .with_response("We are open weekdays."),
        ),
        ..BotAnswer::default()
    }
}

#[test]
fn prompts_are_kept_by_default() {
    let (conv, cus) = (ConversationId::new("conv_1"), CustomerId::new("cus_1"));
    let r = scope(&conv, &cus, true).bot_answer(&llm_answer(), Duration::from_millis(42));
    assert_eq!(r.kind, AiAuditKind::BotAnswer);
    assert_eq!(r.provider.as_deref(), Some("llm"));
    assert_eq!(r.model.as_deref(), Some("gpt-test"));
    assert_eq!(r.intent.as_deref(), Some("opening_hours"));
    assert_eq!(r.confidence, Some(0.8));
    assert_eq!(
        r.request.as_deref(),
        Some("Customer message:\nwhen are you open?")
    );
    assert_eq!(r.response.as_deref(), Some("We are open weekdays."));
    assert_eq!(r.request_sha256, None);
    assert_eq!(r.latency_ms, 42);
    assert_eq!(r.message_seq, 4);
    assert!(r.id.starts_with("ai_"));
}

#[test]
fn hash_mode_keeps_only_sha256_of_request_and_response() {
    let (conv, cus) = (ConversationId::new("conv_1"), CustomerId::new("cus_1"));
    let r = scope(&conv, &cus, false).bot_answer(&llm_answer(), Duration::ZERO);
    assert_eq!(r.request, None);
    assert_eq!(r.response, None);
    let request = r.request_sha256.expect("request hash");
    let response = r.response_sha256.expect("response hash");
    for h in [&request, &response] {
        assert_eq!(h.len(), 64);
        assert!(
            h.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }
    // SHA-256 of the exact texts (checked against a known digest).
    assert_eq!(
        sha256_hex("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(request, sha256_hex("Customer message:\nwhen are you open?"));
    assert_eq!(response, sha256_hex("We are open weekdays."));
    // Who decided is not secret.
    assert_eq!(r.provider.as_deref(), Some("llm"));
    assert_eq!(r.model.as_deref(), Some("gpt-test"));
}

#[test]
fn long_texts_are_cut_but_hashed_whole() {
    let (conv, cus) = (ConversationId::new("conv_1"), CustomerId::new("cus_1"));
    let long = "é".repeat(MAX_AUDIT_TEXT + 10);
    let answer = BotAnswer {
        call: Some(AiCall::new("http").with_request(long.clone())),
        ..BotAnswer::default()
    };
    let kept = scope(&conv, &cus, true).bot_answer(&answer, Duration::ZERO);
    let request = kept.request.expect("request");
    assert!(request.ends_with(TRUNCATED_MARK));
    assert_eq!(
        request.chars().count(),
        MAX_AUDIT_TEXT + TRUNCATED_MARK.chars().count()
    );
    let hashed = scope(&conv, &cus, false).bot_answer(&answer, Duration::ZERO);
    assert_eq!(hashed.request_sha256, Some(sha256_hex(&long)));
}

#[test]
fn a_provider_that_says_nothing_is_recorded_without_a_name() {
    let (conv, cus) = (ConversationId::new("conv_1"), CustomerId::new("cus_1"));
    let r = scope(&conv, &cus, true).bot_answer(&BotAnswer::default(), Duration::ZERO);
    assert_eq!(r.provider, None);
    assert_eq!(r.request, None);
    assert!(!r.fell_back);
}

#[test]
fn an_understanding_gives_sentiment_intent_and_answer_in_order() {
    let (conv, cus) = (ConversationId::new("conv_1"), CustomerId::new("cus_1"));
    let u = Understanding {
        sentiment: -0.6,
        answer: BotAnswer {
            fallback: true,
            call: Some(
                AiCall::new("llm")
                    .with_model("m")
                    .with_request("q")
                    .with_fallback("timeout"),
            ),
            ..BotAnswer::default()
        },
        intent: Some(IntentSignal {
            intent: "refund_demand".into(),
            confidence: 0.93,
            call: Some(AiCall::new("builtin")),
            ..IntentSignal::default()
        }),
        trace: UnderstandingTrace {
            sentiment_call: Some(AiCall::new("builtin").with_model("vader")),
            sentiment: Duration::from_millis(1),
            intent: Duration::from_millis(2),
            bot: Duration::from_millis(1500),
        },
    };
    let records = scope(&conv, &cus, true).understanding(&u);
    let kinds: Vec<AiAuditKind> = records.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [
            AiAuditKind::Sentiment,
            AiAuditKind::Intent,
            AiAuditKind::BotAnswer
        ]
    );
    assert_eq!(records[0].sentiment, Some(-0.6));
    assert_eq!(records[0].sentiment_label.as_deref(), Some("negative"));
    assert_eq!(records[0].model.as_deref(), Some("vader"));
    assert_eq!(records[1].intent.as_deref(), Some("refund_demand"));
    assert_eq!(records[1].latency_ms, 2);
    let bot = &records[2];
    assert!(bot.fallback && bot.fell_back);
    assert_eq!(bot.error.as_deref(), Some("timeout"));
    assert_eq!(bot.latency_ms, 1500);
    // Ids sort in the order the records were made.
    assert!(records.windows(2).all(|w| w[0].id < w[1].id));
}

#[test]
fn sentiment_labels_use_vader_cut_offs() {
    assert_eq!(Sentiment::label(0.05), "positive");
    assert_eq!(Sentiment::label(0.0), "neutral");
    assert_eq!(Sentiment::label(-0.05), "negative");
}
