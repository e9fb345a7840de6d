-- Fraud reports, their evidence attachments, the victim-visible timeline and idempotency records.

CREATE TABLE reports (
    id                  TEXT PRIMARY KEY NOT NULL,      -- TD-XXXX-XXXX
    -- SHA-256 of the receipt secret; the secret is shown once.
    receipt_hash        TEXT NOT NULL,
    status              TEXT NOT NULL,
    category            TEXT NOT NULL,
    priority            TEXT NOT NULL CHECK (priority IN ('P1', 'P2', 'P3')),
    triage              TEXT NOT NULL,
    triage_reasons      TEXT NOT NULL,                  -- JSON array of strings
    description         TEXT NOT NULL,
    scam_channel_kind   TEXT,
    scam_channel_value  TEXT,
    presented_token     TEXT,
    token_verdict       TEXT,
    transactions        TEXT NOT NULL,                  -- JSON array of {chain, tx_hash}
    amount_lost         TEXT,
    asset               TEXT,
    occurred_at         INTEGER,
    reporter_contact    TEXT,
    locale              TEXT NOT NULL,
    related_to          TEXT REFERENCES reports (id),
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    -- The first-response promise made at intake (from the priority's SLA then in force).
    first_response_by   INTEGER NOT NULL
);

CREATE INDEX reports_created ON reports (created_at, id);
CREATE INDEX reports_status_created ON reports (status, created_at);
CREATE INDEX reports_channel ON reports (scam_channel_kind, scam_channel_value);

CREATE TABLE attachments (
    report_id     TEXT NOT NULL REFERENCES reports (id),
    idx           INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL,
    content_type  TEXT NOT NULL,
    filename      TEXT NOT NULL,
    PRIMARY KEY (report_id, idx)
);

CREATE INDEX attachments_sha256 ON attachments (sha256);

CREATE TABLE report_events (
    report_id      TEXT NOT NULL REFERENCES reports (id),
    seq            INTEGER NOT NULL,
    at             INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    public_en      TEXT NOT NULL,
    public_zh      TEXT NOT NULL,
    internal_note  TEXT,
    actor_id       TEXT,
    PRIMARY KEY (report_id, seq)
);

CREATE TABLE idempotency_keys (
    -- SHA-256 of the client's Idempotency-Key.
    key_hash        TEXT PRIMARY KEY NOT NULL,
    request_hash    TEXT NOT NULL,
    report_id       TEXT NOT NULL REFERENCES reports (id),
    -- The receipt secret XOR SHA-256("trustdesk:idem-receipt" || 0x00 || key): a replay can return
    -- the original receipt without the database storing it. Only as strong as the key: clients
    -- should send random keys (UUIDs); a guessable key lets a database reader recover the receipt.
    receipt_masked  TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
