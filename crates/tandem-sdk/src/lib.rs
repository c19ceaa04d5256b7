//! The adapter boundary of Tandem: the only crate a third-party channel or desk author
//! depends on (with `tandem-model`).
//!
//! A channel kind is a [`ChannelFactory`]; it builds one [`BuiltChannel`] per configured
//! instance: an [`ChannelAdapter`] that sends, optional axum routes that receive, and an
//! optional background worker. Received messages go to the core through the
//! [`InboundSink`] of the [`ChannelContext`]; the adapter answers the platform with 2xx only
//! after [`InboundSink::accept`] returned `Ok`.
//!
//! Adapters translate and nothing else: they do not retry (they classify failures in
//! [`AdapterError`]), store state (beyond the small [`InboundSink::kv_get`] key-value space),
//! resolve identities across channels, or decide escalations. The rules are in `SPEC.md`.
//!
//! The third plug-in boundary is the [`Bot`] (module [`bot`]): what answers customers
//! while no person does.

pub mod bot;
mod channel;
mod config;
mod desk;
mod error;
pub mod handoff;
pub mod http;
pub mod lenient;
pub mod limit;
pub mod media;
pub mod meta;
mod secret;
pub mod signature;
pub mod telemetry;

pub use bot::{AiCall, Bot, BotAnswer, BotQuestion};
pub use channel::{
    Accepted, BuiltChannel, ChannelAdapter, ChannelContext, ChannelFactory, Found, Greeting,
    InboundError, InboundHandler, InboundSink, Preview, Session, WorkerFn,
};
pub use config::{ConfigError, ConfigErrors};
pub use desk::{
    AgentAccount, AgentDesk, BuiltDesk, DeskAnswer, DeskCapabilities, DeskContext, DeskDelivery,
    DeskEvent, DeskEventHandler, DeskEventKind, DeskEventSink, DeskFactory, DeskOp, DeskReceipt,
    DeskRefusal, DraftAnswer, DraftDecision, DraftUpdate, DraftView, ReplyDelivery, SignIn,
    TransferTarget, parse_transfer_command,
};
pub use error::{AdapterError, ErrorKind};
pub use secret::Secret;

pub use async_trait::async_trait;
pub use tandem_model as model;
