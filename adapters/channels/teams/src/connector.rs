//! The Bot Connector REST API (docs/platform-contracts.md §4.3, §4.4) and its OAuth token: one
//! client shared by the inbound side (member lookups) and the outbound side (sends).
//!
//! The client-credentials token is cached and refreshed 5 minutes before it expires
//! (botbuilder's margin); a 401 from the connector drops it so the next call fetches a
//! fresh one. Every failure is classified as an [`AdapterError`]; nothing is retried here.

use crate::api::{
    CreateConversation, ErrorResponse, Member, OAuthError, OutAccount, ResourceResponse,
    TokenResponse,
};
use std::time::{Duration, Instant};
use tandem_sdk::http::retry_after;
use tandem_sdk::{AdapterError, ErrorKind, Secret};
use tokio::sync::Mutex;

/// The scope of Bot Connector tokens.
pub(crate) const SCOPE: &str = "https://api.botframework.com/.default";
/// Tokens are refreshed this long before they expire.
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Bot Connector client with its token cache.
pub struct Connector {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    client_secret: Secret,
    token: Mutex<Option<(String, Instant)>>,
}

/// A conversation created for a proactive message.
#[derive(Debug)]
pub(crate) struct Created {
    pub(crate) id: String,
    pub(crate) service_url: Option<String>,
}

/// A thread started in a Teams channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelThread {
    /// The thread's conversation id (`19:…@thread.tacv2;messageid=…`): replies are
    /// activities posted to it.
    pub id: String,
    /// The id of the thread's first activity, when known.
    pub activity_id: Option<String>,
}

impl Connector {
    /// A client getting tokens from `token_url` as `client_id` / `client_secret`.
    pub fn new(
        http: reqwest::Client,
        token_url: String,
        client_id: &str,
        client_secret: Secret,
    ) -> Self {
        Self {
            http,
            token_url,
            client_id: client_id.to_owned(),
            client_secret,
            token: Mutex::new(None),
        }
    }

    /// The HTTP client the connector calls with.
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// A valid access token, fetched when missing or within 5 minutes of expiry.
    pub async fn token(&self) -> Result<String, AdapterError> {
        let mut cached = self.token.lock().await;
        if let Some((token, refresh_at)) = cached.as_ref()
            && Instant::now() < *refresh_at
        {
            return Ok(token.clone());
        }
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose()),
            ("scope", SCOPE),
        ];
        let response = self
            .http
            .post(&self.token_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| {
                AdapterError::transient("Teams token endpoint unreachable")
                    .with_source(e.without_url())
            })?;
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        let bytes = response.bytes().await.map_err(|e| {
            AdapterError::transient("reading the token answer failed").with_source(e.without_url())
        })?;
        if !(200..300).contains(&status) {
            let code = serde_json::from_slice::<OAuthError>(&bytes)
                .ok()
                .and_then(|e| e.error)
                .unwrap_or_default();
            let message = format!("Teams token endpoint answered HTTP {status} {code}");
            return Err(match status {
                400 | 401 | 403 => AdapterError::auth(message),
                _ => AdapterError::from_status(status, retry_after, message),
            });
        }
        let answer: TokenResponse = serde_json::from_slice(&bytes)
            .map_err(|_| AdapterError::transient("Teams token answer unreadable"))?;
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600));
        let refresh_at = Instant::now() + lifetime.saturating_sub(REFRESH_MARGIN);
        *cached = Some((answer.access_token.clone(), refresh_at));
        Ok(answer.access_token)
    }

    /// Forgets the cached token (the connector refused it).
    async fn drop_token(&self) {
        *self.token.lock().await = None;
    }

    /// `POST {serviceUrl}/v3/conversations/{id}/activities`; the new activity's id.
    pub async fn send_activity(
        &self,
        service_url: &str,
        conversation_id: &str,
        activity: &impl serde::Serialize,
    ) -> Result<Option<String>, AdapterError> {
        let url = conversation_url(service_url, conversation_id, &["activities"]);
        let bytes = self
            .call(self.http.post(url).json(activity), "sending an activity")
            .await?;
        Ok(serde_json::from_slice::<ResourceResponse>(&bytes)
            .ok()
            .and_then(|r| r.id)
            .filter(|id| !id.is_empty()))
    }

    /// `POST {serviceUrl}/v3/conversations`: a 1:1 conversation of the bot with `user`.
    pub(crate) async fn create_conversation(
        &self,
        service_url: &str,
        bot_id: &str,
        user: &str,
        tenant: &str,
    ) -> Result<Created, AdapterError> {
        let body = CreateConversation {
            bot: OutAccount { id: bot_id },
            members: vec![OutAccount { id: user }],
            channel_data: serde_json::json!({"tenant": {"id": tenant}}),
            tenant_id: tenant,
            is_group: false,
        };
        let url = format!("{}/v3/conversations", service_url.trim_end_matches('/'));
        let bytes = self
            .call(self.http.post(url).json(&body), "creating a conversation")
            .await?;
        let created: ResourceResponse = serde_json::from_slice(&bytes).unwrap_or_default();
        match created.id.filter(|id| !id.is_empty()) {
            Some(id) => Ok(Created {
                id,
                service_url: created.service_url.filter(|s| !s.is_empty()),
            }),
            None => Err(AdapterError::transient(
                "Teams created a conversation without an id",
            )),
        }
    }

    /// `POST {serviceUrl}/v3/conversations` with `isGroup: true` and
    /// `channelData.channel.id`: starts a new thread in the Teams channel `channel_id`
    /// whose first post is `activity`. The answer names the thread's conversation
    /// (`19:…@thread.tacv2;messageid=…`) and the first activity.
    pub async fn create_channel_thread(
        &self,
        service_url: &str,
        channel_id: &str,
        tenant: Option<&str>,
        activity: &impl serde::Serialize,
    ) -> Result<ChannelThread, AdapterError> {
        let mut channel_data = serde_json::json!({"channel": {"id": channel_id}});
        let mut body = serde_json::json!({
            "isGroup": true,
            "channelData": {},
            "activity": activity,
        });
        if let Some(tenant) = tenant {
            channel_data["tenant"] = serde_json::json!({"id": tenant});
            body["tenantId"] = serde_json::json!(tenant);
        }
        body["channelData"] = channel_data;
        let url = format!("{}/v3/conversations", service_url.trim_end_matches('/'));
        let bytes = self
            .call(self.http.post(url).json(&body), "starting a channel thread")
            .await?;
        let created: ResourceResponse = serde_json::from_slice(&bytes).unwrap_or_default();
        match created.id.filter(|id| !id.is_empty()) {
            Some(id) => Ok(ChannelThread {
                activity_id: created.activity_id.filter(|a| !a.is_empty()).or_else(|| {
                    id.split_once(";messageid=")
                        .map(|(_, m)| m.to_owned())
                        .filter(|m| !m.is_empty())
                }),
                id,
            }),
            None => Err(AdapterError::transient(
                "Teams started a channel thread without an id",
            )),
        }
    }

    /// `GET {serviceUrl}/v3/conversations/{id}/members/{userId}`.
    pub(crate) async fn member(
        &self,
        service_url: &str,
        conversation_id: &str,
        user_id: &str,
    ) -> Result<Member, AdapterError> {
        let url = conversation_url(service_url, conversation_id, &["members", user_id]);
        let bytes = self.call(self.http.get(url), "looking up a member").await?;
        serde_json::from_slice(&bytes)
            .map_err(|_| AdapterError::transient("Teams member answer unreadable"))
    }

    /// Sends `request` with the bearer token; the body of a 2xx answer, else the
    /// classified error.
    async fn call(
        &self,
        request: reqwest::RequestBuilder,
        what: &'static str,
    ) -> Result<bytes::Bytes, AdapterError> {
        let token = self.token().await?;
        let response = request.bearer_auth(token).send().await.map_err(|e| {
            AdapterError::transient(format!("Teams connector unreachable ({what})"))
                .with_source(e.without_url())
        })?;
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        let bytes = response.bytes().await.map_err(|e| {
            AdapterError::transient("reading the Teams connector answer failed")
                .with_source(e.without_url())
        })?;
        if (200..300).contains(&status) {
            return Ok(bytes);
        }
        if status == 401 {
            self.drop_token().await;
        }
        let code = serde_json::from_slice::<ErrorResponse>(&bytes)
            .ok()
            .and_then(|e| e.error.code);
        Err(classify(status, code.as_deref(), retry_after, what))
    }
}

/// Connector HTTP status (and error code) → error kind (SPEC O2, O3, O6).
pub(crate) fn classify(
    status: u16,
    code: Option<&str>,
    retry_after: Option<Duration>,
    what: &str,
) -> AdapterError {
    let kind = match status {
        429 => ErrorKind::RateLimited { retry_after },
        // Teams asks for retries of 412 (precondition), 502 and 504 as of 429.
        408 | 412 | 500..=599 => ErrorKind::Transient,
        401 => ErrorKind::Auth,
        403 => match code {
            // The user blocked the bot, or the bot is no longer in the conversation.
            Some("ConversationBlockedByUser" | "BotNotInConversationRoster") => {
                ErrorKind::Unreachable
            }
            _ => ErrorKind::Auth,
        },
        404 => ErrorKind::Unreachable,
        413 => ErrorKind::Unsupported,
        _ => ErrorKind::Rejected,
    };
    let code = code.map(|c| format!(" {c}")).unwrap_or_default();
    AdapterError::new(
        kind,
        format!("Teams connector answered HTTP {status}{code} ({what})"),
    )
}

/// `{serviceUrl}/v3/conversations/{id}/{rest…}`: joined without `//`, every dynamic
/// segment percent-encoded as one path segment (ids carry `:`, `@`, `;`).
pub(crate) fn conversation_url(service_url: &str, conversation_id: &str, rest: &[&str]) -> String {
    let mut url = format!(
        "{}/v3/conversations/{}",
        service_url.trim_end_matches('/'),
        encode_segment(conversation_id)
    );
    for (i, segment) in rest.iter().enumerate() {
        url.push('/');
        // The first part is a literal (`activities`, `members`); the rest are ids.
        if i == 0 {
            url.push_str(segment);
        } else {
            url.push_str(&encode_segment(segment));
        }
    }
    url
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub(crate) fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
