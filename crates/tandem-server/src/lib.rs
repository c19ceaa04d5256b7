//! The `tandem` binary's library: command line ([`cli`]), configuration loading and
//! validation ([`config`]), the adapter registry ([`registry`]), the HTTP app ([`app`])
//! the serve loop with supervision and graceful shutdown ([`serve`]), and the offline
//! replay of `tandem policy test` ([`policy_test`]).
//!
//! This is the only crate that knows every other: it wires the core to a store, the AI
//! providers and the adapters chosen by config.
// The OpenAPI document is one large `json!` literal.
#![recursion_limit = "256"]

pub mod accounts;
pub mod admin;
pub mod app;
pub mod cli;
pub mod config;
pub mod dashboard;
pub mod listen;
pub mod media;
pub mod memory;
pub mod policy_test;
pub mod registry;
pub mod reload;
pub mod serve;
