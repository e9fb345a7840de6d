//! SQLite engine: the embedded default. WAL journal with `synchronous = FULL`, so a committed
//! write survives a killed process and a power cut; foreign keys on.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::sql::{self, impl_store};
use super::{
    AttachmentRecord, ChannelRecord, IdempotencyRecord, NewReportBundle, ReportEventRecord,
    ReportFilter, ReportRecord, SessionRecord, SessionView, StaffRecord, StorageError, Store,
};

pub struct SqliteStore {
    pool: SqlitePool,
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
            .connect_with(opts)
            .await?;
        Ok(SqliteStore { pool })
    }
}

impl_store!(SqliteStore, "sqlite", "./migrations/sqlite");
