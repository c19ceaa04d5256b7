//! Benchmark of policy evaluation with the shipped default policy over a realistic mix of
//! customer messages (routine questions, demands, shouting, typos, negations, long
//! messages). The bot's answers and sentiment scores are computed once up front, as the
//! gateway computes them before asking the policy; what is measured is
//! `EscalationPolicy::evaluate` per message. Results: `BENCHMARKS.md`.
//!
//! Run: `cargo bench -p tandem-policy --bench evaluate`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::collections::BTreeMap;
use std::hint::black_box;
use tandem_core::ai::{BotAnswer, BotQuestion, IntentSignal};
use tandem_core::policy::{EscalationPolicy, PolicyInput};
use tandem_core::store::{ConversationState, CustomerRecord};
use tandem_model::{ChannelId, CustomerId};
use tandem_policy::PolicyEngine;

const MESSAGES: &[&str] = &[
    "hi",
    "where is my order",
    "it's #12345",
    "what are your opening hours?",
    "how long does shipping take to Austria?",
    "how do refunds work?",
    "what payment methods do you take?",
    "I want my money back",
    "I was charged twice for the same order, please fix this",
    "my payment keeps failing",
    "cancel my order",
    "cancel my subscripton please",
    "delete my account and all my personal data under GDPR",
    "my account was HACKED!!!",
    "I'm very angry",
    "this is useless",
    "not angry, just asking about delivery",
    "WHY IS MY ORDER STILL NOT HERE!!!",
    "can I speak to a real person?",
    "agent",
    "thanks, that helped",
    "I'd like a quote for 200 units for our office",
    "we're thinking about switching to a competitor, your plan is too expensive",
    "I'm forwarding this to my atorney",
    "asdf qwerty",
    "Bonjour, je voudrais savoir où est ma commande, merci beaucoup",
    "Hello, I ordered a blue jacket last week (order A-10023) and received a red one instead. \
     I'd like to exchange it for the right colour in the same size. Can you tell me how to \
     send it back and whether the return shipping is free? Thanks a lot for your help!",
    "bye",
];

fn inputs() -> Vec<(String, f32, BotAnswer, IntentSignal)> {
    let bot = tandem_ai::KnowledgeBot::builtin();
    let vader = tandem_ai::Vader::new();
    let intents = tandem_ai::IntentModel::builtin();
    let slots = BTreeMap::new();
    MESSAGES
        .iter()
        .map(|m| {
            let answer = bot.respond(BotQuestion {
                text: m,
                slots: &slots,
                last_intent: None,
                channel: "",
                conversation: "",
            });
            (
                (*m).to_owned(),
                vader.compound(m),
                answer,
                intents.classify(m),
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let engine = PolicyEngine::builtin();
    let inputs = inputs();
    let channel = ChannelId::new("webchat");
    let customer = CustomerRecord {
        id: CustomerId::new("bench"),
        display_name: None,
        segment: None,
        attributes: BTreeMap::new(),
        created_at: tandem_model::now(),
    };
    let state = ConversationState {
        negative_count: 1,
        fallback_count: 1,
        ..ConversationState::default()
    };
    let now = tandem_model::now();
    let mut group = c.benchmark_group("policy");
    group.throughput(Throughput::Elements(inputs.len() as u64));
    group.bench_function("evaluate_message_mix", |b| {
        b.iter(|| {
            for (text, sentiment, answer, intent) in &inputs {
                let d = engine.evaluate(&PolicyInput {
                    text,
                    channel: &channel,
                    sentiment: *sentiment,
                    state: &state,
                    customer: &customer,
                    bot: answer,
                    intent: Some(intent),
                    now,
                    history: &[],
                });
                black_box(d);
            }
        });
    });
    group.finish();
    // The built-in intent classifier, one message at a time (the gateway classifies
    // every customer message before asking the policy).
    let model = tandem_ai::IntentModel::builtin();
    let mut group = c.benchmark_group("intent");
    group.throughput(Throughput::Elements(MESSAGES.len() as u64));
    group.bench_function("classify_message_mix", |b| {
        b.iter(|| {
            for m in MESSAGES {
                black_box(model.classify(black_box(m)));
            }
        });
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("classify_short", |b| {
        b.iter(|| black_box(model.classify(black_box("how do refunds work?"))));
    });
    group.bench_function("classify_long", |b| {
        b.iter(|| black_box(model.classify(black_box(MESSAGES[26]))));
    });
    group.finish();
    c.bench_function("policy/compile_default", |b| {
        b.iter(|| black_box(PolicyEngine::from_toml_str(tandem_policy::DEFAULT_POLICY)));
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
