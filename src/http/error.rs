//! The one place that turns errors into HTTP: RFC 9457 `application/problem+json` with a stable
//! machine `code`. Server-side failures are logged here and answered with a fixed detail, so no
//! internal message ever reaches a client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::channels::{ChannelError, HandleError};
use crate::escalations::EscalationError;
use crate::reports::ReportError;
use crate::staff::{AuthError, StaffError};
use crate::storage::StorageError;
use crate::tokens::keyring::KeyError;
use crate::tokens::TokenError;

/// Every error an HTTP handler can return. Each variant's doc names its status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is understood but its content is invalid.
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    /// 401: missing or invalid credentials.
    #[error("{detail}")]
    Unauthorized { code: &'static str, detail: String },
    /// 403: authenticated but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404
    #[error("{detail}")]
    NotFound { code: &'static str, detail: String },
    /// 405
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    /// 413
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// 413 with a specific code (too many files, file too large, report too large).
    #[error("{detail}")]
    LimitExceeded { code: &'static str, detail: String },
    /// 415
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 415 with a specific code.
    #[error("{detail}")]
    UnsupportedType { code: &'static str, detail: String },
    /// 507: the disk for evidence is full.
    #[error("storage is full; please try again later")]
    InsufficientStorage,
    /// 429: over a rate limit; `Retry-After` says when to come back.
    #[error("too many requests; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// 503: overloaded, shedding load; retry shortly.
    #[error("the service is busy; retry shortly")]
    Overloaded,
    /// 503: a dependency (the database) is unavailable; retry later.
    #[error("service temporarily unavailable")]
    Unavailable,
    /// 408/504-like: the request took too long.
    #[error("the request timed out")]
    Timeout,
    /// 500: logged with its cause, answered opaquely.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// URI reference naming the problem type: `urn:trustdesk:problem:<code>`.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: &'static str,
    pub status: u16,
    /// Human-readable explanation for this occurrence.
    pub detail: String,
    /// Stable machine-readable code; clients branch on this.
    pub code: &'static str,
}

impl ApiError {
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            detail: detail.into(),
        }
    }

    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::NotFound {
            code,
            detail: detail.into(),
        }
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code, "Bad request"),
            ApiError::Unauthorized { code, .. } => {
                (StatusCode::UNAUTHORIZED, code, "Authentication required")
            }
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            ApiError::NotFound { code, .. } => (StatusCode::NOT_FOUND, code, "Not found"),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed",
            ),
            ApiError::Conflict { code, .. } => (StatusCode::CONFLICT, code, "Conflict"),
            ApiError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Payload too large",
            ),
            ApiError::LimitExceeded { code, .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, code, "Payload too large")
            }
            ApiError::UnsupportedType { code, .. } => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                code,
                "Unsupported media type",
            ),
            ApiError::InsufficientStorage => (
                StatusCode::INSUFFICIENT_STORAGE,
                "insufficient_storage",
                "Insufficient storage",
            ),
            ApiError::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
            ),
            ApiError::RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests",
            ),
            ApiError::Overloaded => (
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "Service overloaded",
            ),
            ApiError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            ApiError::Timeout => (StatusCode::REQUEST_TIMEOUT, "timeout", "Request timed out"),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
            ),
        }
    }

    /// The status this error answers with (for tests and middleware).
    pub fn status(&self) -> StatusCode {
        self.parts().0
    }

    pub fn code(&self) -> &'static str {
        self.parts().1
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, title) = self.parts();
        if let ApiError::Internal(e) = &self {
            tracing::error!(error = ?e, "Request failed");
        }
        let problem = Problem {
            type_: format!("urn:trustdesk:problem:{code}"),
            title,
            status: status.as_u16(),
            detail: self.to_string(),
            code,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut resp = (status, body).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="trustdesk""#),
            );
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            h.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        if let ApiError::RateLimited { retry_after_secs } = &self {
            h.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        if code == "invalid_credentials" {
            // A wrong key is a guess: the rate-limit middleware counts it.
            resp.extensions_mut().insert(super::limits::AuthFailed);
        }
        resp
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Unavailable(inner) => {
                tracing::warn!(error = %inner, "Database unavailable");
                ApiError::Unavailable
            }
            StorageError::Full(inner) => {
                tracing::error!(error = %inner, "Database disk is full");
                ApiError::InsufficientStorage
            }
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Missing => ApiError::Unauthorized {
                code: "missing_credentials",
                detail: "send Authorization: Bearer <API key>".into(),
            },
            AuthError::Invalid => ApiError::Unauthorized {
                code: "invalid_credentials",
                detail: "the API key is not valid".into(),
            },
            AuthError::Forbidden(_) => ApiError::Forbidden(e.to_string()),
            AuthError::Storage(s) => s.into(),
        }
    }
}

impl From<StaffError> for ApiError {
    fn from(e: StaffError) -> Self {
        match e {
            StaffError::InvalidName => ApiError::bad_request("invalid_name", e.to_string()),
            StaffError::NameTaken => ApiError::Conflict {
                code: "name_taken",
                detail: e.to_string(),
            },
            StaffError::Storage(s) => s.into(),
        }
    }
}

impl From<HandleError> for ApiError {
    fn from(e: HandleError) -> Self {
        ApiError::bad_request("invalid_channel", e.to_string())
    }
}

impl From<ChannelError> for ApiError {
    fn from(e: ChannelError) -> Self {
        match e {
            ChannelError::Handle(h) => h.into(),
            ChannelError::InvalidLabel => ApiError::bad_request("invalid_label", e.to_string()),
            ChannelError::UnknownAgent => ApiError::bad_request("unknown_agent", e.to_string()),
            ChannelError::AlreadyRegistered => ApiError::Conflict {
                code: "channel_exists",
                detail: e.to_string(),
            },
            ChannelError::NotFound => ApiError::not_found("channel_not_found", e.to_string()),
            ChannelError::Storage(s) => s.into(),
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::InvalidTtl { .. } => ApiError::bad_request("invalid_ttl", e.to_string()),
            TokenError::InvalidUserRef => ApiError::bad_request("invalid_user_ref", e.to_string()),
            TokenError::SessionNotFound => ApiError::not_found("session_not_found", e.to_string()),
            TokenError::NotYourSession => ApiError::Forbidden(e.to_string()),
            TokenError::Key(k) => k.into(),
            TokenError::Storage(s) => s.into(),
        }
    }
}

impl From<crate::followup::FollowupError> for ApiError {
    fn from(e: crate::followup::FollowupError) -> Self {
        use crate::followup::FollowupError as F;
        let detail = e.to_string();
        match e {
            F::Invalid(_) => ApiError::BadRequest {
                code: "invalid_rating",
                detail,
            },
            F::NotClosed => ApiError::Conflict {
                code: "report_not_closed",
                detail,
            },
            F::WrongCode => ApiError::BadRequest {
                code: "wrong_confirmation_code",
                detail,
            },
            F::AlreadyRated => ApiError::Conflict {
                code: "already_rated",
                detail,
            },
            F::Storage(s) => s.into(),
        }
    }
}

impl From<ReportError> for ApiError {
    fn from(e: ReportError) -> Self {
        let detail = e.to_string();
        match e {
            ReportError::Invalid { code, detail } => ApiError::BadRequest { code, detail },
            ReportError::TooManyAttachments { .. } => ApiError::LimitExceeded {
                code: "too_many_attachments",
                detail,
            },
            ReportError::AttachmentTooLarge { .. } => ApiError::LimitExceeded {
                code: "attachment_too_large",
                detail,
            },
            ReportError::ReportTooLarge { .. } => ApiError::LimitExceeded {
                code: "report_too_large",
                detail,
            },
            ReportError::UnsupportedType(_) => ApiError::UnsupportedType {
                code: "unsupported_attachment_type",
                detail,
            },
            ReportError::IdempotencyConflict => ApiError::Conflict {
                code: "idempotency_conflict",
                detail,
            },
            ReportError::NotFound => ApiError::not_found("report_not_found", detail),
            ReportError::AttachmentNotFound => ApiError::not_found("attachment_not_found", detail),
            ReportError::Corrupt => {
                ApiError::Internal(anyhow::anyhow!("evidence integrity check failed"))
            }
            ReportError::Io(io) if io.raw_os_error() == Some(28) => {
                tracing::error!("Evidence disk is full");
                ApiError::InsufficientStorage
            }
            ReportError::Io(io) => ApiError::Internal(io.into()),
            ReportError::Storage(s) => s.into(),
        }
    }
}

impl From<EscalationError> for ApiError {
    fn from(e: EscalationError) -> Self {
        let detail = e.to_string();
        match e {
            EscalationError::ReportNotFound => ApiError::not_found("report_not_found", detail),
            EscalationError::NotFound => ApiError::not_found("escalation_not_found", detail),
            EscalationError::IllegalTransition { .. } => ApiError::Conflict {
                code: "illegal_transition",
                detail,
            },
            EscalationError::Concurrent => ApiError::Conflict {
                code: "concurrent_update",
                detail,
            },
            EscalationError::EscalationOpen => ApiError::Conflict {
                code: "escalation_open",
                detail,
            },
            EscalationError::NotHolder => ApiError::Conflict {
                code: "not_lease_holder",
                detail,
            },
            EscalationError::Invalid(_) => ApiError::bad_request("invalid_body", detail),
            EscalationError::Storage(s) => s.into(),
        }
    }
}

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::UnknownKid(_) => ApiError::not_found("key_not_found", e.to_string()),
            KeyError::RetireActive => ApiError::Conflict {
                code: "key_active",
                detail: e.to_string(),
            },
            other => ApiError::Internal(other.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_outage_is_503_and_other_storage_errors_are_opaque_500() {
        let e: ApiError = StorageError::Unavailable(sqlx::Error::PoolTimedOut).into();
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        let e: ApiError = StorageError::Other(sqlx::Error::RowNotFound).into();
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(e.to_string(), "internal error");
    }

    #[test]
    fn auth_errors_map_to_401_and_403_with_stable_codes() {
        assert_eq!(
            ApiError::from(AuthError::Missing).code(),
            "missing_credentials"
        );
        assert_eq!(
            ApiError::from(AuthError::Invalid).status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            ApiError::from(AuthError::Forbidden("admin".into())).status(),
            StatusCode::FORBIDDEN
        );
    }

    #[test]
    fn problem_response_has_problem_json_content_type() {
        let r = ApiError::bad_request("x", "y").into_response();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
    }
}
