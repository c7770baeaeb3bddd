-- Per-link rollups move to their own table, keyed by period before link: the click writer adds
-- to every clicked link's rows of the current hour, day and month, and keyed by link first those
-- rows sat one page per link among the link's whole history, so each batch dirtied a page per
-- link and family of an ever larger table (bench_click_writer, 100k links: 80 -> 126 us per
-- click over 400k clicks). By period first, the rows a batch touches are the current periods'
-- only, a small contiguous part of the table. Readers name each period they want (a seek per
-- period and link where a query is about a few links; see analytics.py `_rollup_sql`).
-- Workspace rows (link_id '') stay in `rollups`, where they are period-ordered already.
CREATE TABLE link_rollups (
    source TEXT NOT NULL,
    level TEXT NOT NULL,
    dim TEXT NOT NULL,
    period INTEGER NOT NULL,
    link_id TEXT NOT NULL,
    value TEXT NOT NULL,
    n INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    PRIMARY KEY (source, level, dim, period, link_id, value)
) WITHOUT ROWID;
INSERT INTO link_rollups (source, level, dim, period, link_id, value, n, amount)
    SELECT source, level, dim, period, link_id, value, n, amount FROM rollups WHERE link_id <> ''
    ORDER BY source, level, dim, period, link_id, value;
DELETE FROM rollups WHERE link_id <> '';
