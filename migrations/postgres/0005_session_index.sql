-- The in-memory session index loads the unexpired sessions at start, then every second re-reads
-- the sessions issued since its last pass and every revoked session that has not expired: these
-- indexes keep each pass proportional to what it returns, not to the table.
CREATE INDEX sessions_issued_at ON sessions (issued_at);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_revoked_expires ON sessions (expires_at) WHERE revoked_at IS NOT NULL;
