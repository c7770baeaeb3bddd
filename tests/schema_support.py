"""SQL that undoes the latest migrations, for tests of a database made by an older schema."""

# Migration 016 undone: per-link month rows of the months not built yet, from their days (what the
# writers kept before it), and no compaction state.
UNDO_016 = (
    "INSERT INTO link_rollups (source, level, dim, period, link_id, value, n, amount) "
    "SELECT source, 'm', dim, CAST(strftime('%s', period, 'unixepoch', 'start of month') AS INTEGER), link_id, "
    "value, SUM(n), SUM(amount) FROM link_rollups WHERE level = 'd' "
    "AND period >= (SELECT upto FROM rollup_compaction WHERE name = 'link_months') "
    "GROUP BY source, dim, 3, link_id, value; DROP TABLE rollup_compaction; "
)
# Migration 015 undone: per-link rows back in `rollups`.
UNDO_015 = ("INSERT INTO rollups (source, level, dim, link_id, period, value, n, amount) "
            "SELECT source, level, dim, link_id, period, value, n, amount FROM link_rollups; DROP TABLE link_rollups; ")
UNDO_014 = (
    "DROP TRIGGER links_search_insert; DROP TRIGGER links_search_delete; DROP TRIGGER links_search_update; "
    "DROP TABLE links_search; DROP TABLE links_search_rows; DROP INDEX links_created_id; "
    "DROP INDEX links_archived_created_id; DROP INDEX links_archived_clicks_id; "
    "DROP INDEX links_archived_sale_amount_id; CREATE INDEX links_created ON links (created_at); "
    "CREATE INDEX links_archived_created ON links (archived, created_at);"
)
