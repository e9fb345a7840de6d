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

/// What the in-memory session index keeps of a session: enough to match a token to the session
/// it claims and to know whether it is revoked.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LiveSessionRow {
    pub jti: String,
    pub agent_id: String,
    pub channel_kind: String,
    pub channel_value: String,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

/// A session joined with its agent's display name.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SessionView {
    #[sqlx(flatten)]
    pub session: SessionRecord,
    pub agent_name: String,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ReportRecord {
    pub id: String,
    pub receipt_hash: String,
    pub status: String,
    pub category: String,
    pub priority: String,
    pub triage: String,
    pub triage_reasons: String,
    pub description: String,
    pub scam_channel_kind: Option<String>,
    pub scam_channel_value: Option<String>,
    pub presented_token: Option<String>,
    pub token_verdict: Option<String>,
    pub transactions: String,
    pub amount_lost: Option<String>,
    pub asset: Option<String>,
    pub occurred_at: Option<i64>,
    pub reporter_contact: Option<String>,
    pub locale: String,
    pub related_to: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub first_response_by: i64,
    pub claimed_channel_kind: Option<String>,
    pub claimed_channel_value: Option<String>,
    pub claimed_agent: Option<String>,
    /// The registry channel the scammer imitated, when the claim matched one.
    pub claimed_channel_id: Option<String>,
    /// The agent the scammer posed as, when the claimed name matched one.
    pub claimed_agent_id: Option<String>,
    /// 0/1: the reporter agreed to be contacted.
    pub contact_opt_in: i64,
    /// 0/1: the reporter agreed to have their contact shared with law enforcement.
    pub law_enforcement_opt_in: i64,
    pub reporter_key: Option<String>,
    /// `unverified`, `corroborated` or `confirmed`.
    pub confidence: String,
    pub duplicate_of: Option<String>,
    /// JSON array of [`FiredRule`]s.
    pub fired_rules: String,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AttachmentRecord {
    pub report_id: String,
    pub idx: i64,
    pub sha256: String,
    pub size_bytes: i64,
    pub content_type: String,
    pub filename: String,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ReportEventRecord {
    pub report_id: String,
    pub seq: i64,
    pub at: i64,
    pub kind: String,
    pub public_en: String,
    pub public_zh: String,
    pub internal_note: Option<String>,
    pub actor_id: Option<String>,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct IdempotencyRecord {
    pub key_hash: String,
    pub request_hash: String,
    pub report_id: String,
    pub receipt_masked: String,
    pub created_at: i64,
}

/// Everything one report intake writes, committed in one transaction.
#[derive(Clone, Debug)]
pub struct NewReportBundle {
    pub report: ReportRecord,
    pub attachments: Vec<AttachmentRecord>,
    pub first_event: ReportEventRecord,
    pub idempotency: Option<IdempotencyRecord>,
    /// Hard evidence at intake enqueues an escalation in the same transaction.
    pub escalation: Option<NewEscalation>,
    /// The scammer identifiers the report names (grouping, corroboration, the feed).
    pub identifiers: Vec<(String, String)>,
    /// Other reports whose priority this one raises (several reports on one identifier).
    pub raise: Vec<PriorityChange>,
    /// The victim's opt-in to notifications, committed with the report.
    pub followup: Option<FollowupRecord>,
}

/// A victim's notification subscription (`report_followup`); address and phrase encrypted.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct FollowupRecord {
    pub report_id: String,
    pub email_enc: Option<String>,
    pub phrase_enc: Option<String>,
    pub locale: String,
    pub created_at: i64,
    /// Public timeline events up to this seq have been sent.
    pub notified_seq: i64,
    pub sla_warned_at: Option<i64>,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub locked_until: Option<i64>,
    pub last_error: Option<String>,
    pub forgotten_at: Option<i64>,
    /// The confirmation code, sealed for the sender, and its SHA-256 for the check.
    pub confirm_enc: Option<String>,
    pub confirm_hash: Option<String>,
    pub confirm_sent_at: Option<i64>,
    pub confirmed_at: Option<i64>,
}

/// How long a report of some priority stayed at one step of its timeline before the next event
/// (the progress estimate learns from these).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct HandlingSample {
    pub priority: String,
    /// The step's event kind (`received`, `triaged`, ...).
    pub kind: String,
    pub started_at: i64,
    pub ended_at: i64,
}

/// Ratings per category and month, for staff.
#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct RatingSummary {
    pub category: String,
    /// `YYYY-MM` (UTC).
    pub month: String,
    pub count: i64,
    pub average: f64,
}

/// One escalation rule that fired for a report, shown to staff.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct FiredRule {
    /// The rule's name, e.g. `loss_above`.
    pub rule: String,
    /// The priority it asked for.
    pub priority: String,
    /// Why it fired, in words staff can check.
    pub detail: String,
    /// RFC 3339 time it fired.
    pub at: String,
}

/// A priority change of one report and the deadlines that follow from it, written together:
/// the report's priority and first-response promise, its queued escalation's priority and SLA
/// deadline, a timeline entry, and (when staff made it) an audit entry.
#[derive(Clone, Debug)]
pub struct PriorityChange {
    pub report_id: String,
    /// Optimistic check: applied only if the report still has this priority.
    pub from: String,
    pub to: String,
    pub to_rank: i64,
    pub first_response_by: i64,
    /// The escalation's SLA for the new priority, in seconds from its creation.
    pub escalation_sla_secs: i64,
    /// The whole new `fired_rules` JSON, or `None` to keep it.
    pub fired_rules: Option<String>,
    pub event: ReportEventRecord,
}

/// A contact policy row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PolicyRecord {
    pub id: String,
    pub rule: String,
    pub channel_kind: Option<String>,
    pub subject: Option<String>,
    pub statement_en: String,
    pub statement_zh: String,
    pub created_at: i64,
    pub created_by: String,
    pub target: String,
}

/// A configured escalation rule.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RuleRecord {
    pub rule: String,
    pub enabled: i64,
    pub priority: String,
    pub params: String,
    pub updated_at: i64,
    pub updated_by: Option<String>,
}

/// One member of a group of reports naming the same identifier.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct GroupMember {
    pub report_id: String,
    pub kind: String,
    pub value: String,
    pub status: String,
    pub priority: String,
    pub confidence: String,
    pub created_at: i64,
    pub duplicate_of: Option<String>,
}

/// One published scammer identifier, aggregated over its confirmed reports.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct FeedRow {
    pub kind: String,
    pub value: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub reports: i64,
}

/// Merging a duplicate report into the report it repeats.
#[derive(Clone, Debug)]
pub struct Merge {
    pub duplicate: String,
    pub into: String,
    pub from_status: String,
    pub at: i64,
    pub actor_id: String,
    pub event: ReportEventRecord,
}

/// Staff list filter. Every field narrows; `before` is a keyset cursor (created_at, id).
#[derive(Clone, Debug, Default)]
pub struct ReportFilter {
    pub status: Option<String>,
    pub category: Option<String>,
    pub priority: Option<String>,
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
    pub channel_kind: Option<String>,
    pub channel_value: Option<String>,
    pub before: Option<(i64, String)>,
    pub limit: i64,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct EscalationRecord {
    pub id: String,
    pub report_id: String,
    pub priority: String,
    pub priority_rank: i64,
    pub reason: String,
    pub state: String,
    pub created_at: i64,
    pub sla_due_at: i64,
    pub claimed_by: Option<String>,
    pub lease_until: Option<i64>,
    pub claims: i64,
    pub resolved_at: Option<i64>,
    pub resolved_by: Option<String>,
    pub outcome: Option<String>,
    pub note: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct EscalationFilter {
    pub state: Option<String>,
    pub priority: Option<String>,
    /// Only items past their SLA deadline (unresolved, or resolved late) at this time.
    pub breached_at: Option<i64>,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: i64,
    pub actor_id: Option<String>,
    pub action: String,
    pub subject: String,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

/// An audit entry before it is chained.
#[derive(Clone, Debug)]
pub struct AuditDraft {
    pub at: i64,
    pub actor_id: Option<String>,
    pub action: String,
    pub subject: String,
    pub details: String,
}

/// Computes an entry's hash from its sequence number, the previous hash and its content. Passed
/// in by the audit module so that the chaining rule lives in one place and storage only stores.
pub type AuditHasher = fn(seq: i64, prev_hash: &str, draft: &AuditDraft) -> String;

/// A report status change with everything that must commit with it.
#[derive(Clone, Debug)]
pub struct ReportTransition {
    pub report_id: String,
    pub from: String,
    pub to: String,
    pub at: i64,
    pub kind: String,
    pub public_en: String,
    pub public_zh: String,
    pub internal_note: Option<String>,
    pub actor_id: String,
    /// Enqueued in the same transaction (ignored if the report already has one).
    pub escalation: Option<NewEscalation>,
    /// Closes the report's open escalation (outcome `no_action`) with this note, in the same
    /// transaction: a dismissed or duplicate report must not stay in the queue.
    pub close_escalation: Option<String>,
}

/// Closing an escalation: by whom, when, with what outcome.
#[derive(Clone, Debug)]
pub struct Resolution {
    pub id: String,
    pub staff_id: String,
    pub at: i64,
    pub outcome: String,
    pub note: String,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OutboxRecord {
    pub id: String,
    pub kind: String,
    pub payload: String,
    pub created_at: i64,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub locked_until: Option<i64>,
    pub delivered_at: Option<i64>,
    pub last_error: Option<String>,
}

/// A queue item and the notification announcing it, written together.
#[derive(Clone, Debug)]
pub struct NewEscalation {
    pub record: EscalationRecord,
    pub notify: Option<OutboxRecord>,
}
