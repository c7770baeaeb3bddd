-- Core objects: domains, tags, links, API keys, and the change log the link cache follows.
-- Dates are ISO-8601 UTC text with milliseconds and Z, so they sort as text.

CREATE TABLE domains (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL COLLATE NOCASE UNIQUE,
    verified INTEGER NOT NULL DEFAULT 1,
    is_primary INTEGER NOT NULL DEFAULT 0,
    archived INTEGER NOT NULL DEFAULT 0,
    placeholder TEXT,
    expired_url TEXT,
    not_found_url TEXT,
    cookie_domain TEXT,
    logo TEXT,
    assetlinks TEXT,
    apple_app_site_association TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE tags (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL COLLATE NOCASE UNIQUE,
    color TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE links (
    id TEXT PRIMARY KEY,
    domain TEXT NOT NULL COLLATE NOCASE,
    key TEXT NOT NULL COLLATE NOCASE,
    url TEXT NOT NULL,
    external_id TEXT UNIQUE,
    tenant_id TEXT,
    identifier TEXT,
    track_conversion INTEGER NOT NULL DEFAULT 0,
    archived INTEGER NOT NULL DEFAULT 0,
    expires_at TEXT,
    expired_url TEXT,
    password_hash TEXT,
    proxy INTEGER NOT NULL DEFAULT 0,
    title TEXT,
    description TEXT,
    image TEXT,
    video TEXT,
    rewrite INTEGER NOT NULL DEFAULT 0,
    do_index INTEGER NOT NULL DEFAULT 0,
    ios TEXT,
    android TEXT,
    geo TEXT,                       -- JSON object country -> URL, or NULL
    public_stats INTEGER NOT NULL DEFAULT 0,
    comments TEXT,
    utm_source TEXT,
    utm_medium TEXT,
    utm_campaign TEXT,
    utm_term TEXT,
    utm_content TEXT,
    ref TEXT,
    program_id TEXT,
    partner_id TEXT,
    folder_id TEXT,
    user_id TEXT,
    webhook_ids TEXT NOT NULL DEFAULT '[]',   -- JSON array of wh_ ids
    redirect_status INTEGER,        -- NULL: the server default
    disabled_at TEXT,
    clicks INTEGER NOT NULL DEFAULT 0,
    last_clicked TEXT,
    leads INTEGER NOT NULL DEFAULT 0,
    conversions INTEGER NOT NULL DEFAULT 0,
    sales INTEGER NOT NULL DEFAULT 0,
    sale_amount INTEGER NOT NULL DEFAULT 0,
    last_lead_at TEXT,
    last_conversion_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (domain, key)
);
CREATE INDEX links_created ON links (created_at);

CREATE TABLE link_tags (
    link_id TEXT NOT NULL REFERENCES links (id) ON DELETE CASCADE,
    tag_id TEXT NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (link_id, tag_id)
);
CREATE INDEX link_tags_tag ON link_tags (tag_id);

-- Every change to what a redirect reads is logged here, so caches in this and other processes
-- can drop exactly the (domain, key) pairs that changed. Counter updates are not logged.
CREATE TABLE link_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    domain TEXT NOT NULL,
    key TEXT NOT NULL
);
CREATE TRIGGER links_changes_insert AFTER INSERT ON links BEGIN
    INSERT INTO link_changes (domain, key) VALUES (NEW.domain, NEW.key);
END;
CREATE TRIGGER links_changes_delete AFTER DELETE ON links BEGIN
    INSERT INTO link_changes (domain, key) VALUES (OLD.domain, OLD.key);
END;
CREATE TRIGGER links_changes_update AFTER UPDATE OF
    domain, key, url, track_conversion, expires_at, expired_url, password_hash, proxy, title,
    description, image, video, rewrite, do_index, ios, android, geo, redirect_status, disabled_at,
    webhook_ids, archived
ON links BEGIN
    INSERT INTO link_changes (domain, key) VALUES (OLD.domain, OLD.key);
    INSERT INTO link_changes (domain, key) VALUES (NEW.domain, NEW.key);
END;
-- Domain settings (notFoundUrl, cookie domain, ...) affect every link of the domain: logged with key '*'.
CREATE TRIGGER domains_changes_insert AFTER INSERT ON domains BEGIN
    INSERT INTO link_changes (domain, key) VALUES (NEW.slug, '*');
END;
CREATE TRIGGER domains_changes_update AFTER UPDATE ON domains BEGIN
    INSERT INTO link_changes (domain, key) VALUES (OLD.slug, '*');
    INSERT INTO link_changes (domain, key) VALUES (NEW.slug, '*');
END;
CREATE TRIGGER domains_changes_delete AFTER DELETE ON domains BEGIN
    INSERT INTO link_changes (domain, key) VALUES (OLD.slug, '*');
END;

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    hashed_key TEXT NOT NULL UNIQUE,
    partial_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);
