//! End-to-end tests: each starts the real `tandem` binary (see `tandem_e2e::Tandem`) on a
//! free loopback port with its own data folder, and talks to it over real sockets.

mod admin;
mod ai_audit;
mod bots;
mod browser;
mod cli;
mod console;
mod dashboard;
mod desk_chatwoot;
mod desk_delivery;
mod desk_slack;
mod desk_teams;
mod drafts;
mod escalation;
mod fidelity;
mod handoff;
mod hostile;
mod identity;
mod link_codes;
mod media;
mod messages;
mod messenger;
mod metrics;
mod mongodb;
mod openapi;
mod outbox;
mod ownership;
mod policy;
mod policy_flows;
mod repeat_contact;
mod routing;
mod seed_whatsapp;
mod teams;
mod telegram;
mod webchat;
mod webchat_input;
mod whatsapp;

/// A config with web chat only.
pub(crate) const WEBCHAT_ONLY: &str = r#"
[store]
kind = "sqlite"

[channels.webchat]
"#;
