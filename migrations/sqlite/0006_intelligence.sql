-- Beyond verify pages: contact policies, who the scammer posed as, reporter consent, confidence,
-- grouping by scammer identifier, duplicate merges and configurable escalation rules.

-- "We never contact users on WhatsApp", "we never call first", "we never ask for a seed phrase".
CREATE TABLE contact_policies (
    id            TEXT PRIMARY KEY NOT NULL,
    rule          TEXT NOT NULL CHECK (rule IN ('never_used', 'never_initiates', 'never_asks')),
    -- The channel kind a never_used / never_initiates policy is about; NULL for never_asks.
    channel_kind  TEXT,
    -- What a never_asks policy says is never asked for (seed_phrase, remote_access, ...).
    subject       TEXT,
    statement_en  TEXT NOT NULL,
    statement_zh  TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    created_by    TEXT NOT NULL REFERENCES staff (id),
    -- One policy per rule and target (NULLs compare equal through the empty string).
    target        TEXT NOT NULL UNIQUE
);

-- Who the scammer claimed to be: as the victim (or the verdict) named it, and the registry's
-- match when there is one.
ALTER TABLE reports ADD COLUMN claimed_channel_kind TEXT;
ALTER TABLE reports ADD COLUMN claimed_channel_value TEXT;
ALTER TABLE reports ADD COLUMN claimed_agent TEXT;
ALTER TABLE reports ADD COLUMN claimed_channel_id TEXT;
ALTER TABLE reports ADD COLUMN claimed_agent_id TEXT;
-- Consent, given separately: to be contacted, and to have contact details shared with law
-- enforcement. A report without contact is anonymous.
ALTER TABLE reports ADD COLUMN contact_opt_in INTEGER NOT NULL DEFAULT 0;
ALTER TABLE reports ADD COLUMN law_enforcement_opt_in INTEGER NOT NULL DEFAULT 0;
-- SHA-256 of the normalised contact: tells independent reporters apart without reading contacts.
ALTER TABLE reports ADD COLUMN reporter_key TEXT;
ALTER TABLE reports ADD COLUMN confidence TEXT NOT NULL DEFAULT 'unverified'
    CHECK (confidence IN ('unverified', 'corroborated', 'confirmed'));
ALTER TABLE reports ADD COLUMN duplicate_of TEXT REFERENCES reports (id);
-- JSON array of the escalation rules that fired: [{rule, priority, detail, at}].
ALTER TABLE reports ADD COLUMN fired_rules TEXT NOT NULL DEFAULT '[]';

-- Every scammer identifier a report names (channel handle, e-mail, phone, domain, crypto
-- address): what groups reports, corroborates them and feeds the scam-intelligence feed.
CREATE TABLE report_identifiers (
    report_id   TEXT NOT NULL REFERENCES reports (id),
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (report_id, kind, value)
);
CREATE INDEX report_identifiers_value ON report_identifiers (kind, value, created_at);

INSERT INTO report_identifiers (report_id, kind, value, created_at)
    SELECT id, scam_channel_kind, scam_channel_value, created_at FROM reports
    WHERE scam_channel_kind IS NOT NULL AND scam_channel_value IS NOT NULL;
-- Before consent was asked separately, giving a contact meant agreeing to be contacted.
UPDATE reports SET contact_opt_in = 1 WHERE reporter_contact IS NOT NULL;
UPDATE reports SET confidence = 'confirmed'
    WHERE status = 'confirmed_fraud' OR triage = 'confirmed_impersonation'
       OR id IN (SELECT report_id FROM escalations);

-- Escalation rules: one row per rule an admin has configured; rules without a row use their
-- built-in defaults.
CREATE TABLE escalation_rules (
    rule        TEXT PRIMARY KEY NOT NULL,
    enabled     INTEGER NOT NULL,
    priority    TEXT NOT NULL CHECK (priority IN ('P1', 'P2', 'P3')),
    params      TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    updated_by  TEXT REFERENCES staff (id)
);
