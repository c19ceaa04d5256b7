-- Migration 4: the verified identity graph (issue 7). Identities keep their verified
-- phone (`email` already holds the verified email; new writes store it lowercased), and
-- who asserted them (`source`). A customer merged into another keeps its row with
-- `merged_into` set, so that the merge can be undone.

ALTER TABLE identities ADD COLUMN phone TEXT;
ALTER TABLE identities ADD COLUMN source TEXT NOT NULL DEFAULT 'platform';
CREATE INDEX identities_phone ON identities (phone) WHERE phone IS NOT NULL;

ALTER TABLE customers ADD COLUMN merged_into TEXT;

-- Merges, unmerges, links, unlinks and erasures. `record` is the entry's JSON detail
-- (a merge's `MergeRecord`); `unmerged_at` is set on a merge once it was undone.
CREATE TABLE identity_audit (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    id                TEXT    NOT NULL UNIQUE,
    kind              TEXT    NOT NULL,
    customer_id       TEXT    NOT NULL,
    other_customer_id TEXT,
    actor             TEXT    NOT NULL,
    at                INTEGER NOT NULL,
    record            TEXT    NOT NULL,
    unmerged_at       INTEGER
);
CREATE INDEX identity_audit_customer ON identity_audit (customer_id);
CREATE INDEX identity_audit_other ON identity_audit (other_customer_id);

-- Customers sharing an unverified claim (or a key whose merge was undone).
CREATE TABLE suggested_links (
    customer_id       TEXT    NOT NULL,
    other_customer_id TEXT    NOT NULL,
    key_kind          TEXT    NOT NULL,
    key_value         TEXT    NOT NULL,
    reason            TEXT    NOT NULL,
    at                INTEGER NOT NULL,
    PRIMARY KEY (customer_id, other_customer_id, key_kind, key_value)
) WITHOUT ROWID;
CREATE INDEX suggested_links_other ON suggested_links (other_customer_id);
