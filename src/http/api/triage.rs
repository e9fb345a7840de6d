//! Staff controls over urgency and grouping: escalation rules, manual priority, merging
//! duplicates.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::escalations;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{AppJson, AppPath, StaffUser};
use crate::http::state::AppState;
use crate::reports::rules::{self, RuleConfig, RuleError};
use crate::reports::Priority;
use crate::types::{rfc3339, Role};

impl From<RuleError> for ApiError {
    fn from(e: RuleError) -> Self {
        match e {
            RuleError::Invalid(m) => ApiError::bad_request("invalid_rules", m),
            RuleError::Storage(s) => s.into(),
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    /// Every rule kind at most once; kinds left out run with their defaults.
    pub rules: Vec<RuleConfig>,
}

/// The escalation rules in force, defaults included (roles `security`, `admin`).
#[utoipa::path(
    get, path = "/v1/escalation-rules", tag = "escalations",
    security(("api_key" = [])),
    responses(
        (status = 200, body = RuleSet),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_rules(
    State(s): State<AppState>,
    user: StaffUser,
) -> Result<Json<RuleSet>, ApiError> {
    user.require(&[Role::Security, Role::Admin])?;
    Ok(Json(RuleSet {
        rules: rules::current(s.store.as_ref()).await?,
    }))
}

/// Replace the escalation rules (role `admin`); answers the rules now in force. Applies to
/// reports filed from now on.
#[utoipa::path(
    put, path = "/v1/escalation-rules", tag = "escalations",
    request_body = RuleSet,
    security(("api_key" = [])),
    responses(
        (status = 200, body = RuleSet),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn put_rules(
    State(s): State<AppState>,
    user: StaffUser,
    AppJson(req): AppJson<RuleSet>,
) -> Result<Json<RuleSet>, ApiError> {
    let admin = user.require(&[Role::Admin])?;
    Ok(Json(RuleSet {
        rules: rules::replace(s.store.as_ref(), &admin.id, &req.rules).await?,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriorityRequest {
    #[schema(value_type = String, example = "P1")]
    pub priority: Priority,
    /// Why (kept in the audit trail and the internal timeline note).
    #[schema(max_length = 2000)]
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct PriorityResponse {
    pub id: String,
    pub priority: String,
    /// The first-response promise after the change (moves earlier when priority rises).
    pub first_response_by: String,
    /// The escalation's recomputed SLA deadline, if the report has an open escalation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalation_sla_due_at: Option<String>,
}

/// Set a report's priority (role `security`): the escalation's SLA deadline is recomputed.
#[utoipa::path(
    post, path = "/v1/reports/{id}/priority", tag = "escalations",
    params(("id" = String, Path)),
    request_body = PriorityRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, body = PriorityResponse),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The report changed meanwhile", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn set_priority(
    State(s): State<AppState>,
    user: StaffUser,
    AppPath(id): AppPath<String>,
    AppJson(req): AppJson<PriorityRequest>,
) -> Result<Json<PriorityResponse>, ApiError> {
    let actor = user.require(&[Role::Security])?;
    let r = escalations::set_priority(
        &s.reports,
        s.store.as_ref(),
        actor,
        &id,
        req.priority,
        &req.reason,
    )
    .await?;
    let esc = s.store.escalation_for_report(&r.id).await?;
    Ok(Json(PriorityResponse {
        priority: r.priority,
        first_response_by: rfc3339(r.first_response_by),
        escalation_sla_due_at: esc
            .filter(|e| e.state != "resolved")
            .map(|e| rfc3339(e.sla_due_at)),
        id: r.id,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The report this one repeats.
    #[schema(example = "TD-7K3F-9Q2M")]
    pub into: String,
    #[schema(max_length = 2000)]
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct MergeResponse {
    pub id: String,
    pub status: &'static str,
    pub duplicate_of: String,
}

/// Merge a duplicate report into the report it repeats (role `security`). The duplicate closes
/// as `duplicate`, its escalation closes, and it no longer counts towards corroboration.
#[utoipa::path(
    post, path = "/v1/reports/{id}/merge", tag = "escalations",
    params(("id" = String, Path)),
    request_body = MergeRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, body = MergeResponse),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not mergeable from its status, or it changed meanwhile", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn merge(
    State(s): State<AppState>,
    user: StaffUser,
    AppPath(id): AppPath<String>,
    AppJson(req): AppJson<MergeRequest>,
) -> Result<Json<MergeResponse>, ApiError> {
    let actor = user.require(&[Role::Security])?;
    escalations::merge(s.store.as_ref(), actor, &id, &req.into, &req.reason).await?;
    let parse = |v: &str| crate::reports::receipt::parse_report_id(v).unwrap_or_else(|| v.into());
    Ok(Json(MergeResponse {
        id: parse(&id),
        status: "duplicate",
        duplicate_of: parse(&req.into),
    }))
}
