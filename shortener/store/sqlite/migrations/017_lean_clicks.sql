-- Lean click rows: the columns nothing reads go. device_vendor, device_model, browser_version,
-- os_version and engine are in neither Dub's click object nor /events nor the rollups; domain
-- and key are the link's (a click's link is `link_id`, and a deleted link's clicks are counted
-- without them). 438 -> ~360 bytes a click in bench_analytics' rows, more with real user agents.
--
-- The rows move in chunks (shortener/store/sqlite/clickrebuild.py), each its own transaction, so
-- a database of millions of clicks migrates with a progress bar, never holds the whole table in
-- one WAL, and resumes after a crash where the last commit left off. Each chunk is deleted from
-- the old table as it is copied, so the file does not need room for two copies. The old table
-- loses its indexes first: nothing reads it until the copy is done, and each copied chunk would
-- otherwise be deleted from them too. Rowids are kept (the rollup backfill and the outbox of a
-- database older than the rollups read clicks by rowid range).
DROP INDEX IF EXISTS clicks_link_time;
DROP INDEX IF EXISTS clicks_time;
CREATE TABLE clicks_lean (
    id TEXT PRIMARY KEY,              -- the click id (16 chars of [0-9A-Za-z]), also the dub_id cookie
    link_id TEXT NOT NULL,
    url TEXT NOT NULL,                -- the final URL the visitor was sent to
    timestamp TEXT NOT NULL,
    country TEXT,                     -- ISO 3166-1 alpha-2, or NULL
    continent TEXT,
    region TEXT,
    city TEXT,
    device TEXT,                      -- Desktop, Mobile, Tablet, ...
    browser TEXT,
    os TEXT,
    ua TEXT,
    referer TEXT,                     -- referer host without www., or "(direct)"
    referer_url TEXT,                 -- full referer, or "(direct)"
    qr INTEGER NOT NULL DEFAULT 0,
    trigger TEXT NOT NULL DEFAULT 'link',
    ip TEXT,                          -- truncated: IPv4 /24, IPv6 /48
    identity_hash TEXT NOT NULL       -- salted hash of (IP, user agent)
);
CREATE TABLE click_rebuild (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    next_rowid INTEGER NOT NULL,      -- rows up to here are in clicks_lean
    last_rowid INTEGER NOT NULL       -- the old table's last row when the migration ran
);
INSERT INTO click_rebuild (id, next_rowid, last_rowid) SELECT 1, 0, COALESCE(MAX(rowid), 0) FROM clicks;
