-- Migration 7: who redeemed a link code (an opaque digest of channel and subject), so that
-- a retry by the same sender after a crash completes the link instead of reading "used".
ALTER TABLE link_codes ADD COLUMN used_by TEXT;
