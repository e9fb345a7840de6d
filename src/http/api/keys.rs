//! Public keys for offline verification, and key rotation for admins.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::error::{ApiError, Problem};
use crate::http::extract::{AppPath, StaffUser};
use crate::http::state::AppState;
use crate::tokens::{self, KeyState, PublishedKeySet};
use crate::types::{now, rfc3339, Role};

/// Published keys may be cached briefly; a verifier that meets an unknown kid should refetch.
const KEYS_CACHE_CONTROL: &str = "public, max-age=300, stale-if-error=86400";

/// The public key set (PASERK `k4.public`), for anyone to verify tokens offline.
#[utoipa::path(
    get, path = "/.well-known/trustdesk-keys", tag = "keys",
    responses((status = 200, body = PublishedKeySet))
)]
pub async fn published(State(s): State<AppState>) -> Response {
    let set = tokens::published_keys(&s.keys.current(), s.base_url(), now());
    let mut resp = Json(set).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(KEYS_CACHE_CONTROL),
    );
    resp
}

#[derive(Serialize, ToSchema)]
pub struct KeyInfo {
    pub kid: String,
    pub state: KeyState,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retire_after: Option<String>,
}

fn key_list(s: &AppState) -> Vec<KeyInfo> {
    let set = s.keys.current();
    let t = now();
    set.metas()
        .iter()
        .map(|m| KeyInfo {
            kid: m.kid.clone(),
            state: set.state_of(m, t),
            created_at: rfc3339(m.created_at),
            retire_after: m.retire_after.map(rfc3339),
        })
        .collect()
}

/// Every key with its state (role `admin`).
#[utoipa::path(
    get, path = "/v1/keys", tag = "keys",
    security(("api_key" = [])),
    responses(
        (status = 200, body = [KeyInfo]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(s): State<AppState>,
    user: StaffUser,
) -> Result<Json<Vec<KeyInfo>>, ApiError> {
    user.require(&[Role::Admin])?;
    Ok(Json(key_list(&s)))
}

/// Rotate: a new key signs from now on; the old one verifies until its tokens have expired
/// (role `admin`).
#[utoipa::path(
    post, path = "/v1/keys/rotate", tag = "keys",
    security(("api_key" = [])),
    responses(
        (status = 200, body = [KeyInfo]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn rotate(
    State(s): State<AppState>,
    user: StaffUser,
) -> Result<Json<Vec<KeyInfo>>, ApiError> {
    let admin = user.require(&[Role::Admin])?;
    let keys = s.keys.clone();
    let verify_for = s.tokens.max_ttl_secs + s.tokens.clock_skew_secs;
    let kid = tokio::task::spawn_blocking(move || keys.rotate(verify_for))
        .await
        .map_err(|e| ApiError::Internal(e.into()))??;
    tracing::info!(key.kid = %kid, staff.id = %admin.id, "Key rotated through the API");
    crate::audit::record(
        s.store.as_ref(),
        Some(&admin.id),
        "key.rotate",
        &kid,
        serde_json::json!({}),
    )
    .await?;
    Ok(Json(key_list(&s)))
}

/// Retire a rotated-out key now, e.g. on suspected compromise: tokens it signed become forged
/// (role `admin`).
#[utoipa::path(
    post, path = "/v1/keys/{kid}/retire", tag = "keys",
    params(("kid" = String, Path)),
    security(("api_key" = [])),
    responses(
        (status = 200, body = [KeyInfo]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The active key cannot be retired; rotate first", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn retire(
    State(s): State<AppState>,
    user: StaffUser,
    AppPath(kid): AppPath<String>,
) -> Result<Json<Vec<KeyInfo>>, ApiError> {
    let admin = user.require(&[Role::Admin])?;
    let keys = s.keys.clone();
    let k = kid.clone();
    tokio::task::spawn_blocking(move || keys.retire_now(&k))
        .await
        .map_err(|e| ApiError::Internal(e.into()))??;
    tracing::warn!(key.kid = %kid, staff.id = %admin.id, "Key retired through the API");
    crate::audit::record(
        s.store.as_ref(),
        Some(&admin.id),
        "key.retire",
        &kid,
        serde_json::json!({}),
    )
    .await?;
    Ok(Json(key_list(&s)))
}
