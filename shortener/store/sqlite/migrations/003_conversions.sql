-- Conversion tracking: customers, lead and sale events, and the idempotency keys of /track/*.
-- Counters on links (leads, sales, sale_amount, conversions) change in the same transaction as
-- the events, so a 200 from /track/* always means both are on disk.

CREATE TABLE customers (
    id TEXT PRIMARY KEY,                  -- cus_ + 25 chars, time-ordered
    external_id TEXT NOT NULL UNIQUE,     -- the id in the customer's own system
    name TEXT,
    email TEXT,
    avatar TEXT,
    stripe_customer_id TEXT,
    country TEXT,                         -- from the click that brought the customer
    click_id TEXT,                        -- the click the customer is attributed to
    link_id TEXT,                         -- that click's link
    clicked_at TEXT,
    sales INTEGER NOT NULL DEFAULT 0,
    sale_amount INTEGER NOT NULL DEFAULT 0,   -- cents
    first_sale_at TEXT,
    subscription_canceled_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX customers_created ON customers (created_at);
CREATE INDEX customers_link ON customers (link_id);
CREATE INDEX customers_email ON customers (email);

-- No foreign keys to clicks or links: the click may still be queued in memory when the lead
-- arrives, and event history outlives a deleted link (listings hide those events).
CREATE TABLE lead_events (
    id TEXT PRIMARY KEY,                  -- event id, 16 chars of [0-9A-Za-z]
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    click_id TEXT NOT NULL,
    link_id TEXT NOT NULL,
    event_name TEXT NOT NULL,
    metadata TEXT,                        -- JSON object or NULL
    timestamp TEXT NOT NULL
);
CREATE INDEX lead_events_time ON lead_events (timestamp);
CREATE INDEX lead_events_customer ON lead_events (customer_id, event_name, timestamp);
CREATE INDEX lead_events_link ON lead_events (link_id, timestamp);

CREATE TABLE sale_events (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    click_id TEXT NOT NULL,
    link_id TEXT NOT NULL,
    event_name TEXT NOT NULL,
    amount INTEGER NOT NULL,              -- cents
    currency TEXT NOT NULL,
    payment_processor TEXT NOT NULL,
    invoice_id TEXT,
    metadata TEXT,
    timestamp TEXT NOT NULL
);
CREATE INDEX sale_events_time ON sale_events (timestamp);
CREATE INDEX sale_events_customer ON sale_events (customer_id, timestamp);
CREATE INDEX sale_events_link ON sale_events (link_id, timestamp);

-- Lead idempotency: one row per (customer external id, normalised event name), valid 7 days.
-- Written in the lead's own transaction, after the click was found, so an unknown click id
-- never leaves a key behind.
CREATE TABLE lead_keys (
    customer_external_id TEXT NOT NULL,
    event_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (customer_external_id, event_key)
);

-- Sale idempotency: the first answer for an invoiceId, replayed for 7 days.
CREATE TABLE sale_invoices (
    invoice_id TEXT PRIMARY KEY,
    response TEXT NOT NULL,
    created_at TEXT NOT NULL
);
