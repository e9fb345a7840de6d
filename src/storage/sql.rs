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
/// Two index-backed halves rather than one `OR`, which neither planner can serve from the indexes.
/// `+expires_at` (a no-op in both engines) keeps SQLite's planner on the `issued_at` and
/// `revoked_at` indexes, which bound each pass by what changed, rather than on `expires_at`,
/// which would read every unexpired session.
pub const LIVE_SESSIONS: &str = "SELECT jti, agent_id, channel_kind, channel_value, expires_at, \
     revoked_at FROM sessions WHERE +expires_at > $1 AND issued_at >= $2 \
     UNION ALL SELECT jti, agent_id, channel_kind, channel_value, expires_at, revoked_at \
     FROM sessions WHERE +expires_at > $1 AND revoked_at IS NOT NULL AND revoked_at >= $3";
pub const REVOKE_SESSION: &str =
    "UPDATE sessions SET revoked_at = $1, revoked_by = $2 WHERE jti = $3 AND revoked_at IS NULL";

pub const REPORT_COLS: &str = "SELECT id, receipt_hash, status, category, priority, triage, \
     triage_reasons, description, scam_channel_kind, scam_channel_value, presented_token, \
     token_verdict, transactions, amount_lost, asset, occurred_at, reporter_contact, locale, \
     related_to, created_at, updated_at, first_response_by, claimed_channel_kind, \
     claimed_channel_value, claimed_agent, claimed_channel_id, claimed_agent_id, contact_opt_in, \
     law_enforcement_opt_in, reporter_key, confidence, duplicate_of, fired_rules FROM reports";
pub const INSERT_REPORT: &str =
    "INSERT INTO reports (id, receipt_hash, status, category, priority, \
     triage, triage_reasons, description, scam_channel_kind, scam_channel_value, presented_token, \
     token_verdict, transactions, amount_lost, asset, occurred_at, reporter_contact, locale, \
     related_to, created_at, updated_at, first_response_by, claimed_channel_kind, \
     claimed_channel_value, claimed_agent, claimed_channel_id, claimed_agent_id, contact_opt_in, \
     law_enforcement_opt_in, reporter_key, confidence, duplicate_of, fired_rules) VALUES ($1, $2, \
     $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, \
     $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33)";
pub const INSERT_ATTACHMENT: &str = "INSERT INTO attachments (report_id, idx, sha256, size_bytes, \
     content_type, filename) VALUES ($1, $2, $3, $4, $5, $6)";
pub const INSERT_EVENT: &str = "INSERT INTO report_events (report_id, seq, at, kind, public_en, \
     public_zh, internal_note, actor_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
pub const INSERT_IDEMPOTENCY: &str = "INSERT INTO idempotency_keys (key_hash, request_hash, \
     report_id, receipt_masked, created_at) VALUES ($1, $2, $3, $4, $5)";

/// Builds the staff report listing query: returns the SQL and the string/integer parameters in
/// placeholder order.
pub fn list_reports_query(f: &super::ReportFilter) -> (String, Vec<Param>) {
    let mut sql = format!("{REPORT_COLS} WHERE 1 = 1");
    let mut params: Vec<Param> = Vec::new();
    // Appends `clause`, replacing each `?` with the next numbered placeholder.
    fn add(sql: &mut String, params: &mut Vec<Param>, clause: &str, values: Vec<Param>) {
        let mut rest = clause;
        let mut values = values.into_iter();
        while let Some(i) = rest.find('?') {
            sql.push_str(&rest[..i]);
            if let Some(v) = values.next() {
                params.push(v);
            }
            sql.push_str(&format!("${}", params.len()));
            rest = &rest[i + 1..];
        }
        sql.push_str(rest);
    }
    let text = |v: &String| vec![Param::Text(v.clone())];
    if let Some(v) = &f.status {
        add(&mut sql, &mut params, " AND status = ?", text(v));
    }
    if let Some(v) = &f.category {
        add(&mut sql, &mut params, " AND category = ?", text(v));
    }
    if let Some(v) = &f.priority {
        add(&mut sql, &mut params, " AND priority = ?", text(v));
    }
    if let Some(v) = f.created_from {
        add(
            &mut sql,
            &mut params,
            " AND created_at >= ?",
            vec![Param::Int(v)],
        );
    }
    if let Some(v) = f.created_to {
        add(
            &mut sql,
            &mut params,
            " AND created_at < ?",
            vec![Param::Int(v)],
        );
    }
    if let Some(v) = &f.channel_kind {
        add(&mut sql, &mut params, " AND scam_channel_kind = ?", text(v));
    }
    if let Some(v) = &f.channel_value {
        add(
            &mut sql,
            &mut params,
            " AND scam_channel_value = ?",
            text(v),
        );
    }
    if let Some((at, id)) = &f.before {
        add(
            &mut sql,
            &mut params,
            " AND (created_at < ? OR (created_at = ? AND id < ?))",
            vec![Param::Int(*at), Param::Int(*at), Param::Text(id.clone())],
        );
    }
    add(
        &mut sql,
        &mut params,
        " ORDER BY created_at DESC, id DESC LIMIT ?",
        vec![Param::Int(f.limit)],
    );
    (sql, params)
}

pub const ESC_COLS: &str = "id, report_id, priority, priority_rank, reason, state, created_at, \
     sla_due_at, claimed_by, lease_until, claims, resolved_at, resolved_by, outcome, note";
pub const INSERT_ESCALATION: &str =
    "INSERT INTO escalations (id, report_id, priority, priority_rank, \
     reason, state, created_at, sla_due_at, claimed_by, lease_until, claims, resolved_at, \
     resolved_by, outcome, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
     $14, $15)";
/// Outcomes that mean "we acted against this scammer": they make a channel a known scam.
pub const ACTION_OUTCOMES: &str =
    "('handle_blocklisted', 'takedown_requested', 'exchange_notified', 'victim_contacted')";

/// Independent reporters naming an identifier: distinct contacts, each anonymous report once;
/// duplicates and dismissed reports do not count.
pub const INDEPENDENT_REPORTERS: &str =
    "SELECT COUNT(DISTINCT COALESCE(r.reporter_key, r.id)) FROM report_identifiers i \
     JOIN reports r ON r.id = i.report_id WHERE i.kind = $1 AND i.value = $2 \
     AND r.duplicate_of IS NULL AND r.status <> 'dismissed'";
/// Recomputes `unverified`/`corroborated` for every report naming an identifier (after a merge).
pub const RECOMPUTE_CONFIDENCE: &str = "UPDATE reports SET confidence = CASE WHEN EXISTS (\
     SELECT 1 FROM report_identifiers i WHERE i.report_id = reports.id AND (\
     SELECT COUNT(DISTINCT COALESCE(r2.reporter_key, r2.id)) FROM report_identifiers i2 \
     JOIN reports r2 ON r2.id = i2.report_id WHERE i2.kind = i.kind AND i2.value = i.value \
     AND r2.duplicate_of IS NULL AND r2.status <> 'dismissed') >= 2) \
     THEN 'corroborated' ELSE 'unverified' END \
     WHERE confidence <> 'confirmed' AND id IN (SELECT report_id FROM report_identifiers \
     WHERE kind = $1 AND value = $2)";

pub enum Param {
    Text(String),
    Int(i64),
}

/// Timeline event kinds that are status changes (the steps a victim sees).
pub(crate) const STATUS_KINDS: &str = "'received', 'triaged', 'investigating', 'confirmed_fraud', \
     'dismissed', 'duplicate', 'resolved'";

pub(crate) const FOLLOWUP_COLS: &str = "report_id, email_enc, phrase_enc, locale, created_at, \
     notified_seq, sla_warned_at, attempts, next_attempt_at, locked_until, last_error, forgotten_at, \
     confirm_enc, confirm_hash, confirm_sent_at, confirmed_at";

/// After this many failed attempts in a row, a subscription is left alone (its `last_error`
/// says why); a later success elsewhere does not revive it.
pub(crate) const FOLLOWUP_MAX_ATTEMPTS: i64 = 30;

/// `(category, created_at, rating)` rows, oldest first, to averages per category and UTC month.
pub(crate) fn summarise_ratings(rows: Vec<(String, i64, i64)>) -> Vec<super::RatingSummary> {
    let mut out: Vec<super::RatingSummary> = Vec::new();
    let mut sums: std::collections::BTreeMap<(String, String), (i64, i64)> = Default::default();
    for (category, at, rating) in rows {
        let month = chrono::DateTime::from_timestamp(at, 0)
            .map(|d| d.format("%Y-%m").to_string())
            .unwrap_or_default();
        let e = sums.entry((month, category)).or_default();
        e.0 += 1;
        e.1 += rating;
    }
    for ((month, category), (count, total)) in sums {
        out.push(super::RatingSummary {
            category,
            month,
            count,
            average: total as f64 / count as f64,
        });
    }
    out
}

/// Implements [`super::Store`] for an engine type with a `pool` field. The whole impl is generated
/// (not just the shared methods) because `#[async_trait]` must see every method it rewrites.
macro_rules! impl_store {
    ($ty:ty, $db:ty, $engine:literal, $migrations:literal, $begin:literal, $claim_sql:expr, $audit_lock:expr) => {
    impl $ty {
        /// Appends an audit entry inside `tx`, chained to the current last entry. Appenders are
        /// serialised (see `$audit_lock`); should two still race, the primary key refuses the
        /// second and its transaction fails whole (callers retry).
        async fn append_audit_tx(
            tx: &mut sqlx::Transaction<'_, $db>,
            draft: &AuditDraft,
            hasher: AuditHasher,
        ) -> Result<i64, StorageError> {
            // Appenders take turns (PostgreSQL: a transaction-scoped advisory lock; SQLite's
            // BEGIN IMMEDIATE already serialises writers), so concurrent appends never race
            // for the same sequence number.
            if !$audit_lock.is_empty() {
                sqlx::query($audit_lock).execute(&mut **tx).await?;
            }
            let last: Option<(i64, String)> =
                sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                    .fetch_optional(&mut **tx)
                    .await?;
            let (seq, prev) = match last {
                Some((s, h)) => (s + 1, h),
                None => (1, "0".repeat(64)),
            };
            let hash = hasher(seq, &prev, draft);
            sqlx::query(
                "INSERT INTO audit_log (seq, at, actor_id, action, subject, details, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(seq)
            .bind(draft.at)
            .bind(&draft.actor_id)
            .bind(&draft.action)
            .bind(&draft.subject)
            .bind(&draft.details)
            .bind(&prev)
            .bind(&hash)
            .execute(&mut **tx)
            .await?;
            Ok(seq)
        }

        async fn insert_escalation_tx(
            tx: &mut sqlx::Transaction<'_, $db>,
            new: &NewEscalation,
        ) -> Result<bool, StorageError> {
            let e = &new.record;
            let exists: Option<(String,)> =
                sqlx::query_as("SELECT id FROM escalations WHERE report_id = $1")
                    .bind(&e.report_id)
                    .fetch_optional(&mut **tx)
                    .await?;
            if exists.is_some() {
                return Ok(false);
            }
            sqlx::query(sql::INSERT_ESCALATION)
                .bind(&e.id)
                .bind(&e.report_id)
                .bind(&e.priority)
                .bind(e.priority_rank)
                .bind(&e.reason)
                .bind(&e.state)
                .bind(e.created_at)
                .bind(e.sla_due_at)
                .bind(&e.claimed_by)
                .bind(e.lease_until)
                .bind(e.claims)
                .bind(e.resolved_at)
                .bind(&e.resolved_by)
                .bind(&e.outcome)
                .bind(&e.note)
                .execute(&mut **tx)
                .await?;
            if let Some(o) = &new.notify {
                sqlx::query(
                    "INSERT INTO outbox (id, kind, payload, created_at, attempts, next_attempt_at, \
                     locked_until, delivered_at, last_error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&o.id)
                .bind(&o.kind)
                .bind(&o.payload)
                .bind(o.created_at)
                .bind(o.attempts)
                .bind(o.next_attempt_at)
                .bind(o.locked_until)
                .bind(o.delivered_at)
                .bind(&o.last_error)
                .execute(&mut **tx)
                .await?;
            }
            Ok(true)
        }
        /// Applies a priority change inside `tx`; false if the report's priority moved meanwhile.
        async fn change_priority_tx(
            tx: &mut sqlx::Transaction<'_, $db>,
            c: &PriorityChange,
        ) -> Result<bool, StorageError> {
            let moved = sqlx::query(
                "UPDATE reports SET priority = $1, first_response_by = $2, \
                 fired_rules = COALESCE($3, fired_rules), updated_at = $4 \
                 WHERE id = $5 AND priority = $6",
            )
            .bind(&c.to)
            .bind(c.first_response_by)
            .bind(&c.fired_rules)
            .bind(c.event.at)
            .bind(&c.report_id)
            .bind(&c.from)
            .execute(&mut **tx)
            .await?;
            if moved.rows_affected() == 0 {
                return Ok(false);
            }
            sqlx::query(
                "UPDATE escalations SET priority = $1, priority_rank = $2, \
                 sla_due_at = created_at + $3 WHERE report_id = $4 AND state <> 'resolved'",
            )
            .bind(&c.to)
            .bind(c.to_rank)
            .bind(c.escalation_sla_secs)
            .bind(&c.report_id)
            .execute(&mut **tx)
            .await?;
            Self::insert_event_tx(tx, &c.event).await?;
            Ok(true)
        }

        /// Appends a timeline event after the report's last one.
        async fn insert_event_tx(
            tx: &mut sqlx::Transaction<'_, $db>,
            e: &ReportEventRecord,
        ) -> Result<(), StorageError> {
            let (seq,): (i64,) = sqlx::query_as(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM report_events WHERE report_id = $1",
            )
            .bind(&e.report_id)
            .fetch_one(&mut **tx)
            .await?;
            sqlx::query(sql::INSERT_EVENT)
                .bind(&e.report_id)
                .bind(seq)
                .bind(e.at)
                .bind(&e.kind)
                .bind(&e.public_en)
                .bind(&e.public_zh)
                .bind(&e.internal_note)
                .bind(&e.actor_id)
                .execute(&mut **tx)
                .await?;
            Ok(())
        }

        /// Marks `unverified` reports naming an identifier `corroborated` once independent
        /// reporters (distinct contacts; every anonymous report counts once) name it twice.
        async fn corroborate_tx(
            tx: &mut sqlx::Transaction<'_, $db>,
            identifiers: &[(String, String)],
        ) -> Result<(), StorageError> {
            for (kind, value) in identifiers {
                let (n,): (i64,) = sqlx::query_as(sql::INDEPENDENT_REPORTERS)
                    .bind(kind)
                    .bind(value)
                    .fetch_one(&mut **tx)
                    .await?;
                if n >= 2 {
                    sqlx::query(
                        "UPDATE reports SET confidence = 'corroborated' \
                         WHERE confidence = 'unverified' AND duplicate_of IS NULL \
                         AND status <> 'dismissed' AND id IN (SELECT report_id \
                         FROM report_identifiers WHERE kind = $1 AND value = $2)",
                    )
                    .bind(kind)
                    .bind(value)
                    .execute(&mut **tx)
                    .await?;
                }
            }
            Ok(())
        }
    }

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
            let _turn = self.write_turn().await;
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
        async fn insert_console_session(
            &self,
            id_hash: &str,
            staff_id: &str,
            at: i64,
            expires_at: i64,
        ) -> Result<(), StorageError> {
            let _turn = self.write_turn().await;
            sqlx::query(
                "INSERT INTO console_sessions (id_hash, staff_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id_hash)
            .bind(staff_id)
            .bind(at)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
            Ok(())
        }

        #[tracing::instrument(skip_all)]
        async fn console_session_staff(
            &self,
            id_hash: &str,
            now: i64,
        ) -> Result<Option<StaffRecord>, StorageError> {
            Ok(sqlx::query_as::<_, StaffRecord>(
                "SELECT st.id, st.name, st.role, st.created_at, st.disabled_at \
                 FROM console_sessions c JOIN staff st ON st.id = c.staff_id \
                 WHERE c.id_hash = $1 AND c.expires_at > $2 AND st.disabled_at IS NULL",
            )
            .bind(id_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?)
        }

        #[tracing::instrument(skip_all)]
        async fn delete_console_session(&self, id_hash: &str, now: i64) -> Result<(), StorageError> {
            let _turn = self.write_turn().await;
            sqlx::query("DELETE FROM console_sessions WHERE id_hash = $1 OR expires_at <= $2")
                .bind(id_hash)
                .bind(now)
                .execute(&self.pool)
                .await?;
            Ok(())
        }

        #[tracing::instrument(skip_all)]
        async fn disable_staff(&self, name: &str, at: i64) -> Result<bool, StorageError> {
            let _turn = self.write_turn().await;
            let r = sqlx::query(
                "UPDATE staff SET disabled_at = $1 WHERE name = $2 AND disabled_at IS NULL",
            )
            .bind(at)
            .bind(name)
            .execute(&self.pool)
            .await?;
            Ok(r.rows_affected() > 0)
        }

        #[tracing::instrument(skip_all)]
        async fn insert_channel(&self, rec: &ChannelRecord) -> Result<(), StorageError> {
            let _turn = self.write_turn().await;
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
            let _turn = self.write_turn().await;
            let r = sqlx::query(sql::DELETE_CHANNEL).bind(id).execute(&self.pool).await?;
            Ok(r.rows_affected() > 0)
        }

        #[tracing::instrument(skip_all)]
        async fn insert_session(&self, rec: &SessionRecord) -> Result<(), StorageError> {
            let _turn = self.write_turn().await;
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
            let _turn = self.write_turn().await;
            let r = sqlx::query(sql::REVOKE_SESSION)
                .bind(at)
                .bind(by)
                .bind(jti)
                .execute(&self.pool)
                .await?;
            Ok(r.rows_affected() > 0)
        }

        #[tracing::instrument(skip_all)]
        async fn live_sessions_since(
            &self,
            since: i64,
            revoked_since: i64,
            expires_after: i64,
        ) -> Result<Vec<LiveSessionRow>, StorageError> {
            Ok(sqlx::query_as::<_, LiveSessionRow>(sql::LIVE_SESSIONS)
                .bind(expires_after)
                .bind(since)
                .bind(revoked_since)
                .fetch_all(&self.pool)
                .await?)
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

        #[tracing::instrument(skip_all)]
        async fn insert_report(&self, b: &NewReportBundle) -> Result<(), StorageError> {
            let r = &b.report;
            let _turn = self.write_turn().await;
            let mut tx = self.pool.begin_with($begin).await?;
            sqlx::query(sql::INSERT_REPORT)
                .bind(&r.id)
                .bind(&r.receipt_hash)
                .bind(&r.status)
                .bind(&r.category)
                .bind(&r.priority)
                .bind(&r.triage)
                .bind(&r.triage_reasons)
                .bind(&r.description)
                .bind(&r.scam_channel_kind)
                .bind(&r.scam_channel_value)
                .bind(&r.presented_token)
                .bind(&r.token_verdict)
                .bind(&r.transactions)
                .bind(&r.amount_lost)
                .bind(&r.asset)
                .bind(r.occurred_at)
                .bind(&r.reporter_contact)
                .bind(&r.locale)
                .bind(&r.related_to)
                .bind(r.created_at)
                .bind(r.updated_at)
                .bind(r.first_response_by)
                .bind(&r.claimed_channel_kind)
                .bind(&r.claimed_channel_value)
                .bind(&r.claimed_agent)
                .bind(&r.claimed_channel_id)
                .bind(&r.claimed_agent_id)
                .bind(r.contact_opt_in)
                .bind(r.law_enforcement_opt_in)
                .bind(&r.reporter_key)
                .bind(&r.confidence)
                .bind(&r.duplicate_of)
                .bind(&r.fired_rules)
                .execute(&mut *tx)
                .await?;
            for (kind, value) in &b.identifiers {
                sqlx::query(
                    "INSERT INTO report_identifiers (report_id, kind, value, created_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(&r.id)
                .bind(kind)
                .bind(value)
                .bind(r.created_at)
                .execute(&mut *tx)
                .await?;
            }
            for c in &b.raise {
                Self::change_priority_tx(&mut tx, c).await?;
            }
            if !b.identifiers.is_empty() {
                Self::corroborate_tx(&mut tx, &b.identifiers).await?;
            }
            for a in &b.attachments {
                sqlx::query(sql::INSERT_ATTACHMENT)
                    .bind(&a.report_id)
                    .bind(a.idx)
                    .bind(&a.sha256)
                    .bind(a.size_bytes)
                    .bind(&a.content_type)
                    .bind(&a.filename)
                    .execute(&mut *tx)
                    .await?;
            }
            let e = &b.first_event;
            sqlx::query(sql::INSERT_EVENT)
                .bind(&e.report_id)
                .bind(e.seq)
                .bind(e.at)
                .bind(&e.kind)
                .bind(&e.public_en)
                .bind(&e.public_zh)
                .bind(&e.internal_note)
                .bind(&e.actor_id)
                .execute(&mut *tx)
                .await?;
            if let Some(esc) = &b.escalation {
                Self::insert_escalation_tx(&mut tx, esc).await?;
            }
            if let Some(f) = &b.followup {
                sqlx::query(
                    "INSERT INTO report_followup (report_id, email_enc, phrase_enc, locale, \
                     created_at, notified_seq, sla_warned_at, attempts, next_attempt_at, \
                     confirm_enc, confirm_hash) \
                     VALUES ($1, $2, $3, $4, $5, $6, NULL, 0, $7, $8, $9)",
                )
                .bind(&f.report_id)
                .bind(&f.email_enc)
                .bind(&f.phrase_enc)
                .bind(&f.locale)
                .bind(f.created_at)
                .bind(f.notified_seq)
                .bind(f.next_attempt_at)
                .bind(&f.confirm_enc)
                .bind(&f.confirm_hash)
                .execute(&mut *tx)
                .await?;
            }
            if let Some(i) = &b.idempotency {
                sqlx::query(sql::INSERT_IDEMPOTENCY)
                    .bind(&i.key_hash)
                    .bind(&i.request_hash)
                    .bind(&i.report_id)
                    .bind(&i.receipt_masked)
                    .bind(i.created_at)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        }

        #[tracing::instrument(skip_all)]
        async fn report_by_id(&self, id: &str) -> Result<Option<ReportRecord>, StorageError> {
            let q = format!("{} WHERE id = $1", sql::REPORT_COLS);
            Ok(sqlx::query_as::<_, ReportRecord>(&q).bind(id).fetch_optional(&self.pool).await?)
        }

        #[tracing::instrument(skip_all)]
        async fn report_attachments(&self, id: &str) -> Result<Vec<AttachmentRecord>, StorageError> {
            Ok(sqlx::query_as::<_, AttachmentRecord>(
                "SELECT report_id, idx, sha256, size_bytes, content_type, filename \
                 FROM attachments WHERE report_id = $1 ORDER BY idx",
            )
            .bind(id)
            .fetch_all(&self.pool)
            .await?)
        }

        #[tracing::instrument(skip_all)]
        async fn report_events(&self, id: &str) -> Result<Vec<ReportEventRecord>, StorageError> {
            Ok(sqlx::query_as::<_, ReportEventRecord>(
                "SELECT report_id, seq, at, kind, public_en, public_zh, internal_note, actor_id \
                 FROM report_events WHERE report_id = $1 ORDER BY seq",
            )
            .bind(id)
            .fetch_all(&self.pool)
            .await?)
        }

        #[tracing::instrument(skip_all)]
        async fn idempotency_by_key(
            &self,
            key_hash: &str,
        ) -> Result<Option<IdempotencyRecord>, StorageError> {
            Ok(sqlx::query_as::<_, IdempotencyRecord>(
                "SELECT key_hash, request_hash, report_id, receipt_masked, created_at \
                 FROM idempotency_keys WHERE key_hash = $1",
            )
            .bind(key_hash)
            .fetch_optional(&self.pool)
            .await?)
        }

        #[tracing::instrument(skip_all)]
        async fn open_report_for_channel(
            &self,
            kind: &str,
            value: &str,
            closed: &[&str],
        ) -> Result<Option<String>, StorageError> {
            let mut q = String::from(
                "SELECT id FROM reports WHERE scam_channel_kind = $1 AND scam_channel_value = $2",
            );
            if !closed.is_empty() {
                let marks: Vec<String> = (0..closed.len()).map(|i| format!("${}", i + 3)).collect();
                q.push_str(&format!(" AND status NOT IN ({})", marks.join(", ")));
            }
            q.push_str(" ORDER BY created_at, id LIMIT 1");
            let mut query = sqlx::query_as::<_, (String,)>(&q).bind(kind).bind(value);
            for c in closed {
                query = query.bind(*c);
            }
            Ok(query.fetch_optional(&self.pool).await?.map(|(id,)| id))
        }

        #[tracing::instrument(skip_all)]
        async fn reports_for_channel(
            &self,
            kind: &str,
            value: &str,
            limit: i64,
        ) -> Result<Vec<ReportRecord>, StorageError> {
            let q = format!(
                "{} WHERE scam_channel_kind = $1 AND scam_channel_value = $2 \
                 ORDER BY created_at DESC, id DESC LIMIT $3",
                sql::REPORT_COLS
            );
            Ok(sqlx::query_as::<_, ReportRecord>(&q)
                .bind(kind)
                .bind(value)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
        }

        #[tracing::instrument(skip_all)]
        async fn list_reports(&self, f: &ReportFilter) -> Result<Vec<ReportRecord>, StorageError> {
            let (q, params) = sql::list_reports_query(f);
            let mut query = sqlx::query_as::<_, ReportRecord>(&q);
            for p in params {
                query = match p {
                    sql::Param::Text(t) => query.bind(t),
                    sql::Param::Int(i) => query.bind(i),
                };
            }
            Ok(query.fetch_all(&self.pool).await?)
        }

        #[tracing::instrument(skip_all)]
        async fn transition_report(
            &self,
            t: &ReportTransition,
            audit: &AuditDraft,
            hasher: AuditHasher,
        ) -> Result<bool, StorageError> {
            let _turn = self.write_turn().await;
            let mut tx = self.pool.begin_with($begin).await?;
            let moved = sqlx::query(
                "UPDATE reports SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4",
            )
            .bind(&t.to)
            .bind(t.at)
            .bind(&t.report_id)
            .bind(&t.from)
            .execute(&mut *tx)
            .await?;
            if moved.rows_affected() == 0 {
                return Ok(false);
            }
            if t.to == "confirmed_fraud" {
                sqlx::query("UPDATE reports SET confidence = 'confirmed' WHERE id = $1")
                    .bind(&t.report_id)
                    .execute(&mut *tx)
                    .await?;
            }
            if t.to == "dismissed" || t.to == "duplicate" {
                // No longer an independent report: its group's confidence is recomputed.
                let ids: Vec<(String, String)> = sqlx::query_as(
                    "SELECT kind, value FROM report_identifiers WHERE report_id = $1",
                )
                .bind(&t.report_id)
                .fetch_all(&mut *tx)
                .await?;
                for (kind, value) in &ids {
                    sqlx::query(sql::RECOMPUTE_CONFIDENCE)
                        .bind(kind)
                        .bind(value)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            let (seq,): (i64,) = sqlx::query_as(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM report_events WHERE report_id = $1",
            )
            .bind(&t.report_id)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(sql::INSERT_EVENT)
                .bind(&t.report_id)
                .bind(seq)
                .bind(t.at)
                .bind(&t.kind)
                .bind(&t.public_en)
                .bind(&t.public_zh)
                .bind(&t.internal_note)
                .bind(&t.actor_id)
                .execute(&mut *tx)
                .await?;
            if let Some(e) = &t.escalation {
                Self::insert_escalation_tx(&mut tx, e).await?;
            }
            if let Some(note) = &t.close_escalation {
                sqlx::query(
                    "UPDATE escalations SET state = 'resolved', resolved_at = $1, resolved_by = $2, \
                     outcome = 'no_action', note = $3, claimed_by = NULL, lease_until = NULL \
                     WHERE report_id = $4 AND state <> 'resolved'",
                )
                .bind(t.at)
                .bind(&t.actor_id)
                .bind(note)
                .bind(&t.report_id)
                .execute(&mut *tx)
                .await?;
            }
            Self::append_audit_tx(&mut tx, audit, hasher).await?;
            tx.commit().await?;
            Ok(true)
        }

        #[tracing::instrument(skip_all)]
        async fn claim_escalation(
            &self,
            staff_id: &str,
            now: i64,
            lease_until: i64,
            audit: &AuditDraft,
            hasher: AuditHasher,
        ) -> Result<Option<EscalationRecord>, StorageError> {
            let _turn = self.write_turn().await;
            let mut tx = self.pool.begin_with($begin).await?;
            sqlx::query(
                "UPDATE escalations SET state = 'queued', claimed_by = NULL, lease_until = NULL \
                 WHERE state = 'claimed' AND lease_until < $1",
            )
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let claimed = sqlx::query_as::<_, EscalationRecord>($claim_sql)
                .bind(staff_id)
                .bind(lease_until)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(e) = &claimed {
                let mut a = audit.clone();
                a.subject = e.id.clone();
                a.details = serde_json::json!({"report_id": e.report_id, "priority": e.priority})
                    .to_string();
                Self::append_audit_tx(&mut tx, &a, hasher).await?;
            }
            tx.commit().await?;
            Ok(claimed)
        }

        #[tracing::instrument(skip_all)]
        async fn heartbeat_escalation(
            &self,
            id: &str,
            staff_id: &str,
            now: i64,
            lease_until: i64,
        ) -> Result<bool, StorageError> {
            let _turn = self.write_turn().await;
            let r = sqlx::query(
                "UPDATE escalations SET lease_until = $1 WHERE id = $2 AND state = 'claimed' \
                 AND claimed_by = $3 AND lease_until >= $4",
            )
            .bind(lease_until)
            .bind(id)
            .bind(staff_id)
            .bind(now)
            .execute(&self.pool)
            .await?;
            Ok(r.rows_affected() > 0)
        }

        #[tracing::instrument(skip_all)]
        async fn release_escalation(
            &self,
            id: &str,
            staff_id: &str,
            now: i64,
            audit: &AuditDraft,
            hasher: AuditHasher,
        ) -> Result<Option<EscalationRecord>, StorageError> {
            let _turn = self.write_turn().await;
            let mut tx = self.pool.begin_with($begin).await?;
            // The row as this release left it (RETURNING): a read after the commit could already
            // show another claim.
            let q = format!(
                "UPDATE escalations SET state = 'queued', claimed_by = NULL, lease_until = NULL \
                 WHERE id = $1 AND state = 'claimed' AND claimed_by = $2 AND lease_until >= $3 \
                 RETURNING {}",
                sql::ESC_COLS
            );
            let Some(released) = sqlx::query_as::<_, EscalationRecord>(&q)
                .bind(id)
                .bind(staff_id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?
            else {
                return Ok(None);
            };
            Self::append_audit_tx(&mut tx, audit, hasher).await?;
            tx.commit().await?;
            Ok(Some(released))
        }

        #[tracing::instrument(skip_all)]
        async fn resolve_escalation(
            &self,
            res: &Resolution,
            audit: &AuditDraft,
            hasher: AuditHasher,
        ) -> Result<bool, StorageError> {
            let (id, staff_id, now, outcome, note) =
                (&res.id, &res.staff_id, res.at, &res.outcome, &res.note);
            let _turn = self.write_turn().await;
            let mut tx = self.pool.begin_with($begin).await?;
            let r = sqlx::query(
                "UPDATE escalations SET state = 'resolved', resolved_at = $1, resolved_by = $2, \
                 outcome = $3, note = $4, lease_until = NULL \
                 WHERE id = $5 AND state = 'claimed' AND claimed_by = $2 AND lease_until >= $1",
            )
            .bind(now)
            .bind(staff_id)
            .bind(outcome)
            .bind(note)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() == 0 {
                return Ok(false);
            }
            Self::append_audit_tx(&mut tx, audit, hasher).await?;
            tx.commit().await?;
            Ok(true)
        }

        #[tracing::instrument(skip_all)]
        async fn escalation_by_id(&self, id: &str) -> Result<Option<EscalationRecord>, StorageError> {
            let q = format!("SELECT {} FROM escalations WHERE id = $1", sql::ESC_COLS);
            Ok(sqlx::query_as::<_, EscalationRecord>(&q).bind(id).fetch_optional(&self.pool).await?)
        }

        #[tracing::instrument(skip_all)]
        async fn escalation_for_report(
            &self,
            report_id: &str,
        ) -> Result<Option<EscalationRecord>, StorageError> {
            let q = format!("SELECT {} FROM escalations WHERE report_id = $1", sql::ESC_COLS);
            Ok(sqlx::query_as::<_, EscalationRecord>(&q)
                .bind(report_id)
                .fetch_optional(&self.pool)
                .await?)
        }

        #[tracing::instrument(skip_all)]
        async fn list_escalations(
            &self,
            f: &EscalationFilter,
        ) -> Result<Vec<EscalationRecord>, StorageError> {
            let mut q = format!("SELECT {} FROM escalations WHERE 1 = 1", sql::ESC_COLS);
            let mut n = 0;
            let mut next = || {
                n += 1;
                format!("${n}")
            };
            if f.state.is_some() {
                q.push_str(&format!(" AND state = {}", next()));
            }
            if f.priority.is_some() {
                q.push_str(&format!(" AND priority = {}", next()));
            }
            if f.breached_at.is_some() {
                let p = next();
                q.push_str(&format!(
                    " AND sla_due_at < {p} AND (resolved_at IS NULL OR resolved_at > sla_due_at)"
                ));
            }
            q.push_str(&format!(
                " ORDER BY priority_rank, created_at, id LIMIT {} OFFSET {}",
                next(),
                next()
            ));
            let mut query = sqlx::query_as::<_, EscalationRecord>(&q);
            if let Some(v) = &f.state {
                query = query.bind(v);
            }
            if let Some(v) = &f.priority {
                query = query.bind(v);
            }
            if let Some(v) = f.breached_at {
                query = query.bind(v);
            }
            Ok(query.bind(f.limit).bind(f.offset).fetch_all(&self.pool).await?)
        }

        #[tracing::instrument(skip_all)]
        async fn count_breached(&self, now: i64) -> Result<i64, StorageError> {
            let (n,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM escalations WHERE state <> 'resolved' AND sla_due_at < $1",
            )
            .bind(now)
            .fetch_one(&self.pool)
            .await?;
            Ok(n)
        }

        #[tracing::instrument(skip_all)]
        async fn identifiers_of(&self, report_id: &str) -> Result<Vec<(String, String)>, StorageError> {
            Ok(sqlx::query_as::<_, (String, String)>(
                "SELECT kind, value FROM report_identifiers WHERE report_id = $1 ORDER BY kind, value",
            )
            .bind(report_id)
            .fetch_all(&self.pool)
            .await?)
        }

        #[tracing::instrument(skip_all)]
        async fn reports_naming(
            &self,
            kind: &str,
            value: &str,
            since: i64,
            limit: i64,
        ) -> Result<Vec<GroupMember>, StorageError> {
            Ok(sqlx::query_as::<_, GroupMember>(
                "SELECT i.report_id, i.kind, i.value, r.status, r.priority, r.confidence, \
                 r.created_at, r.duplicate_of FROM report_identifiers i \
                 JOIN reports r ON r.id = i.report_id \
                 WHERE i.kind = $1 AND i.value = $2 AND i.created_at >= $3 \
                 ORDER BY i.created_at DESC, i.report_id DESC LIMIT $4",
            )
            .bind(kind)
            .bind(value)
            .bind(since)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
        }

        #[tracing::instrument(skip_all)]
        async fn independent_reporters(&self, kind: &str, value: &str) -> Result<i64, StorageError> {
            let (n,): (i64,) = sqlx::query_as(sql::INDEPENDENT_REPORTERS)
                .bind(kind)
                .bind(value)
                .fetch_one(&self.pool)
                .await?;
            Ok(n)
        }

        #[tracing::instrument(skip_all)]
        async fn change_priority(
            &self,
            c: &PriorityChange,
            audit: &AuditDraft,
            hasher: AuditHasher,
        ) -> Result<bool, StorageError> {
            let _turn = self.write_turn().await;
            let mut tx = self.pool.begin_with($begin).await?;
            if !Self::change_priority_tx(&mut tx, c).await? {
                return Ok(false);
            }
            Self::append_audit_tx(&mut tx, audit, hasher).await?;
            tx.commit().await?;
            Ok(true)
        }

        #[tracing::instrument(skip_all)]
        async fn merge_reports(
            &self,
            m: &Merge,
            audit: &AuditDraft,
            hasher: AuditHasher,
        ) -> Result<bool, StorageError> {
            let _turn = self.write_turn().await;
            let mut tx = self.pool.begin_with($begin).await?;
            let moved = sqlx::query(
                "UPDATE reports SET status = 'duplicate', duplicate_of = $1, updated_at = $2 \
                 WHERE id = $3 AND status = $4 AND duplicate_of IS NULL",
            )
            .bind(&m.into)
            .bind(m.at)
            .bind(&m.duplicate)
            .bind(&m.from_status)
            .execute(&mut *tx)
            .await?;
            if moved.rows_affected() == 0 {
                return Ok(false);
            }
            Self::insert_event_tx(&mut tx, &m.event).await?;
            sqlx::query(
                "UPDATE escalations SET state = 'resolved', resolved_at = $1, resolved_by = $2, \
                 outcome = 'no_action', note = $3, claimed_by = NULL, lease_until = NULL \
                 WHERE report_id = $4 AND state <> 'resolved'",
            )
            .bind(m.at)
            .bind(&m.actor_id)
            .bind(format!("merged into {}", m.into))
            .bind(&m.duplicate)
            .execute(&mut *tx)
            .await?;
            // A duplicate no longer counts as an independent report: recompute the confidence
            // of every report sharing one of its identifiers.
            let ids: Vec<(String, String)> = sqlx::query_as(
                "SELECT kind, value FROM report_identifiers WHERE report_id = $1",
            )
            .bind(&m.duplicate)
            .fetch_all(&mut *tx)
            .await?;
            for (kind, value) in &ids {
                sqlx::query(sql::RECOMPUTE_CONFIDENCE)
                    .bind(kind)
                    .bind(value)
                    .execute(&mut *tx)
                    .await?;
            }
            Self::append_audit_tx(&mut tx, audit, hasher).await?;
            tx.commit().await?;
            Ok(true)
        }

        #[tracing::instrument(skip_all)]
        async fn feed_rows(&self, limit: i64) -> Result<Vec<FeedRow>, StorageError> {
            let q = format!(
                "SELECT i.kind, i.value, MIN(r.created_at) AS first_seen, \
                 MAX(r.created_at) AS last_seen, COUNT(DISTINCT r.id) AS reports \
                 FROM report_identifiers i JOIN reports r ON r.id = i.report_id \
                 JOIN escalations e ON e.report_id = r.id \
                 WHERE r.status IN ('confirmed_fraud', 'resolved') AND e.state = 'resolved' \
                 AND e.outcome IN {} GROUP BY i.kind, i.value \
                 ORDER BY MAX(r.created_at) DESC, i.kind, i.value LIMIT $1",
                sql::ACTION_OUTCOMES
            );
            Ok(sqlx::query_as::<_, FeedRow>(&q).bind(limit).fetch_all(&self.pool).await?)
        }

        #[tracing::instrument(skip_all)]
        async fn list_policies(&self) -> Result<Vec<PolicyRecord>, StorageError> {
            Ok(sqlx::query_as::<_, PolicyRecord>(
                "SELECT id, rule, channel_kind, subject, statement_en, statement_zh, created_at, \
                 created_by, target FROM contact_policies ORDER BY rule, target",
            )
            .fetch_all(&self.pool)
            .await?)
        }

        #[tracing::instrument(skip_all)]
        async fn insert_policy(
            &self,
            p: &PolicyRecord,
            audit: &AuditDraft,
            hasher: AuditHasher,
        ) -> Result<(), StorageError> {
            let _turn = self.write_turn().await;
            let mut tx = self.pool.begin_with($begin).await?;
            sqlx::query(
                "INSERT INTO contact_policies (id, rule, channel_kind, subject, statement_en, \
                 statement_zh, created_at, created_by, target) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&p.id)
            .bind(&p.rule)
            .bind(&p.channel_kind)
            .bind(&p.subject)
            .bind(&p.statement_en)
            .bind(&p.statement_zh)
            .bind(p.created_at)
            .bind(&p.created_by)
            .bind(&p.target)
            .execute(&mut *tx)
            .await?;
            Self::append_audit_tx(&mut tx, audit, hasher).await?;
            tx.commit().await?;
            Ok(())
        }

        #[tracing::instrument(skip_all)]
        async fn delete_policy(
            &self,
            id: &str,
            audit: &AuditDraft,
            hasher: AuditHasher,
        ) -> Result<bool, StorageError> {
            let _turn = self.write_turn().await;
            let mut tx = self.pool.begin_with($begin).await?;
            let r = sqlx::query("DELETE FROM contact_policies WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if r.rows_affected() == 0 {
                return Ok(false);
            }
            Self::append_audit_tx(&mut tx, audit, hasher).await?;
            tx.commit().await?;
            Ok(true)
        }

        #[tracing::instrument(skip_all)]
        async fn list_rules(&self) -> Result<Vec<RuleRecord>, StorageError> {
            Ok(sqlx::query_as::<_, RuleRecord>(
                "SELECT rule, enabled, priority, params, updated_at, updated_by \
                 FROM escalation_rules ORDER BY rule",
            )
            .fetch_all(&self.pool)
            .await?)
        }

        #[tracing::instrument(skip_all)]
        async fn put_rules(
            &self,
            rules: &[RuleRecord],
            audit: &AuditDraft,
            hasher: AuditHasher,
        ) -> Result<(), StorageError> {
            let _turn = self.write_turn().await;
            let mut tx = self.pool.begin_with($begin).await?;
            sqlx::query("DELETE FROM escalation_rules").execute(&mut *tx).await?;
            for r in rules {
                sqlx::query(
                    "INSERT INTO escalation_rules (rule, enabled, priority, params, updated_at, \
                     updated_by) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&r.rule)
                .bind(r.enabled)
                .bind(&r.priority)
                .bind(&r.params)
                .bind(r.updated_at)
                .bind(&r.updated_by)
                .execute(&mut *tx)
                .await?;
            }
            Self::append_audit_tx(&mut tx, audit, hasher).await?;
            tx.commit().await?;
            Ok(())
        }

        #[tracing::instrument(skip_all)]
        async fn known_scam_count(&self, kind: &str, value: &str) -> Result<i64, StorageError> {
            let q = format!(
                "SELECT COUNT(DISTINCT r.id) FROM report_identifiers i \
                 JOIN reports r ON r.id = i.report_id JOIN escalations e ON e.report_id = r.id \
                 WHERE i.kind = $1 AND i.value = $2 \
                 AND r.status IN ('confirmed_fraud', 'resolved') \
                 AND e.state = 'resolved' AND e.outcome IN {}",
                sql::ACTION_OUTCOMES
            );
            let (n,): (i64,) = sqlx::query_as(&q).bind(kind).bind(value).fetch_one(&self.pool).await?;
            Ok(n)
        }

        #[tracing::instrument(skip_all)]
        async fn lease_outbox(
            &self,
            now: i64,
            lock_secs: i64,
            max_attempts: i64,
            limit: i64,
        ) -> Result<Vec<OutboxRecord>, StorageError> {
            let _turn = self.write_turn().await;
            let mut tx = self.pool.begin_with($begin).await?;
            let due: Vec<(String,)> = sqlx::query_as(
                "SELECT id FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= $1 \
                 AND attempts < $2 AND (locked_until IS NULL OR locked_until < $1) \
                 ORDER BY next_attempt_at LIMIT $3",
            )
            .bind(now)
            .bind(max_attempts)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
            let mut leased = Vec::new();
            for (id,) in due {
                // Re-check everything under the update: another instance may have delivered or
                // leased it since the select.
                let row = sqlx::query_as::<_, OutboxRecord>(
                    "UPDATE outbox SET locked_until = $1 WHERE id = $2 AND delivered_at IS NULL \
                     AND attempts < $4 AND next_attempt_at <= $3 \
                     AND (locked_until IS NULL OR locked_until < $3) RETURNING id, kind, payload, \
                     created_at, attempts, next_attempt_at, locked_until, delivered_at, last_error",
                )
                .bind(now + lock_secs)
                .bind(&id)
                .bind(now)
                .bind(max_attempts)
                .fetch_optional(&mut *tx)
                .await?;
                leased.extend(row);
            }
            tx.commit().await?;
            Ok(leased)
        }

        #[tracing::instrument(skip_all)]
        async fn outbox_delivered(&self, id: &str, lease: i64, at: i64) -> Result<(), StorageError> {
            let _turn = self.write_turn().await;
            sqlx::query(
                "UPDATE outbox SET delivered_at = $1, attempts = attempts + 1, locked_until = NULL, \
                 last_error = NULL WHERE id = $2 AND locked_until = $3",
            )
            .bind(at)
            .bind(id)
            .bind(lease)
            .execute(&self.pool)
            .await?;
            Ok(())
        }

        #[tracing::instrument(skip_all)]
        async fn outbox_failed(
            &self,
            id: &str,
            lease: i64,
            next_attempt_at: i64,
            error: &str,
        ) -> Result<(), StorageError> {
            let _turn = self.write_turn().await;
            sqlx::query(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1, \
                 locked_until = NULL, last_error = $2 WHERE id = $3 AND locked_until = $4",
            )
            .bind(next_attempt_at)
            .bind(error)
            .bind(id)
            .bind(lease)
            .execute(&self.pool)
            .await?;
            Ok(())
        }

        #[tracing::instrument(skip_all)]
        async fn outbox_by_id(&self, id: &str) -> Result<Option<OutboxRecord>, StorageError> {
            Ok(sqlx::query_as::<_, OutboxRecord>(
                "SELECT id, kind, payload, created_at, attempts, next_attempt_at, locked_until, \
                 delivered_at, last_error FROM outbox WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
        }

        #[tracing::instrument(skip_all)]
        async fn lease_followups(
            &self,
            now: i64,
            lock_secs: i64,
            warn_secs: i64,
            limit: i64,
        ) -> Result<Vec<FollowupRecord>, StorageError> {
            let _turn = self.write_turn().await;
            let mut tx = self.pool.begin_with($begin).await?;
            let due: Vec<(String,)> = sqlx::query_as(
                "SELECT f.report_id FROM report_followup f JOIN reports r ON r.id = f.report_id \
                 WHERE f.email_enc IS NOT NULL AND f.next_attempt_at <= $1 AND f.attempts < $4 \
                 AND (f.locked_until IS NULL OR f.locked_until < $1) \
                 AND ((f.confirmed_at IS NULL AND f.confirm_sent_at IS NULL) \
                      OR (f.confirmed_at IS NOT NULL AND ( \
                      EXISTS (SELECT 1 FROM report_events e WHERE e.report_id = f.report_id \
                              AND e.seq > f.notified_seq AND e.public_en <> '') \
                      OR (f.sla_warned_at IS NULL AND r.status = 'received' \
                          AND r.first_response_by <= $1 + $2 \
                          AND 2 * $1 >= r.created_at + r.first_response_by)))) \
                 ORDER BY f.next_attempt_at LIMIT $3",
            )
            .bind(now)
            .bind(warn_secs)
            .bind(limit)
            .bind(sql::FOLLOWUP_MAX_ATTEMPTS)
            .fetch_all(&mut *tx)
            .await?;
            let mut leased = Vec::new();
            for (id,) in due {
                let q = format!(
                    "UPDATE report_followup SET locked_until = $1 WHERE report_id = $2 \
                     AND email_enc IS NOT NULL AND (locked_until IS NULL OR locked_until < $3) \
                     RETURNING {}",
                    sql::FOLLOWUP_COLS
                );
                let row = sqlx::query_as::<_, FollowupRecord>(&q)
                    .bind(now + lock_secs)
                    .bind(&id)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?;
                leased.extend(row);
            }
            tx.commit().await?;
            Ok(leased)
        }

        #[tracing::instrument(skip_all)]
        async fn followup_progress(
            &self,
            report_id: &str,
            lease: i64,
            notified_seq: i64,
            sla_warned_at: Option<i64>,
            retry: Option<(i64, &str)>,
        ) -> Result<bool, StorageError> {
            let _turn = self.write_turn().await;
            let r = match retry {
                None => sqlx::query(
                    "UPDATE report_followup SET notified_seq = $1, \
                     sla_warned_at = COALESCE($2, sla_warned_at), attempts = 0, \
                     last_error = NULL, locked_until = NULL \
                     WHERE report_id = $3 AND locked_until = $4",
                )
                .bind(notified_seq)
                .bind(sla_warned_at)
                .bind(report_id)
                .bind(lease)
                .execute(&self.pool)
                .await?,
                Some((next, error)) => sqlx::query(
                    "UPDATE report_followup SET notified_seq = $1, \
                     sla_warned_at = COALESCE($2, sla_warned_at), attempts = attempts + 1, \
                     next_attempt_at = $3, last_error = $4, locked_until = NULL \
                     WHERE report_id = $5 AND locked_until = $6",
                )
                .bind(notified_seq)
                .bind(sla_warned_at)
                .bind(next)
                .bind(error)
                .bind(report_id)
                .bind(lease)
                .execute(&self.pool)
                .await?,
            };
            Ok(r.rows_affected() == 1)
        }

        #[tracing::instrument(skip_all)]
        async fn followup_confirmation_sent(
            &self,
            report_id: &str,
            lease: i64,
            at: i64,
        ) -> Result<bool, StorageError> {
            let _turn = self.write_turn().await;
            // The sealed code is no longer needed once mailed: only its hash stays.
            let r = sqlx::query(
                "UPDATE report_followup SET confirm_sent_at = $1, confirm_enc = NULL, attempts = 0, \
                 last_error = NULL, locked_until = NULL WHERE report_id = $2 AND locked_until = $3",
            )
            .bind(at)
            .bind(report_id)
            .bind(lease)
            .execute(&self.pool)
            .await?;
            Ok(r.rows_affected() == 1)
        }

        #[tracing::instrument(skip_all)]
        async fn confirm_followup(
            &self,
            report_id: &str,
            code_hash: &str,
            at: i64,
        ) -> Result<bool, StorageError> {
            let _turn = self.write_turn().await;
            let r = sqlx::query(
                "UPDATE report_followup SET confirmed_at = $1, confirm_hash = NULL, \
                 next_attempt_at = $1 WHERE report_id = $2 AND confirm_hash = $3 \
                 AND confirmed_at IS NULL AND email_enc IS NOT NULL",
            )
            .bind(at)
            .bind(report_id)
            .bind(code_hash)
            .execute(&self.pool)
            .await?;
            Ok(r.rows_affected() == 1)
        }

        #[tracing::instrument(skip_all)]
        async fn followup_for_report(
            &self,
            report_id: &str,
        ) -> Result<Option<FollowupRecord>, StorageError> {
            let q = format!(
                "SELECT {} FROM report_followup WHERE report_id = $1",
                sql::FOLLOWUP_COLS
            );
            Ok(sqlx::query_as::<_, FollowupRecord>(&q)
                .bind(report_id)
                .fetch_optional(&self.pool)
                .await?)
        }

        #[tracing::instrument(skip_all)]
        async fn forget_contact(&self, report_id: &str, at: i64) -> Result<(), StorageError> {
            let _turn = self.write_turn().await;
            let mut tx = self.pool.begin_with($begin).await?;
            sqlx::query(
                "UPDATE report_followup SET email_enc = NULL, phrase_enc = NULL, \
                 confirm_enc = NULL, confirm_hash = NULL, last_error = NULL, forgotten_at = $1, \
                 locked_until = NULL WHERE report_id = $2",
            )
            .bind(at)
            .bind(report_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE reports SET reporter_contact = NULL, reporter_key = NULL, \
                 contact_opt_in = $1, law_enforcement_opt_in = $1, updated_at = $2 WHERE id = $3",
            )
            .bind(0_i64)
            .bind(at)
            .bind(report_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        }

        #[tracing::instrument(skip_all)]
        async fn handling_samples(&self, since: i64) -> Result<Vec<HandlingSample>, StorageError> {
            // Steps are status changes only: a priority change or a merge note in between is
            // not a step of its own.
            let q = format!(
                "SELECT r.priority, a.kind, a.at AS started_at, b.at AS ended_at \
                 FROM report_events a \
                 JOIN report_events b ON b.report_id = a.report_id AND b.seq = ( \
                     SELECT MIN(c.seq) FROM report_events c WHERE c.report_id = a.report_id \
                     AND c.seq > a.seq AND c.kind IN ({k})) \
                 JOIN reports r ON r.id = a.report_id \
                 WHERE a.kind IN ({k}) AND b.at >= $1 \
                 ORDER BY b.at DESC LIMIT 5000",
                k = sql::STATUS_KINDS
            );
            Ok(sqlx::query_as::<_, HandlingSample>(&q)
            .bind(since)
            .fetch_all(&self.pool)
            .await?)
        }

        #[tracing::instrument(skip_all)]
        async fn insert_rating(
            &self,
            report_id: &str,
            rating: i64,
            comment: Option<&str>,
            at: i64,
        ) -> Result<(), StorageError> {
            let _turn = self.write_turn().await;
            sqlx::query(
                "INSERT INTO report_ratings (report_id, rating, comment, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(report_id)
            .bind(rating)
            .bind(comment)
            .bind(at)
            .execute(&self.pool)
            .await?;
            Ok(())
        }

        #[tracing::instrument(skip_all)]
        async fn rating_for_report(&self, report_id: &str) -> Result<Option<i64>, StorageError> {
            let row: Option<(i64,)> =
                sqlx::query_as("SELECT rating FROM report_ratings WHERE report_id = $1")
                    .bind(report_id)
                    .fetch_optional(&self.pool)
                    .await?;
            Ok(row.map(|r| r.0))
        }

        #[tracing::instrument(skip_all)]
        async fn rating_summary(&self) -> Result<Vec<RatingSummary>, StorageError> {
            // Months are cut in Rust: the engines spell date formatting differently.
            let rows: Vec<(String, i64, i64)> = sqlx::query_as(
                "SELECT r.category, g.created_at, g.rating FROM report_ratings g \
                 JOIN reports r ON r.id = g.report_id ORDER BY g.created_at",
            )
            .fetch_all(&self.pool)
            .await?;
            Ok(sql::summarise_ratings(rows))
        }

        #[tracing::instrument(skip_all)]
        async fn append_audit(&self, draft: &AuditDraft, hasher: AuditHasher) -> Result<i64, StorageError> {
            let _turn = self.write_turn().await;
            let mut tx = self.pool.begin_with($begin).await?;
            let seq = Self::append_audit_tx(&mut tx, draft, hasher).await?;
            tx.commit().await?;
            Ok(seq)
        }

        #[tracing::instrument(skip_all)]
        async fn audit_page(&self, after: i64, limit: i64) -> Result<Vec<AuditRecord>, StorageError> {
            Ok(sqlx::query_as::<_, AuditRecord>(
                "SELECT seq, at, actor_id, action, subject, details, prev_hash, hash FROM audit_log \
                 WHERE seq > $1 ORDER BY seq LIMIT $2",
            )
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
        }

        #[tracing::instrument(skip_all)]
        async fn blob_referenced(&self, sha256: &str) -> Result<bool, StorageError> {
            let row: Option<(String,)> =
                sqlx::query_as("SELECT sha256 FROM attachments WHERE sha256 = $1 LIMIT 1")
                    .bind(sha256)
                    .fetch_optional(&self.pool)
                    .await?;
            Ok(row.is_some())
        }
    }
    };
}

pub(crate) use impl_store;
