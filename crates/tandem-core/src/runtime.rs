//! The runtime's one entry: [`Core::execute`] carries out a [`Command`] (gather the
//! facts, ask the engine, commit, follow up). The workers, the timer worker, the outbox
//! (a desk's confirmation), routing and delivery reports come through here; the admin
//! API calls the methods behind its two commands directly (`Core::on_customer_event`,
//! `Core::release_external`), whose answers it shows.

use crate::engine::{AdminAction, Command};
use crate::policy::Decision;
use crate::router::Core;
use crate::store::StoreError;

/// What executing a command answers, for the callers that need more than "done".
#[derive(Debug)]
pub enum Executed {
    /// Applied, or nothing to change.
    Done,
    /// [`Command::BusinessEvent`]: the policy's decision.
    Decided(Decision),
    /// [`Command::Assignment`]: whether the handoff was still waiting and is now the
    /// agent's (when not, the caller releases the agent's claim).
    Assigned(bool),
    /// [`AdminAction::ReleaseExternal`]: `None` without such a conversation,
    /// `Some(false)` when it was not `external`.
    Released(Option<bool>),
}

impl Core {
    /// Carries out one command.
    pub async fn execute(&self, command: Command) -> Result<Executed, StoreError> {
        match command {
            Command::CustomerMessage(pending) => self.process_message(pending).await?,
            Command::DeskEvent(pending) => self.process_desk_event(pending).await?,
            Command::DeskDeliveryResult {
                conversation,
                handoff_id,
            } => self.on_desk_opened(&conversation, &handoff_id).await,
            Command::TimerDue(timer) => self.fire(timer).await?,
            Command::BusinessEvent(customer) => {
                return Ok(Executed::Decided(self.on_customer_event(&customer).await?));
            }
            Command::Assignment {
                conversation,
                handoff_id,
                agent,
            } => {
                let assigned = self.assign(&conversation, &handoff_id, &agent).await?;
                return Ok(Executed::Assigned(assigned));
            }
            Command::DeliveryReport(update) => self.record_delivery(update).await?,
            Command::AdminAction(AdminAction::ReleaseExternal(id)) => {
                return Ok(Executed::Released(self.release_external(&id).await?));
            }
        }
        Ok(Executed::Done)
    }
}
