//! Classified adapter errors: the outbox decides from the kind whether and when to retry.

use std::borrow::Cow;
use std::time::Duration;

/// An error returned by an adapter. Constructors have no side effects (no logging).
#[derive(Debug, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct AdapterError {
    kind: ErrorKind,
    message: Cow<'static, str>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// How a failure should be handled.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Network trouble, 5xx, timeouts: retry with backoff.
    Transient,
    /// The platform asked us to slow down; retry after the hint when given.
    RateLimited {
        /// The platform's hint.
        retry_after: Option<Duration>,
    },
    /// Credentials are wrong or revoked: an operator must act; not retried.
    Auth,
    /// The platform refused this message for good (blocked, bad recipient); not retried.
    Rejected,
    /// The messaging window is closed: a template is needed; not retried as is.
    WindowClosed,
    /// The recipient cannot be reached on this channel (blocked the bot, deactivated,
    /// unknown); not retried, and the core marks the identity unreachable.
    Unreachable,
    /// The content cannot be rendered on this channel; not retried.
    Unsupported,
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ErrorKind {
    /// A stable short name for metrics and logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorKind::Transient => "transient",
            ErrorKind::RateLimited { .. } => "rate_limited",
            ErrorKind::Auth => "auth",
            ErrorKind::Rejected => "rejected",
            ErrorKind::WindowClosed => "window_closed",
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::Unsupported => "unsupported",
        }
    }
}

impl AdapterError {
    /// An error of the given kind.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// A retryable failure.
    pub fn transient(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Transient, message)
    }

    /// The platform rate-limited us.
    pub fn rate_limited(retry_after: Option<Duration>) -> Self {
        Self::new(ErrorKind::RateLimited { retry_after }, "rate limited")
    }

    /// Bad or revoked credentials.
    pub fn auth(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Auth, message)
    }

    /// Refused for good.
    pub fn rejected(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Rejected, message)
    }

    /// Outside the platform's messaging window.
    pub fn window_closed(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::WindowClosed, message)
    }

    /// The recipient blocked us or no longer exists.
    pub fn unreachable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Unreachable, message)
    }

    /// Content this channel cannot render.
    pub fn unsupported(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }

    /// The classification.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the outbox should try again.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Transient | ErrorKind::RateLimited { .. }
        )
    }

    /// The platform's retry hint, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.kind {
            ErrorKind::RateLimited { retry_after } => retry_after,
            _ => None,
        }
    }

    /// Classifies an HTTP status the way most platform APIs use it.
    pub fn from_status(
        status: u16,
        retry_after: Option<Duration>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        match status {
            429 => Self::new(ErrorKind::RateLimited { retry_after }, message),
            401 | 403 => Self::auth(message),
            408 | 500..=599 => Self::transient(message),
            _ => Self::rejected(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classification() {
        assert!(AdapterError::from_status(503, None, "x").is_retryable());
        assert!(AdapterError::from_status(429, Some(Duration::from_secs(2)), "x").is_retryable());
        assert_eq!(
            AdapterError::from_status(429, Some(Duration::from_secs(2)), "x").retry_after(),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            AdapterError::from_status(401, None, "x").kind(),
            ErrorKind::Auth
        );
        assert!(!AdapterError::from_status(401, None, "x").is_retryable());
        assert_eq!(
            AdapterError::from_status(400, None, "x").kind(),
            ErrorKind::Rejected
        );
    }
}
