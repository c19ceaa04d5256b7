-- Migration 6: routing (issue 5). Agents with skills, capacity and status; the handoffs
-- each holds (one holder per handoff); handoffs waiting in a queue for an agent.
CREATE TABLE agents (
    id         TEXT    PRIMARY KEY,
    name       TEXT,
    skills     TEXT    NOT NULL,  -- JSON array of queue names
    capacity   INTEGER NOT NULL,
    status     TEXT    NOT NULL,  -- available | away
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE agent_handoffs (
    handoff_id TEXT    PRIMARY KEY,
    agent_id   TEXT    NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    ord        INTEGER NOT NULL   -- order of assignment, for "oldest first"
);
CREATE INDEX agent_handoffs_agent ON agent_handoffs (agent_id, ord);
CREATE TABLE handoff_queue (
    handoff_id      TEXT    PRIMARY KEY,
    conversation_id TEXT    NOT NULL,
    queue           TEXT    NOT NULL,
    priority        TEXT    NOT NULL,
    rank            INTEGER NOT NULL,
    queued_at       INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX handoff_queue_order ON handoff_queue (rank, queued_at, handoff_id);
