//! Store errors.

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached or failed; callers answer 5xx / retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// An optimistic check failed (stale version, duplicate key); reload and try again.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The inbound record of a turn was already processed: the turn must be dropped.
    #[error("inbound record already processed")]
    AlreadyProcessed,
    /// A stored document could not be read (corrupt or from an unknown schema).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}
