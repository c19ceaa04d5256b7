//! What happens between claiming an outbox entry and calling the channel adapter, and
//! right after a failed call: the checks that keep the outbox from sending into the void.
//!
//! Before a send: a customer marked unreachable on the channel fails at once; a closed
//! messaging window turns the message into the channel's template, tags it for a human
//! agent, or fails it as `undeliverable: window_closed` (see [`crate::window`]); then the
//! channel's pacing may hold the send (see [`crate::pacing`]). After a failed send: a
//! rate-limit hint pauses the channel, an unreachable recipient is marked so, and a
//! window rejection gets one retry as template or tagged message.

use crate::config::OutboxConfig;
use crate::router::Core;
use crate::store::{OutboxEntry, StoreError};
use crate::window::{self, Prepared, WindowState};
use std::time::Duration;
use tandem_model::{Capabilities, OutboundMessage, Reachability, Timestamp, WindowPolicy};
use tandem_sdk::{AdapterError, ChannelAdapter, ErrorKind};
use tracing::debug;

/// The decision for one claimed entry.
#[derive(Debug)]
pub(crate) enum Gate {
    /// Send this message (content possibly replaced by a template or tagged).
    Send {
        /// The message to hand to the adapter (boxed: much larger than the others).
        message: Box<OutboundMessage>,
        /// The window when it was checked, for a fallback after a rejection.
        window: WindowState,
        /// The customer's display name, for template parameters.
        customer_name: Option<String>,
    },
    /// Fail the entry for good.
    Fail {
        /// Metric kind (`unreachable`, `window_closed`).
        kind: &'static str,
        /// The recorded error.
        error: String,
    },
    /// Give the entry back for a later attempt.
    Later {
        /// When.
        at: Timestamp,
        /// Why (recorded as the last error).
        reason: String,
    },
}

/// Checks reachability, the window and pacing for `entry`.
pub(crate) async fn check(
    core: &Core,
    config: &OutboxConfig,
    entry: &OutboxEntry,
    adapter: &dyn ChannelAdapter,
) -> Gate {
    match checked(core, config, entry, adapter).await {
        Ok(gate) => gate,
        Err(e) => Gate::Later {
            at: core.inner.clock.now() + config.backoff(entry.attempts),
            reason: format!("store unavailable before sending: {e}"),
        },
    }
}

async fn checked(
    core: &Core,
    config: &OutboxConfig,
    entry: &OutboxEntry,
    adapter: &dyn ChannelAdapter,
) -> Result<Gate, StoreError> {
    let store = &core.inner.store;
    let msg = &entry.message;
    let caps = adapter.capabilities();
    if let Some(r) = store.reachability(&msg.channel, &msg.recipient).await?
        && !r.reachable
        && !wrote_since(core, msg, r.at).await?
    {
        return Ok(Gate::Fail {
            kind: "unreachable",
            error: format!("undeliverable: unreachable ({})", r.reason),
        });
    }
    let mut message = msg.clone();
    let mut window = WindowState::Unrestricted;
    let mut customer_name = None;
    if caps.window != WindowPolicy::None {
        let Some(conversation) = store.conversation(&msg.conversation_id).await? else {
            return Ok(Gate::Fail {
                kind: "no_conversation",
                error: "the conversation of this message no longer exists".into(),
            });
        };
        let now = core.inner.clock.now();
        let last = window::last_customer_message(&conversation.state, &msg.channel);
        window = window::state(&caps.window, last, now);
        // The name fills template parameters, here or after a platform rejection.
        if !window.is_open() || caps.window_template.is_some() {
            customer_name = store
                .customer(&conversation.customer_id)
                .await?
                .and_then(|c| c.display_name);
        }
        match window::prepare(
            caps,
            window,
            msg.from,
            &msg.content,
            customer_name.as_deref(),
        ) {
            Prepared::Send(content) => {
                if let Some(kind) = fallback_kind(&msg.content, &content) {
                    core.inner
                        .metrics
                        .window_fallback(msg.channel.as_str(), kind);
                }
                message.content = content;
            }
            Prepared::Undeliverable(reason) => {
                return Ok(Gate::Fail {
                    kind: "window_closed",
                    error: format!("undeliverable: {reason}"),
                });
            }
        }
    }
    let wait = core
        .inner
        .pacer
        .reserve_shared(
            store.as_ref(),
            &msg.channel,
            &msg.recipient,
            &caps.pacing,
            core.inner.clock.now(),
        )
        .await;
    if wait > config.lease / 2 {
        return Ok(Gate::Later {
            at: core.inner.clock.now() + wait,
            reason: "paced: the channel's send rate is reached".into(),
        });
    }
    if !wait.is_zero() {
        debug!(wait_ms = wait.as_millis() as u64, "Send paced.");
        tokio::time::sleep(wait).await;
    }
    Ok(Gate::Send {
        message: Box::new(message),
        window,
        customer_name,
    })
}

/// Whether the customer wrote on the message's channel after `since` (a message from
/// them proves they can be reached again, e.g. after unblocking the bot).
async fn wrote_since(
    core: &Core,
    msg: &OutboundMessage,
    since: Timestamp,
) -> Result<bool, StoreError> {
    let Some(conversation) = core.inner.store.conversation(&msg.conversation_id).await? else {
        return Ok(false);
    };
    Ok(
        window::last_customer_message(&conversation.state, &msg.channel)
            .is_some_and(|last| last > since),
    )
}

/// After the platform refused a send because its window is closed: the message to try
/// once more (tagged for an agent, or as the template), if any.
pub(crate) fn window_fallback(
    core: &Core,
    caps: &Capabilities,
    window: WindowState,
    customer_name: Option<&str>,
    message: &OutboundMessage,
) -> Option<OutboundMessage> {
    let content = window::fallback(caps, window, message.from, &message.content, customer_name)?;
    if let Some(kind) = fallback_kind(&message.content, &content) {
        core.inner
            .metrics
            .window_fallback(message.channel.as_str(), kind);
    }
    Some(OutboundMessage {
        content,
        ..message.clone()
    })
}

/// Reacts to a failed send: pauses the channel on a rate-limit hint; marks an
/// unreachable recipient.
pub(crate) async fn after_failure(core: &Core, message: &OutboundMessage, error: &AdapterError) {
    match error.kind() {
        ErrorKind::RateLimited {
            retry_after: Some(after),
        } => {
            let after = after.min(Duration::from_secs(3600));
            core.inner
                .pacer
                .pause_shared(
                    core.inner.store.as_ref(),
                    &message.channel,
                    tokio::time::Instant::now() + after,
                    core.inner.clock.now() + after,
                )
                .await;
        }
        ErrorKind::Unreachable => {
            let reachability = Reachability {
                reachable: false,
                reason: format!("{}: {}", message.channel, error.message()),
                at: core.inner.clock.now(),
            };
            if let Err(e) = core
                .mark_reachability(&message.channel, &message.recipient, reachability)
                .await
            {
                debug!(error = %e, "Recording an unreachable customer failed; the next send will find out again.");
            }
        }
        _ => {}
    }
}

/// The error text recorded for a send that failed for good.
pub(crate) fn failure_text(error: &AdapterError) -> String {
    match error.kind() {
        ErrorKind::WindowClosed | ErrorKind::Unreachable => format!("undeliverable: {error}"),
        _ => error.to_string(),
    }
}

fn fallback_kind(
    before: &tandem_model::OutboundContent,
    after: &tandem_model::OutboundContent,
) -> Option<&'static str> {
    if after.template.is_some() && before.template.is_none() {
        Some("template")
    } else if after.tag.is_some() && before.tag.is_none() {
        Some("tag")
    } else {
        None
    }
}
