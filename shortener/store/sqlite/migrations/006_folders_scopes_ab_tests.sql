-- Folders, scoped and publishable API keys, and A/B destinations (issue 11).

CREATE TABLE folders (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL COLLATE NOCASE UNIQUE,
    description TEXT,
    access_level TEXT,              -- 'write', 'read' or NULL, as Dub stores it
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- Listing and counting links by folder, and emptying a folder when it is deleted.
CREATE INDEX links_folder ON links (folder_id) WHERE folder_id IS NOT NULL;

-- Space-separated scope names. NULL means every scope: keys made before scopes existed keep
-- full access. `kind` is 'secret' (dub_...) or 'publishable' (dub_pk_..., client-side tracking only).
ALTER TABLE api_keys ADD COLUMN scopes TEXT;
ALTER TABLE api_keys ADD COLUMN kind TEXT NOT NULL DEFAULT 'secret';

-- A/B destinations: JSON [{url, percentage}], and when the test started and ends. When the
-- winner has been chosen after the end, `test_decided_at` records it (the link's url is the winner).
ALTER TABLE links ADD COLUMN test_variants TEXT;
ALTER TABLE links ADD COLUMN test_started_at TEXT;
ALTER TABLE links ADD COLUMN test_completed_at TEXT;
ALTER TABLE links ADD COLUMN test_decided_at TEXT;

-- The redirect reads the test columns too, so their changes go to the change log.
DROP TRIGGER links_changes_update;
CREATE TRIGGER links_changes_update AFTER UPDATE OF
    domain, key, url, track_conversion, expires_at, expired_url, password_hash, proxy, title,
    description, image, video, rewrite, do_index, ios, android, geo, redirect_status, disabled_at,
    webhook_ids, archived, test_variants, test_completed_at, test_decided_at
ON links BEGIN
    INSERT INTO link_changes (domain, key) VALUES (OLD.domain, OLD.key);
    INSERT INTO link_changes (domain, key) VALUES (NEW.domain, NEW.key);
END;
