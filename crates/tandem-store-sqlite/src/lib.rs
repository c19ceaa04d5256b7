//! The embedded SQLite store: Tandem's default, durable, one file.
