-- Dashboard sessions kept on the server, so signing out ends a session for good: the signed
-- cookie alone stayed valid for its whole max age after sign-out (a copied cookie still worked).
-- The id is stored as its SHA-256: the database alone cannot be turned into a session.
CREATE TABLE dashboard_sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX dashboard_sessions_user ON dashboard_sessions (user_id);
CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions (expires_at);
