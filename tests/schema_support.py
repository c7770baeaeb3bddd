"""SQL that undoes the latest migrations, for tests of a database made by an older schema."""

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
