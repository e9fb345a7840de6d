//! The HTTP layer: every route in one list, grouped by audience, and the middleware stack.
//! Handlers are thin: extract, call one domain function, present the result.

pub mod api;
pub mod error;
pub mod extract;
pub mod i18n;
pub mod limits;
pub mod openapi;
pub mod ops;
pub mod pages;
pub mod state;

use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use error::ApiError;
pub use state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Content-Security-Policy for every response: no script at all, styles only from ourselves.
const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

pub fn router(state: AppState) -> Router {
    let body_limit = state.config.max_json_bytes;

    let public_api = Router::new()
        .route("/v1/verify", post(api::verify::verify))
        .route(
            "/v1/verify/batch",
            // 64 links of a few hundred bytes each, with room for the messages around them.
            post(api::verify::verify_batch).layer(DefaultBodyLimit::max(
                body_limit.max(tokens_batch_body_limit()),
            )),
        )
        .route("/v1/channels/check", get(api::channels::check))
        .route(
            "/v1/policies",
            get(api::policies::list).post(api::policies::create),
        )
        .route("/v1/policies/{id}", delete(api::policies::delete))
        .route("/v1/feeds/stix", get(api::feeds::stix_bundle))
        .route("/v1/feeds/scammers", get(api::feeds::scammers))
        .route("/.well-known/trustdesk-keys", get(api::keys::published));

    let upload_limit = usize::try_from(state.config.max_report_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(1024 * 1024);
    let reports_api = Router::new()
        .route(
            "/v1/reports",
            // The multipart reader enforces this limit as it streams, answering with a problem
            // response; per-file and per-report limits apply inside it.
            post(api::reports::submit)
                .layer(DefaultBodyLimit::max(upload_limit))
                .get(api::reports::list),
        )
        .route("/v1/reports/{id}", get(api::reports::status))
        .route(
            "/v1/reports/{id}/contact",
            delete(api::reports::forget_contact),
        )
        .route("/v1/reports/{id}/rating", post(api::reports::rate))
        .route(
            "/v1/reports/{id}/contact/confirm",
            post(api::reports::confirm_contact),
        )
        .route("/v1/ratings", get(api::reports::ratings))
        .route(
            "/v1/reports/{id}/transition",
            post(api::escalations::transition),
        )
        .route("/v1/escalations", get(api::escalations::list))
        .route("/v1/escalations/claim", post(api::escalations::claim))
        .route(
            "/v1/escalations/{id}/heartbeat",
            post(api::escalations::heartbeat),
        )
        .route(
            "/v1/escalations/{id}/release",
            post(api::escalations::release),
        )
        .route(
            "/v1/escalations/{id}/resolve",
            post(api::escalations::resolve),
        )
        .route("/v1/audit", get(api::escalations::audit))
        .route("/v1/reports/{id}/priority", post(api::triage::set_priority))
        .route("/v1/reports/{id}/merge", post(api::triage::merge))
        .route("/v1/reports/{id}/xarf", get(api::feeds::xarf_export))
        .route(
            "/v1/escalation-rules",
            get(api::triage::get_rules).put(api::triage::put_rules),
        )
        .route(
            "/v1/reports/{id}/attachments/{index}",
            get(api::reports::download),
        );

    let staff_api = Router::new()
        .route(
            "/v1/sessions",
            post(api::sessions::issue).get(api::sessions::list_mine),
        )
        .route(
            "/v1/sessions/{session_id}/revoke",
            post(api::sessions::revoke),
        )
        .route(
            "/v1/channels",
            post(api::channels::create).get(api::channels::list),
        )
        .route("/v1/channels/{id}", delete(api::channels::delete))
        .route("/v1/keys", get(api::keys::list))
        .route("/v1/keys/rotate", post(api::keys::rotate))
        .route("/v1/keys/{kid}/retire", post(api::keys::retire));

    let pages = Router::new()
        .route("/", get(pages::public::home))
        .route("/check", get(pages::public::check))
        .route(
            "/report",
            // Streamed like `POST /v1/reports`, under the same limits.
            get(pages::public::report_form)
                .post(pages::public::report_submit)
                .layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/assets/report.js", get(pages::public::report_script))
        .route("/v/{token}", get(pages::verify_link))
        .route(
            "/verify",
            get(pages::verify_form).post(pages::verify_submit),
        )
        .route(
            "/r/{id}",
            get(pages::report_status_form).post(pages::report_status_submit),
        )
        .route("/r/{id}/forget", post(pages::report_forget))
        .route("/r/{id}/rate", post(pages::report_rate))
        .route("/r/{id}/confirm", post(pages::report_confirm))
        .route("/assets/style.css", get(pages::stylesheet))
        .route("/assets/console.js", get(pages::console::script))
        .route(
            "/console/login",
            get(pages::console::login_form).post(pages::console::login),
        )
        .route("/console/logout", post(pages::console::logout))
        .route("/console", get(pages::console::home))
        .route("/console/sessions", post(pages::console::issue))
        .route(
            "/console/sessions/{id}/revoke",
            post(pages::console::revoke),
        )
        .route(
            "/console/escalations/claim",
            post(pages::console_staff::claim),
        )
        .route(
            "/console/escalations/{id}",
            post(pages::console_staff::item),
        )
        .route("/console/reports/{id}", get(pages::console_staff::report))
        .route(
            "/console/reports/{id}/transition",
            post(pages::console_staff::transition),
        )
        .route(
            "/console/reports/{id}/attachments/{index}",
            get(pages::console_staff::attachment),
        )
        .route("/console/audit", get(pages::console_staff::audit))
        .route("/console/ratings", get(pages::console_staff::ratings));

    let ops = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi));

    let inner = Router::new()
        .merge(public_api)
        .merge(staff_api)
        .merge(reports_api)
        .merge(pages)
        .merge(ops)
        .fallback(|| async { ApiError::not_found("not_found", "no such resource") })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(body_limit))
        // A panicking handler becomes a 500 problem that the edge still logs and counts.
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()
        }))
        .layer(middleware::from_fn_with_state(state.clone(), edge))
        .with_state(state.clone());

    // Router::layer wraps each route separately; wrapping the whole router as one fallback
    // service makes the concurrency limit (and the headers) apply once, server-wide.
    let shed = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .option_layer(state.config.hsts.then(|| {
            SetResponseHeaderLayer::overriding(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=31536000; includeSubDomains"),
            )
        }))
        // Shed load rather than queue without bound: past the limit, 503 at once.
        .layer(axum::error_handling::HandleErrorLayer::new(
            |_: tower::BoxError| async { ApiError::Overloaded },
        ))
        .load_shed()
        .concurrency_limit(state.config.max_concurrent_requests.max(1));
    Router::new().fallback_service(inner).layer(shed)
}

/// A full batch of maximal tokens, JSON-quoted.
const fn tokens_batch_body_limit() -> usize {
    crate::tokens::verifier::MAX_BATCH * (crate::tokens::paseto::MAX_TOKEN_LEN + 16) + 1024
}

/// Everything every request goes through, in one middleware rather than a stack of layers (each
/// layer clones its inner service per request; this is the hot path): the request id, the
/// tracing span, the metrics, the rate limits and the timeout.
async fn edge(
    axum::extract::State(s): axum::extract::State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    // The client's id when it sent a usable one (so logs on both sides line up), else a new one.
    let request_id = match req.headers().get(&REQUEST_ID) {
        Some(v) if !v.is_empty() && v.len() <= 64 => v.clone(),
        _ => {
            let id = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .unwrap_or(HeaderValue::from_static("-"));
            req.headers_mut().insert(REQUEST_ID, id.clone());
            id
        }
    };
    // The span names the route template, never the URI: `/v/{token}` must not put tokens in logs.
    let span = tracing::info_span!(
        "request",
        method = %method,
        route = %route,
        request_id = request_id.to_str().unwrap_or("-"),
    );
    let is_upload = method == axum::http::Method::POST && route == "/v1/reports";
    let limit = Duration::from_secs(u64::from(if is_upload {
        s.config.upload_timeout_secs
    } else {
        s.config.request_timeout_secs
    }));
    let mut resp = tracing::Instrument::instrument(
        limits::rate_limited(&s, &route, req, move |req| async move {
            match tokio::time::timeout(limit, next.run(req)).await {
                Ok(r) => r,
                Err(_) => ApiError::Timeout.into_response(),
            }
        }),
        span.clone(),
    )
    .await;
    resp.headers_mut().insert(REQUEST_ID, request_id);

    let status = resp.status();
    let elapsed = start.elapsed();
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::error!(
                status = status.as_u16(),
                latency_ms = elapsed.as_millis() as u64,
                "Request failed"
            );
        } else {
            tracing::debug!(
                status = status.as_u16(),
                latency_ms = elapsed.as_millis() as u64,
                "Request finished"
            );
        }
    });
    metrics::counter!("trustdesk_http_requests_total", "route" => route.clone(), "method" => method.as_str().to_owned(), "status" => status.as_str().to_owned())
        .increment(1);
    metrics::histogram!("trustdesk_http_request_duration_seconds", "route" => route)
        .record(elapsed.as_secs_f64());
    resp
}
