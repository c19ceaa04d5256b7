-- Migration 9: the outbox keeps order per (conversation, destination) instead of per
-- conversation, so a desk that is down (its operations ride the outbox to `desk:<id>`)
-- never holds back a reply to the customer, and the reverse. The index answers "is there
-- an earlier unfinished entry for the same conversation and destination".
CREATE INDEX outbox_unfinished_destination
    ON outbox (conversation_id, json_extract(message, '$.channel'), ord)
    WHERE status IN ('pending', 'in_flight');
