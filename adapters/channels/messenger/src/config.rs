//! `[channels.messenger]` configuration and its pure checks.

use serde::Deserialize;
use tandem_sdk::model::Pacing;
use tandem_sdk::{ConfigErrors, Secret};

/// Configuration of a Facebook Messenger (Page) channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessengerConfig {
    /// The Meta App Secret: key of the `X-Hub-Signature-256` HMAC on webhooks.
    pub app_secret: Secret,
    /// The token Meta echoes in the `GET` verification handshake (`hub.verify_token`).
    pub verify_token: Secret,
    /// The Page access token used by the Send API.
    pub page_access_token: Secret,
    /// Graph API base URL (tests point it at a local fake).
    #[serde(default = "default_api_base")]
    pub api_base: String,
    /// Graph API version, e.g. `v21.0`.
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// The payload of the Page's Get Started button (its tap is a conversation start).
    #[serde(default = "default_get_started")]
    pub get_started_payload: String,
    /// Tandem's Meta app id. Echoes of messages this app sent are Tandem's own (so are
    /// echoes carrying Tandem's `tandem:` metadata); an echo from any other app (someone
    /// answering in the Page Inbox) hands the conversation to that person (owner
    /// `external`, see `[handoff] external_release_after_secs`).
    #[serde(default)]
    pub app_id: Option<String>,
    /// Send pacing. Meta publishes no per-Page send rate; the default is conservative.
    #[serde(default = "default_pacing")]
    pub pacing: Pacing,
}

fn default_api_base() -> String {
    "https://graph.facebook.com".into()
}

fn default_api_version() -> String {
    "v21.0".into()
}

fn default_get_started() -> String {
    "GET_STARTED".into()
}

/// A conservative pace: 40 sends per second per Page.
pub(crate) fn default_pacing() -> Pacing {
    Pacing {
        per_second: 40,
        burst: 40,
        ..Pacing::default()
    }
}

impl MessengerConfig {
    /// What the normalizer needs.
    pub(crate) fn settings(&self) -> crate::normalize::Settings<'_> {
        crate::normalize::Settings {
            get_started: &self.get_started_payload,
            app_id: self.app_id.as_deref().filter(|a| !a.is_empty()),
        }
    }

    /// Pure checks: every problem, with its key.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::default();
        for (key, value) in [
            ("app_secret", &self.app_secret),
            ("verify_token", &self.verify_token),
            ("page_access_token", &self.page_access_token),
        ] {
            if value.is_empty() {
                errors.push(key, "missing");
            }
        }
        match url::Url::parse(&self.api_base) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => errors.push("api_base", "must be an http(s) URL"),
        }
        let version_ok = self.api_version.strip_prefix('v').is_some_and(|rest| {
            !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit() || c == '.')
        });
        if !version_ok {
            errors.push("api_version", "must look like v21.0");
        }
        if self.get_started_payload.is_empty() {
            errors.push("get_started_payload", "must not be empty");
        }
        errors.into_result()
    }
}
