//! Delivering handoff documents: one signed POST per delivery.

use crate::config::WebhookDeskConfig;
use async_trait::async_trait;
use std::sync::Arc;
use tandem_sdk::signature::hmac_sha256_hex;
use tandem_sdk::{AdapterError, AgentDesk, DeskCapabilities, DeskDelivery, DeskOp, DeskReceipt};

pub(crate) struct WebhookDeskClient {
    config: Arc<WebhookDeskConfig>,
    http: reqwest::Client,
    caps: DeskCapabilities,
}

impl WebhookDeskClient {
    pub(crate) fn new(config: Arc<WebhookDeskConfig>, http: reqwest::Client) -> Self {
        Self {
            config,
            http,
            caps: DeskCapabilities { accept: true },
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
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default()
            .to_string();
        let sig = hmac_sha256_hex(
            self.config.secret.expose().as_bytes(),
            &[ts.as_bytes(), b".", &body],
        );
        let response = self
            .http
            .post(&self.config.url)
            .header("content-type", "application/json")
            .header("x-tandem-timestamp", &ts)
            .header("x-tandem-signature", format!("sha256={sig}"))
            .header("x-tandem-delivery", &delivery.id)
            .body(body)
            .send()
            .await
            .map_err(|e| AdapterError::transient("desk unreachable").with_source(e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(DeskReceipt {
                thread: Some(delivery.op.handoff_id().to_owned()),
            });
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
}
