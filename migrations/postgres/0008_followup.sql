-- Victims' opt-in notifications. Kept apart from the report (and its staff views) so that the
-- address never travels with the report, and deletable on its own ("forget me"). The address and
-- the anti-phishing phrase are encrypted with the key in keys/contact.key.
--
-- Once the address is confirmed, the report's public timeline (report_events) is the outbox: every public event with a seq above
-- notified_seq is still owed to the victim. A sender leases the row (locked_until), sends the
-- owed messages in order and moves notified_seq after each one the SMTP server accepted, so a crash
-- after a commit loses no notification, and a message already accepted is not sent again.
CREATE TABLE report_followup (
    report_id        TEXT PRIMARY KEY NOT NULL REFERENCES reports (id),
    email_enc        TEXT,
    phrase_enc       TEXT,
    locale           TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    notified_seq     BIGINT NOT NULL,
    sla_warned_at    BIGINT,
    attempts         BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    locked_until     BIGINT,
    last_error       TEXT,
    forgotten_at     BIGINT,
    -- Double opt-in: nothing quoting the phrase is sent until someone holding both the receipt
    -- and the mailbox enters the code mailed to the address (see docs/reports.md).
    confirm_enc      TEXT,
    confirm_hash     TEXT,
    confirm_sent_at  BIGINT,
    confirmed_at     BIGINT
);

CREATE INDEX report_followup_due ON report_followup (next_attempt_at);

-- The victim's rating of how the report was handled: once, after resolution.
CREATE TABLE report_ratings (
    report_id   TEXT PRIMARY KEY NOT NULL REFERENCES reports (id),
    rating      BIGINT NOT NULL,
    comment     TEXT,
    created_at  BIGINT NOT NULL
);

-- The progress estimate reads recent timeline steps.
CREATE INDEX report_events_at ON report_events (at);
