//! Live updates between processes sharing a store (issue 13: N stateless replicas).
//!
//! A channel or desk holds live connections (web chat visitors, console agents) in its
//! process only. When another process produces an update for one of them (the outbox
//! entry of a reply was claimed there, an agent acted there), that process serves its
//! own connections directly and records a [`Notification`] through
//! [`KeyValue::publish_notification`](crate::store::KeyValue::publish_notification); every
//! process follows the store's [`notification_feed`](crate::store::KeyValue::notification_feed)
//! and hands the notifications **other** processes published to the adapter of their
//! topic (`channel:<id>`, `desk:<id>`), which pushes them to the connections it holds.
//! A process skips its own notifications, so a connection is never served twice. A store
//! one process holds (SQLite) has no feed: sharing then does nothing.

use crate::router::Core;
use crate::store::{Notification, StoreError};
use futures::stream::BoxStream;
use std::sync::atomic::Ordering;
use tandem_sdk::InboundError;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

pub use crate::sharing::MAX_PAYLOAD_BYTES;

impl Core {
    /// Starts following the updates other processes share through the store, until
    /// `shutdown`. Call before building channels and desks: they ask at build time
    /// whether updates are shared. Returns whether the store shares them (false for a
    /// store one process holds).
    pub async fn follow_shared_updates(
        &self,
        shutdown: CancellationToken,
    ) -> Result<bool, StoreError> {
        let Some(mut feed) = self.inner.store.notification_feed().await? else {
            return Ok(false);
        };
        self.inner.shared.following.store(true, Ordering::SeqCst);
        let core = self.clone();
        tokio::spawn(async move {
            loop {
                let next = tokio::select! {
                    next = feed.recv() => next,
                    () = shutdown.cancelled() => break,
                };
                match next {
                    Some(n) => core.inner.shared.dispatch(n),
                    None => {
                        warn!(
                            "The store's notification feed ended; updates from other replicas stop."
                        );
                        break;
                    }
                }
            }
        });
        Ok(true)
    }

    /// Records a live update of `topic` for the other processes.
    pub(crate) async fn share(&self, topic: &str, payload: &str) -> Result<(), InboundError> {
        if !self.inner.shared.is_following() {
            return Ok(());
        }
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(InboundError::Rejected(format!(
                "a shared update is {} bytes, more than {MAX_PAYLOAD_BYTES}",
                payload.len()
            )));
        }
        self.inner
            .store
            .publish_notification(&Notification {
                topic: topic.to_owned(),
                origin: self.inner.shared.origin.clone(),
                payload: payload.to_owned(),
            })
            .await
            .map_err(|e| InboundError::Unavailable(e.to_string()))
    }

    /// The updates of `topic` other processes share, when the store shares them.
    pub(crate) fn shared_updates(&self, topic: &str) -> Option<BoxStream<'static, String>> {
        if !self.inner.shared.is_following() {
            return None;
        }
        let rx = self.inner.shared.sender(topic).subscribe();
        let topic = topic.to_owned();
        Some(Box::pin(futures::stream::unfold(
            (rx, topic),
            |(mut rx, topic)| async move {
                loop {
                    match rx.recv().await {
                        Ok(payload) => return Some((payload, (rx, topic))),
                        Err(broadcast::error::RecvError::Lagged(missed)) => {
                            debug!(
                                topic,
                                missed, "Shared updates were dropped for a slow adapter."
                            );
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            },
        )))
    }
}
