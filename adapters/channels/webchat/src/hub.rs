//! Live sockets by visitor subject. A visitor may have several tabs open; every one of
//! them receives the visitor's messages.

use crate::protocol::ServerFrame;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// One live socket: its id and the queue its writer drains.
type Socket = (u64, mpsc::Sender<ServerFrame>);

#[derive(Debug, Default)]
pub(crate) struct Hub {
    next_id: AtomicU64,
    sockets: Mutex<HashMap<String, Vec<Socket>>>,
}

impl Hub {
    /// Registers a socket; returns its id for [`Hub::unregister`].
    pub(crate) fn register(&self, subject: &str, tx: mpsc::Sender<ServerFrame>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.sockets
            .lock()
            .expect("hub lock poisoned")
            .entry(subject.to_owned())
            .or_default()
            .push((id, tx));
        id
    }

    pub(crate) fn unregister(&self, subject: &str, id: u64) {
        let mut sockets = self.sockets.lock().expect("hub lock poisoned");
        if let Some(list) = sockets.get_mut(subject) {
            list.retain(|(i, _)| *i != id);
            if list.is_empty() {
                sockets.remove(subject);
            }
        }
    }

    /// Queues `frame` on every live socket of `subject`; returns how many took it.
    pub(crate) fn send(&self, subject: &str, frame: &ServerFrame) -> usize {
        let targets: Vec<mpsc::Sender<ServerFrame>> = self
            .sockets
            .lock()
            .expect("hub lock poisoned")
            .get(subject)
            .map(|list| list.iter().map(|(_, tx)| tx.clone()).collect())
            .unwrap_or_default();
        targets
            .iter()
            .filter(|tx| tx.try_send(frame.clone()).is_ok())
            .count()
    }
}
