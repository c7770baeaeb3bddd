-- Month rows ('m', the UTC month's start) for the workspace family and the per-link `hit` rows,
-- from the day rows written so far (the writers and the backfill add month rows from now on).
INSERT INTO rollups (source, level, dim, link_id, period, value, n, amount)
    SELECT source, 'm', dim, link_id, CAST(strftime('%s', period, 'unixepoch', 'start of month') AS INTEGER),
           value, SUM(n), SUM(amount)
    FROM rollups WHERE level = 'd' AND (link_id = '' OR dim = 'hit')
    GROUP BY source, dim, link_id, 4, value;
