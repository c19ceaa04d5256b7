//! The sharing state of a process (what [`crate::shared`] uses to pass live updates
//! between processes sharing a store), apart from the code that follows the feed so that
//! the router, which holds it, depends on no module that acts.

use crate::store::Notification;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::broadcast;

/// Largest payload shared.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// How many updates of one topic may wait for a slow adapter before the oldest are
/// dropped (the receiver is told how many it missed).
const TOPIC_BUFFER: usize = 1024;

/// The sharing state of a process.
pub(crate) struct Shared {
    /// This process among those sharing the store (random, per start).
    pub(crate) origin: String,
    /// Whether the store's feed is followed (set once, before adapters are built).
    pub(crate) following: AtomicBool,
    topics: Mutex<HashMap<String, broadcast::Sender<String>>>,
}

impl Shared {
    pub(crate) fn new() -> Self {
        Self {
            origin: format!("{:016x}", rand::random::<u64>()),
            following: AtomicBool::new(false),
            topics: Mutex::new(HashMap::new()),
        }
    }

    /// Whether other processes may share the store (its feed is followed).
    pub(crate) fn is_following(&self) -> bool {
        self.following.load(Ordering::SeqCst)
    }

    pub(crate) fn sender(&self, topic: &str) -> broadcast::Sender<String> {
        self.topics
            .lock()
            .expect("topics lock poisoned")
            .entry(topic.to_owned())
            .or_insert_with(|| broadcast::channel(TOPIC_BUFFER).0)
            .clone()
    }

    pub(crate) fn dispatch(&self, n: Notification) {
        if n.origin == self.origin {
            return;
        }
        let sender = self
            .topics
            .lock()
            .expect("topics lock poisoned")
            .get(&n.topic)
            .cloned();
        if let Some(sender) = sender {
            let _ = sender.send(n.payload);
        }
    }
}
