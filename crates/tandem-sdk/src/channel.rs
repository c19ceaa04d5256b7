//! The channel side of the boundary: factory, context, adapter, inbound sink.

use crate::{AdapterError, ConfigErrors};
use async_trait::async_trait;
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::sync::Arc;
use tandem_model::{
    Capabilities, ChannelId, ConversationId, CustomerId, Delivery, DeliveryUpdate,
    ExternalIdentity, InboundMessage, MessageId, OutboundMessage, Party, Reachability,
    TranscriptEntry,
};
use tokio_util::sync::CancellationToken;

/// One configured channel instance, ready to send. Held as `Arc<dyn ChannelAdapter>`.
#[async_trait]
pub trait ChannelAdapter: Send + Sync + 'static {
    /// What this channel can render; the core shapes replies to fit.
    fn capabilities(&self) -> &Capabilities;

    /// Delivers one message. Do not retry here: classify the failure in [`AdapterError`].
    async fn send(&self, msg: OutboundMessage) -> Result<Delivery, AdapterError>;

    /// Shows a typing indicator to `recipient`, best effort. The default does nothing.
    async fn typing(&self, _recipient: &str, _from: Party) -> Result<(), AdapterError> {
        Ok(())
    }

    /// Mimics what `send` needs (token valid, sender registered). Prefer false positives.
    async fn healthcheck(&self) -> Result<(), AdapterError> {
        Ok(())
    }

    /// Fetches the media a customer sent, by the `reference` this channel put in
    /// [`tandem_model::Content::Media`], from its platform with its own credentials,
    /// refusing more than `max_bytes` ([`crate::media::download`] does both). Tandem
    /// serves the result under a signed link (`GET /media/{token}`). The default: the
    /// channel cannot.
    async fn fetch_media(
        &self,
        reference: &str,
        max_bytes: usize,
    ) -> Result<crate::media::FetchedMedia, crate::media::MediaError> {
        let _ = (reference, max_bytes);
        Err(crate::media::MediaError::Unsupported)
    }
}

/// Builds channel instances of one kind, e.g. `whatsapp`.
pub trait ChannelFactory: Send + Sync + 'static {
    /// The kind name, as the config section (`[channels.<KIND>]`) or `type = "<KIND>"`.
    const KIND: &'static str;
    /// The instance's config table; use `#[serde(deny_unknown_fields)]`.
    type Config: DeserializeOwned + Send + Sync + 'static;

    /// Pure checks only: no I/O, no env vars, no clock. Runs in `tandem check`. Paths in
    /// the returned errors are relative to the instance's table.
    fn validate(config: &Self::Config) -> Result<(), ConfigErrors>;

    /// Builds the instance. May do I/O (API clients, webhook registration).
    fn build(
        config: Self::Config,
        cx: ChannelContext,
    ) -> impl Future<Output = Result<BuiltChannel, AdapterError>> + Send;
}

/// Everything a channel instance may use.
#[derive(Clone, Debug)]
pub struct ChannelContext {
    /// The instance id (the config table name).
    pub id: ChannelId,
    /// Tandem's public base URL, for webhook registration and links.
    pub public_base_url: url::Url,
    /// Where received messages go.
    pub inbound: InboundSink,
    /// A shared HTTP client (timeouts and user agent set).
    pub http: reqwest::Client,
    /// Cancelled when Tandem shuts down; workers must end promptly.
    pub shutdown: CancellationToken,
}

/// Starts one run of a channel's background worker.
pub type WorkerFn = Box<dyn Fn() -> BoxFuture<'static, Result<(), AdapterError>> + Send + Sync>;

/// What a factory returns.
pub struct BuiltChannel {
    /// The sending half.
    pub adapter: Arc<dyn ChannelAdapter>,
    /// Routes merged into Tandem's HTTP server (webhooks, WebSocket), with absolute paths.
    pub routes: Option<axum::Router>,
    /// A background worker (e.g. long polling), supervised by the server: each call
    /// starts one run; a run that fails is started again after a backoff, until shutdown.
    pub worker: Option<WorkerFn>,
}

impl std::fmt::Debug for BuiltChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltChannel")
            .field("routes", &self.routes.is_some())
            .field("worker", &self.worker.is_some())
            .finish_non_exhaustive()
    }
}

/// The core's side of the inbound boundary. Implemented by `tandem-core`; adapters use it
/// through [`InboundSink`]. Test kits implement it to observe adapters.
#[async_trait]
pub trait InboundHandler: Send + Sync + 'static {
    /// Records `msg` durably (deduplicated on channel + platform message id), then
    /// schedules its processing. Resolves only after the durable write.
    async fn accept(&self, msg: InboundMessage) -> Result<Accepted, InboundError>;

    /// Resolves the identity to a customer and its open conversation (opening one if
    /// needed) and returns up to `history_limit` newest transcript entries, oldest first.
    async fn resume(
        &self,
        identity: ExternalIdentity,
        history_limit: usize,
    ) -> Result<Session, InboundError>;

    /// Like [`InboundHandler::resume`] when Tandem holds a customer for `identity`;
    /// otherwise writes nothing and returns what [`InboundHandler::resume`] will create
    /// for it (the conversation's id and its greeting), so that a visitor who never
    /// writes costs no record. The default resumes (creating records).
    async fn find(
        &self,
        identity: ExternalIdentity,
        history_limit: usize,
    ) -> Result<Found, InboundError> {
        self.resume(identity, history_limit)
            .await
            .map(Found::Session)
    }

    /// Counts a message a channel refused under a rate limit (`scope`: `session`,
    /// `address`, ...). The default ignores it.
    fn rate_limited(&self, channel: &ChannelId, scope: &str) {
        let _ = (channel, scope);
    }

    /// Reads a value from the channel's durable key-value space.
    async fn kv_get(&self, channel: &ChannelId, key: &str) -> Result<Option<String>, InboundError>;

    /// Writes a value to the channel's durable key-value space.
    async fn kv_put(&self, channel: &ChannelId, key: &str, value: &str)
    -> Result<(), InboundError>;

    /// Records a platform's delivery report durably (idempotent: states only move
    /// forward). Resolves only after the durable write, like [`InboundHandler::accept`].
    /// The default ignores reports (for handlers that do not track delivery).
    async fn delivery_status(&self, update: DeliveryUpdate) -> Result<(), InboundError> {
        let _ = update;
        Ok(())
    }

    /// Records whether the customer `subject` can be reached on `channel` (a Telegram
    /// user blocked or unblocked the bot). Older reports (by `at`) never override newer
    /// ones. The default ignores reports.
    async fn reachability(
        &self,
        channel: &ChannelId,
        subject: &str,
        reachability: Reachability,
    ) -> Result<(), InboundError> {
        let _ = (channel, subject, reachability);
        Ok(())
    }

    /// Tells the other Tandem processes sharing the store about a live update of
    /// `topic` (see [`InboundSink::share`]). Resolves once recorded. The default, for a
    /// single process, does nothing.
    async fn share(&self, topic: &str, payload: &str) -> Result<(), InboundError> {
        let _ = (topic, payload);
        Ok(())
    }

    /// The live updates of `topic` that **other** processes shared, in the order they
    /// were recorded; `None` when no other process shares the store (the default).
    fn shared_updates(&self, topic: &str) -> Option<futures::stream::BoxStream<'static, String>> {
        let _ = topic;
        None
    }

    /// Takes or renews the lease `name` for this process until `ttl` from now: true when
    /// this process holds it (see [`InboundSink::try_lease`]). The default, for a single
    /// process, always holds it.
    async fn try_lease(&self, name: &str, ttl: std::time::Duration) -> Result<bool, InboundError> {
        let _ = (name, ttl);
        Ok(true)
    }

    /// Keeps a file the customer `sender` uploads on `channel` (web chat) and returns the
    /// media content their message then carries ([`tandem_model::Content::Media`], its
    /// reference under [`crate::media::STORED_MEDIA_CHANNEL`]). The default: uploads
    /// are off.
    async fn upload(
        &self,
        channel: &ChannelId,
        sender: &ExternalIdentity,
        file: crate::media::FetchedMedia,
    ) -> Result<String, InboundError> {
        let _ = (channel, sender, file);
        Err(InboundError::Rejected("uploads are off".into()))
    }

    /// Gives up the lease `name` if this process holds it.
    async fn release_lease(&self, name: &str) -> Result<(), InboundError> {
        let _ = name;
        Ok(())
    }
}

/// The result of a durable inbound write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// True when this platform message id was already recorded (a redelivery): no
    /// second effect will happen.
    pub duplicate: bool,
}

/// A resumed session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The customer.
    pub customer_id: CustomerId,
    /// The open conversation.
    pub conversation_id: ConversationId,
    /// Newest transcript entries, oldest first.
    pub history: Vec<TranscriptEntry>,
}

/// What [`InboundHandler::find`] found.
#[derive(Debug, Clone)]
pub enum Found {
    /// Tandem holds a customer for the identity: its session, as `resume` returns it.
    Session(Session),
    /// Tandem holds nothing for the identity, and nothing was written.
    New(Preview),
}

/// The records [`InboundHandler::resume`] will create for a new identity, announced
/// before they exist: the ids are fixed in advance, so what a channel shows now matches
/// what a later resume replays.
#[derive(Debug, Clone)]
pub struct Preview {
    /// The id the conversation will have.
    pub conversation_id: ConversationId,
    /// The greeting it will start with, if the bot has one.
    pub greeting: Option<Greeting>,
}

/// A greeting announced before it is stored.
#[derive(Debug, Clone)]
pub struct Greeting {
    /// The transcript entry id it will be stored under.
    pub id: MessageId,
    /// Its text.
    pub text: String,
}

/// The core could not record the message; answer the platform with 5xx so it redelivers.
#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    /// The store is unavailable or failed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The message was refused (invalid) and will never be accepted.
    #[error("rejected: {0}")]
    Rejected(String),
}

/// A cheap handle adapters use to reach the core.
#[derive(Clone)]
pub struct InboundSink {
    channel: ChannelId,
    handler: Arc<dyn InboundHandler>,
}

impl std::fmt::Debug for InboundSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundSink")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl InboundSink {
    /// A sink for `channel` backed by `handler`.
    pub fn new(channel: ChannelId, handler: Arc<dyn InboundHandler>) -> Self {
        Self { channel, handler }
    }

    /// The channel instance this sink belongs to.
    pub fn channel(&self) -> &ChannelId {
        &self.channel
    }

    /// Resolves once the core has durably recorded `msg`; only then acknowledge the platform.
    pub async fn accept(&self, msg: InboundMessage) -> Result<Accepted, InboundError> {
        self.handler.accept(msg).await
    }

    /// See [`InboundHandler::resume`].
    pub async fn resume(
        &self,
        identity: ExternalIdentity,
        history_limit: usize,
    ) -> Result<Session, InboundError> {
        self.handler.resume(identity, history_limit).await
    }

    /// See [`InboundHandler::find`].
    pub async fn find(
        &self,
        identity: ExternalIdentity,
        history_limit: usize,
    ) -> Result<Found, InboundError> {
        self.handler.find(identity, history_limit).await
    }

    /// Counts a message refused under a rate limit of `scope` (for `/metrics`).
    pub fn rate_limited(&self, scope: &str) {
        self.handler.rate_limited(&self.channel, scope);
    }

    /// Reads from this channel's durable key-value space.
    pub async fn kv_get(&self, key: &str) -> Result<Option<String>, InboundError> {
        self.handler.kv_get(&self.channel, key).await
    }

    /// Writes to this channel's durable key-value space.
    pub async fn kv_put(&self, key: &str, value: &str) -> Result<(), InboundError> {
        self.handler.kv_put(&self.channel, key, value).await
    }

    /// Records a delivery report; answer the platform with 2xx only after `Ok`.
    pub async fn delivery_status(&self, update: DeliveryUpdate) -> Result<(), InboundError> {
        self.handler.delivery_status(update).await
    }

    /// Tells the other Tandem processes sharing the store about a live update of this
    /// channel (e.g. a frame for a web chat visitor whose socket another process may
    /// hold): they receive `payload` from [`Self::shared_updates`]. This process does
    /// not receive its own updates; it serves its own connections directly. At most
    /// 64 KiB; kept in the store for a few minutes.
    pub async fn share(&self, payload: &str) -> Result<(), InboundError> {
        self.handler
            .share(&format!("channel:{}", self.channel), payload)
            .await
    }

    /// Takes or renews this channel's lease `name` for this process until `ttl` from
    /// now; true when this process holds it. Among the Tandem processes sharing a store
    /// one holds it at a time; another gets it once the holder released it or did not
    /// renew it within `ttl` (it died). For work only one process may do, such as
    /// polling a platform that allows one poller: renew well within `ttl`, and stop the
    /// work as soon as a renewal answers false.
    pub async fn try_lease(
        &self,
        name: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, InboundError> {
        self.handler
            .try_lease(&format!("channel:{}:{name}", self.channel), ttl)
            .await
    }

    /// Keeps a file `sender` uploads (see [`InboundHandler::upload`]); returns the
    /// reference for [`tandem_model::Content::Media`].
    pub async fn upload(
        &self,
        sender: &ExternalIdentity,
        file: crate::media::FetchedMedia,
    ) -> Result<String, InboundError> {
        self.handler.upload(&self.channel, sender, file).await
    }

    /// Gives up this channel's lease `name` (at shutdown: another process takes over at
    /// once).
    pub async fn release_lease(&self, name: &str) -> Result<(), InboundError> {
        self.handler
            .release_lease(&format!("channel:{}:{name}", self.channel))
            .await
    }

    /// The updates other processes [`Self::share`]d for this channel, or `None` when
    /// no other process can share the store (embedded store).
    pub fn shared_updates(&self) -> Option<futures::stream::BoxStream<'static, String>> {
        self.handler
            .shared_updates(&format!("channel:{}", self.channel))
    }

    /// Records whether `subject` can be reached on this channel.
    pub async fn reachability(
        &self,
        subject: &str,
        reachability: Reachability,
    ) -> Result<(), InboundError> {
        self.handler
            .reachability(&self.channel, subject, reachability)
            .await
    }
}
