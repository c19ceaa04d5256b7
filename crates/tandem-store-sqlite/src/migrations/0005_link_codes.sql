-- Migration 5: link codes (issue 7). A short-lived single-use code links the channel
-- identity that sends it to `customer_id`; `used_at` is set by the one redemption.
CREATE TABLE link_codes (
    code        TEXT    PRIMARY KEY,
    customer_id TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
) WITHOUT ROWID;
CREATE INDEX link_codes_customer ON link_codes (customer_id, expires_at);
