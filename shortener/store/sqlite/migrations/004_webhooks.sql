-- Webhooks, their durable outbox and the delivery log.

CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,                  -- wh_ + 25 chars
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,                 -- HMAC key for Dub-Signature; shown by the API (receivers need it)
    triggers TEXT NOT NULL,               -- JSON array of event names
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    disabled_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- One row per (event, webhook). The payload is the exact body that is signed and sent, fixed
-- when the event happens, so a retry after a restart sends the same bytes and event id.
CREATE TABLE webhook_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',  -- pending | delivered | failed
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_status INTEGER,                  -- the receiver's last HTTP status, NULL if it never answered
    last_error TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (status, next_attempt_at);

CREATE TABLE webhook_deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status_code INTEGER,                  -- NULL when no HTTP answer (refused, timeout, blocked)
    ok INTEGER NOT NULL,
    error TEXT,
    duration_ms INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, seq);
