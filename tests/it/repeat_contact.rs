//! `repeat_contact` in the running gateway: a customer whose earlier conversations (stored
//! before the gateway starts, through the store's own API) were about the same intent is
//! handed off when they ask again. The earlier conversations are read once, when the new
//! conversation's first message is evaluated, and that reading serves its later messages.

use std::time::Duration;
use tandem_core::store::{Conversations, Identities, Store, Turn};
use tandem_e2e::{Tandem, eventually};
use tandem_model::{ChannelId, ExternalIdentity, now};
use tandem_testkit::fake::WhatsAppFake;
use tandem_testkit::payloads::whatsapp_text;

const SECRET: &str = "wa-app-secret";
const TOKEN: &str = "wa-access-token";
const NUMBER: &str = "109876543210987";
const CUSTOMER: &str = "4915112345678";

/// Two closed conversations of [`CUSTOMER`] on WhatsApp whose last intent was `intent`,
/// opened one and two days ago.
async fn earlier_conversations(dir: &std::path::Path, intent: &str) {
    let store = tandem_store_sqlite::SqliteStore::open(dir.join("tandem.db")).unwrap();
    let channel = ChannelId::new("whatsapp");
    let identity = ExternalIdentity {
        channel: channel.clone(),
        subject: CUSTOMER.into(),
        display_name: Some("Lena Müller".into()),
        verified_phone: None,
        verified_email: None,
        verified: false,
        claimed_email: None,
        claimed_phone: None,
    };
    for days in [2, 1] {
        let at = now() - time::Duration::days(days);
        let customer = store.resolve_customer(&identity, at).await.unwrap();
        let conv = store
            .open_conversation(&customer.id, &channel, at)
            .await
            .unwrap();
        let mut next = conv.clone();
        next.state.last_intent = Some(intent.to_owned());
        store
            .commit_turn(Turn {
                inbound_seq: None,
                conversation: next,
                entries: Vec::new(),
                escalations: Vec::new(),
                outbox: Vec::new(),
                timers: Vec::new(),
                ai_audit: Vec::new(),
            })
            .await
            .unwrap();
        assert!(store.close_conversation(&conv.id, at).await.unwrap());
    }
    store.flush().await.unwrap();
}

#[tokio::test]
async fn a_third_conversation_about_the_same_thing_in_a_week_goes_to_a_person() {
    let dir = tempfile::tempdir().unwrap();
    earlier_conversations(dir.path(), "order_status").await;
    let fake = WhatsAppFake::start(TOKEN, NUMBER, "v21.0").await;
    let config = format!(
        r#"
[channels.whatsapp]
app_secret = "{SECRET}"
verify_token = "wa-verify"
access_token = "{TOKEN}"
phone_number_id = "{NUMBER}"
api_base = "{}"
api_version = "v21.0"
"#,
        fake.base_url()
    );
    let tandem = Tandem::start(dir.path(), &config).await;
    let say = |wamid: &'static str, text: &'static str| {
        let body = whatsapp_text(
            NUMBER,
            CUSTOMER,
            "Lena Müller",
            text,
            wamid,
            tandem_e2e::unix_now(),
        );
        let tandem = &tandem;
        async move { tandem.post_meta("/webhooks/whatsapp", SECRET, &body).await }
    };
    let series = "tandem_escalations_total{reason=\"repeat_contact\"}";

    // Something else first: answered by the bot, no handoff (the history is read here).
    assert_eq!(say("wamid.rc.1", "what are your opening hours?").await, 200);
    eventually(10, "the bot's answer", || async {
        (fake.sends().len() == 1).then_some(())
    })
    .await;
    assert_eq!(tandem.metric(series).await, 0.0);

    // The same thing as the two earlier conversations: the third contact in a week.
    assert_eq!(say("wamid.rc.2", "where is my order?").await, 200);
    eventually(10, "the repeat contact escalation", || async {
        (tandem.metric(series).await == 1.0).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let last = fake.sends().last().cloned().unwrap();
    assert!(
        String::from_utf8_lossy(&last.body).contains("person"),
        "the customer is told a person follows up: {}",
        String::from_utf8_lossy(&last.body)
    );
}
