//! The engine: what Tandem decides, as pure functions.

pub mod csat;
pub mod delivery;
pub mod desk;
pub mod drafts;
pub mod handoff;
pub mod message;
pub mod ownership;
pub mod proactive;
pub mod routing;
pub mod sla;
