//! Microsoft Teams channel for Tandem, through the Bot Framework.
//!
//! Inbound: Bot Framework `POST`s activities to `/webhooks/teams` with a bearer JWT,
//! checked with `jsonwebtoken` before anything else (`auth`): RS256/384/512, the key
//! named by `kid` from the OpenID metadata (cached 24 h; an unknown `kid` refetches at
//! most hourly), issuer `https://api.botframework.com`, audience the app id, `exp`/`nbf`
//! with 5 minutes of skew; then the key must be endorsed for the activity's `channelId`
//! and the token's `serviceurl` must be the activity's `serviceUrl`. Activities become
//! typed content (`normalize`); senders are identified by their Entra object id, and a
//! member lookup adds the email (or UPN) Teams asserts as a verified email, cached per
//! user (`inbound`, `state`).
//!
//! Outbound: an OAuth client-credentials token (cached, refreshed 5 minutes early) and
//! the Bot Connector (`connector`): text or an Adaptive Card with `Action.Submit`
//! buttons, to the user's stored 1:1 conversation, or to one opened proactively.
//!
//! Layout: `config` (keys and checks), `auth` (inbound JWT), `inbound` (route and member
//! lookup), `normalize` (activities → content), `state` (conversation references and
//! member facts in the key-value space), `connector` (token and REST calls, error
//! classification), `outbound` (send, rendering), `api` (wire types).

mod api;
mod auth;
mod config;
mod connector;
mod inbound;
mod normalize;
mod outbound;
mod state;
#[cfg(test)]
mod tests;

/// The Bot Framework plumbing of this channel, for other Teams adapters (the Teams agent
/// desk) to share rather than copy: the inbound JWT [`Verifier`](botframework::Verifier)
/// with its signing-key cache, and the Bot Connector client
/// ([`Connector`](botframework::Connector)) with its client-credentials token cache and
/// error classification (429 rate limited with `Retry-After`; 401/403 auth; 412, 5xx
/// transient).
pub mod botframework {
    pub use crate::auth::{AuthError, Verified, Verifier};
    pub use crate::connector::{ChannelThread, Connector};

    /// The token endpoint to use: a single-tenant bot (`tenant`) left on the default
    /// `token_url` gets its tenant's own endpoint.
    pub fn effective_token_url(token_url: &str, tenant: Option<&str>) -> String {
        match tenant {
            Some(tenant) if token_url == crate::DEFAULT_TOKEN_URL => {
                format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token")
            }
            _ => token_url.to_owned(),
        }
    }
}

pub use config::{DEFAULT_OPENID_METADATA_URL, DEFAULT_TOKEN_URL, GroupReplies, TeamsConfig};

use std::sync::Arc;
use tandem_sdk::model::{Capabilities, WindowPolicy};
use tandem_sdk::{AdapterError, BuiltChannel, ChannelContext, ChannelFactory, ConfigErrors};
use tracing::info;

/// The channel kind.
pub(crate) const KIND: &str = "teams";

/// Longest text: the connector refuses activities over about 28–40 KB measured in
/// UTF-16, and a character takes up to 4 bytes.
pub const MAX_TEXT_LEN: usize = 7000;

/// The `teams` channel kind.
#[derive(Debug, Clone, Copy)]
pub struct Teams;

impl ChannelFactory for Teams {
    const KIND: &'static str = KIND;
    type Config = TeamsConfig;

    fn validate(config: &Self::Config) -> Result<(), ConfigErrors> {
        config.validate()
    }

    async fn build(config: Self::Config, cx: ChannelContext) -> Result<BuiltChannel, AdapterError> {
        let caps = capabilities(&config);
        let config = Arc::new(config);
        let connector = Arc::new(connector::Connector::new(
            cx.http.clone(),
            config.effective_token_url(),
            &config.app_id,
            config.app_password.clone(),
        ));
        let verifier = Arc::new(auth::Verifier::new(
            &config.app_id,
            &config.openid_metadata_url,
            cx.http.clone(),
        ));
        let adapter = outbound::TeamsAdapter::new(
            config.clone(),
            connector.clone(),
            cx.inbound.clone(),
            caps,
        );
        let routes = inbound::routes(inbound::Inbound {
            config,
            verifier,
            connector,
            sink: cx.inbound.clone(),
        });
        info!(channel.id = %cx.id, webhook = inbound::PATH, "Teams channel ready.");
        Ok(BuiltChannel {
            adapter: Arc::new(adapter),
            routes: Some(routes),
            worker: None,
        })
    }
}

/// What a Teams channel renders: text, Adaptive Card buttons (`Action.Submit`), typing.
pub fn capabilities(config: &TeamsConfig) -> Capabilities {
    Capabilities {
        max_buttons: 6,
        max_button_title_len: 40,
        typing: true,
        window: WindowPolicy::None,
        pacing: config.pacing,
        media: true,
        ..Capabilities::text_only(MAX_TEXT_LEN)
    }
}
