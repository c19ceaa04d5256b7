//! BSON round-trip tests of every document type.
