//! [`RecordingDesk`] stands in for the core behind a desk's `DeskEventSink`: it records
//! agent actions (deduplicated on the dedupe key, like the core), keeps the desk's
//! key-value space in memory, and can be made unavailable to test how a desk answers
//! its platform then.

use async_trait::async_trait;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tandem_sdk::{Accepted, DeskAnswer, DeskEvent, DeskEventHandler, DeskEventSink, InboundError};

/// One recorded agent action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedDeskEvent {
    /// The desk instance.
    pub desk: String,
    /// The dedupe key the desk gave.
    pub dedupe_key: String,
    /// The action.
    pub event: DeskEvent,
}

#[derive(Debug, Default)]
struct Inner {
    events: Mutex<Vec<RecordedDeskEvent>>,
    seen: Mutex<HashSet<(String, String)>>,
    kv: Mutex<BTreeMap<(String, String), String>>,
    unavailable: AtomicBool,
}

/// An in-memory core for desks under test.
#[derive(Debug, Clone, Default)]
pub struct RecordingDesk {
    inner: Arc<Inner>,
}

impl RecordingDesk {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// A sink for desk instance `desk` backed by this recorder.
    pub fn sink(&self, desk: &str) -> DeskEventSink {
        DeskEventSink::new(desk, Arc::new(self.clone()))
    }

    /// The recorded actions (first submissions only), in order.
    pub fn events(&self) -> Vec<RecordedDeskEvent> {
        self.inner.events.lock().expect("recorder lock").clone()
    }

    /// A value of a desk's key-value space.
    pub fn kv(&self, desk: &str, key: &str) -> Option<String> {
        self.inner
            .kv
            .lock()
            .expect("recorder lock")
            .get(&(desk.to_owned(), key.to_owned()))
            .cloned()
    }

    /// Sets a value of a desk's key-value space.
    pub fn set_kv(&self, desk: &str, key: &str, value: &str) {
        self.inner
            .kv
            .lock()
            .expect("recorder lock")
            .insert((desk.to_owned(), key.to_owned()), value.to_owned());
    }

    /// Makes every call fail with `InboundError::Unavailable` (or work again).
    pub fn set_unavailable(&self, unavailable: bool) {
        self.inner.unavailable.store(unavailable, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), InboundError> {
        if self.inner.unavailable.load(Ordering::SeqCst) {
            Err(InboundError::Unavailable("recorder set unavailable".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl DeskEventHandler for RecordingDesk {
    async fn desk_event(
        &self,
        desk: &str,
        dedupe_key: &str,
        event: DeskEvent,
    ) -> Result<DeskAnswer, InboundError> {
        self.check()?;
        if dedupe_key.is_empty() || event.handoff_id.is_empty() {
            return Err(InboundError::Rejected(
                "a dedupe key and a handoff id are required".into(),
            ));
        }
        let fresh = self
            .inner
            .seen
            .lock()
            .expect("recorder lock")
            .insert((desk.to_owned(), dedupe_key.to_owned()));
        if fresh {
            self.inner
                .events
                .lock()
                .expect("recorder lock")
                .push(RecordedDeskEvent {
                    desk: desk.to_owned(),
                    dedupe_key: dedupe_key.to_owned(),
                    event,
                });
        }
        Ok(DeskAnswer::Recorded(Accepted { duplicate: !fresh }))
    }

    async fn kv_get(&self, desk: &str, key: &str) -> Result<Option<String>, InboundError> {
        self.check()?;
        Ok(self.kv(desk, key))
    }

    async fn kv_put(&self, desk: &str, key: &str, value: &str) -> Result<(), InboundError> {
        self.check()?;
        self.set_kv(desk, key, value);
        Ok(())
    }
}
