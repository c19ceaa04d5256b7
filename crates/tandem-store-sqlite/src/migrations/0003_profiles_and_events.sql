-- Migration 3: verified emails of identities (customer lookup by email) and business
-- events about customers (policy triggers such as repeated payment failures).

ALTER TABLE identities ADD COLUMN email TEXT;
CREATE INDEX identities_email ON identities (email COLLATE NOCASE) WHERE email IS NOT NULL;

CREATE TABLE customer_events (
    id          TEXT    PRIMARY KEY,
    customer_id TEXT    NOT NULL REFERENCES customers (id),
    name        TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    data        TEXT    NOT NULL DEFAULT 'null'
);
CREATE INDEX customer_events_by_customer ON customer_events (customer_id, at);
