-- Web console sign-in: an API key is exchanged once for a session cookie. Only the SHA-256 of the
-- cookie's secret is stored, so a database reader cannot ride a session.
CREATE TABLE console_sessions (
    id_hash     TEXT PRIMARY KEY NOT NULL,
    staff_id    TEXT NOT NULL REFERENCES staff (id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
