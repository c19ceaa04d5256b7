use super::*;
use axum::body::Body;
use axum::http::Request;
use tandem_sdk::model::{ChannelId, ConversationId, MessageId, OutboundContent, OutboxId, Party};
use tandem_sdk::{Accepted, InboundHandler, Session};
use tower::ServiceExt;

/// Records accepted messages, like the core would after its durable write.
#[derive(Default)]
struct Recorder(Mutex<Vec<InboundMessage>>);

#[async_trait]
impl InboundHandler for Recorder {
    async fn accept(&self, msg: InboundMessage) -> Result<Accepted, InboundError> {
        let mut seen = self.0.lock().unwrap();
        let duplicate = seen
            .iter()
            .any(|m| m.platform_message_id == msg.platform_message_id);
        if !duplicate {
            seen.push(msg);
        }
        Ok(Accepted { duplicate })
    }
    async fn resume(&self, _: ExternalIdentity, _: usize) -> Result<Session, InboundError> {
        Err(InboundError::Rejected("not used".into()))
    }
    async fn kv_get(&self, _: &ChannelId, _: &str) -> Result<Option<String>, InboundError> {
        Ok(None)
    }
    async fn kv_put(&self, _: &ChannelId, _: &str, _: &str) -> Result<(), InboundError> {
        Ok(())
    }
}

async fn built(recorder: Arc<Recorder>) -> BuiltChannel {
    let id = ChannelId::new("echo");
    let cx = ChannelContext {
        id: id.clone(),
        public_base_url: url::Url::parse("http://127.0.0.1:8080").unwrap(),
        inbound: InboundSink::new(id, recorder),
        http: reqwest::Client::new(),
        shutdown: tokio_util::sync::CancellationToken::new(),
    };
    Echo::build(
        EchoConfig {
            token: Secret::new("s3cret-token"),
        },
        cx,
    )
    .await
    .unwrap()
}

fn post(token: &str, body: &str) -> Request<Body> {
    Request::post("/webhooks/echo")
        .header("x-echo-token", token)
        .body(Body::from(body.to_owned()))
        .unwrap()
}

#[tokio::test]
async fn inbound_is_accepted_once_and_forged_is_refused() {
    let recorder = Arc::new(Recorder::default());
    let routes = built(recorder.clone()).await.routes.unwrap();
    let body = r#"{"id":"m1","from":"ada","text":"hi"}"#;
    assert_eq!(
        routes
            .clone()
            .oneshot(post("s3cret-token", body))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        routes
            .clone()
            .oneshot(post("s3cret-token", body))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        routes
            .clone()
            .oneshot(post("wrong", body))
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        routes
            .oneshot(post("s3cret-token", "{"))
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(recorder.0.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn send_keeps_replies_and_refuses_buttons() {
    let built = built(Arc::new(Recorder::default())).await;
    let msg = |content: OutboundContent| OutboundMessage {
        outbox_id: OutboxId::generate(),
        channel: ChannelId::new("echo"),
        recipient: "ada".into(),
        conversation_id: ConversationId::generate(),
        from: Party::Bot,
        content,
        message_id: MessageId::generate(),
        created_at: tandem_sdk::model::now(),
    };
    built
        .adapter
        .send(msg(OutboundContent::text("hello")))
        .await
        .unwrap();
    let with_buttons = OutboundContent::with_buttons(
        "pick",
        vec![tandem_sdk::model::Button {
            title: "A".into(),
            payload: "a".into(),
        }],
    );
    let err = built.adapter.send(msg(with_buttons)).await.unwrap_err();
    assert_eq!(err.kind(), tandem_sdk::ErrorKind::Unsupported);
    let resp = built
        .routes
        .unwrap()
        .oneshot(
            Request::get("/webhooks/echo/ada")
                .header("x-echo-token", "s3cret-token")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16)
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Vec<String>>(&bytes).unwrap(),
        vec!["hello".to_owned()]
    );
}

#[test]
fn validate_is_pure_and_reports_the_path() {
    let errors = Echo::validate(&EchoConfig {
        token: Secret::new("short"),
    })
    .unwrap_err();
    assert_eq!(errors.0[0].path, "token");
}
