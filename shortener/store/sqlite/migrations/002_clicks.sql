-- One row per counted click (people only: bots, HEAD, dub-no-track and dedup hits are not rows).
-- No foreign key to links: click history outlives a deleted link.
CREATE TABLE clicks (
    id TEXT PRIMARY KEY,              -- the click id (16 chars of [0-9A-Za-z]), also the dub_id cookie
    link_id TEXT NOT NULL,
    domain TEXT NOT NULL,
    key TEXT NOT NULL,
    url TEXT NOT NULL,                -- the final URL the visitor was sent to
    timestamp TEXT NOT NULL,
    country TEXT,                     -- ISO 3166-1 alpha-2 from the country header, or NULL
    device TEXT,                      -- Desktop, Mobile, Tablet, ...
    device_vendor TEXT,
    device_model TEXT,
    browser TEXT,
    browser_version TEXT,
    os TEXT,
    os_version TEXT,
    engine TEXT,
    ua TEXT,
    referer TEXT,                     -- referer host without www., or "(direct)"
    referer_url TEXT,                 -- full referer, or "(direct)"
    qr INTEGER NOT NULL DEFAULT 0,
    trigger TEXT NOT NULL DEFAULT 'link',
    ip TEXT,                          -- truncated: IPv4 /24, IPv6 /48
    identity_hash TEXT NOT NULL       -- salted hash of (IP, user agent)
);
CREATE INDEX clicks_link_time ON clicks (link_id, timestamp);
CREATE INDEX clicks_time ON clicks (timestamp);
