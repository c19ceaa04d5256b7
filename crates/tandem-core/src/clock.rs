//! Time, injectable so that tests can move it.

use tandem_model::Timestamp;

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// Now, UTC, millisecond precision.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        tandem_model::now()
    }
}
