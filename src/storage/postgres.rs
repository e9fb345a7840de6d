//! PostgreSQL engine, for deployments that run several instances on one database.

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

use super::sql::{self, impl_store};
use super::{
    AttachmentRecord, ChannelRecord, IdempotencyRecord, NewReportBundle, ReportEventRecord,
    ReportFilter, ReportRecord, SessionRecord, SessionView, StaffRecord, StorageError, Store,
};

pub struct PgStore {
    pool: PgPool,
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

impl_store!(PgStore, "postgres", "./migrations/postgres");
