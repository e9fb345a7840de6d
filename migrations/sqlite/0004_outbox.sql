-- Transactional outbox: notifications written in the same transaction as the change they
-- announce, delivered afterwards with retries, so a crash between commit and delivery loses none.

CREATE TABLE outbox (
    id               TEXT PRIMARY KEY NOT NULL,
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    attempts         INTEGER NOT NULL,
    next_attempt_at  INTEGER NOT NULL,
    -- A delivering instance leases the row so that several instances never send it at once.
    locked_until     INTEGER,
    delivered_at     INTEGER,
    last_error       TEXT
);

CREATE INDEX outbox_due ON outbox (delivered_at, next_attempt_at);
