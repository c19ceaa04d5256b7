//! Delivery reports: what a platform says happened to a message Tandem sent (WhatsApp
//! `statuses[]`, Messenger `delivery`/`read` watermarks), and whether a customer can be
//! reached on a channel at all (Telegram: the user blocked the bot).

use crate::{ChannelId, Timestamp};
use serde::{Deserialize, Serialize};

/// One delivery report, normalized. Reports are idempotent: the state of a sent message
/// only moves forward (sent → delivered → read), and a failure is recorded once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryUpdate {
    /// The channel instance the report came from.
    pub channel: ChannelId,
    /// Which sent messages the report is about.
    pub target: DeliveryTarget,
    /// What happened to them.
    pub status: DeliveryStatus,
    /// When the platform says it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub at: Timestamp,
}

/// Which sent messages a report is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeliveryTarget {
    /// One message, by the id the platform returned when it was sent.
    Message {
        /// The platform's message id (WhatsApp `wamid`, Messenger `mid`).
        platform_message_id: String,
    },
    /// Every message sent to `recipient` up to `watermark` (Messenger receipts).
    UpTo {
        /// The recipient's subject on the channel.
        recipient: String,
        /// Messages sent at or before this instant are covered.
        #[serde(with = "time::serde::rfc3339")]
        watermark: Timestamp,
    },
}

/// What happened to a sent message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// The platform accepted it (usually already known from the send call).
    Sent,
    /// It reached the customer's device.
    Delivered,
    /// The customer read it (implies delivered).
    Read,
    /// The platform gave up on it after accepting it.
    Failed {
        /// How the failure is to be handled.
        kind: FailureKind,
        /// The platform's error code, e.g. `131047`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        /// A short reason for operators (never message text).
        reason: String,
    },
}

/// Classification of an asynchronous delivery failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The messaging window was closed: a template may still reach the customer.
    WindowClosed,
    /// The customer cannot be reached on this channel (blocked, unknown, deactivated).
    Unreachable,
    /// Anything else; not retried.
    Other,
}

impl FailureKind {
    /// A stable short name for metrics and stored reasons.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::WindowClosed => "window_closed",
            FailureKind::Unreachable => "unreachable",
            FailureKind::Other => "failed",
        }
    }
}

/// Whether a customer can be reached on one channel identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reachability {
    /// False when the platform said the customer cannot be reached (blocked the bot).
    pub reachable: bool,
    /// Why, for operators (`telegram:blocked`, `messenger:551`).
    pub reason: String,
    /// When the platform reported it; older reports never override newer ones.
    #[serde(with = "time::serde::rfc3339")]
    pub at: Timestamp,
}
