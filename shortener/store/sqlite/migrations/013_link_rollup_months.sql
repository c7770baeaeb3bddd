-- Month rows for every per-link dimension (012 built them for `hit` only): per-link country,
-- device ... over a year read 12 rows per value instead of 365.
INSERT INTO rollups (source, level, dim, link_id, period, value, n, amount)
    SELECT source, 'm', dim, link_id, CAST(strftime('%s', period, 'unixepoch', 'start of month') AS INTEGER),
           value, SUM(n), SUM(amount)
    FROM rollups WHERE level = 'd' AND link_id <> '' AND dim <> 'hit'
    GROUP BY source, dim, link_id, 4, value;
