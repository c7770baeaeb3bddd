"""SQL that undoes the latest migrations, for tests of a database made by an older schema."""

# Each UNDO_0NN takes a database made by today's schema back to before migration NN; chain them
# newest first.
UNDO_018 = "DROP TABLE dashboard_sessions;"
# Migration 017 undone: the wide click rows of migrations 002 and 009 (the columns it dropped
# filled as the code before it wrote them: the link's domain and key, "Unknown" user-agent
# details), rowids kept.
UNDO_017 = (
    "CREATE TABLE clicks_wide (id TEXT PRIMARY KEY, link_id TEXT NOT NULL, domain TEXT NOT NULL, "
    "key TEXT NOT NULL, url TEXT NOT NULL, timestamp TEXT NOT NULL, country TEXT, device TEXT, "
    "device_vendor TEXT, device_model TEXT, browser TEXT, browser_version TEXT, os TEXT, os_version TEXT, "
    "engine TEXT, ua TEXT, referer TEXT, referer_url TEXT, qr INTEGER NOT NULL DEFAULT 0, "
    "trigger TEXT NOT NULL DEFAULT 'link', ip TEXT, identity_hash TEXT NOT NULL, continent TEXT, region TEXT, "
    "city TEXT); "
    "INSERT INTO clicks_wide (rowid, id, link_id, domain, key, url, timestamp, country, device, device_vendor, "
    "device_model, browser, browser_version, os, os_version, engine, ua, referer, referer_url, qr, trigger, ip, "
    "identity_hash, continent, region, city) SELECT c.rowid, c.id, c.link_id, COALESCE(l.domain, 'gone.test'), "
    "COALESCE(l.key, 'gone'), c.url, c.timestamp, c.country, c.device, 'Unknown', 'Unknown', c.browser, '1.0', "
    "c.os, '1.0', 'Blink', c.ua, c.referer, c.referer_url, c.qr, c.trigger, c.ip, c.identity_hash, c.continent, "
    "c.region, c.city FROM clicks c LEFT JOIN links l ON l.id = c.link_id ORDER BY c.rowid; "
    "DROP TABLE clicks; ALTER TABLE clicks_wide RENAME TO clicks; "
    "CREATE INDEX clicks_link_time ON clicks (link_id, timestamp); CREATE INDEX clicks_time ON clicks (timestamp); "
)
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
