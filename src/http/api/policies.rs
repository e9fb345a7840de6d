//! Contact policies: admins publish what the operator never does; anyone reads them.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::channels::policy::{self, AskSubject, NewPolicy, Policy, PolicyError, PolicyRule};
use crate::channels::ChannelKind;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{AppJson, AppPath, AppQuery, PreferredLocale, StaffUser};
use crate::http::state::AppState;
use crate::types::{rfc3339, Locale, Role};

impl From<PolicyError> for ApiError {
    fn from(e: PolicyError) -> Self {
        let detail = e.to_string();
        match e {
            PolicyError::Invalid(_) => ApiError::bad_request("invalid_policy", detail),
            PolicyError::Exists => ApiError::Conflict {
                code: "policy_exists",
                detail,
            },
            PolicyError::NotFound => ApiError::not_found("policy_not_found", detail),
            PolicyError::Storage(s) => s.into(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPolicyRequest {
    /// `never_used`, `never_initiates` (both with `channel_kind`) or `never_asks` (with `subject`).
    #[schema(value_type = String, example = "never_used")]
    pub rule: PolicyRule,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "whatsapp")]
    pub channel_kind: Option<ChannelKind>,
    /// For `never_asks`: `seed_phrase`, `private_key`, `password`, `verification_code`,
    /// `remote_access`, `fee` or `transfer_to_safe_wallet`.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "seed_phrase")]
    pub subject: Option<AskSubject>,
    /// Your own wording; the standard wording when absent.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub statement_en: Option<String>,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub statement_zh: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PolicyView {
    pub id: String,
    #[schema(value_type = String)]
    pub rule: PolicyRule,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub channel_kind: Option<ChannelKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub subject: Option<AskSubject>,
    /// In the requested language.
    pub statement: String,
    pub statement_en: String,
    pub statement_zh: String,
    pub created_at: String,
}

impl PolicyView {
    pub fn new(p: &Policy, l: Locale) -> PolicyView {
        PolicyView {
            id: p.id.clone(),
            rule: p.rule,
            channel_kind: p.channel_kind,
            subject: p.subject,
            statement: p.statement(l).to_owned(),
            statement_en: p.statement_en.clone(),
            statement_zh: p.statement_zh.clone(),
            created_at: rfc3339(p.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PolicyList {
    pub locale: Locale,
    pub policies: Vec<PolicyView>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LangQuery {
    /// `en` or `zh-CN`; defaults to `Accept-Language`.
    #[serde(default)]
    pub lang: Option<String>,
}

/// What the operator never does (public): quote these to anyone who claims to be support.
#[utoipa::path(
    get, path = "/v1/policies", tag = "policies",
    params(LangQuery),
    responses((status = 200, body = PolicyList))
)]
pub async fn list(
    State(s): State<AppState>,
    PreferredLocale(header_locale): PreferredLocale,
    AppQuery(q): AppQuery<LangQuery>,
) -> Result<([(header::HeaderName, &'static str); 1], Json<PolicyList>), ApiError> {
    let locale = q
        .lang
        .as_deref()
        .and_then(Locale::parse_tag)
        .unwrap_or(header_locale);
    let all = policy::list(s.store.as_ref()).await?;
    Ok((
        [(header::CACHE_CONTROL, "public, max-age=60")],
        Json(PolicyList {
            locale,
            policies: all.iter().map(|p| PolicyView::new(p, locale)).collect(),
        }),
    ))
}

/// Publish a contact policy (role `admin`).
#[utoipa::path(
    post, path = "/v1/policies", tag = "policies",
    request_body = NewPolicyRequest,
    security(("api_key" = [])),
    responses(
        (status = 201, body = PolicyView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The same rule for the same target exists", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(s): State<AppState>,
    user: StaffUser,
    AppJson(req): AppJson<NewPolicyRequest>,
) -> Result<(StatusCode, Json<PolicyView>), ApiError> {
    let admin = user.require(&[Role::Admin])?;
    let p = policy::add(
        s.store.as_ref(),
        &admin.id,
        &s.config.operator(),
        NewPolicy {
            rule: req.rule,
            channel_kind: req.channel_kind,
            subject: req.subject,
            statement_en: req.statement_en,
            statement_zh: req.statement_zh,
        },
    )
    .await?;
    s.policies.refresh(s.store.as_ref()).await?;
    Ok((StatusCode::CREATED, Json(PolicyView::new(&p, Locale::En))))
}

/// Withdraw a contact policy (role `admin`).
#[utoipa::path(
    delete, path = "/v1/policies/{id}", tag = "policies",
    params(("id" = String, Path)),
    security(("api_key" = [])),
    responses(
        (status = 204, description = "Withdrawn"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    State(s): State<AppState>,
    user: StaffUser,
    AppPath(id): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    let admin = user.require(&[Role::Admin])?;
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(PolicyError::NotFound.into());
    }
    policy::delete(s.store.as_ref(), &admin.id, &id).await?;
    s.policies.refresh(s.store.as_ref()).await?;
    Ok(StatusCode::NO_CONTENT)
}
