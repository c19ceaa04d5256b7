//! Tandem's adapter conformance kit and local platform fakes.
//!
//! - [`channel_conformance!`] runs every rule of `crates/tandem-sdk/SPEC.md` against a
//!   channel adapter, given a [`ChannelDriver`] that says how to impersonate the
//!   platform ([`conformance`] holds the scenarios).
//! - [`desk_conformance!`] runs every rule of `crates/tandem-sdk/DESK-SPEC.md` against a
//!   desk adapter, given a [`DeskDriver`] that says how to impersonate the desk platform
//!   ([`desk_conformance`] holds the scenarios; [`desk_ops`] builds deliveries and
//!   [`desk_recording::RecordingDesk`] stands in for the core).
//! - [`check_inbound_fixtures!`] compares what the adapter makes of every recorded
//!   platform payload with a snapshot ([`fixtures`]).
//! - [`RecordingInbound`] stands in for the core behind an adapter's `InboundSink`.
//! - [`fake`] has real local HTTP servers speaking the WhatsApp Cloud API, the Messenger
//!   Send API, the Telegram Bot API and the Bot Framework (Teams: OpenID keys, token
//!   endpoint, Bot Connector; [`fake::mint`] signs inbound JWTs, valid or forged),
//!   recording requests and scriptable to answer errors; the e2e tests point the real
//!   binary at them.
//! - [`payloads`] builds platform webhooks in their wire form, signed, and Teams
//!   activities.
//! - [`telemetry`] captures `tracing` output to check what adapters log.
//!
//! The kit depends on `tandem-sdk` and `tandem-model` only, never on the core.

pub mod chatwoot_fake;
pub mod conformance;
pub mod desk_conformance;
mod desk_driver;
pub mod desk_ops;
pub mod desk_recording;
mod driver;
pub mod fake;
pub mod fixtures;
pub mod fuzz;
pub mod payloads;
mod recording;
pub mod slack_fake;
pub mod telemetry;

pub use desk_driver::{AgentAction, DeskConfigOf, DeskDriver, DeskHarness, Thread};
pub use driver::{ChannelDriver, ConfigOf, Harness, expand_placeholders};
pub use fake::{Recorded, Reply, eventually};
pub use recording::{ReachabilityReport, RecordingInbound};

/// Re-exported for drivers: request and body types.
pub use axum::body::Body;
pub use axum::http;
