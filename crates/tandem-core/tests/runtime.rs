//! The runtime on the in-memory store: `Core::execute` gathers facts, asks the engine
//! and commits, with no worker running, no network and no database.

use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tandem_core::ai::{BriefingInput, BriefingSummary, Sentiment, SentimentAnalyzer, Summarizer};
use tandem_core::clock::SystemClock;
use tandem_core::engine::{AdminAction, Command};
use tandem_core::metrics::Metrics;
use tandem_core::policy::SeedPolicy;
use tandem_core::runtime::Executed;
use tandem_core::store::{DynStore, HandoffStatus, Owner, StoreError};
use tandem_core::testing::MemoryStore;
use tandem_core::{Core, CoreConfig, CoreDeps};
use tandem_model::{
    ChannelId, Content, ExternalIdentity, InboundMessage, Party, PlatformMessageId, now,
};
use tandem_sdk::bot::{Bot, BotAnswer, BotQuestion};
use tandem_sdk::{
    AdapterError, AgentDesk, DeskCapabilities, DeskDelivery, DeskEvent, DeskEventHandler,
    DeskEventKind, DeskReceipt,
};

/// Answers every question the same way, never a fallback.
struct Echo;

#[async_trait]
impl Bot for Echo {
    async fn answer(&self, question: BotQuestion<'_>) -> BotAnswer {
        BotAnswer {
            intent: Some("echo".into()),
            confidence: 0.9,
            text: format!("You said: {}", question.text),
            slots: BTreeMap::new(),
            ..BotAnswer::default()
        }
    }
}

struct Neutral;

#[async_trait]
impl SentimentAnalyzer for Neutral {
    async fn analyze(&self, _: &str) -> Sentiment {
        Sentiment::new(0.0)
    }
}

struct Brief;

#[async_trait]
impl Summarizer for Brief {
    async fn summarize(&self, _: BriefingInput<'_>) -> BriefingSummary {
        BriefingSummary {
            text: "The customer wants a refund.".into(),
            ..BriefingSummary::default()
        }
    }
}

/// A desk that accepts every operation (the outbox is not running in these tests).
struct Desk(Mutex<usize>);

#[async_trait]
impl AgentDesk for Desk {
    fn capabilities(&self) -> &DeskCapabilities {
        static CAPS: DeskCapabilities = DeskCapabilities { accept: true };
        &CAPS
    }

    async fn deliver(&self, _: DeskDelivery) -> Result<DeskReceipt, AdapterError> {
        *self.0.lock().unwrap() += 1;
        Ok(DeskReceipt { thread: None })
    }
}

fn core(store: &Arc<MemoryStore>) -> Core {
    let dyn_store: DynStore = store.clone();
    let core = Core::new(
        CoreDeps {
            store: dyn_store,
            bot: Arc::new(Echo),
            sentiment: Arc::new(Neutral),
            intents: None,
            policy: Arc::new(SeedPolicy),
            summarizer: Arc::new(Brief),
            clock: Arc::new(SystemClock),
            metrics: Arc::new(Metrics::new()),
        },
        CoreConfig::default(),
    );
    core.register_desk(
        "slack",
        Arc::new(Desk(Mutex::new(0))),
        vec!["default".into()],
    );
    core
}

fn message(id: &str, text: &str) -> InboundMessage {
    InboundMessage {
        channel: web(),
        platform_message_id: PlatformMessageId::new(id),
        sender: ExternalIdentity::new(web(), "visitor-1"),
        sent_at: now(),
        content: Content::Text { text: text.into() },
    }
}

fn web() -> ChannelId {
    ChannelId::new("web")
}

/// Records a customer message in the inbound log (as a webhook does) and returns the
/// command that processes it.
async fn customer_says(store: &MemoryStore, id: &str, text: &str) -> Command {
    use tandem_core::store::InboundLog;
    store
        .record_inbound(&message(id, text), now())
        .await
        .unwrap();
    let pending = store.pending_inbound(100).await.unwrap();
    let record = pending
        .into_iter()
        .find(|p| p.message.platform_message_id.as_str() == id)
        .expect("the message waits in the inbound log");
    Command::CustomerMessage(record)
}

/// The transcript of the visitor's open conversation, as (party, text).
async fn transcript(store: &MemoryStore) -> Vec<(Party, String)> {
    use tandem_core::store::{Conversations, Identities};
    let customer = store
        .customer_by_identity(&web(), "visitor-1")
        .await
        .unwrap()
        .expect("the visitor is a customer");
    let conv = store.conversations_of(&customer.id, 1).await.unwrap();
    let Some(conv) = conv.first() else {
        return Vec::new();
    };
    store
        .transcript(&conv.id, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            let text = match e.content {
                Content::Text { text } => text,
                other => other.describe(),
            };
            (e.from, text)
        })
        .collect()
}

#[tokio::test]
async fn a_customer_message_is_answered_once_and_processed() {
    use tandem_core::store::{InboundLog, WorkQueue};
    let store = Arc::new(MemoryStore::new());
    let core = core(&store);
    let command = customer_says(&store, "m1", "hello").await;
    assert!(matches!(
        core.execute(command.clone()).await.unwrap(),
        Executed::Done
    ));
    assert_eq!(
        transcript(&store).await,
        vec![
            (Party::Customer, "hello".to_owned()),
            (Party::Bot, "You said: hello".to_owned())
        ]
    );
    assert_eq!(
        store.outbox_depth().await.unwrap(),
        1,
        "the answer waits to be sent"
    );
    assert!(store.pending_inbound(10).await.unwrap().is_empty());
    // A redelivery of the same record changes nothing (exactly once).
    core.execute(command).await.unwrap();
    assert_eq!(transcript(&store).await.len(), 2);
    assert_eq!(store.outbox_depth().await.unwrap(), 1);
}

#[tokio::test]
async fn a_turn_that_cannot_commit_leaves_its_message_pending_and_nothing_half_done() {
    use tandem_core::store::{InboundLog, WorkQueue};
    let store = Arc::new(MemoryStore::new());
    let core = core(&store);
    let command = customer_says(&store, "m1", "hello").await;
    store.fail_commits(1);
    match core.execute(command.clone()).await {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("the store's failure is the command's: {other:?}"),
    }
    assert_eq!(
        store.pending_inbound(10).await.unwrap().len(),
        1,
        "still pending"
    );
    assert!(
        transcript(&store).await.is_empty(),
        "nothing of the turn was kept"
    );
    assert_eq!(store.outbox_depth().await.unwrap(), 0);
    core.execute(command).await.unwrap();
    assert_eq!(transcript(&store).await.len(), 2, "the retry answers it");
}

#[tokio::test]
async fn a_handoff_goes_to_the_desk_is_queued_accepted_and_released() {
    use tandem_core::store::{Conversations, Identities, InboundLog};
    let store = Arc::new(MemoryStore::new());
    let core = core(&store);
    // SeedPolicy hands off on "refund".
    core.execute(customer_says(&store, "m1", "I want a refund").await)
        .await
        .unwrap();
    let customer = store
        .customer_by_identity(&web(), "visitor-1")
        .await
        .unwrap()
        .unwrap();
    let conv_id = store.conversations_of(&customer.id, 1).await.unwrap()[0]
        .id
        .clone();
    let conv = store.conversation(&conv_id).await.unwrap().unwrap();
    let h = conv.state.handoff.clone().expect("handed off");
    assert_eq!(h.status, HandoffStatus::Requested);
    assert_eq!(conv.state.owner, Owner::Queue);

    // The desk has the thread.
    core.execute(Command::DeskDeliveryResult {
        conversation: conv_id.clone(),
        handoff_id: h.id.clone(),
    })
    .await
    .unwrap();
    let conv = store.conversation(&conv_id).await.unwrap().unwrap();
    assert_eq!(
        conv.state.handoff.as_ref().unwrap().status,
        HandoffStatus::Queued
    );

    // An agent accepts at the desk: recorded, then executed.
    core.desk_event(
        "slack",
        "evt_1",
        DeskEvent {
            handoff_id: h.id.clone(),
            kind: DeskEventKind::Accepted,
            agent: Some(tandem_sdk::handoff::Agent {
                id: "amy".into(),
                name: Some("Amy".into()),
            }),
        },
    )
    .await
    .unwrap();
    let recorded = store.pending_inbound(10).await.unwrap();
    assert_eq!(recorded.len(), 1, "the desk event waits in the inbound log");
    core.execute(Command::DeskEvent(recorded[0].clone()))
        .await
        .unwrap();
    let conv = store.conversation(&conv_id).await.unwrap().unwrap();
    assert_eq!(conv.state.owner, Owner::Agent);
    assert_eq!(
        conv.state.handoff.as_ref().unwrap().status,
        HandoffStatus::Accepted
    );

    // Nothing to release: the agent, not a person outside Tandem, has it.
    let released = core
        .execute(Command::AdminAction(AdminAction::ReleaseExternal(
            conv_id.clone(),
        )))
        .await
        .unwrap();
    assert!(matches!(released, Executed::Released(Some(false))));
}

/// Waits (up to 10 s) until `done` holds.
async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_turn_is_not_overtaken_by_the_senders_next_message() {
    use tandem_sdk::InboundHandler;
    let store = Arc::new(MemoryStore::new());
    let core = core(&store);
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn({
        let (core, stop) = (core.clone(), stop.clone());
        async move { core.run(stop).await }
    });
    // The recovery sweep's first pass (at start, over an empty log) is over by then; its
    // later passes only take records older than 10 s.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    store.fail_commits(1);
    core.accept(message("m1", "first")).await.unwrap();
    until("the first turn failed", async || {
        core.metrics()
            .render()
            .contains("processing_errors_total 1")
    })
    .await;
    assert!(transcript(&store).await.is_empty());
    // The sender writes again before the recovery sweep (10 s) would retry the first.
    core.accept(message("m2", "second")).await.unwrap();
    until("both are answered", async || {
        transcript(&store).await.len() == 4
    })
    .await;
    assert_eq!(
        transcript(&store).await,
        vec![
            (Party::Customer, "first".to_owned()),
            (Party::Bot, "You said: first".to_owned()),
            (Party::Customer, "second".to_owned()),
            (Party::Bot, "You said: second".to_owned()),
        ],
        "the failed message is answered first"
    );
    stop.cancel();
    running.await.unwrap();
}
