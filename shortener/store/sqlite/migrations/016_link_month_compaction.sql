-- Per-link month rows ('m' in link_rollups) are no longer added by the click writer for every
-- click: each cost an upsert per clicked link and dimension (4 of the 9 per-link rows a click
-- touched). They are built once a month has ended, from its day rows (RollupQueries.
-- compact_link_months); until then readers read the month's days. `upto`: the month start up
-- to which (excluded) per-link month rows are complete. Events of an earlier month (an import)
-- still add to that month's rows directly.
CREATE TABLE rollup_compaction (
    name TEXT PRIMARY KEY,
    upto INTEGER NOT NULL
);
INSERT INTO rollup_compaction (name, upto)
    VALUES ('link_months', CAST(strftime('%s', 'now', 'start of month') AS INTEGER));
-- The current month's rows so far would be counted twice when it is built from its days.
DELETE FROM link_rollups WHERE level = 'm'
    AND period >= (SELECT upto FROM rollup_compaction WHERE name = 'link_months');
