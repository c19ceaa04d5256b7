//! `[channels.teams]` configuration and its pure checks.

use serde::Deserialize;
use std::collections::BTreeMap;
use tandem_sdk::model::Pacing;
use tandem_sdk::{ConfigErrors, Secret};

/// Bot Framework's OpenID metadata (signing keys of inbound tokens).
pub const DEFAULT_OPENID_METADATA_URL: &str =
    "https://login.botframework.com/v1/.well-known/openidconfiguration";
/// The multi-tenant token endpoint (client credentials).
pub const DEFAULT_TOKEN_URL: &str =
    "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token";

/// Configuration of a Microsoft Teams bot (Azure Bot / Bot Framework registration).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamsConfig {
    /// The bot's Microsoft App ID: the `aud` of inbound tokens, the `client_id` of
    /// outbound ones; the bot's own account is `28:<app_id>`.
    pub app_id: String,
    /// The App ID's client secret (client-credentials grant).
    pub app_password: Secret,
    /// The Entra tenant of a single-tenant bot. When set, tokens come from
    /// `https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token` (unless `token_url`
    /// names another endpoint), activities of other tenants are refused, and it is the
    /// tenant of proactive conversations.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Where the signing keys of inbound tokens are published (tests point it at a fake).
    #[serde(default = "default_openid_metadata_url")]
    pub openid_metadata_url: String,
    /// The OAuth token endpoint for outbound calls (tests point it at a fake).
    #[serde(default = "default_token_url")]
    pub token_url: String,
    /// The Bot Connector `serviceUrl` used to open a conversation with a user Tandem has
    /// no stored reference for (e.g. `https://smba.trafficmanager.net/teams/`). Without
    /// it, such sends fail as unreachable. A user's own activities always win.
    #[serde(default)]
    pub service_url: Option<String>,
    /// Send pacing. Teams allows a bot about 7 messages per second per conversation and
    /// 60 per 30 seconds, and 30 requests per second per tenant.
    #[serde(default = "default_pacing")]
    pub pacing: Pacing,
    /// Group chats and team channels: `mentions` (the default) answers messages that
    /// @mention the bot (each person in each chat or channel thread is a conversation of
    /// its own, answered in that chat or thread); `off` records them without answering.
    /// 1:1 chats are always answered.
    #[serde(default)]
    pub group_replies: GroupReplies,
    /// Overrides of `group_replies` for one team, channel or group chat, by its id
    /// (`19:…@thread.tacv2` / `@thread.skype` / `@thread.v2`); a channel's entry wins over
    /// its team's. E.g. `{ "19:abc@thread.tacv2" = "off" }`.
    #[serde(default)]
    pub group_overrides: BTreeMap<String, GroupReplies>,
}

/// Whether the bot answers in group chats and channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupReplies {
    /// Answer messages that @mention the bot.
    #[default]
    Mentions,
    /// Record group messages, never answer them.
    Off,
}

fn default_openid_metadata_url() -> String {
    DEFAULT_OPENID_METADATA_URL.into()
}

fn default_token_url() -> String {
    DEFAULT_TOKEN_URL.into()
}

/// 30 sends per second per bot; per conversation 7 at once, then one every 500 ms
/// (Teams' 60 per 30 s).
pub(crate) fn default_pacing() -> Pacing {
    Pacing {
        per_second: 30,
        burst: 30,
        per_recipient_interval_ms: 500,
        per_recipient_burst: 7,
    }
}

impl TeamsConfig {
    /// Pure checks: every problem, with its key.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::default();
        if self.app_id.trim().is_empty() {
            errors.push("app_id", "missing");
        } else if self.app_id.chars().any(|c| c.is_whitespace() || c == '/') {
            errors.push("app_id", "must be the bot's Microsoft App ID (no spaces)");
        }
        if self.app_password.is_empty() {
            errors.push("app_password", "missing");
        }
        if let Some(tenant) = &self.tenant_id {
            let ok = !tenant.is_empty()
                && tenant
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
            if !ok {
                errors.push(
                    "tenant_id",
                    "must be a tenant id (a GUID) or domain, or be left out for a multi-tenant bot",
                );
            }
        }
        for (key, value) in [
            ("openid_metadata_url", Some(&self.openid_metadata_url)),
            ("token_url", Some(&self.token_url)),
            ("service_url", self.service_url.as_ref()),
        ] {
            if let Some(value) = value {
                match url::Url::parse(value) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                    _ => errors.push(key, "must be an http(s) URL"),
                }
            }
        }
        errors.into_result()
    }

    /// Whether messages mentioning the bot in this group conversation are answered: the
    /// override of its channel, its conversation or its team, else `group_replies`.
    pub(crate) fn answers_group(&self, a: &crate::api::Activity) -> bool {
        let conversation = a.conversation.id.split(';').next();
        [
            a.channel_data.channel.id.as_deref(),
            conversation,
            a.channel_data.team.id.as_deref(),
        ]
        .into_iter()
        .flatten()
        .find_map(|id| self.group_overrides.get(id))
        .copied()
        .unwrap_or(self.group_replies)
            == GroupReplies::Mentions
    }

    /// The bot's own account id, `28:<app_id>`.
    pub(crate) fn bot_id(&self) -> String {
        format!("28:{}", self.app_id)
    }

    /// The token endpoint to use: the tenant's own for a single-tenant bot left on the
    /// default `token_url`.
    pub(crate) fn effective_token_url(&self) -> String {
        crate::botframework::effective_token_url(&self.token_url, self.tenant_id.as_deref())
    }
}
