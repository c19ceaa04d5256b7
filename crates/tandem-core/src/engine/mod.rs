//! The engine: what Tandem decides, as pure functions.

pub mod handoff;
pub mod ownership;
