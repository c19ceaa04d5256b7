//! The Slack agent desk: handoffs become root messages in a support channel, agents work
//! in the thread.
//!
//! Out (Web API, `Authorization: Bearer <bot_token>`): `Open` posts a Block Kit briefing
//! (category and priority, reason with evidence, customer, channel and window, summary,
//! what the bot tried, where it stalled) with Accept / Resolve / Return-to-bot buttons,
//! then the transcript in the thread; `Append` relays customer messages into the thread;
//! `Close` notes the end there. Failures are classified for the outbox (`ok:false` codes,
//! HTTP 429 with `Retry-After`).
//!
//! In (signed v0 with the signing secret, five-minute window): `POST /desks/slack/events`
//! (url_verification; human thread replies → agent messages, deduplicated on `event_id`)
//! and `POST /desks/slack/interactions` (button clicks → accepted / resolved / released).
//!
//! How far an agent's reply got is shown on it: ✅ delivered, 👀 read, and for a failure
//! ❌ plus a thread reply mentioning the agent ("Not delivered to the customer: window
//! closed"), with `reactions.add` and `chat.postMessage`.

mod api;
mod blocks;
mod config;
mod delivery;
mod events;
mod interactions;
mod outbound;
mod threads;
mod verify;

pub use blocks::{ACTION_ACCEPT, ACTION_RELEASE, ACTION_RESOLVE};
pub use config::{DEFAULT_API_BASE, SlackDeskConfig};

use std::sync::Arc;
use tandem_sdk::{AdapterError, BuiltDesk, ConfigErrors, DeskContext, DeskFactory};
use tracing::warn;

/// The `slack` desk kind.
#[derive(Debug, Clone, Copy)]
pub struct SlackDesk;

impl DeskFactory for SlackDesk {
    const KIND: &'static str = "slack";
    type Config = SlackDeskConfig;

    fn validate(config: &Self::Config) -> Result<(), ConfigErrors> {
        config.validate()
    }

    async fn build(config: Self::Config, cx: DeskContext) -> Result<BuiltDesk, AdapterError> {
        let config = Arc::new(config);
        let api = api::SlackApi::new(config.clone(), cx.http.clone());
        // Best effort: without it every bot-authored message is dropped as a possible echo.
        let own = match api.auth_test().await {
            Ok(own) => own,
            Err(e) => {
                warn!(desk = %cx.id, error.kind = %e.kind(), "Slack auth.test failed; continuing without the bot's identity.");
                api::OwnBot::default()
            }
        };
        let threads = threads::Threads::new(cx.events.clone());
        let inbound = events::Inbound {
            config,
            sink: cx.events.clone(),
            threads: threads.clone(),
            api: api.clone(),
            own,
        };
        Ok(BuiltDesk {
            desk: Arc::new(outbound::SlackDeskClient::new(api, threads)),
            routes: Some(events::routes(inbound)),
            worker: None,
        })
    }
}
