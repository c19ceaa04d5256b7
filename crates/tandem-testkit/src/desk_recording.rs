//! [`RecordingDesk`] stands in for the core behind a desk's `DeskEventSink`: it records
//! agent actions (deduplicated on the dedupe key, like the core), keeps the desk's
//! key-value space in memory, and can be made unavailable to test how a desk answers
//! its platform then. [`RecordingDesk::owning`] also keeps who owns each handoff and
//! refuses other agents' actions (`not_owner`), like the core does.

use async_trait::async_trait;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tandem_sdk::handoff::Agent;
use tandem_sdk::{
    Accepted, DeskAnswer, DeskEvent, DeskEventHandler, DeskEventKind, DeskEventSink, DeskRefusal,
    InboundError, TransferTarget,
};

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
    /// `Some` when ownership is enforced: handoff id → the owning agent's id.
    owners: Option<Mutex<BTreeMap<String, String>>>,
    refused: Mutex<Vec<RecordedDeskEvent>>,
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

    /// A recorder that enforces ownership like the core: the first agent to accept (or
    /// reply to) a handoff owns it; an action by another agent is refused with
    /// `not_owner` (nothing recorded) until the owner transfers it to them; resolving,
    /// releasing or a transfer to a queue frees it. Actions naming no agent (a desk's
    /// own transfer, say) are not checked.
    pub fn owning() -> Self {
        Self {
            inner: Arc::new(Inner {
                owners: Some(Mutex::new(BTreeMap::new())),
                ..Inner::default()
            }),
        }
    }

    /// The refusal message for a handoff held by `owner` (what a desk shows the agent).
    pub fn refusal_message(owner: &str) -> String {
        format!("Another agent ({owner}) holds this handoff; ask them to transfer it.")
    }

    /// The actions refused so far (ownership), in order.
    pub fn refused(&self) -> Vec<RecordedDeskEvent> {
        self.inner.refused.lock().expect("recorder lock").clone()
    }

    /// The owner of handoff `id`, when ownership is enforced and someone holds it.
    pub fn owner(&self, id: &str) -> Option<String> {
        let owners = self.inner.owners.as_ref()?;
        owners.lock().expect("recorder lock").get(id).cloned()
    }

    /// Checks ownership for `event`; on success, applies its effect on ownership.
    fn own(&self, event: &DeskEvent) -> Option<DeskRefusal> {
        let owners = self.inner.owners.as_ref()?;
        let mut owners = owners.lock().expect("recorder lock");
        let actor = event.agent.as_ref().map(|a| a.id.clone());
        let held = owners.get(&event.handoff_id).cloned();
        if let (Some(actor), Some(owner)) = (&actor, &held)
            && actor != owner
        {
            return Some(DeskRefusal {
                code: "not_owner".into(),
                message: Self::refusal_message(owner),
                owner: Some(Agent {
                    id: owner.clone(),
                    name: None,
                }),
            });
        }
        let id = event.handoff_id.clone();
        match &event.kind {
            DeskEventKind::Accepted
            | DeskEventKind::AgentMessage { .. }
            | DeskEventKind::AgentMedia { .. } => {
                if let (Some(actor), None) = (actor, held) {
                    owners.insert(id, actor);
                }
            }
            DeskEventKind::Transferred {
                to: TransferTarget::Agent(to),
            } => {
                owners.insert(id, to.id.clone());
            }
            DeskEventKind::Transferred {
                to: TransferTarget::Queue(_),
            }
            | DeskEventKind::Resolved
            | DeskEventKind::Released => {
                owners.remove(&id);
            }
        }
        None
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
        let seen_key = (desk.to_owned(), dedupe_key.to_owned());
        let fresh = !self
            .inner
            .seen
            .lock()
            .expect("recorder lock")
            .contains(&seen_key);
        if fresh && let Some(refusal) = self.own(&event) {
            self.inner
                .refused
                .lock()
                .expect("recorder lock")
                .push(RecordedDeskEvent {
                    desk: desk.to_owned(),
                    dedupe_key: dedupe_key.to_owned(),
                    event,
                });
            return Ok(DeskAnswer::Refused(refusal));
        }
        self.inner
            .seen
            .lock()
            .expect("recorder lock")
            .insert(seen_key);
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

    async fn kv_swap(
        &self,
        desk: &str,
        key: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, InboundError> {
        self.check()?;
        let mut kv = self.inner.kv.lock().expect("recorder lock");
        let k = (desk.to_owned(), key.to_owned());
        if kv.get(&k).map(String::as_str) != expected {
            return Ok(false);
        }
        kv.insert(k, value.to_owned());
        Ok(true)
    }
}
