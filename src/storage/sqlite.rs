//! SQLite engine: the embedded default. WAL journal with `synchronous = FULL`, so a committed
//! write survives a killed process and a power cut; foreign keys on.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::sql::{self, impl_store};
use super::{
    AttachmentRecord, AuditDraft, AuditHasher, AuditRecord, ChannelRecord, EscalationFilter,
    EscalationRecord, FeedRow, FollowupRecord, GroupMember, HandlingSample, IdempotencyRecord,
    LiveSessionRow, Merge, NewEscalation, NewReportBundle, OutboxRecord, PolicyRecord,
    PriorityChange, RatingSummary, ReportEventRecord, ReportFilter, ReportRecord, ReportTransition,
    Resolution, RuleRecord, SessionRecord, SessionView, StaffRecord, StorageError, Store,
};

pub struct SqliteStore {
    pool: SqlitePool,
    /// Writers take turns here, first come first served, before every write (a transaction or a
    /// single statement).
    /// SQLite admits one writer at a time anyway; left to its busy handler, waiting writers
    /// sleep and poll with growing back-offs, so under a burst of writes some wait hundreds of
    /// milliseconds while others pass (p99 of 450–600 ms for 32 concurrent claimers in
    /// `scripts/load/system.sh`), and they hold pool connections that readers need meanwhile.
    writer: tokio::sync::Mutex<()>,
}

impl SqliteStore {
    /// This process's turn to write (held until the transaction ends).
    async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        Some(self.writer.lock().await)
    }
}

impl SqliteStore {
    pub async fn connect(url: &str) -> Result<SqliteStore, StorageError> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(StorageError::Other)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        if let Some(parent) = opts.get_filename().parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| StorageError::Unavailable(sqlx::Error::Io(e)))?;
            }
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .after_release(|conn, _| Box::pin(release_only_outside_transactions(conn)))
            .connect_with(opts)
            .await?;
        Ok(SqliteStore {
            pool,
            writer: tokio::sync::Mutex::new(()),
        })
    }
}

/// Keeps a connection in the pool only if it is not inside a transaction; otherwise closes it
/// (which rolls the transaction back).
///
/// sqlx 0.8's SQLite `begin_with` runs the `BEGIN` and then awaits once more; a request future
/// dropped at that point (a client hanging up, a timeout) leaves the connection inside a
/// transaction that no `Transaction` value will ever end. Pooled again, that connection refused
/// every later transaction and its `BEGIN IMMEDIATE` held the write lock, so every other writer
/// waited out the busy timeout and failed: found by the load test, pinned by
/// `tests/api/faults.rs::clients_abandoning_writes_midway_leave_no_transaction_open`.
async fn release_only_outside_transactions(
    conn: &mut sqlx::SqliteConnection,
) -> Result<bool, sqlx::Error> {
    use sqlx::{Connection, TransactionManager};
    type Tm = <sqlx::Sqlite as sqlx::Database>::TransactionManager;
    if Tm::get_transaction_depth(conn) == 0 {
        return Ok(true);
    }
    // A dropped `Transaction` queues its rollback on the connection's worker: let it run first.
    conn.ping().await?;
    let clean = Tm::get_transaction_depth(conn) == 0;
    if !clean {
        tracing::warn!("Closing a database connection left inside an abandoned transaction");
    }
    Ok(clean)
}

/// Writers are serialised by SQLite itself (BEGIN IMMEDIATE), so the subquery cannot race.
const CLAIM_SQL: &str =
    "UPDATE escalations SET state = 'claimed', claimed_by = $1, lease_until = $2, \
     claims = claims + 1 WHERE id = (SELECT id FROM escalations WHERE state = 'queued' \
     ORDER BY priority_rank, created_at, id LIMIT 1) AND state = 'queued' RETURNING id, \
     report_id, priority, priority_rank, reason, state, created_at, sla_due_at, claimed_by, \
     lease_until, claims, resolved_at, resolved_by, outcome, note";

impl_store!(
    SqliteStore,
    sqlx::Sqlite,
    "sqlite",
    "./migrations/sqlite",
    "BEGIN IMMEDIATE",
    CLAIM_SQL,
    ""
);
