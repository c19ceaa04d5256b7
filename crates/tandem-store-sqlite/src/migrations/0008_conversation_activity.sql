-- Migration 8: the escalation health figures scan conversations by last change
-- (`Store::conversation_activity`), so that scan is index-backed.
CREATE INDEX conversations_updated ON conversations (updated_at, id);
