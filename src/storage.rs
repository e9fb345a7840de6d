//! Persistence: one object-safe [`Store`] trait with an implementation per engine.
//!
//! Only `storage/sqlite.rs` and `storage/postgres.rs` contain SQL. The SQL text is shared where the
//! two engines agree (see `storage/sql.rs`), so both engines run the same statements and the
//! same tests. Domain modules never see `sqlx`: they speak [`records`] and get [`StorageError`].

use std::sync::Arc;

use async_trait::async_trait;

pub mod blobs;
mod postgres;
pub mod records;
mod sql;
mod sqlite;

pub use records::*;

/// What can go wrong below the domain. The HTTP layer maps these once (`http/error.rs`).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A uniqueness or foreign-key rule refused the write; the domain decides what it means.
    #[error("constraint violated: {constraint}")]
    Conflict { constraint: String },
    /// The database cannot be reached or timed out; callers answer 503.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// The disk under the database is full (SQLite `SQLITE_FULL`, PostgreSQL `disk_full`);
    /// callers answer 507. Reads still work, and writes do again once there is room.
    #[error("database disk full")]
    Full(#[source] sqlx::Error),
    /// Anything else; opaque to clients.
    #[error("database error")]
    Other(#[source] sqlx::Error),
    /// The URL names no engine this build knows.
    #[error("unsupported database URL (expected sqlite:// or postgres://)")]
    UnsupportedUrl,
    #[error("migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StorageError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Database(ref db)
                if db.is_unique_violation() || db.is_foreign_key_violation() =>
            {
                StorageError::Conflict {
                    constraint: db
                        .constraint()
                        .map(str::to_owned)
                        .unwrap_or_else(|| db.message().to_owned()),
                }
            }
            // SQLITE_FULL is primary result code 13; PostgreSQL's disk_full is SQLSTATE 53100.
            sqlx::Error::Database(ref db)
                if matches!(db.code().as_deref(), Some("13" | "53100")) =>
            {
                StorageError::Full(e)
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StorageError::Unavailable(e)
            }
            other => StorageError::Other(other),
        }
    }
}

/// Every persistent operation the service performs. Object-safe: held as `Arc<dyn Store>`.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`, for logs and `/readyz`.
    fn engine(&self) -> &'static str;
    /// Cheap round-trip proving the database answers (`/readyz`).
    async fn ping(&self) -> Result<(), StorageError>;
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<(), StorageError>;
    async fn close(&self);

    // Staff
    async fn insert_staff(&self, rec: &StaffRecord, key_hash: &str) -> Result<(), StorageError>;
    async fn staff_by_key_hash(&self, key_hash: &str) -> Result<Option<StaffRecord>, StorageError>;
    async fn staff_by_id(&self, id: &str) -> Result<Option<StaffRecord>, StorageError>;
    async fn list_staff(&self) -> Result<Vec<StaffRecord>, StorageError>;
    /// Web console sessions: stored by the hash of their secret.
    async fn insert_console_session(
        &self,
        id_hash: &str,
        staff_id: &str,
        at: i64,
        expires_at: i64,
    ) -> Result<(), StorageError>;
    /// The enabled staff member behind an unexpired console session.
    async fn console_session_staff(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<StaffRecord>, StorageError>;
    /// Ends a session (sign-out); also drops every expired session.
    async fn delete_console_session(&self, id_hash: &str, now: i64) -> Result<(), StorageError>;
    /// Disables an account by name; its API key stops working at once. False if no such
    /// enabled account.
    async fn disable_staff(&self, name: &str, at: i64) -> Result<bool, StorageError>;

    // Official-channel registry
    async fn insert_channel(&self, rec: &ChannelRecord) -> Result<(), StorageError>;
    async fn list_channels(&self) -> Result<Vec<ChannelRecord>, StorageError>;
    async fn delete_channel(&self, id: &str) -> Result<bool, StorageError>;

    // Support sessions
    async fn insert_session(&self, rec: &SessionRecord) -> Result<(), StorageError>;
    async fn session_by_jti(&self, jti: &str) -> Result<Option<SessionView>, StorageError>;
    async fn session_by_code_hash(
        &self,
        code_hash: &str,
    ) -> Result<Option<SessionView>, StorageError>;
    /// Marks a session revoked. Returns false when it was already revoked (idempotent).
    async fn revoke_session(&self, jti: &str, by: &str, at: i64) -> Result<bool, StorageError>;
    /// Sessions expiring after `expires_after` that were issued at or after `since`, or revoked
    /// at or after `revoked_since`: what the in-memory index loads at start (both `i64::MIN`)
    /// and then re-reads.
    async fn live_sessions_since(
        &self,
        since: i64,
        revoked_since: i64,
        expires_after: i64,
    ) -> Result<Vec<LiveSessionRow>, StorageError>;
    /// The agent's sessions that have not expired at `now`, newest first.
    async fn active_sessions_for_agent(
        &self,
        agent_id: &str,
        now: i64,
    ) -> Result<Vec<SessionView>, StorageError>;

    // Fraud reports
    /// Report, attachment rows, first timeline event and idempotency record in one transaction.
    async fn insert_report(&self, bundle: &NewReportBundle) -> Result<(), StorageError>;
    async fn report_by_id(&self, id: &str) -> Result<Option<ReportRecord>, StorageError>;
    async fn report_attachments(&self, id: &str) -> Result<Vec<AttachmentRecord>, StorageError>;
    async fn report_events(&self, id: &str) -> Result<Vec<ReportEventRecord>, StorageError>;
    async fn idempotency_by_key(
        &self,
        key_hash: &str,
    ) -> Result<Option<IdempotencyRecord>, StorageError>;
    /// The oldest report naming this scammer channel whose status is not in `closed`.
    async fn open_report_for_channel(
        &self,
        kind: &str,
        value: &str,
        closed: &[&str],
    ) -> Result<Option<String>, StorageError>;
    /// Other reports naming the same scammer channel, newest first (bounded).
    async fn reports_for_channel(
        &self,
        kind: &str,
        value: &str,
        limit: i64,
    ) -> Result<Vec<ReportRecord>, StorageError>;
    async fn list_reports(&self, filter: &ReportFilter) -> Result<Vec<ReportRecord>, StorageError>;
    /// Whether any attachment row references this blob (orphan sweeping).
    async fn blob_referenced(&self, sha256: &str) -> Result<bool, StorageError>;

    // Review workflow and escalations. Every state change appends its audit entry in the same
    // transaction.
    /// Moves a report from `t.from` to `t.to`. False if the report is no longer in `t.from`
    /// (someone else moved it first).
    async fn transition_report(
        &self,
        t: &ReportTransition,
        audit: &AuditDraft,
        hasher: AuditHasher,
    ) -> Result<bool, StorageError>;
    /// Leases the highest-priority, oldest claimable item to `staff_id`; expired leases are
    /// returned to the queue first.
    async fn claim_escalation(
        &self,
        staff_id: &str,
        now: i64,
        lease_until: i64,
        audit: &AuditDraft,
        hasher: AuditHasher,
    ) -> Result<Option<EscalationRecord>, StorageError>;
    /// Extends a lease still held by `staff_id`.
    async fn heartbeat_escalation(
        &self,
        id: &str,
        staff_id: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<bool, StorageError>;
    /// Gives a held item back to the queue.
    async fn release_escalation(
        &self,
        id: &str,
        staff_id: &str,
        now: i64,
        audit: &AuditDraft,
        hasher: AuditHasher,
    ) -> Result<Option<EscalationRecord>, StorageError>;
    /// Closes a held item.
    async fn resolve_escalation(
        &self,
        r: &Resolution,
        audit: &AuditDraft,
        hasher: AuditHasher,
    ) -> Result<bool, StorageError>;
    async fn escalation_by_id(&self, id: &str) -> Result<Option<EscalationRecord>, StorageError>;
    async fn escalation_for_report(
        &self,
        report_id: &str,
    ) -> Result<Option<EscalationRecord>, StorageError>;
    async fn list_escalations(
        &self,
        f: &EscalationFilter,
    ) -> Result<Vec<EscalationRecord>, StorageError>;
    /// Unresolved items whose SLA deadline has passed.
    async fn count_breached(&self, now: i64) -> Result<i64, StorageError>;
    /// How many confirmed reports, whose escalation staff resolved with an action outcome, name
    /// this scammer identifier.
    async fn known_scam_count(&self, kind: &str, value: &str) -> Result<i64, StorageError>;

    // Scam intelligence: identifiers, groups, merges, priorities, policies, rules, the feed
    async fn identifiers_of(&self, report_id: &str) -> Result<Vec<(String, String)>, StorageError>;
    /// Reports naming an identifier since `since`, newest first (bounded).
    async fn reports_naming(
        &self,
        kind: &str,
        value: &str,
        since: i64,
        limit: i64,
    ) -> Result<Vec<GroupMember>, StorageError>;
    /// Independent reporters naming an identifier (see `sql::INDEPENDENT_REPORTERS`).
    async fn independent_reporters(&self, kind: &str, value: &str) -> Result<i64, StorageError>;
    /// A staff priority change with its audit entry. False if the priority moved meanwhile.
    async fn change_priority(
        &self,
        c: &PriorityChange,
        audit: &AuditDraft,
        hasher: AuditHasher,
    ) -> Result<bool, StorageError>;
    /// Marks a report a duplicate of another, closes its escalation and recomputes the
    /// confidence of its group. False if it moved meanwhile or is already merged.
    async fn merge_reports(
        &self,
        m: &Merge,
        audit: &AuditDraft,
        hasher: AuditHasher,
    ) -> Result<bool, StorageError>;
    /// Identifiers of reports staff confirmed and acted on, newest first.
    async fn feed_rows(&self, limit: i64) -> Result<Vec<FeedRow>, StorageError>;
    async fn list_policies(&self) -> Result<Vec<PolicyRecord>, StorageError>;
    async fn insert_policy(
        &self,
        p: &PolicyRecord,
        audit: &AuditDraft,
        hasher: AuditHasher,
    ) -> Result<(), StorageError>;
    async fn delete_policy(
        &self,
        id: &str,
        audit: &AuditDraft,
        hasher: AuditHasher,
    ) -> Result<bool, StorageError>;
    async fn list_rules(&self) -> Result<Vec<RuleRecord>, StorageError>;
    /// Replaces the configured rules, with the audit entry, in one transaction.
    async fn put_rules(
        &self,
        rules: &[RuleRecord],
        audit: &AuditDraft,
        hasher: AuditHasher,
    ) -> Result<(), StorageError>;

    // Outbox
    /// Leases up to `limit` undelivered messages that are due, for `lock_secs`.
    async fn lease_outbox(
        &self,
        now: i64,
        lock_secs: i64,
        max_attempts: i64,
        limit: i64,
    ) -> Result<Vec<OutboxRecord>, StorageError>;
    /// Marks delivered, if `lease` (the `locked_until` it was leased with) is still ours.
    async fn outbox_delivered(&self, id: &str, lease: i64, at: i64) -> Result<(), StorageError>;
    /// Schedules a retry, if `lease` is still ours.
    async fn outbox_failed(
        &self,
        id: &str,
        lease: i64,
        next_attempt_at: i64,
        error: &str,
    ) -> Result<(), StorageError>;
    async fn outbox_by_id(&self, id: &str) -> Result<Option<OutboxRecord>, StorageError>;

    // Victim follow-up
    /// Leases up to `limit` subscriptions that have an address and are due: owed timeline
    /// events, or a first-response deadline within `warn_secs` with nobody having answered yet.
    async fn lease_followups(
        &self,
        now: i64,
        lock_secs: i64,
        warn_secs: i64,
        limit: i64,
    ) -> Result<Vec<FollowupRecord>, StorageError>;
    /// Records what was sent (timeline up to `notified_seq`, the deadline notice), if `lease` is
    /// still ours; `next_attempt_at` and `error` schedule a retry after a failure.
    async fn followup_progress(
        &self,
        report_id: &str,
        lease: i64,
        notified_seq: i64,
        sla_warned_at: Option<i64>,
        retry: Option<(i64, &str)>,
    ) -> Result<bool, StorageError>;
    /// Records that the confirmation code went out (and forgets its sealed copy), if `lease` is
    /// still ours.
    async fn followup_confirmation_sent(
        &self,
        report_id: &str,
        lease: i64,
        at: i64,
    ) -> Result<bool, StorageError>;
    /// Confirms the address if `code_hash` matches; false otherwise (or if already confirmed).
    async fn confirm_followup(
        &self,
        report_id: &str,
        code_hash: &str,
        at: i64,
    ) -> Result<bool, StorageError>;
    async fn followup_for_report(
        &self,
        report_id: &str,
    ) -> Result<Option<FollowupRecord>, StorageError>;
    /// "Forget me": erases the notification address and phrase and the reporter contact of the
    /// report, in one transaction. The evidence stays.
    async fn forget_contact(&self, report_id: &str, at: i64) -> Result<(), StorageError>;
    /// Consecutive timeline events of every report, the later one since `since`, newest first.
    async fn handling_samples(&self, since: i64) -> Result<Vec<HandlingSample>, StorageError>;
    /// Stores a rating; `Conflict` if the report was rated already.
    async fn insert_rating(
        &self,
        report_id: &str,
        rating: i64,
        comment: Option<&str>,
        at: i64,
    ) -> Result<(), StorageError>;
    async fn rating_for_report(&self, report_id: &str) -> Result<Option<i64>, StorageError>;
    async fn rating_summary(&self) -> Result<Vec<RatingSummary>, StorageError>;

    // Audit trail
    async fn append_audit(
        &self,
        draft: &AuditDraft,
        hasher: AuditHasher,
    ) -> Result<i64, StorageError>;
    /// Entries with `seq > after`, in order.
    async fn audit_page(&self, after: i64, limit: i64) -> Result<Vec<AuditRecord>, StorageError>;
}

/// Opens the engine named by the URL's scheme, creating an SQLite file (and its folder) if needed,
/// and applies migrations.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StorageError> {
    let store: Arc<dyn Store> = if url.starts_with("sqlite:") {
        Arc::new(sqlite::SqliteStore::connect(url).await?)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Arc::new(postgres::PgStore::connect(url).await?)
    } else {
        return Err(StorageError::UnsupportedUrl);
    };
    store.migrate().await?;
    Ok(store)
}
