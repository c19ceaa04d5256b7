//! Releasing a handoff an external desk owns (an admin action); who may act on a
//! handoff is the engine's rule ([`crate::engine::ownership`]).

use crate::executor::Step;
use crate::store::{StoreError, Turn};

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
            |mut next| async move {
                if next.state.owner != crate::store::Owner::External {
                    return Ok(Step::Done(false));
                }
                next.state.owner = crate::store::Owner::Bot;
                next.state.external_at_ms = None;
                next.updated_at = self.inner.clock.now();
                Ok(Step::Commit(Turn::of(next), true))
            },
        )
        .await
    }
}
