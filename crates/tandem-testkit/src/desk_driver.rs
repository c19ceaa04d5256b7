//! The desk author's side of the kit: a [`DeskDriver`] says how to impersonate the desk
//! platform (start its fake, build correctly signed and forged agent events, script the
//! fake's answers); the [`DeskHarness`] builds the desk exactly as the server does, with
//! a [`RecordingDesk`] in place of the core, and drives its routes without a network.

use crate::desk_recording::RecordingDesk;
use crate::fake::{Recorded, Reply};
use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use std::future::Future;
use tandem_sdk::{BuiltDesk, DeskContext, DeskDelivery, DeskFactory, DeskReceipt};
use tokio_util::sync::CancellationToken;

/// The config type of a desk driver's factory.
pub type DeskConfigOf<D> = <<D as DeskDriver>::Factory as DeskFactory>::Config;

/// An agent action on the desk platform, which the driver turns into the platform's own
/// callback (a signed webhook, an interaction payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentAction {
    /// The agent takes the handoff (`DeskEventKind::Accepted`).
    Accept,
    /// The agent writes to the customer (`DeskEventKind::AgentMessage`).
    Reply(String),
    /// The agent resolves it: back to the bot, then the survey (`Resolved`).
    Resolve,
    /// The agent gives it back to the bot without resolving (`Released`).
    Release,
    /// The agent hands it to another agent, by the desk's id for them (`Transferred`).
    TransferToAgent(String),
    /// The agent sends it back to a queue (`Transferred`).
    TransferToQueue(String),
}

/// Where an agent action happens: the handoff and the desk's reference of its thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    /// Tandem's handoff id.
    pub handoff_id: String,
    /// The desk's thread reference from the `Open` receipt (the handoff id when the desk
    /// returned none).
    pub reference: String,
}

/// How to impersonate one desk platform. Implemented once per desk, in its
/// `tests/conformance.rs`; `desk_conformance!(Driver)` then runs every scenario of
/// `crates/tandem-sdk/DESK-SPEC.md`.
pub trait DeskDriver: Default + Send + Sync + 'static {
    /// The desk's factory.
    type Factory: DeskFactory;
    /// The platform fake (a local HTTP server) the desk delivers to. Dropping it must stop
    /// the server (the kit checks that an unreachable platform is a transient error).
    type Platform: Send + Sync + 'static;

    /// The example config shipped with the desk (a TOML file with a `[desks.<id>]` table
    /// of this kind), e.g. `include_str!("../../../../config/examples/desk-webhook.toml")`.
    const EXAMPLE: &'static str;

    /// Starts the platform fake.
    fn start_platform(&self) -> impl Future<Output = Self::Platform> + Send;
    /// A config pointing the desk at `platform`.
    fn config(&self, platform: &Self::Platform) -> DeskConfigOf<Self>;
    /// The secrets in [`Self::config`] (tokens, signing keys): they must never be logged.
    fn secrets(&self) -> Vec<String>;
    /// A correctly authenticated platform callback in which agent `agent` (the desk's id
    /// for them; the kit uses short digit strings) performs `action` in `thread`.
    /// `event` numbers platform events: the same arguments must give the same request
    /// (a redelivery), another `event` a new platform event. `None` when the platform has
    /// no such action.
    fn agent_event(
        &self,
        thread: &Thread,
        agent: &str,
        action: &AgentAction,
        event: u64,
    ) -> Option<Request<Body>>;
    /// The callback of [`Self::agent_event`] for a `Reply`, with a wrong signature (or
    /// token).
    fn forged_event(&self, thread: &Thread, agent: &str, text: &str, event: u64) -> Request<Body>;
    /// Scripts how the platform answers the desk's next request.
    fn script(&self, platform: &Self::Platform, reply: Reply);
    /// Every request the platform received so far.
    fn requests(&self, platform: &Self::Platform) -> Vec<Recorded>;
    /// How many threads (tickets, conversations, root posts) the platform holds: one per
    /// handoff however often `Open` is retried. Platforms that deduplicate on Tandem's
    /// delivery id count distinct delivery ids.
    fn threads(&self, platform: &Self::Platform) -> usize;
}

/// A desk built by its factory against a recording core.
pub struct DeskHarness<D: DeskDriver> {
    /// The driver.
    pub driver: D,
    /// The running platform fake.
    pub platform: D::Platform,
    /// What the desk handed to the "core".
    pub core: RecordingDesk,
    /// The built desk.
    pub built: BuiltDesk,
    /// The desk's shutdown token.
    pub shutdown: CancellationToken,
}

impl<D: DeskDriver> DeskHarness<D> {
    /// Starts the platform fake and builds the desk with a fresh recording core.
    pub async fn start() -> Self {
        Self::start_with(RecordingDesk::new()).await
    }

    /// Builds the desk with `core` (e.g. [`RecordingDesk::owning`]).
    pub async fn start_with(core: RecordingDesk) -> Self {
        let driver = D::default();
        let platform = driver.start_platform().await;
        let config = driver.config(&platform);
        let (built, shutdown) = build::<D>(config, &core).await;
        Self {
            driver,
            platform,
            core,
            built,
            shutdown,
        }
    }

    /// Delivers `delivery`.
    pub async fn deliver(
        &self,
        delivery: DeskDelivery,
    ) -> Result<DeskReceipt, tandem_sdk::AdapterError> {
        self.built.desk.deliver(delivery).await
    }

    /// Opens handoff `id` with the kit's usual briefing; returns its thread.
    pub async fn open(&self, id: &str) -> Thread {
        let receipt = self
            .deliver(crate::desk_ops::open(crate::desk_ops::briefing(id)))
            .await
            .unwrap_or_else(|e| panic!("opening handoff {id} on a working platform failed: {e}"));
        Thread {
            handoff_id: id.to_owned(),
            reference: receipt.thread.unwrap_or_else(|| id.to_owned()),
        }
    }

    /// The platform callback for `action`; panics when the driver has none.
    pub fn event(
        &self,
        thread: &Thread,
        agent: &str,
        action: &AgentAction,
        event: u64,
    ) -> Request<Body> {
        self.driver
            .agent_event(thread, agent, action, event)
            .unwrap_or_else(|| panic!("the driver has no callback for {action:?}"))
    }

    /// Sends `request` through the desk's routes; returns the status and body.
    pub async fn call(&self, request: Request<Body>) -> (StatusCode, Bytes) {
        let routes = self
            .built
            .routes
            .clone()
            .expect("a desk taking agent actions contributes routes");
        crate::driver::call_routes(routes, request).await
    }

    /// Every request the platform received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.driver.requests(&self.platform)
    }
}

/// Builds a desk of `D`'s kind from `config` against `core`, as the server does.
pub(crate) async fn build<D: DeskDriver>(
    config: DeskConfigOf<D>,
    core: &RecordingDesk,
) -> (BuiltDesk, CancellationToken) {
    let kind = D::Factory::KIND;
    if let Err(errors) = D::Factory::validate(&config) {
        panic!("the driver's config must validate: {errors}");
    }
    let shutdown = CancellationToken::new();
    let cx = DeskContext {
        id: kind.to_owned(),
        public_base_url: url::Url::parse("http://127.0.0.1:9/").expect("static URL"),
        events: core.sink(kind),
        http: reqwest::Client::new(),
        shutdown: shutdown.clone(),
    };
    match D::Factory::build(config, cx).await {
        Ok(built) => (built, shutdown),
        Err(e) => panic!("building the desk failed: {e}"),
    }
}
