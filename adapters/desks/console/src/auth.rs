//! Agents' sign-in: sessions, cookies and same-origin checks.
//!
//! A sign-in (password or one-time link, checked by the core against the agent's account)
//! creates a session: a random 128-bit token in an HTTP-only cookie (`SameSite=Strict`,
//! `Path=/console`, `Secure` over https), kept in the desk's key-value space only as its
//! SHA-256 (`session:<hex>`), so it survives restarts and is shared by processes on one
//! store. Every request re-reads the session and the account: signing out or disabling
//! the account ends it at once.
//!
//! CSRF: besides `SameSite=Strict`, every state-changing request and the WebSocket upgrade
//! that rely on the cookie must carry an `Origin` naming this server (the request's `Host`,
//! or `[server].public_url`); others are refused with 403.

use crate::Shared;
use axum::http::{HeaderMap, HeaderValue, header};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tandem_sdk::{AgentAccount, InboundError};

/// The session cookie's name.
pub(crate) const COOKIE: &str = "tandem_console";

#[derive(Debug, Serialize, Deserialize)]
struct SessionDoc {
    agent_id: String,
    /// Unix seconds.
    expires_at: i64,
    #[serde(default)]
    revoked: bool,
}

fn session_key(token: &str) -> String {
    format!("session:{}", hex::encode(Sha256::digest(token.as_bytes())))
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The session token in the request's cookies, if any.
pub(crate) fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Starts a session for `agent`; returns the `Set-Cookie` value.
pub(crate) async fn start(shared: &Shared, agent: &AgentAccount) -> Result<String, InboundError> {
    let token = format!("{:032x}", rand::random::<u128>());
    let ttl = shared.config.session_ttl();
    let doc = SessionDoc {
        agent_id: agent.id.clone(),
        expires_at: unix_now() + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
        revoked: false,
    };
    let text = serde_json::to_string(&doc).unwrap_or_default();
    shared
        .store
        .sink()
        .kv_put(&session_key(&token), &text)
        .await?;
    Ok(cookie(shared, &token, ttl.as_secs()))
}

/// The `Set-Cookie` value for `token` (empty with max age 0: removes it).
fn cookie(shared: &Shared, token: &str, max_age: u64) -> String {
    let secure = if shared.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    format!("{COOKIE}={token}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// Ends the request's session (if any); returns the `Set-Cookie` value that removes it.
pub(crate) async fn end(shared: &Shared, headers: &HeaderMap) -> Result<String, InboundError> {
    if let Some(token) = cookie_token(headers) {
        let key = session_key(&token);
        if let Some(text) = shared.store.sink().kv_get(&key).await?
            && let Ok(mut doc) = serde_json::from_str::<SessionDoc>(&text)
        {
            doc.revoked = true;
            let text = serde_json::to_string(&doc).unwrap_or_default();
            shared.store.sink().kv_put(&key, &text).await?;
        }
    }
    Ok(cookie(shared, "", 0))
}

/// The signed-in agent of the request: a live session of an account that exists and is
/// not disabled.
pub(crate) async fn agent(
    shared: &Shared,
    headers: &HeaderMap,
) -> Result<Option<AgentAccount>, InboundError> {
    signed_in_agent(shared.store.sink(), headers).await
}

/// The agent signed in to the console desk of `sink` by the request's session cookie: a
/// live session (not signed out, not expired) of an account that exists and is not
/// disabled. For other pages under `/console` (the cookie's path), e.g. the metrics page.
pub async fn signed_in_agent(
    sink: &tandem_sdk::DeskEventSink,
    headers: &HeaderMap,
) -> Result<Option<AgentAccount>, InboundError> {
    let Some(token) = cookie_token(headers) else {
        return Ok(None);
    };
    let Some(text) = sink.kv_get(&session_key(&token)).await? else {
        return Ok(None);
    };
    let Ok(doc) = serde_json::from_str::<SessionDoc>(&text) else {
        return Ok(None);
    };
    if doc.revoked || doc.expires_at <= unix_now() {
        return Ok(None);
    }
    Ok(sink
        .agent_account(&doc.agent_id)
        .await?
        .filter(|a| !a.disabled))
}

/// Whether the request's `Origin` names this server: the origin of `Host` (http or https)
/// or of the public URL. `absent_ok`: whether a request without `Origin` passes (requests
/// that don't rely on the cookie).
pub(crate) fn same_origin(shared: &Shared, headers: &HeaderMap, absent_ok: bool) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return absent_ok;
    };
    let Some(origin) = origin.to_str().ok().and_then(|o| url::Url::parse(o).ok()) else {
        return false;
    };
    let public = &shared.public_url;
    if origin.origin() == public.origin() {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = match (origin.host_str(), origin.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => return false,
    };
    matches!(origin.scheme(), "http" | "https") && host.is_some_and(|h| h == origin_host)
}

/// A header value, or nothing when it can't be one.
pub(crate) fn header_value(s: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(s).ok()
}
