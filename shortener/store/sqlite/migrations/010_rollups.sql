-- Pre-aggregated analytics (see shortener/store/sqlite/rollups.py): counts per UTC hour (h), day (d)
-- or month (m, from migration 012), per dimension value, for the workspace (link_id '') and per link.
-- The writers of clicks, lead events and sale events add to it in their own transactions.
-- `period` is the UTC start in epoch seconds; `value` the dimension's value (encodings in
-- rollups.py); `amount` sums sale amounts (cents).
CREATE TABLE rollups (
    source TEXT NOT NULL,        -- clicks | leads | sales
    level TEXT NOT NULL,         -- h | d
    dim TEXT NOT NULL,
    link_id TEXT NOT NULL,
    period INTEGER NOT NULL,
    value TEXT NOT NULL,
    n INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    PRIMARY KEY (source, level, dim, link_id, period, value)
) WITHOUT ROWID;

-- Rows stored before this migration are rolled up after it, in short transactions, by rowid:
-- rows up to last_rowid are the backfill's (done up to next_rowid), later rows the writers'.
CREATE TABLE rollup_backfill (
    source TEXT PRIMARY KEY,
    next_rowid INTEGER NOT NULL,
    last_rowid INTEGER NOT NULL
);
INSERT INTO rollup_backfill (source, next_rowid, last_rowid)
    SELECT 'clicks', 0, COALESCE(MAX(rowid), 0) FROM clicks;
INSERT INTO rollup_backfill (source, next_rowid, last_rowid)
    SELECT 'leads', 0, COALESCE(MAX(rowid), 0) FROM lead_events;
INSERT INTO rollup_backfill (source, next_rowid, last_rowid)
    SELECT 'sales', 0, COALESCE(MAX(rowid), 0) FROM sale_events;
