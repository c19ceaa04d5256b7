//! The Chatwoot agent desk: each handoff becomes an open conversation in an API-channel
//! inbox, with the briefing and transcript as private notes.
//!
//! Out (Application API, header `api_access_token`): `Open` finds or creates the contact
//! (identifier = Tandem's customer id), creates the conversation (custom attributes carry
//! the handoff id), posts the briefing and the transcript as private notes; `Append` posts
//! customer messages as incoming messages; `Close` notes the end and resolves the
//! conversation. HTTP failures are classified for the outbox. How far an agent's reply got
//! is set as the message's status (`PATCH …/messages/{id}`: sent, delivered, read, failed
//! with "Not delivered to the customer: window closed"); where Chatwoot lacks that call, a
//! failure is a private note.
//!
//! In: `POST /desks/chatwoot/webhook` (signed when `webhook_secret` is set): agent replies
//! (outgoing, not private, from a user) → agent messages; resolved → back to the bot;
//! assignment → accepted (or, when another agent holds the handoff, a transfer to the
//! new assignee: reassigning in Chatwoot is how a handoff changes hands). An action the
//! core refuses (an agent replying in a handoff another agent holds) is answered with a
//! private note in the conversation and never reaches the customer.

mod api;
mod config;
mod delivery;
mod outbound;
mod refs;
mod render;
mod verify;
mod webhook;

pub use config::ChatwootDeskConfig;

use std::sync::Arc;
use tandem_sdk::{AdapterError, BuiltDesk, ConfigErrors, DeskContext, DeskFactory};
use tracing::warn;

/// The `chatwoot` desk kind.
#[derive(Debug, Clone, Copy)]
pub struct ChatwootDesk;

impl DeskFactory for ChatwootDesk {
    const KIND: &'static str = "chatwoot";
    type Config = ChatwootDeskConfig;

    fn validate(config: &Self::Config) -> Result<(), ConfigErrors> {
        config.validate()
    }

    async fn build(config: Self::Config, cx: DeskContext) -> Result<BuiltDesk, AdapterError> {
        if config.webhook_secret.is_empty() {
            warn!(
                desk = %cx.id,
                "Chatwoot webhook_secret is not set and allow_unsigned = true: unsigned webhooks are accepted at /desks/chatwoot/webhook, so anyone who can reach it can act as an agent. Set webhook_secret (Chatwoot with signed webhooks) or keep that URL private."
            );
        }
        let config = Arc::new(config);
        let api = api::ChatwootApi::new(config.clone(), cx.http.clone());
        let refs = refs::Refs::new(cx.events.clone());
        let inbound = webhook::Inbound {
            config: config.clone(),
            sink: cx.events.clone(),
            refs: refs.clone(),
            api: api.clone(),
        };
        Ok(BuiltDesk {
            desk: Arc::new(outbound::ChatwootDeskClient::new(
                api,
                refs,
                config.inbox_id,
            )),
            routes: Some(webhook::routes(inbound)),
            worker: None,
        })
    }
}
