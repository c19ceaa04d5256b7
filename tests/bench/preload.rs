//! Fills a store with history before a run: `customers` WhatsApp customers (the first
//! ones are the run's senders, so they have past conversations), `messages` transcript
//! entries in all, written through the store's own API (the same rows a real turn
//! writes: inbound record, customer, conversation, transcript, decision; no outbox rows,
//! so nothing is sent at start-up).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use tandem_core::store::{ConversationRecord, EscalationEvent, Store, Turn};
use tandem_model::{
    ChannelId, Content, EscalationId, ExternalIdentity, InboundMessage, MessageId, Party,
    PlatformMessageId, Timestamp, TranscriptEntry,
};

/// The phone number (wa_id) of customer `k`.
pub(crate) fn phone(k: usize) -> String {
    format!("49151{k:08}")
}

const ROUTINE: [(&str, &str); 3] = [
    (
        "where is my order?",
        "You can follow your order from the link in your confirmation email.",
    ),
    (
        "how long does shipping take?",
        "Standard shipping takes 2 to 4 working days.",
    ),
    (
        "what are your opening hours?",
        "We are open Monday to Friday, 9:00 to 18:00.",
    ),
];

/// Writes the history; prints progress to stderr.
pub(crate) async fn preload(
    store: Arc<dyn Store>,
    customers: usize,
    messages: usize,
) -> anyhow::Result<()> {
    if messages == 0 || customers == 0 {
        return Ok(());
    }
    // Two entries (question, answer) per exchange, two exchanges per conversation.
    let exchanges_per_customer = (messages / 2).div_ceil(customers).max(1);
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..32 {
        let (store, next, done) = (store.clone(), next.clone(), done.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= customers {
                    return Ok::<(), anyhow::Error>(());
                }
                one_customer(&*store, k, exchanges_per_customer).await?;
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if n % 10_000 == 0 {
                    eprintln!(
                        "tandem-bench: preloaded {n} customers in {:.0} s",
                        started.elapsed().as_secs_f64()
                    );
                }
            }
        }));
    }
    for w in workers {
        w.await??;
    }
    store.flush().await?;
    eprintln!(
        "tandem-bench: preloaded {customers} customers, {} messages in {:.0} s",
        customers * exchanges_per_customer * 2,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn one_customer(store: &dyn Store, k: usize, exchanges: usize) -> anyhow::Result<()> {
    let channel = ChannelId::new("whatsapp");
    // Spread the history over the last 30 days, oldest first.
    let base = Timestamp::now_utc() - time::Duration::days(30);
    let identity = ExternalIdentity {
        channel: channel.clone(),
        subject: phone(k),
        display_name: Some(format!("Customer {k}")),
        verified_phone: None,
        verified_email: None,
        verified: false,
        claimed_email: None,
        claimed_phone: None,
    };
    let customer = store.resolve_customer(&identity, base).await?;
    let mut conversation: Option<ConversationRecord> = None;
    for x in 0..exchanges {
        let at = base + time::Duration::minutes((x * 97 + k % 60) as i64);
        let mut conv = match conversation.take() {
            Some(c) => c,
            None => store.open_conversation(&customer.id, &channel, at).await?,
        };
        let (question, answer) = ROUTINE[(k + x) % ROUTINE.len()];
        let inbound = InboundMessage {
            channel: channel.clone(),
            platform_message_id: PlatformMessageId::new(format!("wamid.preload.{k}.{x}")),
            sender: identity.clone(),
            sent_at: at,
            content: Content::Text {
                text: question.to_owned(),
            },
        };
        let record = store.record_inbound(&inbound, at).await?;
        let entry =
            |seq: u64, from: Party, text: &str, pmid: Option<PlatformMessageId>| TranscriptEntry {
                id: MessageId::generate(),
                conversation_id: conv.id.clone(),
                customer_id: customer.id.clone(),
                seq,
                from,
                channel: channel.clone(),
                at,
                content: Content::Text {
                    text: text.to_owned(),
                },
                buttons: Vec::new(),
                platform_message_id: pmid,
            };
        let seq = conv.next_seq;
        let entries = vec![
            entry(
                seq,
                Party::Customer,
                question,
                Some(inbound.platform_message_id.clone()),
            ),
            entry(seq + 1, Party::Bot, answer, None),
        ];
        let decision = EscalationEvent {
            id: EscalationId::generate(),
            conversation_id: conv.id.clone(),
            customer_id: customer.id.clone(),
            at,
            message_seq: seq,
            escalate: false,
            reasons: Vec::new(),
            category: None,
            priority: None,
            target: None,
            policy_version: "preload".to_owned(),
        };
        let mut next = conv.clone();
        next.next_seq = seq + 2;
        next.updated_at = at;
        store
            .commit_turn(Turn {
                inbound_seq: Some(record.seq),
                conversation: next.clone(),
                entries,
                escalations: vec![decision],
                outbox: Vec::new(),
                timers: Vec::new(),
                ai_audit: Vec::new(),
            })
            .await?;
        next.version += 1;
        conv = next;
        // Two exchanges per conversation; every conversation ends closed.
        if x % 2 == 1 || x + 1 == exchanges {
            store.close_conversation(&conv.id, at).await?;
        } else {
            conversation = Some(conv);
        }
    }
    Ok(())
}
