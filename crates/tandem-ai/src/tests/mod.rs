//! Unit tests of the crate's public behaviour: the shipped knowledge base, the bot's
//! matching and slot flow, knowledge-base validation, and sentiment.

mod bot;
mod bots;
mod intent;
mod kb;
mod sentiment;
