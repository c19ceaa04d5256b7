//! Releasing a handoff an external desk owns (an admin action); who may act on a
//! handoff is the engine's rule ([`crate::engine::ownership`]).

use crate::executor::Step;
use crate::store::StoreError;

impl crate::router::Core {
    /// Gives a conversation a person was answering outside Tandem (owner `external`)
    /// back to the bot now, without waiting for `external_release_after`. `Ok(None)` when
    /// there is no such conversation, `Ok(Some(false))` when it was not `external`.
    pub async fn release_external(
        &self,
        id: &tandem_model::ConversationId,
    ) -> Result<Option<bool>, StoreError> {
        let store = &self.inner.store;
        self.apply(
            "releasing an external owner",
            || store.conversation(id),
            |conv| async move {
                let now = self.inner.clock.now();
                Ok(
                    match crate::engine::ownership::release_external(conv, now) {
                        Some(turn) => Step::Commit(turn, true),
                        None => Step::Done(false),
                    },
                )
            },
        )
        .await
    }
}
