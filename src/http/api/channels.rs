//! The official-channel registry: admins manage it, anyone checks against it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::channels::{
    self, ChannelHandle, ChannelKind, CheckResult, LookalikeReason, OfficialChannel,
};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{AppJson, AppPath, AppQuery, PreferredLocale, StaffUser};
use crate::http::i18n;
use crate::http::state::AppState;
use crate::types::{rfc3339, Locale, Role};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChannelRequest {
    #[schema(value_type = String, example = "telegram")]
    pub kind: ChannelKind,
    /// Handle, e-mail address, phone number (with country code), domain or URL.
    #[schema(example = "@acme_support", max_length = 512)]
    pub value: String,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub label: Option<String>,
    /// Tie the channel to one agent; omit for a channel every agent may use.
    #[serde(default)]
    pub agent_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ChannelView {
    pub id: String,
    #[schema(value_type = String, example = "telegram")]
    pub kind: ChannelKind,
    /// Normalised value.
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    pub created_at: String,
}

impl From<&OfficialChannel> for ChannelView {
    fn from(c: &OfficialChannel) -> Self {
        ChannelView {
            id: c.id.clone(),
            kind: c.handle.kind(),
            value: c.handle.as_str().to_owned(),
            label: c.label.clone(),
            agent_id: c.agent_id.clone(),
            created_at: rfc3339(c.created_at),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CheckQuery {
    /// Channel kind, e.g. `telegram`, `email`, `phone`, `website`.
    pub kind: String,
    /// The handle, address, number, domain or URL you were contacted from.
    pub value: String,
    /// `en` or `zh-CN`.
    #[serde(default)]
    pub lang: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct OfficialRef {
    #[schema(value_type = String)]
    pub kind: ChannelKind,
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CheckResponse {
    /// `official`, `not_official`, `lookalike` or `known_scam`.
    pub result: &'static str,
    /// For `known_scam`: how many confirmed reports name this channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmed_reports: Option<i64>,
    #[schema(value_type = String)]
    pub kind: ChannelKind,
    /// The value as normalised for comparison.
    pub value: String,
    /// For `official`: the matching registration. For `lookalike`: the channel imitated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub official: Option<OfficialRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub lookalike_reason: Option<LookalikeReason>,
    pub locale: Locale,
    /// What this means for the user; for a channel kind the operator never uses, the policy.
    pub message: String,
    /// The `never_used` policy for this channel kind, when the channel is not official: it
    /// settles the question ("the operator never uses WhatsApp: this is a scam").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<super::verify::PolicyNote>,
    /// Every published policy about this channel kind (e.g. "we never call first").
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<super::verify::PolicyNote>,
    /// Where to report it, with the fields below pre-filled; absent for official channels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_url: Option<String>,
    /// For `POST /v1/reports`: the scammer channel and the official channel it imitates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_prefill: Option<super::verify::ReportPrefill>,
}

/// Register an official channel (role `admin`).
#[utoipa::path(
    post, path = "/v1/channels", tag = "channels",
    request_body = NewChannelRequest,
    security(("api_key" = [])),
    responses(
        (status = 201, body = ChannelView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already registered", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(s): State<AppState>,
    user: StaffUser,
    AppJson(req): AppJson<NewChannelRequest>,
) -> Result<(StatusCode, Json<ChannelView>), ApiError> {
    let admin = user.require(&[Role::Admin])?;
    let handle = ChannelHandle::parse(req.kind, &req.value)?;
    let c = channels::register(
        s.store.as_ref(),
        &admin.id,
        handle,
        req.label.as_deref(),
        req.agent_id.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(ChannelView::from(&c))))
}

/// List official channels (role `admin`).
#[utoipa::path(
    get, path = "/v1/channels", tag = "channels",
    security(("api_key" = [])),
    responses(
        (status = 200, body = [ChannelView]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(s): State<AppState>,
    user: StaffUser,
) -> Result<Json<Vec<ChannelView>>, ApiError> {
    user.require(&[Role::Admin])?;
    let all = channels::list(s.store.as_ref()).await?;
    Ok(Json(all.iter().map(ChannelView::from).collect()))
}

/// Remove an official channel (role `admin`).
#[utoipa::path(
    delete, path = "/v1/channels/{id}", tag = "channels",
    params(("id" = String, Path)),
    security(("api_key" = [])),
    responses(
        (status = 204, description = "Removed"),
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
        return Err(ApiError::not_found("channel_not_found", "no such channel"));
    }
    channels::delete(s.store.as_ref(), &admin.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Check a handle, address, number or URL against the registry (public).
#[utoipa::path(
    get, path = "/v1/channels/check", tag = "channels",
    params(CheckQuery),
    responses(
        (status = 200, body = CheckResponse),
        (status = 400, description = "Unknown kind or invalid value", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn check(
    State(s): State<AppState>,
    PreferredLocale(header_locale): PreferredLocale,
    AppQuery(q): AppQuery<CheckQuery>,
) -> Result<Json<CheckResponse>, ApiError> {
    let kind = ChannelKind::parse(&q.kind)
        .ok_or_else(|| ApiError::bad_request("invalid_kind", "unknown channel kind"))?;
    let locale = q
        .lang
        .as_deref()
        .and_then(Locale::parse_tag)
        .unwrap_or(header_locale);
    Ok(Json(answer(&s, kind, &q.value, locale).await?))
}

/// The whole answer to "is this channel official?", shared by the API and the `/check` page.
pub async fn answer(
    s: &AppState,
    kind: ChannelKind,
    value: &str,
    locale: Locale,
) -> Result<CheckResponse, ApiError> {
    let handle = ChannelHandle::parse(kind, value)?;
    let result = channels::check(s.store.as_ref(), &handle).await?;
    let (name, official, reason) = match &result {
        CheckResult::Official(c) => ("official", Some(c), None),
        CheckResult::Lookalike { of, reason } => ("lookalike", Some(of), Some(*reason)),
        CheckResult::NotOfficial => ("not_official", None, None),
        CheckResult::KnownScam { imitates, .. } => (
            "known_scam",
            imitates.as_ref().map(|(of, _)| of),
            imitates.as_ref().map(|(_, r)| *r),
        ),
    };
    let confirmed_reports = match &result {
        CheckResult::KnownScam { reports, .. } => Some(*reports),
        _ => None,
    };
    metrics::counter!("trustdesk_channel_checks_total", "result" => name).increment(1);
    let of_text = official.map(|c| {
        format!(
            "{} {}",
            i18n::kind_name(c.handle.kind(), locale),
            i18n::display_handle(c.handle.kind(), c.handle.as_str())
        )
    });
    let book = s.policies.get();
    let kind_policies = crate::channels::policy::for_kind(&book, kind);
    let never_used = kind_policies
        .iter()
        .find(|p| p.rule == crate::channels::policy::PolicyRule::NeverUsed && name != "official")
        .map(|p| super::verify::PolicyNote::new(p, locale));
    let message = match (confirmed_reports, &never_used) {
        (Some(n), Some(p)) => format!(
            "{} {}",
            i18n::known_scam_message(locale, n, of_text.as_deref()),
            p.statement
        ),
        (Some(n), None) => i18n::known_scam_message(locale, n, of_text.as_deref()),
        (None, Some(p)) if name == "not_official" => p.statement.clone(),
        (None, Some(p)) => format!(
            "{} {}",
            i18n::check_message(name, locale, of_text.as_deref()),
            p.statement
        ),
        (None, None) => i18n::check_message(name, locale, of_text.as_deref()),
    };
    let prefill = (name != "official").then(|| super::verify::ReportPrefill {
        scam_channel: Some(super::verify::ChannelRef {
            kind,
            handle: handle.as_str().to_owned(),
        }),
        presented: None,
        claimed_entity: official.map(|c| super::verify::ClaimedPrefill {
            channel: Some(super::verify::ChannelRef {
                kind: c.handle.kind(),
                handle: c.handle.as_str().to_owned(),
            }),
            agent: None,
        }),
    });
    Ok(CheckResponse {
        confirmed_reports,
        result: name,
        kind,
        value: handle.as_str().to_owned(),
        official: official.map(|c| OfficialRef {
            kind: c.handle.kind(),
            value: c.handle.as_str().to_owned(),
            label: c.label.clone(),
        }),
        lookalike_reason: reason,
        locale,
        message,
        policy: never_used,
        policies: kind_policies
            .iter()
            .map(|p| super::verify::PolicyNote::new(p, locale))
            .collect(),
        report_url: prefill
            .as_ref()
            .map(|p| p.url(s.base_url(), ("check", name))),
        report_prefill: prefill,
    })
}
