//! Span and field names shared by the core and every adapter, so nobody misspells them.
//!
//! Levels: INFO for lifecycle only; WARN for recovered problems; ERROR when an operator
//! must act; DEBUG/TRACE per message. Message text, phone numbers, emails and tokens never
//! appear at INFO or above.

/// Span for one received message.
pub const SPAN_INBOUND: &str = "inbound";
/// Span for one outbound delivery attempt.
pub const SPAN_DELIVER: &str = "deliver";
/// Span for one handoff.
pub const SPAN_HANDOFF: &str = "handoff";

/// Field: the channel kind (`webchat`).
pub const CHANNEL_KIND: &str = "channel.kind";
/// Field: the channel instance id.
pub const CHANNEL_ID: &str = "channel.id";
/// Field: the platform message id.
pub const MESSAGE_PLATFORM_ID: &str = "message.platform_id";
/// Field: the conversation id.
pub const CONVERSATION_ID: &str = "conversation.id";
/// Field: the outbox entry id.
pub const OUTBOX_ID: &str = "outbox.id";
/// Field: the delivery attempt number.
pub const ATTEMPT: &str = "attempt";

/// Lets one log line through per period and counts the repeats held back, so a flood of
/// one warning (a forged request every millisecond, a platform error per batch entry)
/// becomes one line per period that says how many were left out.
///
/// One `static` per call site:
///
/// ```
/// use std::time::Duration;
/// use tandem_sdk::telemetry::Throttle;
///
/// static BAD_SIGNATURE: Throttle = Throttle::new(Duration::from_secs(10));
/// if let Some(suppressed) = BAD_SIGNATURE.check() {
///     // warn!(suppressed, "Webhook with a bad signature refused.");
///     eprintln!("Webhook with a bad signature refused (suppressed={suppressed}).");
/// }
/// ```
#[derive(Debug)]
pub struct Throttle {
    period: std::time::Duration,
    state: std::sync::Mutex<ThrottleState>,
}

#[derive(Debug)]
struct ThrottleState {
    /// When the next line may go out; `None` before the first.
    next_at: Option<std::time::Instant>,
    /// Occurrences held back since the last line.
    suppressed: u64,
}

impl Throttle {
    /// At most one line per `period`.
    pub const fn new(period: std::time::Duration) -> Self {
        Self {
            period,
            state: std::sync::Mutex::new(ThrottleState {
                next_at: None,
                suppressed: 0,
            }),
        }
    }

    /// Counts one occurrence. `Some(n)` when a line should be logged now, where `n` is
    /// the number of occurrences held back since the previous line; `None` when this one
    /// is held back.
    pub fn check(&self) -> Option<u64> {
        self.check_at(std::time::Instant::now())
    }

    fn check_at(&self, now: std::time::Instant) -> Option<u64> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.next_at.is_some_and(|at| now < at) {
            state.suppressed += 1;
            return None;
        }
        state.next_at = Some(now + self.period);
        Some(std::mem::take(&mut state.suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::Throttle;
    use std::time::{Duration, Instant};

    #[test]
    fn one_line_per_period_with_the_count_held_back() {
        let throttle = Throttle::new(Duration::from_secs(10));
        let start = Instant::now();
        assert_eq!(throttle.check_at(start), Some(0), "the first goes out");
        for i in 1..1000 {
            assert_eq!(throttle.check_at(start + Duration::from_millis(i)), None);
        }
        assert_eq!(
            throttle.check_at(start + Duration::from_secs(10)),
            Some(999),
            "the next period's line counts the repeats"
        );
        assert_eq!(throttle.check_at(start + Duration::from_secs(11)), None);
        assert_eq!(throttle.check_at(start + Duration::from_secs(25)), Some(1));
    }
}
