-- Migration 12: the AI audit trail. One row per AI decision of a turn (sentiment, intent,
-- the bot's answer, a handoff briefing), inserted with the turn; `seq` orders them (by
-- turn, then as the turn listed them). The record is JSON (`AiAuditRecord`); erasing a
-- customer deletes the rows of their conversations.
CREATE TABLE ai_audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    conversation_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX ai_audit_conversation ON ai_audit (conversation_id, seq);
