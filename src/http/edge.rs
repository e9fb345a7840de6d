//! What every request goes through, in one middleware: load shedding, the request id, the
//! tracing span, the rate limits, the timeout, the security headers and the metrics.
//!
//! One function rather than a stack of tower layers because this is the verification hot path:
//! each layer clones its inner service and wraps the future per request, and with the shedding
//! and headers as outer layers the router had to be nested in a second router. Measured in
//! `benches/http.rs` and `scripts/load/verify.sh` (`docs/performance.md`).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::{Counter, Histogram};
use tokio::sync::Semaphore;

use super::error::ApiError;
use super::limits;
use super::state::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Content-Security-Policy for every response: no script at all, styles only from ourselves.
const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// Longest client-sent request id that is kept (echoed and logged); a longer one is replaced.
const MAX_REQUEST_ID: usize = 64;

/// Shared by every request: the in-flight bound and the metric handles.
pub struct Edge {
    /// Requests being handled, server-wide. Past the limit a request is answered 503 at once
    /// rather than queued without bound.
    in_flight: Arc<Semaphore>,
    hsts: bool,
    metrics: RequestMetrics,
}

impl Edge {
    pub fn new(max_concurrent_requests: usize, hsts: bool) -> Edge {
        Edge {
            in_flight: Arc::new(Semaphore::new(max_concurrent_requests.max(1))),
            hsts,
            metrics: RequestMetrics::default(),
        }
    }
}

/// The middleware (`axum::middleware::from_fn_with_state`).
pub async fn edge(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let route_str = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let method = req.method().clone();
    // The client's id when it sent a usable one (so logs on both sides line up), else a new one.
    let request_id = match req.headers().get(&REQUEST_ID) {
        Some(v) if !v.is_empty() && v.len() <= MAX_REQUEST_ID => v.clone(),
        _ => new_request_id(),
    };
    // The span names the route template, never the URI: `/v/{token}` must not put tokens in logs.
    let span = tracing::info_span!(
        "request",
        method = %method,
        route = route_str,
        request_id = request_id.to_str().unwrap_or("-"),
    );

    let permit = s.edge.in_flight.try_acquire();
    let shed = permit.is_err();
    let mut resp = match permit {
        Ok(_permit) => {
            let is_upload = method == Method::POST && route_str == "/v1/reports";
            let limit = Duration::from_secs(u64::from(if is_upload {
                s.config.upload_timeout_secs
            } else {
                s.config.request_timeout_secs
            }));
            tracing::Instrument::instrument(
                limits::rate_limited(&s, route_str, req, move |req| async move {
                    match tokio::time::timeout(limit, next.run(req)).await {
                        Ok(r) => r,
                        Err(_) => ApiError::Timeout.into_response(),
                    }
                }),
                span.clone(),
            )
            .await
        }
        Err(_) => ApiError::Overloaded.into_response(),
    };
    let headers = resp.headers_mut();
    headers.insert(REQUEST_ID, request_id);
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CSP));
    if s.edge.hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }

    let status = resp.status();
    let elapsed = start.elapsed();
    span.in_scope(|| {
        // A shed request is counted, not logged: under overload an error line per refused request
        // would add to the load it reports.
        if status.is_server_error() && !shed {
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
    s.edge
        .metrics
        .record(route_str, &method, status, elapsed.as_secs_f64());
    resp
}

/// A fresh UUID v4, formatted on the stack.
fn new_request_id() -> HeaderValue {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
    HeaderValue::from_str(id).unwrap_or(HeaderValue::from_static("-"))
}

/// Per-route metric handles, resolved on a route's first request. Going through the registry
/// each time meant allocating the three labels and hashing them on every request.
#[derive(Default)]
struct RequestMetrics {
    routes: RwLock<HashMap<Box<str>, RouteMetrics>>,
}

struct RouteMetrics {
    duration: Histogram,
    /// By method and status: a handful per route, so a list.
    requests: Vec<(&'static str, StatusCode, Counter)>,
}

impl RequestMetrics {
    fn record(&self, route: &str, method: &Method, status: StatusCode, seconds: f64) {
        // Only the standard methods get their own label: any other token a client sends counts
        // as "other", so clients cannot create series at will.
        let method = method_label(method);
        if let Ok(routes) = self.routes.read() {
            if let Some(r) = routes.get(route) {
                if let Some((_, _, c)) = r
                    .requests
                    .iter()
                    .find(|(m, st, _)| *m == method && *st == status)
                {
                    r.duration.record(seconds);
                    c.increment(1);
                    return;
                }
            }
        }
        let Ok(mut routes) = self.routes.write() else {
            return;
        };
        let r = routes.entry(route.into()).or_insert_with(|| RouteMetrics {
            duration: metrics::histogram!(
                "trustdesk_http_request_duration_seconds",
                "route" => route.to_owned()
            ),
            requests: Vec::new(),
        });
        let c = match r
            .requests
            .iter()
            .find(|(m, st, _)| *m == method && *st == status)
        {
            Some((_, _, c)) => c.clone(),
            None => {
                let c = metrics::counter!(
                    "trustdesk_http_requests_total",
                    "route" => route.to_owned(),
                    "method" => method,
                    "status" => status.as_str().to_owned()
                );
                r.requests.push((method, status, c.clone()));
                c
            }
        };
        r.duration.record(seconds);
        c.increment(1);
    }
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_methods_share_one_label() {
        let m = Method::from_bytes(b"FROB").expect("a valid token");
        assert_eq!(method_label(&m), "other");
        assert_eq!(method_label(&Method::POST), "POST");
    }

    #[test]
    fn request_ids_are_uuids() {
        let id = new_request_id();
        let s = id.to_str().expect("ascii");
        assert!(uuid::Uuid::parse_str(s).is_ok(), "{s}");
        assert_ne!(new_request_id(), id);
    }
}
