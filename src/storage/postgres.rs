//! PostgreSQL engine, for deployments that run several instances on one database.

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

use super::sql::{self, impl_store};
use super::{
    AttachmentRecord, AuditDraft, AuditHasher, AuditRecord, ChannelRecord, EscalationFilter,
    EscalationRecord, FeedRow, FollowupRecord, GroupMember, HandlingSample, IdempotencyRecord,
    LiveSessionRow, Merge, NewEscalation, NewReportBundle, OutboxRecord, PolicyRecord,
    PriorityChange, RatingSummary, ReportEventRecord, ReportFilter, ReportRecord, ReportTransition,
    Resolution, RuleRecord, SessionRecord, SessionView, StaffRecord, StorageError, Store,
};

pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// PostgreSQL runs writers concurrently (row locks, `SKIP LOCKED`): no turn-taking.
    async fn write_turn(&self) -> Option<()> {
        None
    }
}

impl PgStore {
    pub async fn connect(url: &str) -> Result<PgStore, StorageError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        Ok(PgStore { pool })
    }
}

/// `SKIP LOCKED`: many instances claim in parallel without blocking or double-claiming.
const CLAIM_SQL: &str = "UPDATE escalations SET state = 'claimed', claimed_by = $1, lease_until = $2, \
     claims = claims + 1 WHERE id = (SELECT id FROM escalations WHERE state = 'queued' \
     ORDER BY priority_rank, created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) AND state = 'queued' RETURNING id, \
     report_id, priority, priority_rank, reason, state, created_at, sla_due_at, claimed_by, \
     lease_until, claims, resolved_at, resolved_by, outcome, note";

impl_store!(
    PgStore,
    sqlx::Postgres,
    "postgres",
    "./migrations/postgres",
    "BEGIN",
    CLAIM_SQL,
    "SELECT pg_advisory_xact_lock(7366801)"
);
