//! The adapter author's side of the kit: a [`ChannelDriver`] says how to impersonate the
//! platform (build correctly signed and forged webhook requests, script the platform
//! fake's answers); the [`Harness`] builds the channel exactly as the server does, with a
//! [`RecordingInbound`] in place of the core, and drives its routes without a network.

use crate::fake::{Recorded, Reply};
use crate::recording::RecordingInbound;
use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use std::future::Future;
use tandem_model::{
    ChannelId, ConversationId, MessageId, OutboundContent, OutboundMessage, OutboxId, Party,
};
use tandem_sdk::{BuiltChannel, ChannelContext, ChannelFactory};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// The config type of a driver's factory.
pub type ConfigOf<D> = <<D as ChannelDriver>::Factory as ChannelFactory>::Config;

/// How to impersonate one platform. Implemented once per adapter, in its
/// `tests/conformance.rs`; `channel_conformance!(Driver)` then runs every scenario.
pub trait ChannelDriver: Default + Send + Sync + 'static {
    /// The adapter's factory.
    type Factory: ChannelFactory;
    /// The platform fake (a local HTTP server) the adapter sends to.
    type Platform: Send + Sync + 'static;

    /// The example config shipped in `config/examples/<kind>.toml`, e.g.
    /// `include_str!("../../../../config/examples/whatsapp.toml")`.
    const EXAMPLE: &'static str;
    /// Whether a successful send returns the platform's id of the message.
    const RETURNS_PLATFORM_ID: bool = true;

    /// Starts the platform fake.
    fn start_platform(&self) -> impl Future<Output = Self::Platform> + Send;
    /// A config pointing the adapter at `platform` (webhook mode where there is a choice).
    fn config(&self, platform: &Self::Platform) -> ConfigOf<Self>;
    /// A config whose build returns a background worker (e.g. long polling), if the
    /// kind has one worth checking for a prompt shutdown.
    fn worker_config(&self, platform: &Self::Platform) -> Option<ConfigOf<Self>> {
        let _ = platform;
        None
    }
    /// A sender id valid on this platform (also used as the recipient of sends).
    fn sender(&self) -> String;
    /// A correctly authenticated platform request delivering text `text` from `from`
    /// with platform message id derived from `id` (digits only).
    fn inbound_text(&self, from: &str, text: &str, id: &str) -> Request<Body>;
    /// The same request with a wrong signature (or secret token).
    fn inbound_forged(&self, from: &str, text: &str, id: &str) -> Request<Body>;
    /// A correctly authenticated request with content the adapter does not understand
    /// (it must be recorded as `Content::Unsupported`), if the platform can send one.
    fn inbound_unsupported(&self, from: &str, id: &str) -> Option<Request<Body>>;
    /// A correctly authenticated request carrying `body` unchanged (fixtures).
    fn inbound_raw(&self, body: Vec<u8>) -> Request<Body>;
    /// Scripts how the platform answers the next send.
    fn script(&self, platform: &Self::Platform, reply: Reply);
    /// The send requests the platform received so far.
    fn sends(&self, platform: &Self::Platform) -> Vec<Recorded>;
}

/// A channel built by its factory against a recording inbound handler.
pub struct Harness<D: ChannelDriver> {
    /// The driver.
    pub driver: D,
    /// The running platform fake.
    pub platform: D::Platform,
    /// What the adapter handed to the "core".
    pub inbound: RecordingInbound,
    /// The built channel.
    pub built: BuiltChannel,
    /// The channel's shutdown token.
    pub shutdown: CancellationToken,
    /// The instance id (the kind).
    pub channel: ChannelId,
}

impl<D: ChannelDriver> Harness<D> {
    /// Starts the platform fake and builds the channel with a fresh recording handler.
    pub async fn start() -> Self {
        Self::start_with(RecordingInbound::new(), false).await
    }

    /// Builds the channel with `inbound`; with `worker`, from the driver's
    /// [`ChannelDriver::worker_config`] when it has one.
    pub async fn start_with(inbound: RecordingInbound, worker: bool) -> Self {
        let driver = D::default();
        let platform = driver.start_platform().await;
        let config = if worker {
            driver
                .worker_config(&platform)
                .unwrap_or_else(|| driver.config(&platform))
        } else {
            driver.config(&platform)
        };
        let channel = ChannelId::new(D::Factory::KIND);
        let shutdown = CancellationToken::new();
        let cx = ChannelContext {
            id: channel.clone(),
            public_base_url: url::Url::parse("http://127.0.0.1:9/").expect("static URL"),
            inbound: inbound.sink(channel.clone()),
            http: reqwest::Client::new(),
            shutdown: shutdown.clone(),
        };
        if let Err(errors) = D::Factory::validate(&config) {
            panic!("the driver's config must validate: {errors}");
        }
        let built = match D::Factory::build(config, cx).await {
            Ok(b) => b,
            Err(e) => panic!("building the channel failed: {e}"),
        };
        Self {
            driver,
            platform,
            inbound,
            built,
            shutdown,
            channel,
        }
    }

    /// Sends `request` through the channel's routes; returns the status and body.
    pub async fn call(&self, request: Request<Body>) -> (StatusCode, Bytes) {
        let routes = self
            .built
            .routes
            .clone()
            .expect("a webhook channel contributes routes");
        call_routes(routes, request).await
    }

    /// An outbound message to the driver's sender.
    pub fn message(&self, content: OutboundContent) -> OutboundMessage {
        OutboundMessage {
            outbox_id: OutboxId::generate(),
            channel: self.channel.clone(),
            recipient: self.driver.sender(),
            conversation_id: ConversationId::generate(),
            from: Party::Bot,
            content,
            message_id: MessageId::generate(),
            created_at: tandem_model::now(),
        }
    }

    /// The sends the platform received so far.
    pub fn sends(&self) -> Vec<Recorded> {
        self.driver.sends(&self.platform)
    }
}

/// Sends `request` through `routes` without a network; returns the status and body.
pub(crate) async fn call_routes(
    routes: axum::Router,
    request: Request<Body>,
) -> (StatusCode, Bytes) {
    let response = routes.oneshot(request).await.unwrap_or_else(|e| match e {});
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1024 * 1024)
        .await
        .unwrap_or_default();
    (status, body)
}

/// The tables of an example config (`[<section>.<id>]`) that configure `kind` (their id,
/// or their `type`), with `type` and the server's own `also_strip` keys removed: what the
/// adapter's config struct gets. Panics naming the problem when the example is unusable.
pub(crate) fn example_tables(
    example: &str,
    section: &str,
    kind: &str,
    also_strip: &[&str],
) -> Vec<(String, toml::Value)> {
    let text = expand_placeholders(example);
    let root: toml::Table = toml::from_str(&text)
        .unwrap_or_else(|e| panic!("the `{kind}` example config is not valid TOML: {e}"));
    let tables = root
        .get(section)
        .and_then(toml::Value::as_table)
        .unwrap_or_else(|| panic!("the `{kind}` example config has no [{section}] table"));
    let mut found = Vec::new();
    for (id, table) in tables {
        let Some(table) = table.as_table() else {
            continue;
        };
        let declared = table
            .get("type")
            .and_then(toml::Value::as_str)
            .unwrap_or(id);
        if declared != kind {
            continue;
        }
        let mut table = table.clone();
        table.remove("type");
        for key in also_strip {
            table.remove(*key);
        }
        found.push((id.clone(), toml::Value::Table(table)));
    }
    assert!(
        !found.is_empty(),
        "the example config configures no `{kind}` in [{section}]"
    );
    found
}

/// Expands `${VAR}` to `example-VAR` (a placeholder that satisfies format checks of
/// tokens and secrets), like `tandem check` with every variable set.
pub fn expand_placeholders(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("${") {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos + 2..];
        match tail.find('}') {
            Some(end) => {
                out.push_str("example-");
                out.push_str(&tail[..end]);
                rest = &tail[end + 1..];
            }
            None => {
                out.push_str(&rest[pos..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}
