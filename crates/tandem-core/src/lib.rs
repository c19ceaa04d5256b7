//! Tandem's router, sans I/O: it owns identity lookup, conversations, the transcript, the
//! escalation hook, the bot hook and the outbox, and reaches the world only through the
//! [`store::Store`] trait and the adapter traits of `tandem-sdk`.
//!
//! It knows nothing about HTTP, axum, SQLite or MongoDB.

pub mod ai;
pub mod policy;
pub mod store;
