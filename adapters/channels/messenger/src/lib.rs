//! Facebook Messenger channel for Tandem.
