//! SQL text both engines accept unchanged (`$n` placeholders work in SQLite and PostgreSQL), and
//! the macro that implements the shared part of [`super::Store`] once per engine.

pub const INSERT_STAFF: &str =
    "INSERT INTO staff (id, name, role, key_hash, created_at, disabled_at) \
     VALUES ($1, $2, $3, $4, $5, $6)";
pub const STAFF_COLS: &str = "SELECT id, name, role, created_at, disabled_at FROM staff";

pub const INSERT_CHANNEL: &str =
    "INSERT INTO channels (id, kind, value, label, agent_id, created_at, created_by) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub const LIST_CHANNELS: &str = "SELECT id, kind, value, label, agent_id, created_at, created_by \
     FROM channels ORDER BY kind, value";
pub const DELETE_CHANNEL: &str = "DELETE FROM channels WHERE id = $1";

pub const INSERT_SESSION: &str =
    "INSERT INTO sessions (jti, agent_id, kid, channel_kind, channel_value, \
     user_ref_last4, code_hash, issued_at, expires_at, revoked_at, revoked_by) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
pub const SESSION_VIEW: &str = "SELECT s.jti, s.agent_id, s.kid, s.channel_kind, s.channel_value, \
     s.user_ref_last4, s.code_hash, s.issued_at, s.expires_at, s.revoked_at, s.revoked_by, \
     st.name AS agent_name FROM sessions s JOIN staff st ON st.id = s.agent_id";
pub const REVOKE_SESSION: &str =
    "UPDATE sessions SET revoked_at = $1, revoked_by = $2 WHERE jti = $3 AND revoked_at IS NULL";

/// Implements [`super::Store`] for an engine type with a `pool` field. The whole impl is generated
/// (not just the shared methods) because `#[async_trait]` must see every method it rewrites.
macro_rules! impl_store {
    ($ty:ty, $engine:literal, $migrations:literal) => {
    #[async_trait::async_trait]
    impl Store for $ty {
        fn engine(&self) -> &'static str {
            $engine
        }

        async fn migrate(&self) -> Result<(), StorageError> {
            sqlx::migrate!($migrations).run(&self.pool).await?;
            Ok(())
        }

        async fn ping(&self) -> Result<(), StorageError> {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        }

        async fn close(&self) {
            self.pool.close().await;
        }

        #[tracing::instrument(skip_all)]
        async fn insert_staff(&self, rec: &StaffRecord, key_hash: &str) -> Result<(), StorageError> {
            sqlx::query(sql::INSERT_STAFF)
                .bind(&rec.id)
                .bind(&rec.name)
                .bind(&rec.role)
                .bind(key_hash)
                .bind(rec.created_at)
                .bind(rec.disabled_at)
                .execute(&self.pool)
                .await?;
            Ok(())
        }

        #[tracing::instrument(skip_all)]
        async fn staff_by_key_hash(&self, key_hash: &str) -> Result<Option<StaffRecord>, StorageError> {
            let q = format!("{} WHERE key_hash = $1", sql::STAFF_COLS);
            Ok(sqlx::query_as::<_, StaffRecord>(&q)
                .bind(key_hash)
                .fetch_optional(&self.pool)
                .await?)
        }

        #[tracing::instrument(skip_all)]
        async fn staff_by_id(&self, id: &str) -> Result<Option<StaffRecord>, StorageError> {
            let q = format!("{} WHERE id = $1", sql::STAFF_COLS);
            Ok(sqlx::query_as::<_, StaffRecord>(&q)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
        }

        #[tracing::instrument(skip_all)]
        async fn list_staff(&self) -> Result<Vec<StaffRecord>, StorageError> {
            let q = format!("{} ORDER BY created_at, name", sql::STAFF_COLS);
            Ok(sqlx::query_as::<_, StaffRecord>(&q).fetch_all(&self.pool).await?)
        }

        #[tracing::instrument(skip_all)]
        async fn insert_channel(&self, rec: &ChannelRecord) -> Result<(), StorageError> {
            sqlx::query(sql::INSERT_CHANNEL)
                .bind(&rec.id)
                .bind(&rec.kind)
                .bind(&rec.value)
                .bind(&rec.label)
                .bind(&rec.agent_id)
                .bind(rec.created_at)
                .bind(&rec.created_by)
                .execute(&self.pool)
                .await?;
            Ok(())
        }

        #[tracing::instrument(skip_all)]
        async fn list_channels(&self) -> Result<Vec<ChannelRecord>, StorageError> {
            Ok(sqlx::query_as::<_, ChannelRecord>(sql::LIST_CHANNELS)
                .fetch_all(&self.pool)
                .await?)
        }

        #[tracing::instrument(skip_all)]
        async fn delete_channel(&self, id: &str) -> Result<bool, StorageError> {
            let r = sqlx::query(sql::DELETE_CHANNEL).bind(id).execute(&self.pool).await?;
            Ok(r.rows_affected() > 0)
        }

        #[tracing::instrument(skip_all)]
        async fn insert_session(&self, rec: &SessionRecord) -> Result<(), StorageError> {
            sqlx::query(sql::INSERT_SESSION)
                .bind(&rec.jti)
                .bind(&rec.agent_id)
                .bind(&rec.kid)
                .bind(&rec.channel_kind)
                .bind(&rec.channel_value)
                .bind(&rec.user_ref_last4)
                .bind(&rec.code_hash)
                .bind(rec.issued_at)
                .bind(rec.expires_at)
                .bind(rec.revoked_at)
                .bind(&rec.revoked_by)
                .execute(&self.pool)
                .await?;
            Ok(())
        }

        #[tracing::instrument(skip_all)]
        async fn session_by_jti(&self, jti: &str) -> Result<Option<SessionView>, StorageError> {
            let q = format!("{} WHERE s.jti = $1", sql::SESSION_VIEW);
            Ok(sqlx::query_as::<_, SessionView>(&q)
                .bind(jti)
                .fetch_optional(&self.pool)
                .await?)
        }

        #[tracing::instrument(skip_all)]
        async fn session_by_code_hash(
            &self,
            code_hash: &str,
        ) -> Result<Option<SessionView>, StorageError> {
            let q = format!("{} WHERE s.code_hash = $1", sql::SESSION_VIEW);
            Ok(sqlx::query_as::<_, SessionView>(&q)
                .bind(code_hash)
                .fetch_optional(&self.pool)
                .await?)
        }

        #[tracing::instrument(skip_all)]
        async fn revoke_session(&self, jti: &str, by: &str, at: i64) -> Result<bool, StorageError> {
            let r = sqlx::query(sql::REVOKE_SESSION)
                .bind(at)
                .bind(by)
                .bind(jti)
                .execute(&self.pool)
                .await?;
            Ok(r.rows_affected() > 0)
        }

        #[tracing::instrument(skip_all)]
        async fn active_sessions_for_agent(
            &self,
            agent_id: &str,
            now: i64,
        ) -> Result<Vec<SessionView>, StorageError> {
            let q = format!(
                "{} WHERE s.agent_id = $1 AND s.expires_at > $2 ORDER BY s.issued_at DESC LIMIT 200",
                sql::SESSION_VIEW
            );
            Ok(sqlx::query_as::<_, SessionView>(&q)
                .bind(agent_id)
                .bind(now)
                .fetch_all(&self.pool)
                .await?)
        }
    }
    };
}

pub(crate) use impl_store;
