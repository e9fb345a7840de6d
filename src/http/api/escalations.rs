//! Staff workflow: move reports, work the escalation queue, read the audit trail.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::escalations::{self, Outcome};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{AppJson, AppPath, AppQuery, StaffUser};
use crate::http::state::AppState;
use crate::reports::Status;
use crate::storage::{EscalationFilter, EscalationRecord};
use crate::types::{now, rfc3339, Role};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    /// Target status.
    #[schema(value_type = String, example = "investigating")]
    pub to: Status,
    /// Why (internal, audited).
    #[schema(max_length = 2000)]
    pub reason: String,
    /// Optional sentence added to the victim's timeline.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub public_note: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TransitionResponse {
    pub id: String,
    pub status: &'static str,
    /// The escalation this report has (created now when fraud was confirmed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalation: Option<EscalationView>,
}

#[derive(Serialize, ToSchema)]
pub struct EscalationView {
    pub id: String,
    pub report_id: String,
    pub priority: String,
    pub reason: String,
    /// `queued`, `claimed` or `resolved`.
    pub state: String,
    pub created_at: String,
    pub sla_due_at: String,
    /// Past its SLA deadline without (or before) resolution.
    pub sla_breached: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<String>,
    pub claims: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

pub fn view(e: &EscalationRecord, at: i64) -> EscalationView {
    let breached = match e.resolved_at {
        Some(r) => r > e.sla_due_at,
        None => at > e.sla_due_at,
    };
    EscalationView {
        id: e.id.clone(),
        report_id: e.report_id.clone(),
        priority: e.priority.clone(),
        reason: e.reason.clone(),
        state: e.state.clone(),
        created_at: rfc3339(e.created_at),
        sla_due_at: rfc3339(e.sla_due_at),
        sla_breached: breached,
        claimed_by: e.claimed_by.clone(),
        lease_until: e.lease_until.map(rfc3339),
        claims: e.claims,
        resolved_at: e.resolved_at.map(rfc3339),
        resolved_by: e.resolved_by.clone(),
        outcome: e.outcome.clone(),
        note: e.note.clone(),
    }
}

/// Move a report through the review workflow (role `security`). Illegal moves are 409.
#[utoipa::path(
    post, path = "/v1/reports/{id}/transition", tag = "escalations",
    params(("id" = String, Path)),
    request_body = TransitionRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, body = TransitionResponse),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Illegal move, or the report changed meanwhile", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn transition(
    State(s): State<AppState>,
    user: StaffUser,
    AppPath(id): AppPath<String>,
    AppJson(req): AppJson<TransitionRequest>,
) -> Result<Json<TransitionResponse>, ApiError> {
    let actor = user.require(&[Role::Security])?;
    let to = escalations::transition(
        &s.queue,
        s.store.as_ref(),
        actor,
        &id,
        req.to,
        &req.reason,
        req.public_note.as_deref(),
    )
    .await?;
    let canonical = crate::reports::receipt::parse_report_id(&id).unwrap_or(id);
    let esc = s.store.escalation_for_report(&canonical).await?;
    Ok(Json(TransitionResponse {
        status: to.as_str(),
        escalation: esc.as_ref().map(|e| view(e, now())),
        id: canonical,
    }))
}

/// Claim the highest-priority, oldest unclaimed escalation (role `security`); 204 when the
/// queue is empty.
#[utoipa::path(
    post, path = "/v1/escalations/claim", tag = "escalations",
    security(("api_key" = [])),
    responses(
        (status = 200, body = EscalationView),
        (status = 204, description = "Nothing to claim"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn claim(State(s): State<AppState>, user: StaffUser) -> Result<Response, ApiError> {
    let actor = user.require(&[Role::Security])?;
    match escalations::claim(&s.queue, s.store.as_ref(), actor).await? {
        Some(e) => {
            metrics::counter!("trustdesk_escalations_claimed_total").increment(1);
            Ok(Json(view(&e, now())).into_response())
        }
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

fn parse_id(id: &str) -> Result<(), ApiError> {
    uuid::Uuid::parse_str(id)
        .map(|_| ())
        .map_err(|_| ApiError::not_found("escalation_not_found", "no such escalation"))
}

/// Extend your lease on an escalation you hold.
#[utoipa::path(
    post, path = "/v1/escalations/{id}/heartbeat", tag = "escalations",
    params(("id" = String, Path)), security(("api_key" = [])),
    responses(
        (status = 200, body = EscalationView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not held by you, or the lease expired", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn heartbeat(
    State(s): State<AppState>,
    user: StaffUser,
    AppPath(id): AppPath<String>,
) -> Result<Json<EscalationView>, ApiError> {
    let actor = user.require(&[Role::Security])?;
    parse_id(&id)?;
    let e = escalations::heartbeat(&s.queue, s.store.as_ref(), actor, &id).await?;
    Ok(Json(view(&e, now())))
}

/// Give an escalation you hold back to the queue.
#[utoipa::path(
    post, path = "/v1/escalations/{id}/release", tag = "escalations",
    params(("id" = String, Path)), security(("api_key" = [])),
    responses(
        (status = 200, body = EscalationView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn release(
    State(s): State<AppState>,
    user: StaffUser,
    AppPath(id): AppPath<String>,
) -> Result<Json<EscalationView>, ApiError> {
    let actor = user.require(&[Role::Security])?;
    parse_id(&id)?;
    let e = escalations::release(s.store.as_ref(), actor, &id).await?;
    Ok(Json(view(&e, now())))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    #[schema(value_type = String, example = "handle_blocklisted")]
    pub outcome: Outcome,
    #[schema(max_length = 2000)]
    pub note: String,
}

/// Close an escalation you hold with an outcome and note.
#[utoipa::path(
    post, path = "/v1/escalations/{id}/resolve", tag = "escalations",
    params(("id" = String, Path)), request_body = ResolveRequest, security(("api_key" = [])),
    responses(
        (status = 200, body = EscalationView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn resolve(
    State(s): State<AppState>,
    user: StaffUser,
    AppPath(id): AppPath<String>,
    AppJson(req): AppJson<ResolveRequest>,
) -> Result<Json<EscalationView>, ApiError> {
    let actor = user.require(&[Role::Security])?;
    parse_id(&id)?;
    let e = escalations::resolve(s.store.as_ref(), actor, &id, req.outcome, &req.note).await?;
    metrics::counter!("trustdesk_escalations_resolved_total", "outcome" => req.outcome.as_str())
        .increment(1);
    Ok(Json(view(&e, now())))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EscalationQuery {
    /// `queued`, `claimed` or `resolved`.
    pub state: Option<String>,
    /// `P1`, `P2` or `P3`.
    pub priority: Option<String>,
    /// `true`: only items past their SLA deadline.
    pub breached: Option<bool>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// List escalations in queue order (role `security`).
#[utoipa::path(
    get, path = "/v1/escalations", tag = "escalations",
    params(EscalationQuery), security(("api_key" = [])),
    responses(
        (status = 200, body = [EscalationView]),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(s): State<AppState>,
    user: StaffUser,
    AppQuery(q): AppQuery<EscalationQuery>,
) -> Result<Json<Vec<EscalationView>>, ApiError> {
    user.require(&[Role::Security])?;
    let bad = |w: &str| ApiError::bad_request("invalid_query", format!("invalid {w}"));
    if let Some(st) = &q.state {
        if !["queued", "claimed", "resolved"].contains(&st.as_str()) {
            return Err(bad("state"));
        }
    }
    if let Some(p) = &q.priority {
        crate::reports::Priority::parse(p).ok_or_else(|| bad("priority"))?;
    }
    let limit = q.limit.unwrap_or(50);
    let offset = q.offset.unwrap_or(0);
    if !(1..=200).contains(&limit) || !(0..=1_000_000).contains(&offset) {
        return Err(bad("limit/offset"));
    }
    let t = now();
    let f = EscalationFilter {
        state: q.state.clone(),
        priority: q.priority.clone(),
        breached_at: q.breached.filter(|b| *b).map(|_| t),
        limit,
        offset,
    };
    let rows = escalations::list(s.store.as_ref(), &f).await?;
    Ok(Json(rows.iter().map(|e| view(e, t)).collect()))
}

#[derive(Serialize, ToSchema)]
pub struct AuditEntryView {
    pub seq: i64,
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
    pub action: String,
    pub subject: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntryView>,
    /// Pass as `after` for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<i64>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Entries with a sequence number greater than this.
    pub after: Option<i64>,
    /// 1–500, default 100.
    pub limit: Option<i64>,
}

/// Page through the hash-chained audit trail (role `admin`).
#[utoipa::path(
    get, path = "/v1/audit", tag = "escalations",
    params(AuditQuery), security(("api_key" = [])),
    responses(
        (status = 200, body = AuditPage),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn audit(
    State(s): State<AppState>,
    user: StaffUser,
    AppQuery(q): AppQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    user.require(&[Role::Admin])?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "limit must be 1–500",
        ));
    }
    let rows = s
        .store
        .audit_page(q.after.unwrap_or(0).max(0), limit)
        .await?;
    let next_after = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.seq))
        .flatten();
    Ok(Json(AuditPage {
        entries: rows
            .into_iter()
            .map(|r| AuditEntryView {
                seq: r.seq,
                at: rfc3339(r.at),
                actor_id: r.actor_id,
                action: r.action,
                subject: r.subject,
                details: serde_json::from_str(&r.details).unwrap_or(serde_json::Value::Null),
                prev_hash: r.prev_hash,
                hash: r.hash,
            })
            .collect(),
        next_after,
    }))
}
