//! Rate limits: token buckets (the `governor` crate), one per socket or one per key
//! (a client address, a platform user id).
//!
//! A bucket holds `burst` tokens and gains `per_second` tokens a second; each message
//! takes one, and a message that finds the bucket empty is refused.

use crate::ConfigErrors;
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};
use serde::Deserialize;
use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

/// A rate limit as configured: `{ per_second = 5, burst = 20 }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Tokens gained per second: the sustained rate.
    pub per_second: u32,
    /// Bucket size: how many may come at once after a quiet spell.
    pub burst: u32,
}

impl RateLimit {
    /// `per_second` tokens a second, `burst` at once.
    pub const fn new(per_second: u32, burst: u32) -> Self {
        Self { per_second, burst }
    }

    /// Pure checks; problems are reported under `path`.
    pub fn validate(&self, path: &str, errors: &mut ConfigErrors) {
        if self.per_second == 0 {
            errors.push(format!("{path}.per_second"), "must be at least 1");
        }
        if self.burst == 0 {
            errors.push(format!("{path}.burst"), "must be at least 1");
        }
    }

    fn quota(self) -> Quota {
        let nonzero = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        Quota::per_second(nonzero(self.per_second)).allow_burst(nonzero(self.burst))
    }
}

/// One token bucket (e.g. per WebSocket session).
#[derive(Debug)]
pub struct Limiter(DefaultDirectRateLimiter);

impl Limiter {
    /// A full bucket for `limit`.
    pub fn new(limit: RateLimit) -> Self {
        Self(DefaultDirectRateLimiter::direct(limit.quota()))
    }

    /// Takes a token; false when the bucket is empty (refuse the message).
    pub fn check(&self) -> bool {
        self.0.check().is_ok()
    }
}

/// A token bucket per key. Keys whose bucket has refilled are forgotten now and then,
/// so memory follows the keys active in the last few seconds.
#[derive(Debug)]
pub struct KeyedLimiter<K: Hash + Eq + Clone> {
    buckets: DefaultKeyedRateLimiter<K>,
    checks: AtomicU64,
}

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    /// Full buckets for `limit`.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            buckets: DefaultKeyedRateLimiter::keyed(limit.quota()),
            checks: AtomicU64::new(0),
        }
    }

    /// Takes a token from `key`'s bucket; false when it is empty.
    pub fn check(&self, key: &K) -> bool {
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            self.buckets.retain_recent();
        }
        self.buckets.check_key(key).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let limiter = Limiter::new(RateLimit::new(1, 5));
        let allowed = (0..100).filter(|_| limiter.check()).count();
        assert_eq!(allowed, 5, "only the burst goes through at once");
    }

    #[test]
    fn keys_have_their_own_buckets() {
        let limiter = KeyedLimiter::new(RateLimit::new(1, 3));
        let a = (0..10).filter(|_| limiter.check(&"a")).count();
        let b = (0..10).filter(|_| limiter.check(&"b")).count();
        assert_eq!((a, b), (3, 3));
    }

    #[test]
    fn zero_is_refused_by_validation() {
        let mut errors = ConfigErrors::default();
        RateLimit::new(0, 0).validate("rate_limit", &mut errors);
        let text = errors.into_result().unwrap_err().to_string();
        assert!(text.contains("rate_limit.per_second"), "{text}");
        assert!(text.contains("rate_limit.burst"), "{text}");
    }
}
