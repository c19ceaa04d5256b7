-- Migration 1: the initial schema.
-- Timestamps are INTEGER unix milliseconds (UTC); documents are TEXT JSON.

-- The inbound log: every message a channel handed over, deduplicated on
-- (channel, platform_message_id). `processed_at` is set by the turn that processed it.
CREATE TABLE inbound (
    seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
    channel             TEXT    NOT NULL,
    platform_message_id TEXT    NOT NULL,
    message             TEXT    NOT NULL,
    received_at         INTEGER NOT NULL,
    processed_at        INTEGER,
    UNIQUE (channel, platform_message_id)
);
CREATE INDEX inbound_pending ON inbound (seq) WHERE processed_at IS NULL;

CREATE TABLE customers (
    id           TEXT    PRIMARY KEY,
    display_name TEXT,
    segment      TEXT,
    attributes   TEXT    NOT NULL DEFAULT '{}',
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

-- `id` orders a customer's identities oldest first.
CREATE TABLE identities (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id TEXT    NOT NULL REFERENCES customers (id),
    channel     TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    verified    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    UNIQUE (channel, subject)
);
CREATE INDEX identities_customer ON identities (customer_id, id);

CREATE TABLE conversations (
    id          TEXT    PRIMARY KEY,
    customer_id TEXT    NOT NULL REFERENCES customers (id),
    channel     TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('open', 'closed')),
    state       TEXT    NOT NULL,
    next_seq    INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    opened_at   INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    closed_at   INTEGER
);
-- At most one open conversation per customer.
CREATE UNIQUE INDEX conversations_one_open ON conversations (customer_id) WHERE status = 'open';
CREATE INDEX conversations_customer ON conversations (customer_id);

CREATE TABLE transcript (
    conversation_id     TEXT    NOT NULL REFERENCES conversations (id),
    seq                 INTEGER NOT NULL,
    id                  TEXT    NOT NULL UNIQUE,
    customer_id         TEXT    NOT NULL,
    party               TEXT    NOT NULL,
    channel             TEXT    NOT NULL,
    at                  INTEGER NOT NULL,
    content             TEXT    NOT NULL,
    buttons             TEXT    NOT NULL DEFAULT '[]',
    platform_message_id TEXT,
    PRIMARY KEY (conversation_id, seq)
) WITHOUT ROWID;

CREATE TABLE escalations (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL UNIQUE,
    conversation_id TEXT    NOT NULL REFERENCES conversations (id),
    customer_id     TEXT    NOT NULL,
    at              INTEGER NOT NULL,
    message_seq     INTEGER NOT NULL,
    escalate        INTEGER NOT NULL,
    reasons         TEXT    NOT NULL,
    category        TEXT,
    priority        TEXT,
    target          TEXT,
    policy_version  TEXT    NOT NULL
);
CREATE INDEX escalations_conversation ON escalations (conversation_id, at, seq);

-- The distinct reason labels (`Reason::label()`) of each escalation event, for counts.
CREATE TABLE escalation_labels (
    escalation_seq INTEGER NOT NULL REFERENCES escalations (seq),
    label          TEXT    NOT NULL,
    PRIMARY KEY (escalation_seq, label)
) WITHOUT ROWID;
CREATE INDEX escalation_labels_label ON escalation_labels (label);

-- `ord` is the global insertion order; per conversation, only the unfinished entry with
-- the smallest `ord` may be claimed.
CREATE TABLE outbox (
    ord                 INTEGER PRIMARY KEY AUTOINCREMENT,
    id                  TEXT    NOT NULL UNIQUE,
    conversation_id     TEXT    NOT NULL REFERENCES conversations (id),
    status              TEXT    NOT NULL CHECK (status IN ('pending', 'in_flight', 'sent', 'failed')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     INTEGER NOT NULL,
    claim               TEXT,
    claim_expires_at    INTEGER,
    message             TEXT    NOT NULL,
    last_error          TEXT,
    platform_message_id TEXT,
    delivery_state      TEXT,
    created_at          INTEGER NOT NULL,
    finished_at         INTEGER
);
CREATE INDEX outbox_unfinished ON outbox (conversation_id, ord) WHERE status IN ('pending', 'in_flight');
CREATE INDEX outbox_pending_due ON outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_lease ON outbox (claim_expires_at) WHERE status = 'in_flight';

CREATE TABLE kv (
    namespace TEXT NOT NULL,
    key       TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
