-- Migration 10: durable timers (the inactivity check-in, and later every timer): a row per
-- pending timer, claimed under a lease so that a timer survives a restart and fires once.
-- `available_at` is when a claim can take it: its due time, or its lease expiry while a
-- process holds it.
CREATE TABLE timers (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    available_at INTEGER NOT NULL,
    claim TEXT,
    attempts INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX timers_available ON timers (available_at);
