-- Migration 2: delivery reports and reachability.

-- Delivery reports name a sent message by (channel, platform id), or every message to
-- a recipient up to a watermark (Messenger). The channel and recipient live in the
-- message document; these expression indexes answer both lookups.
CREATE INDEX outbox_sent_platform_id
    ON outbox (json_extract(message, '$.channel'), platform_message_id)
    WHERE platform_message_id IS NOT NULL;
CREATE INDEX outbox_sent_recipient
    ON outbox (json_extract(message, '$.channel'), json_extract(message, '$.recipient'), finished_at)
    WHERE status = 'sent';

-- Whether a customer can be reached on a channel identity (e.g. a Telegram user
-- blocked the bot). `at` is the platform's time of the report, unix milliseconds.
CREATE TABLE reachability (
    channel   TEXT    NOT NULL,
    subject   TEXT    NOT NULL,
    reachable INTEGER NOT NULL,
    reason    TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    PRIMARY KEY (channel, subject)
) WITHOUT ROWID;
