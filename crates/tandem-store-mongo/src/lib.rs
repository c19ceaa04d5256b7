//! The MongoDB store for Tandem (official driver).
