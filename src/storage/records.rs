//! Row structs shared by both engines. No domain logic: domain modules convert these into their
//! own types and reject rows they cannot interpret.

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StaffRecord {
    pub id: String,
    pub name: String,
    pub role: String,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ChannelRecord {
    pub id: String,
    pub kind: String,
    pub value: String,
    pub label: Option<String>,
    pub agent_id: Option<String>,
    pub created_at: i64,
    pub created_by: String,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SessionRecord {
    pub jti: String,
    pub agent_id: String,
    pub kid: String,
    pub channel_kind: String,
    pub channel_value: String,
    pub user_ref_last4: Option<String>,
    pub code_hash: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub revoked_by: Option<String>,
}

/// A session joined with its agent's display name.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SessionView {
    #[sqlx(flatten)]
    pub session: SessionRecord,
    pub agent_name: String,
}
