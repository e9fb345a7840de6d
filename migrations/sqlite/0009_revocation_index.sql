-- The session index re-reads, every second, the revocations stamped since its previous pass
-- (minus an overlap); once a minute it re-reads every unexpired revocation regardless of clocks.
-- This index keeps the frequent pass proportional to the new revocations, not to all of them.
-- It replaces sessions_revoked_expires, which served the old every-pass read of all revocations:
-- left in place, SQLite's planner preferred it and scanned every revocation again.
DROP INDEX sessions_revoked_expires;
CREATE INDEX sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
