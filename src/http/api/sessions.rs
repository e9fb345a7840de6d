//! Support sessions: agents issue them, agents and security revoke them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::verify::{ChannelRef, SessionSummary};
use crate::channels::{self, ChannelHandle, ChannelKind};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{AppJson, AppPath, StaffUser};
use crate::http::i18n;
use crate::http::state::AppState;
use crate::tokens::{self, input::display_code};
use crate::types::{rfc3339, Role};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelInput {
    #[schema(value_type = String, example = "telegram")]
    pub kind: ChannelKind,
    #[schema(example = "@acme_support", max_length = 512)]
    pub handle: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSessionRequest {
    /// The channel the agent is using to talk to the user; must be registered as official.
    pub channel: ChannelInput,
    /// Optional reference of the user (account id, ticket); only its last 4 characters are kept.
    #[serde(default)]
    #[schema(min_length = 6, max_length = 128)]
    pub user_ref: Option<String>,
    /// Session lifetime; defaults to the configured TTL, at most the configured maximum.
    #[serde(default)]
    pub ttl_secs: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct ReadyMessage {
    pub en: String,
    #[serde(rename = "zh-CN")]
    pub zh_cn: String,
}

#[derive(Serialize, ToSchema)]
pub struct IssuedSessionResponse {
    pub session_id: String,
    /// PASETO v4.public token.
    pub token: String,
    /// `{public_base_url}/v/{token}`.
    pub link: String,
    /// Short code to read out on a call; the user types it on the official site.
    #[schema(example = "7KQ4-MZ2P-XT")]
    pub code: String,
    pub kid: String,
    pub channel: ChannelRef,
    pub issued_at: String,
    pub expires_at: String,
    /// Ready-to-paste message for the user, in both languages.
    pub message: ReadyMessage,
}

#[derive(Serialize, ToSchema)]
pub struct RevokedResponse {
    pub session_id: String,
    pub revoked_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct ActiveSession {
    #[serde(flatten)]
    pub session: SessionSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

/// Issue a signed support session (role `agent`).
#[utoipa::path(
    post, path = "/v1/sessions", tag = "sessions",
    request_body = NewSessionRequest,
    security(("api_key" = [])),
    responses(
        (status = 201, body = IssuedSessionResponse),
        (status = 400, description = "Invalid channel, ttl or user_ref", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an agent, or the channel is not official for this agent", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn issue(
    State(s): State<AppState>,
    user: StaffUser,
    AppJson(req): AppJson<NewSessionRequest>,
) -> Result<(StatusCode, Json<IssuedSessionResponse>), ApiError> {
    let agent = user.require(&[Role::Agent])?;
    let handle = ChannelHandle::parse(req.channel.kind, &req.channel.handle)?;
    if !channels::official_for_agent(s.store.as_ref(), &handle, &agent.id).await? {
        return Err(ApiError::Forbidden(
            "this channel is not registered as an official channel for you".into(),
        ));
    }
    let issued = tokens::issue_session(
        &s.tokens,
        &s.keys,
        s.store.as_ref(),
        s.verifier.live(),
        agent,
        &handle,
        req.user_ref.as_deref(),
        req.ttl_secs,
    )
    .await?;
    metrics::counter!("trustdesk_sessions_issued_total").increment(1);
    let link = format!("{}/v/{}", s.base_url(), issued.token);
    let code = display_code(&issued.code);
    let base = s.base_url();
    let message = ready_message(&agent.name, &link, &code, base);
    Ok((
        StatusCode::CREATED,
        Json(IssuedSessionResponse {
            session_id: issued.info.session_id.clone(),
            token: issued.token,
            link,
            code,
            kid: issued.kid,
            channel: ChannelRef {
                kind: issued.info.channel_kind,
                handle: i18n::display_handle(issued.info.channel_kind, &issued.info.channel_handle),
            },
            issued_at: rfc3339(issued.info.issued_at),
            expires_at: rfc3339(issued.info.expires_at),
            message,
        }),
    ))
}

/// The message an agent pastes to the user, in both languages: how to verify, and the warning.
pub fn ready_message(agent: &str, link: &str, code: &str, base: &str) -> ReadyMessage {
    ReadyMessage {
        en: format!(
            "I am {agent} from official support. Verify me at {link} or enter code {code} at {base}/verify. Never share your seed phrase or send funds to anyone."
        ),
        zh_cn: format!(
            "我是官方客服 {agent}。请通过 {link} 验证我的身份，或在 {base}/verify 输入验证码 {code}。切勿向任何人透露助记词或转账。"
        ),
    }
}

/// Revoke a session (the issuing agent, security or admin). Idempotent.
#[utoipa::path(
    post, path = "/v1/sessions/{session_id}/revoke", tag = "sessions",
    params(("session_id" = String, Path, description = "Session id (jti)")),
    security(("api_key" = [])),
    responses(
        (status = 200, body = RevokedResponse),
        (status = 400, description = "Not a session id", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Another agent's session", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke(
    State(s): State<AppState>,
    user: StaffUser,
    AppPath(session_id): AppPath<String>,
) -> Result<Json<RevokedResponse>, ApiError> {
    let actor = user.require(&[Role::Agent, Role::Security, Role::Admin])?;
    if uuid::Uuid::parse_str(&session_id).is_err() {
        return Err(ApiError::bad_request(
            "invalid_session_id",
            "not a session id",
        ));
    }
    let (info, at) =
        tokens::revoke(s.store.as_ref(), s.verifier.live(), actor, &session_id).await?;
    metrics::counter!("trustdesk_sessions_revoked_total").increment(1);
    Ok(Json(RevokedResponse {
        session_id: info.session_id,
        revoked_at: rfc3339(at),
    }))
}

/// The calling agent's sessions that have not expired.
#[utoipa::path(
    get, path = "/v1/sessions", tag = "sessions",
    security(("api_key" = [])),
    responses(
        (status = 200, body = [ActiveSession]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_mine(
    State(s): State<AppState>,
    user: StaffUser,
) -> Result<Json<Vec<ActiveSession>>, ApiError> {
    let agent = user.require(&[Role::Agent])?;
    let list = tokens::active_sessions(s.store.as_ref(), agent).await?;
    Ok(Json(
        list.iter()
            .map(|(info, revoked)| ActiveSession {
                session: SessionSummary::from(info),
                revoked_at: revoked.map(rfc3339),
            })
            .collect(),
    ))
}
