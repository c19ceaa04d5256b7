//! The Microsoft Teams agent desk: handoffs become threads in a Teams channel, agents
//! work in the thread ("Teams on both sides" when customers are on Teams too).
//!
//! Out (Bot Connector, the Teams channel's [`botframework`] client and token cache):
//! `Open` starts a thread in the configured channel (`POST {serviceUrl}/v3/conversations`,
//! `isGroup`, `channelData.channel.id`) whose first post is an Adaptive Card briefing
//! (reason, category, priority, queue; summary, what the bot tried, where it stalled,
//! sentiment; customer, segment, identities; channel and window; the last transcript
//! lines) with Accept / Resolve / Return-to-bot `Action.Submit` buttons; `Append` relays
//! customer messages into the thread; `Close` and `Update` post notes there, and so does an
//! agent reply that did not reach the customer ("⚠️ Not delivered to the customer: window
//! closed.").
//!
//! In (`POST /desks/teams/messages`, Bot Framework JWT checked like the Teams channel's):
//! thread replies from people → agent messages, button presses → accepted / resolved /
//! released, deduplicated on the activity id.
//!
//! Layout: `config`, `card` (rendering), `threads` (key-value references), `outbound`
//! (deliveries), `inbound` (the messaging endpoint).
//!
//! [`botframework`]: tandem_channel_teams::botframework

mod card;
mod config;
mod delivery;
mod inbound;
mod outbound;
mod threads;

pub use card::{ACTION_ACCEPT, ACTION_RELEASE, ACTION_RESOLVE};
pub use config::TeamsDeskConfig;

use std::sync::Arc;
use tandem_channel_teams::botframework::{self, Connector, Verifier};
use tandem_sdk::{AdapterError, BuiltDesk, ConfigErrors, DeskContext, DeskFactory};
use tracing::info;

/// The `teams` desk kind.
#[derive(Debug, Clone, Copy)]
pub struct TeamsDesk;

impl DeskFactory for TeamsDesk {
    const KIND: &'static str = "teams";
    type Config = TeamsDeskConfig;

    fn validate(config: &Self::Config) -> Result<(), ConfigErrors> {
        config.validate()
    }

    async fn build(config: Self::Config, cx: DeskContext) -> Result<BuiltDesk, AdapterError> {
        let config = Arc::new(config);
        let connector = Arc::new(Connector::new(
            cx.http.clone(),
            botframework::effective_token_url(&config.token_url, config.tenant_id.as_deref()),
            &config.app_id,
            config.app_password.clone(),
        ));
        let verifier = Arc::new(Verifier::new(
            &config.app_id,
            &config.openid_metadata_url,
            cx.http.clone(),
        ));
        let threads = threads::Threads::new(cx.events.clone());
        let routes = inbound::routes(inbound::Inbound {
            config: config.clone(),
            verifier,
            sink: cx.events.clone(),
            threads: threads.clone(),
            connector: connector.clone(),
        });
        info!(desk.id = %cx.id, endpoint = inbound::PATH, "Teams desk ready.");
        Ok(BuiltDesk {
            desk: Arc::new(outbound::TeamsDeskClient::new(config, connector, threads)),
            routes: Some(routes),
            worker: None,
        })
    }
}
