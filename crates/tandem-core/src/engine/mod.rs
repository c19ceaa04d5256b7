//! The engine: what Tandem decides, as pure functions.

pub mod handoff;
pub mod ownership;
pub mod desk;
pub mod drafts;
pub mod routing;
pub mod sla;
pub mod proactive;
pub mod delivery;
pub mod message;
