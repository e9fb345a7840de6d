//! Extractors whose rejections are [`ApiError`]s, so malformed input always gets a problem
//! response with a stable code instead of axum's plain-text default.

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::state::AppState;
use crate::staff::{self, AuthError, Staff};
use crate::types::{Locale, Role};

/// JSON body. Unknown fields are refused by the request types themselves (`deny_unknown_fields`).
///
/// A body sent as plain `application/json` that parses is read directly; anything else goes
/// through axum's `Json`, which names the failing field in its error. Both accept and refuse the
/// same bodies: the direct read only skips the error bookkeeping (field-path tracking and a full
/// media-type parse) that a valid request never needs, on every verify call.
pub struct AppJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for AppJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let plain_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"application/json"));
        if !plain_json {
            return match axum::Json::<T>::from_request(req, state).await {
                Ok(axum::Json(v)) => Ok(AppJson(v)),
                Err(e) => Err(json_rejection(e)),
            };
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| json_rejection(e.into()))?;
        match serde_json::from_slice(&bytes) {
            Ok(v) => Ok(AppJson(v)),
            // Parsed again only to say precisely what is wrong.
            Err(_) => match axum::Json::<T>::from_bytes(&bytes) {
                Ok(axum::Json(v)) => Ok(AppJson(v)),
                Err(e) => Err(json_rejection(e)),
            },
        }
    }
}

fn json_rejection(e: JsonRejection) -> ApiError {
    match e {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::UnsupportedMediaType("send the body as application/json".into())
        }
        JsonRejection::JsonDataError(e) => ApiError::bad_request("invalid_body", e.body_text()),
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::bad_request("invalid_json", "the body is not valid JSON")
        }
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge
        }
        e => ApiError::bad_request("invalid_body", e.body_text()),
    }
}

/// Query string.
pub struct AppQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for AppQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| AppQuery(q.0))
            .map_err(|e: QueryRejection| ApiError::bad_request("invalid_query", e.body_text()))
    }
}

/// Path parameters.
pub struct AppPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for AppPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| AppPath(p.0))
            .map_err(|e: PathRejection| ApiError::bad_request("invalid_path", e.body_text()))
    }
}

/// The credential in an `Authorization: Bearer …` header value (scheme case-insensitive).
pub fn bearer_value(v: &str) -> Option<&str> {
    let (scheme, rest) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// The bearer credential of a request, if any.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    bearer_value(headers.get(header::AUTHORIZATION)?.to_str().ok()?)
}

/// The authenticated staff member behind `Authorization: Bearer <key>`.
pub struct StaffUser(pub Staff);

impl StaffUser {
    /// 403 unless the staff member holds one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<&Staff, ApiError> {
        staff::require(&self.0, roles)?;
        Ok(&self.0)
    }
}

impl FromRequestParts<AppState> for StaffUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or(AuthError::Missing)?;
        let key = value
            .to_str()
            .ok()
            .and_then(bearer_value)
            .ok_or(AuthError::Invalid)?;
        Ok(StaffUser(
            staff::authenticate(state.store.as_ref(), key).await?,
        ))
    }
}

/// The user's language: `?lang=` wins, then `Accept-Language`, then English.
pub struct PreferredLocale(pub Locale);

impl<S: Send + Sync> FromRequestParts<S> for PreferredLocale {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let from_query = parts.uri.query().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "lang")
                .and_then(|(_, v)| Locale::parse_tag(&v))
        });
        let from_header = || {
            parts
                .headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Locale::from_accept_language)
        };
        Ok(PreferredLocale(
            from_query.or_else(from_header).unwrap_or_default(),
        ))
    }
}
