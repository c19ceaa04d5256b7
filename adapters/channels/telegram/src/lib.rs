//! Telegram Bot API channel for Tandem.
