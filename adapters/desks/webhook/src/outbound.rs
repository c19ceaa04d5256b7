//! Delivering handoff documents: one signed POST per delivery. How far an agent's reply
//! got is one more signed POST per state (`agent.message.status`), best effort.

use crate::config::WebhookDeskConfig;
use async_trait::async_trait;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tandem_sdk::signature::hmac_sha256_hex;
use tandem_sdk::{
    AdapterError, AgentDesk, DeskCapabilities, DeskDelivery, DeskOp, DeskReceipt, ReplyDelivery,
};
use tokio::sync::mpsc;
use tracing::debug;

/// Status events waiting to be posted; more are dropped (best effort).
const QUEUE: usize = 256;
/// How long one status event may take.
const STATUS_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct WebhookDeskClient {
    config: Arc<WebhookDeskConfig>,
    http: reqwest::Client,
    caps: DeskCapabilities,
    statuses: mpsc::Sender<ReplyDelivery>,
}

/// `agent.message.status`: the delivery state of an `agent.message` the desk sent.
#[derive(Debug, Serialize)]
pub(crate) struct AgentMessageStatus<'a> {
    /// Always `1`.
    pub(crate) version: &'static str,
    /// Always `agent.message.status`.
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    /// The handoff the message belongs to.
    pub(crate) handoff_id: &'a str,
    /// The key Tandem recorded the message under: `event:<event_id>` when the desk sent
    /// an `event_id`, else `sha256:<hex>` of the signed timestamp and body.
    pub(crate) event_key: &'a str,
    /// The desk's own `event_id` of the message, when it sent one.
    pub(crate) event_id: Option<&'a str>,
    /// `sent`, `delivered`, `read`, `failed` or `undeliverable`.
    pub(crate) state: &'a str,
    /// Why, for `failed` and `undeliverable` (`window closed`, …); else null.
    pub(crate) detail: Option<&'a str>,
    /// When the state changed (RFC 3339).
    pub(crate) at: &'a str,
}

impl<'a> AgentMessageStatus<'a> {
    pub(crate) fn of(report: &'a ReplyDelivery) -> Self {
        Self {
            version: "1",
            kind: "agent.message.status",
            handoff_id: &report.handoff_id,
            event_key: &report.event_key,
            event_id: report.event_key.strip_prefix("event:"),
            state: &report.state,
            detail: report.detail.as_deref(),
            at: &report.at,
        }
    }
}

/// POSTs `body` signed with the desk's secret; `X-Tandem-Delivery: delivery_id`.
async fn post_signed(
    config: &WebhookDeskConfig,
    http: &reqwest::Client,
    body: Vec<u8>,
    delivery_id: &str,
    timeout: Option<Duration>,
) -> Result<(), AdapterError> {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
        .to_string();
    let sig = hmac_sha256_hex(
        config.secret.expose().as_bytes(),
        &[ts.as_bytes(), b".", &body],
    );
    let mut request = http
        .post(&config.url)
        .header("content-type", "application/json")
        .header("x-tandem-timestamp", &ts)
        .header("x-tandem-signature", format!("sha256={sig}"))
        .header("x-tandem-delivery", delivery_id)
        .body(body);
    if let Some(timeout) = timeout {
        request = request.timeout(timeout);
    }
    let response = request
        .send()
        .await
        .map_err(|e| AdapterError::transient("desk unreachable").with_source(e))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let retry_after = tandem_sdk::http::retry_after(response.headers());
    // A desk that refuses a document now may accept it after a fix on its side: keep
    // retrying 4xx other than auth too (the contract promises retries until a 2xx).
    Err(match status.as_u16() {
        401 | 403 => AdapterError::auth(format!("desk answered {status}")),
        429 => AdapterError::rate_limited(retry_after),
        _ => AdapterError::transient(format!("desk answered {status}")),
    })
}

/// The `X-Tandem-Delivery` of a status event: stable for one state of one message, and a
/// valid header whatever the desk's event id holds.
fn status_delivery_id(report: &ReplyDelivery) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::new()
        .chain_update(report.handoff_id.as_bytes())
        .chain_update(b"\n")
        .chain_update(report.event_key.as_bytes())
        .chain_update(b"\n")
        .chain_update(report.state.as_bytes())
        .finalize();
    format!("status-{}", &hex::encode(digest)[..32])
}

impl WebhookDeskClient {
    pub(crate) fn new(config: Arc<WebhookDeskConfig>, http: reqwest::Client) -> Self {
        let (statuses, mut rx) = mpsc::channel::<ReplyDelivery>(QUEUE);
        let (c, h) = (config.clone(), http.clone());
        // One at a time, in the order the states changed; each tried once.
        tokio::spawn(async move {
            while let Some(report) = rx.recv().await {
                let Ok(body) = serde_json::to_vec(&AgentMessageStatus::of(&report)) else {
                    continue;
                };
                let id = status_delivery_id(&report);
                if let Err(error) = post_signed(&c, &h, body, &id, Some(STATUS_TIMEOUT)).await {
                    debug!(%error, state = %report.state, "The desk did not take an agent.message.status event; not retried.");
                }
            }
        });
        Self {
            config,
            http,
            caps: DeskCapabilities { accept: true },
            statuses,
        }
    }
}

#[async_trait]
impl AgentDesk for WebhookDeskClient {
    fn capabilities(&self) -> &DeskCapabilities {
        &self.caps
    }

    async fn deliver(&self, delivery: DeskDelivery) -> Result<DeskReceipt, AdapterError> {
        let body = match &delivery.op {
            DeskOp::Open(h) => serde_json::to_vec(h),
            DeskOp::Append(m) => serde_json::to_vec(m),
            DeskOp::Close(c) => serde_json::to_vec(c),
            DeskOp::Update(u) => serde_json::to_vec(u),
        }
        .map_err(|e| AdapterError::rejected("unserializable handoff document").with_source(e))?;
        post_signed(&self.config, &self.http, body, &delivery.id, None).await?;
        Ok(DeskReceipt {
            thread: Some(delivery.op.handoff_id().to_owned()),
        })
    }

    /// Queued, then POSTed as `agent.message.status` (see [`AgentMessageStatus`]).
    async fn reply_delivery(&self, report: ReplyDelivery) -> Result<(), AdapterError> {
        self.statuses
            .try_send(report)
            .map_err(|_| AdapterError::transient("too many status events waiting for the desk"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_events_carry_the_key_and_the_desks_event_id() {
        let report = ReplyDelivery {
            handoff_id: "h-1".into(),
            event_key: "event:ev-7".into(),
            state: "undeliverable".into(),
            detail: Some("window closed".into()),
            at: "2026-01-01T10:05:00Z".into(),
        };
        let v = serde_json::to_value(AgentMessageStatus::of(&report)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"version": "1", "type": "agent.message.status", "handoff_id": "h-1",
                "event_key": "event:ev-7", "event_id": "ev-7", "state": "undeliverable",
                "detail": "window closed", "at": "2026-01-01T10:05:00Z"})
        );
        let unkeyed = ReplyDelivery {
            event_key: "sha256:ab".into(),
            state: "read".into(),
            detail: None,
            ..report.clone()
        };
        let v = serde_json::to_value(AgentMessageStatus::of(&unkeyed)).unwrap();
        assert_eq!(
            (v["event_id"].clone(), v["detail"].clone()),
            (serde_json::Value::Null, serde_json::Value::Null)
        );
        // Stable per message and state; a header-safe value whatever the event id holds.
        let id = status_delivery_id(&report);
        assert_eq!(id, status_delivery_id(&report.clone()));
        assert_ne!(id, status_delivery_id(&unkeyed));
        let odd = ReplyDelivery {
            event_key: "event:\n\u{7f}é".into(),
            ..report
        };
        assert!(
            status_delivery_id(&odd)
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        );
    }
}
