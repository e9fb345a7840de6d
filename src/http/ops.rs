//! Operations endpoints: liveness, readiness, metrics, the OpenAPI document.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ApiError;
use super::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: the database answers within 2 s. (Keys are loaded before the listener exists.)
#[utoipa::path(
    get, path = "/readyz", tag = "ops",
    responses(
        (status = 200, body = Health),
        (status = 503, description = "Database unavailable", body = super::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn readyz(State(s): State<AppState>) -> Result<Json<Health>, ApiError> {
    match tokio::time::timeout(std::time::Duration::from_secs(2), s.store.ping()).await {
        Ok(Ok(())) => Ok(Json(Health { status: "ready" })),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "Readiness check failed");
            Err(ApiError::Unavailable)
        }
        Err(_) => Err(ApiError::Unavailable),
    }
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, content_type = "text/plain")))]
pub async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    // Fresh at every scrape, so an SLA breach shows up without waiting for the background timer.
    if let Ok(n) = s.store.count_breached(crate::types::now()).await {
        metrics::gauge!("trustdesk_escalations_sla_breached").set(n as f64);
    }
    let mut text = s.metrics.render();
    s.edge.render(&mut text);
    crate::telemetry::render_counter_sets(&mut text);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        text,
    )
}

/// This document.
pub async fn openapi() -> impl IntoResponse {
    Json(super::openapi::document())
}
