-- Escalation queue for confirmed fraud, and the hash-chained audit trail.

CREATE TABLE escalations (
    id             TEXT PRIMARY KEY NOT NULL,
    -- One escalation per report: re-confirming never enqueues twice.
    report_id      TEXT NOT NULL UNIQUE REFERENCES reports (id),
    priority       TEXT NOT NULL CHECK (priority IN ('P1', 'P2', 'P3')),
    -- 1 for P1 … 3 for P3, so "highest priority, oldest first" is one index scan.
    priority_rank  INTEGER NOT NULL,
    reason         TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('queued', 'claimed', 'resolved')),
    created_at     INTEGER NOT NULL,
    sla_due_at     INTEGER NOT NULL,
    claimed_by     TEXT REFERENCES staff (id),
    lease_until    INTEGER,
    claims         INTEGER NOT NULL,
    resolved_at    INTEGER,
    resolved_by    TEXT REFERENCES staff (id),
    outcome        TEXT,
    note           TEXT
);

CREATE INDEX escalations_queue ON escalations (state, priority_rank, created_at, id);
CREATE INDEX escalations_leases ON escalations (state, lease_until);

CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY NOT NULL,
    at          INTEGER NOT NULL,
    actor_id    TEXT,
    action      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    details     TEXT NOT NULL,
    -- SHA-256 of the previous entry (64 zeros for the first) and of this entry's canonical
    -- content including prev_hash: editing or deleting any row breaks every later link.
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
