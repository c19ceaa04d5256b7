//! Tandem's router, sans I/O: it owns identity lookup, conversations, the transcript, the
//! escalation hook, the bot hook and the outbox, and reaches the world only through the
//! [`store::Store`] trait and the adapter traits of `tandem-sdk`.
//!
//! It knows nothing about HTTP, axum, SQLite or MongoDB.
//!
//! Layout: [`router`] (accept, resume, sharded processing), [`turn`] (what one customer
//! message changes), [`shape`] (fit replies to a channel), [`outbox`] (delivery with
//! retries; its pre-send checks in `gate`), [`window`] (messaging windows),
//! [`pacing`] (send pacing per channel), [`routing`] (agents, assignment, queues),
//! `delivery` (platform delivery reports and reachability), [`policy`] and [`ai`] (the
//! hooks), [`audit`] (the AI audit records of a turn), [`linking`] (link codes) and [`claims`] (unverified claims → suggested links),
//! [`store`] (the persistence boundary, with the identity-merge rules), [`metrics`],
//! [`clock`]. Every change to a conversation goes through `executor` (`Core::apply`:
//! load, decide, commit, retry on conflict). [`config`] holds the settings and `sharing`
//! the live-update state, so that `router` depends on no module that acts: there is no
//! import circle between the modules (`tests/layering.rs`).

pub mod accounts;
pub mod ai;
pub mod audit;
pub mod claims;
pub mod clock;
pub mod config;

mod delivery;
pub mod desks;
pub mod drafts;
pub mod engine;
pub use engine::csat;
mod executor;
mod gate;
pub mod handoff;
pub mod health;
mod intent;
pub mod linking;
pub mod media;
pub mod messages;
pub mod metrics;
pub mod outbox;
mod ownership;
pub mod pacing;
pub mod policy;
pub mod proactive;
pub mod records;
pub mod router;
pub mod routing;
pub mod runtime;
pub mod shape;
pub mod shared;
mod sharing;
pub mod sla;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod timers;
pub mod turn;
pub mod window;

pub use router::{Core, CoreConfig, CoreDeps, DEFAULT_SENDER_RATE_LIMIT};
