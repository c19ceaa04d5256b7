//! Send pacing per channel: the outbox spaces sends so that bursts queue instead of
//! earning rate-limit errors.
//!
//! Each channel declares its pace in [`Pacing`] (defaults from the platform's published
//! limits, overridable in the channel's config). The pacer is a generic cell rate
//! algorithm (a token bucket kept as one "theoretical arrival time") per channel and per
//! (channel, recipient). A platform's rate-limit answer with a retry hint pauses the
//! whole channel until then.
//!
//! Where the store keeps shared budgets ([`KeyValue::reserve_pacing`]: MongoDB, which several
//! replicas share), the budgets live there, so replicas together keep to one rate per
//! channel and per recipient, and a pause one replica was asked for holds them all. Over
//! a store one process holds (SQLite), or while the store cannot be reached, the budgets
//! are in memory: after a restart pacing starts afresh, which at worst costs one
//! rate-limit answer.

use crate::store::Store;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tandem_model::{ChannelId, Pacing, Timestamp};
use tokio::time::Instant;
use tracing::debug;

/// Above this many tracked recipients, stale ones are forgotten.
const MAX_RECIPIENTS: usize = 10_000;

/// Reserves send slots.
#[derive(Debug, Default)]
pub struct Pacer {
    inner: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    channels: HashMap<ChannelId, Instant>,
    recipients: HashMap<(ChannelId, String), Instant>,
    paused: HashMap<ChannelId, Instant>,
}

impl Pacer {
    /// A pacer with nothing reserved.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reserves a slot for one send to `recipient` on `channel` and returns how long to
    /// wait before sending. The slot is taken whether or not the caller waits.
    pub fn reserve(
        &self,
        channel: &ChannelId,
        recipient: &str,
        pacing: &Pacing,
        now: Instant,
    ) -> Duration {
        let mut state = self.inner.lock().expect("pacer lock poisoned");
        let mut wait = state.paused_for(channel, now);
        if pacing.per_second > 0 {
            let interval = Duration::from_secs(1) / pacing.per_second;
            let tat = state.channels.entry(channel.clone()).or_insert(now);
            wait = wait.max(take(tat, interval, pacing.burst, now));
        }
        if pacing.per_recipient_interval_ms > 0 {
            if state.recipients.len() > MAX_RECIPIENTS {
                state.recipients.retain(|_, tat| *tat > now);
            }
            let interval = Duration::from_millis(pacing.per_recipient_interval_ms);
            let tat = state
                .recipients
                .entry((channel.clone(), recipient.to_owned()))
                .or_insert(now);
            wait = wait.max(take(tat, interval, pacing.per_recipient_burst, now));
        }
        wait
    }

    /// Reserves a slot for one send to `recipient` on `channel`, in the store's shared
    /// budgets when it keeps them (else, or when it fails, in memory), and returns how
    /// long to wait before sending. `wall_now` is the clock's time, the budgets' time
    /// base across processes.
    pub async fn reserve_shared(
        &self,
        store: &dyn Store,
        channel: &ChannelId,
        recipient: &str,
        pacing: &Pacing,
        wall_now: Timestamp,
    ) -> Duration {
        let (interval, burst) = if pacing.per_second > 0 {
            (Duration::from_secs(1) / pacing.per_second, pacing.burst)
        } else {
            // Still read: a pause on the channel holds every send.
            (Duration::ZERO, 1)
        };
        let channel_key = channel_key(channel);
        let channel_slot = store.reserve_pacing(&channel_key, interval, burst, wall_now);
        let recipient_slot = async {
            if pacing.per_recipient_interval_ms == 0 {
                return Ok(Some(Duration::ZERO));
            }
            store
                .reserve_pacing(
                    &recipient_key(channel, recipient),
                    Duration::from_millis(pacing.per_recipient_interval_ms),
                    pacing.per_recipient_burst,
                    wall_now,
                )
                .await
        };
        let now = Instant::now();
        match tokio::join!(channel_slot, recipient_slot) {
            (Ok(Some(a)), Ok(Some(b))) => a.max(b).max(self.paused_for(channel, now)),
            (Ok(None), _) | (_, Ok(None)) => self.reserve(channel, recipient, pacing, now),
            (Err(e), _) | (_, Err(e)) => {
                debug!(error = %e, "Shared send budget unavailable; pacing in memory.");
                self.reserve(channel, recipient, pacing, now)
            }
        }
    }

    /// Holds every send on `channel` until `until`, here and, where the store keeps
    /// shared budgets, in every process (`wall_until` is the same moment on the clock).
    pub async fn pause_shared(
        &self,
        store: &dyn Store,
        channel: &ChannelId,
        until: Instant,
        wall_until: Timestamp,
    ) {
        self.pause(channel, until);
        if let Err(e) = store.pause_pacing(&channel_key(channel), wall_until).await {
            debug!(error = %e, "Sharing a channel pause failed; it holds this process only.");
        }
    }

    /// How long `channel` is paused from `now` in this process.
    fn paused_for(&self, channel: &ChannelId, now: Instant) -> Duration {
        self.inner
            .lock()
            .expect("pacer lock poisoned")
            .paused_for(channel, now)
    }

    /// Holds every send on `channel` until `until` (the platform asked us to wait).
    pub fn pause(&self, channel: &ChannelId, until: Instant) {
        let mut state = self.inner.lock().expect("pacer lock poisoned");
        let entry = state.paused.entry(channel.clone()).or_insert(until);
        if *entry < until {
            *entry = until;
        }
    }
}

impl State {
    fn paused_for(&self, channel: &ChannelId, now: Instant) -> Duration {
        self.paused
            .get(channel)
            .map_or(Duration::ZERO, |until| until.saturating_duration_since(now))
    }
}

/// The shared budget of a channel.
fn channel_key(channel: &ChannelId) -> String {
    format!("channel:{channel}")
}

/// The shared budget of one recipient on a channel: the recipient (a phone number, a
/// chat id) is hashed, so the store holds no contact data for it.
fn recipient_key(channel: &ChannelId, recipient: &str) -> String {
    let digest = Sha256::digest(recipient.as_bytes());
    format!("recipient:{channel}:{}", hex::encode(&digest[..16]))
}

/// One step of the generic cell rate algorithm: `tat` is the theoretical arrival time of
/// the next send; `burst` sends may run ahead of it.
fn take(tat: &mut Instant, interval: Duration, burst: u32, now: Instant) -> Duration {
    let start = (*tat).max(now);
    let ahead = interval * burst.max(1).saturating_sub(1);
    let allowed_at = start.checked_sub(ahead).unwrap_or(now);
    *tat = start + interval;
    allowed_at.saturating_duration_since(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_rate_with_burst() {
        let pacer = Pacer::new();
        let ch = ChannelId::new("tg");
        let pacing = Pacing {
            per_second: 10,
            burst: 3,
            ..Pacing::default()
        };
        let t0 = Instant::now();
        let waits: Vec<_> = (0..5)
            .map(|i| pacer.reserve(&ch, &format!("r{i}"), &pacing, t0))
            .collect();
        assert_eq!(&waits[..3], &[Duration::ZERO; 3], "the burst goes at once");
        assert_eq!(waits[3], Duration::from_millis(100));
        assert_eq!(waits[4], Duration::from_millis(200));
        // Time passing refills the bucket.
        assert_eq!(
            pacer.reserve(&ch, "x", &pacing, t0 + Duration::from_secs(10)),
            Duration::ZERO
        );
    }

    #[test]
    fn per_recipient_interval_and_pause() {
        let pacer = Pacer::new();
        let ch = ChannelId::new("tg");
        let pacing = Pacing {
            per_recipient_interval_ms: 1000,
            per_recipient_burst: 1,
            ..Pacing::default()
        };
        let t0 = Instant::now();
        assert_eq!(pacer.reserve(&ch, "a", &pacing, t0), Duration::ZERO);
        assert_eq!(pacer.reserve(&ch, "a", &pacing, t0), Duration::from_secs(1));
        assert_eq!(
            pacer.reserve(&ch, "b", &pacing, t0),
            Duration::ZERO,
            "other chats are not held"
        );
        pacer.pause(&ch, t0 + Duration::from_secs(5));
        assert_eq!(pacer.reserve(&ch, "c", &pacing, t0), Duration::from_secs(5));
        assert_eq!(
            pacer.reserve(&ChannelId::new("wa"), "c", &Pacing::default(), t0),
            Duration::ZERO
        );
    }
}
