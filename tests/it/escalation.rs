//! The seed escalation rule end to end, visible in `/metrics`.

use crate::WEBCHAT_ONLY;
use tandem_e2e::{Tandem, WsClient, eventually};

#[tokio::test]
async fn refund_keyword_escalates() {
    let dir = tempfile::tempdir().unwrap();
    let tandem = Tandem::start(dir.path(), WEBCHAT_ONLY).await;
    let (mut c, _) = WsClient::hello(&tandem.addr, None).await;
    c.say("r1", "I want a refund").await;
    let notice = c.recv_reply().await;
    assert_eq!(notice["from"], "system");
    assert!(
        notice["text"].as_str().unwrap().contains("person"),
        "customer told a person will follow up"
    );
    let series = "tandem_escalations_total{reason=\"keyword:refund\"}";
    eventually(5, "refund escalation in metrics", || async {
        (tandem.metric(series).await == 1.0).then_some(())
    })
    .await;

    // The bot keeps answering routine questions; the notice is not repeated.
    c.say("r2", "what are your opening hours?").await;
    assert_eq!(c.recv_reply().await["from"], "bot");
}

#[tokio::test]
async fn second_negative_message_is_a_sentiment_streak() {
    let dir = tempfile::tempdir().unwrap();
    let tandem = Tandem::start(dir.path(), WEBCHAT_ONLY).await;
    let (mut c, _) = WsClient::hello(&tandem.addr, None).await;
    c.say("n1", "this is useless").await;
    let first = c.recv_reply().await;
    assert_ne!(
        first["from"], "system",
        "one negative message is not a streak"
    );
    assert_eq!(
        tandem
            .metric("tandem_escalations_total{reason=\"sentiment_streak\"}")
            .await,
        0.0
    );
    c.say("n2", "this is terrible, awful service").await;
    let second = c.recv_reply().await;
    assert_eq!(second["from"], "system");
    assert_eq!(
        tandem
            .metric("tandem_escalations_total{reason=\"sentiment_streak\"}")
            .await,
        1.0
    );

    // Counts survive a restart (restored from the store).
    drop(c);
    assert!(tandem.terminate().await.success());
    let tandem = Tandem::start(dir.path(), WEBCHAT_ONLY).await;
    assert_eq!(
        tandem
            .metric("tandem_escalations_total{reason=\"sentiment_streak\"}")
            .await,
        1.0
    );
}
