-- Migration 11: named leases (one Telegram poller among processes, and later others): the
-- holder and until when it holds. An expired row is free; releasing deletes it.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
