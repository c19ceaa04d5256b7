//! WhatsApp Cloud API channel for Tandem.
