-- Foundation: staff accounts, official-channel registry, support sessions.
-- Times are Unix seconds (INTEGER) so both engines compare them the same way.

CREATE TABLE staff (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('agent', 'security', 'admin')),
    -- SHA-256 of the 256-bit API key; the key itself is shown once and never stored.
    key_hash    TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    disabled_at INTEGER
);

CREATE TABLE channels (
    id          TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    label       TEXT,
    agent_id    TEXT REFERENCES staff (id),
    created_at  INTEGER NOT NULL,
    created_by  TEXT NOT NULL REFERENCES staff (id),
    CONSTRAINT channels_kind_value UNIQUE (kind, value)
);

CREATE TABLE sessions (
    jti             TEXT PRIMARY KEY NOT NULL,
    agent_id        TEXT NOT NULL REFERENCES staff (id),
    kid             TEXT NOT NULL,
    channel_kind    TEXT NOT NULL,
    channel_value   TEXT NOT NULL,
    user_ref_last4  TEXT,
    -- SHA-256 of the normalised session code: codes are not readable from the database (50 bits
    -- can be brute-forced offline, but a code lives only as long as its session).
    code_hash       TEXT NOT NULL UNIQUE,
    issued_at       INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    revoked_at      INTEGER,
    revoked_by      TEXT REFERENCES staff (id)
);

CREATE INDEX sessions_agent_expires ON sessions (agent_id, expires_at);
