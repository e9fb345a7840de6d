//! What every request goes through, in one layer: load shedding, the request id, the tracing
//! span, the rate limits, the timeout, catching a panicking handler, the security headers and the
//! metrics.
//!
//! One hand-written tower layer rather than a stack of layers or `axum::middleware::from_fn`,
//! because this is the verification hot path. `from_fn` clones and boxes the rest of the stack
//! and boxes its own future on every request, and `tokio::time::timeout` registers a timer; here
//! the route's own future is polled in place, and the timer is only armed for a request that does
//! not finish in its first poll (a verification finishes there: it never waits). Measured under
//! callgrind and with `scripts/load/verify.sh` (`docs/performance.md`).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use super::error::ApiError;
use super::limits::{self, Admitted};
use super::state::AppState;
use crate::telemetry::counter::ShardedCounter;
use crate::telemetry::histogram::{self, Histogram};

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
    in_flight: AtomicUsize,
    max_in_flight: usize,
    hsts: bool,
    metrics: RequestMetrics,
}

impl Edge {
    pub fn new(max_concurrent_requests: usize, hsts: bool) -> Edge {
        Edge {
            in_flight: AtomicUsize::new(0),
            max_in_flight: max_concurrent_requests.max(1),
            hsts,
            metrics: RequestMetrics::default(),
        }
    }

    /// Counts a request in; `false` (and nothing counted) when the server is full.
    fn enter(&self) -> bool {
        if self.in_flight.fetch_add(1, Ordering::AcqRel) < self.max_in_flight {
            true
        } else {
            self.leave();
            false
        }
    }

    fn leave(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// `Router::layer(EdgeLayer(state))`: every route and the fallbacks get an [`EdgeService`]; it
/// sits inside the router so that the matched route template is known.
#[derive(Clone)]
pub struct EdgeLayer(pub AppState);

impl<S> Layer<S> for EdgeLayer {
    type Service = EdgeService<S>;

    fn layer(&self, inner: S) -> EdgeService<S> {
        EdgeService {
            state: self.0.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub struct EdgeService<S> {
    state: AppState,
    inner: S,
}

impl<S> Service<Request> for EdgeService<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Unpin,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> EdgeFuture<S::Future> {
        let s = &self.state;
        let start = Instant::now();
        let route = req.extensions().get::<MatchedPath>().cloned();
        let route_str = route.as_ref().map_or("unmatched", MatchedPath::as_str);
        let method = req.method().clone();
        // The client's id when it sent a usable one (so logs on both sides line up), else a new one.
        let request_id = match req.headers().get(&REQUEST_ID) {
            Some(v) if !v.is_empty() && v.len() <= MAX_REQUEST_ID => v.clone(),
            _ => new_request_id(),
        };
        // The span names the route template, never the URI: `/v/{token}` must not put tokens in
        // logs.
        let span = tracing::info_span!(
            "request",
            method = %method,
            route = route_str,
            request_id = request_id.to_str().unwrap_or("-"),
        );
        let is_upload = method == Method::POST && route_str == "/v1/reports";
        let limit = Duration::from_secs(u64::from(if is_upload {
            s.config.upload_timeout_secs
        } else {
            s.config.request_timeout_secs
        }));
        let entered = s.edge.enter();
        let run = if !entered {
            Run::Answered(Some(ApiError::Overloaded.into_response()))
        } else {
            let _g = span.enter();
            match limits::admit(s, route_str, &req) {
                Err(refused) => Run::Answered(Some(limits::limited(refused))),
                Ok(admitted) => match catch_unwind(AssertUnwindSafe(|| self.inner.call(req))) {
                    Ok(inner) => Run::Handling {
                        inner,
                        timer: None,
                        admitted: Some(admitted),
                    },
                    Err(_) => Run::Answered(Some(panicked())),
                },
            }
        };
        EdgeFuture {
            run,
            done: Some(Done {
                state: s.clone(),
                start,
                deadline: start + limit,
                route,
                method,
                request_id,
                span,
                shed: !entered,
            }),
            counted: entered,
        }
    }
}

/// A request going through the edge: the route's own future, polled in place.
pub struct EdgeFuture<F> {
    run: Run<F>,
    /// What the answer needs once it is ready; taken then.
    done: Option<Done>,
    /// Whether this request is counted in flight (and not yet counted out).
    counted: bool,
}

enum Run<F> {
    /// Shed or rate-limited: answered before the route ran.
    Answered(Option<Response>),
    Handling {
        inner: F,
        /// Armed only if the route did not finish in its first poll.
        timer: Option<Pin<Box<tokio::time::Sleep>>>,
        admitted: Option<Admitted>,
    },
}

struct Done {
    state: AppState,
    start: Instant,
    deadline: Instant,
    route: Option<MatchedPath>,
    method: Method,
    request_id: HeaderValue,
    span: tracing::Span,
    shed: bool,
}

impl<F> Future for EdgeFuture<F>
where
    F: Future<Output = Result<Response, Infallible>> + Unpin,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(done) = this.done.take() else {
            // Polled after completion: a caller's bug, answered rather than panicking.
            return Poll::Ready(Ok(ApiError::Internal(anyhow::anyhow!(
                "edge polled after completion"
            ))
            .into_response()));
        };
        let (mut resp, admitted) = match &mut this.run {
            // Always `Some` here: it is only emptied when the answer is given, with `done`.
            Run::Answered(r) => (
                r.take().unwrap_or_else(|| {
                    ApiError::Internal(anyhow::anyhow!("edge answer taken twice")).into_response()
                }),
                None,
            ),
            Run::Handling {
                inner,
                timer,
                admitted,
            } => {
                let polled = {
                    let _g = done.span.enter();
                    catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll(cx)))
                };
                match polled {
                    Ok(Poll::Ready(Ok(r))) => (r, admitted.take()),
                    Err(_) => (panicked(), admitted.take()),
                    Ok(Poll::Pending) => {
                        let timer = timer.get_or_insert_with(|| {
                            Box::pin(tokio::time::sleep_until(done.deadline.into()))
                        });
                        if timer.as_mut().poll(cx).is_pending() {
                            this.done = Some(done);
                            return Poll::Pending;
                        }
                        (ApiError::Timeout.into_response(), admitted.take())
                    }
                }
            }
        };
        // The route's future is no longer needed: drop it now (a timed-out handler stops here).
        this.run = Run::Answered(None);
        if this.counted {
            this.counted = false;
            done.state.edge.leave();
        }
        if let Some(a) = admitted {
            a.finish(&done.state, &mut resp);
        }
        Poll::Ready(Ok(done.finish(resp)))
    }
}

impl<F> Drop for EdgeFuture<F> {
    fn drop(&mut self) {
        // A request dropped unanswered (the client went away) leaves the in-flight count too.
        if self.counted {
            if let Some(d) = &self.done {
                d.state.edge.leave();
            }
        }
    }
}

impl Done {
    /// The security headers, the log line and the metrics of an answer.
    fn finish(self, mut resp: Response) -> Response {
        let headers = resp.headers_mut();
        headers.reserve(6);
        headers.insert(REQUEST_ID, self.request_id);
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
        let edge = &self.state.edge;
        if edge.hsts {
            headers.insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=31536000; includeSubDomains"),
            );
        }

        let status = resp.status();
        let elapsed = self.start.elapsed();
        self.span.in_scope(|| {
            // A shed request is counted, not logged: under overload an error line per refused
            // request would add to the load it reports.
            if status.is_server_error() && !self.shed {
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
        let route = self.route.as_ref().map_or("unmatched", MatchedPath::as_str);
        edge.metrics.record(route, &self.method, status, elapsed);
        resp
    }
}

/// A handler that panicked: a 500 problem, which the edge then logs and counts like any other.
fn panicked() -> Response {
    ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()
}

/// A fresh UUID v4, formatted on the stack.
fn new_request_id() -> HeaderValue {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
    HeaderValue::from_str(id).unwrap_or(HeaderValue::from_static("-"))
}

/// Per-route metric handles, resolved on a route's first request. Going through the registry
/// each time meant allocating the three labels and hashing them on every request.
///
/// Read without a lock: the table is copied on the rare write (a route's first answer with a new
/// method and status), so a request writes no memory that the other cores' requests also write
/// (a read lock's counter is such memory: it moved between the cores on every request).
#[derive(Default)]
struct RequestMetrics {
    routes: arc_swap::ArcSwap<RouteTable>,
}

/// Keyed by route template (ours, never a client's string), hence the fast unkeyed hasher.
type RouteTable = HashMap<Box<str>, RouteMetrics, foldhash::fast::FixedState>;

/// Our own histogram and counters, not the exporter's (see [`histogram`] and [`crate::telemetry::counter`]):
/// nothing here is written by more than one core. Rendered by [`Edge::render`].
#[derive(Clone)]
struct RouteMetrics {
    duration: Arc<Histogram>,
    /// By method and status: a handful per route, so a list.
    requests: Vec<(&'static str, StatusCode, Arc<ShardedCounter>)>,
}

impl RouteMetrics {
    fn find(&self, method: &str, status: StatusCode) -> Option<&Arc<ShardedCounter>> {
        self.requests
            .iter()
            .find(|(m, st, _)| *m == method && *st == status)
            .map(|(_, _, c)| c)
    }
}

impl RequestMetrics {
    fn record(&self, route: &str, method: &Method, status: StatusCode, elapsed: Duration) {
        // Only the standard methods get their own label: any other token a client sends counts
        // as "other", so clients cannot create series at will.
        let method = method_label(method);
        {
            let routes = self.routes.load();
            if let Some(r) = routes.get(route) {
                if let Some(c) = r.find(method, status) {
                    r.duration.record(elapsed);
                    c.increment();
                    return;
                }
            }
        }
        // First answer of its kind: copy the table with the new handles in it. `rcu` retries if
        // another request changed the table meanwhile; the registry hands out the same handles
        // for the same labels, so a retry creates no second series.
        let mut handles = None;
        self.routes.rcu(|routes| {
            let mut routes = RouteTable::clone(routes);
            let r = routes.entry(route.into()).or_insert_with(|| RouteMetrics {
                duration: Arc::default(),
                requests: Vec::new(),
            });
            let c = match r.find(method, status) {
                Some(c) => c.clone(),
                None => {
                    // If `rcu` retries, this table is dropped and the new counter with it: only
                    // the installed table's counters are ever incremented.
                    let c = Arc::new(ShardedCounter::default());
                    r.requests.push((method, status, c.clone()));
                    c
                }
            };
            handles = Some((r.duration.clone(), c));
            routes
        });
        if let Some((duration, c)) = handles {
            duration.record(elapsed);
            c.increment();
        }
    }
}

impl Edge {
    /// Appends this instance's request metrics to the Prometheus text of `/metrics`:
    /// `trustdesk_http_requests_total` (by route template, method and status) and
    /// `trustdesk_http_request_duration_seconds` (one histogram per route template).
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write as _;
        let routes = self.metrics.routes.load();
        let mut by_route: Vec<(&str, &RouteMetrics)> =
            routes.iter().map(|(name, r)| (&**name, r)).collect();
        if by_route.is_empty() {
            return;
        }
        by_route.sort_unstable_by_key(|(name, _)| *name);
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        const REQUESTS: &str = "trustdesk_http_requests_total";
        let _ = writeln!(out, "# TYPE {REQUESTS} counter");
        for (name, r) in &by_route {
            let route = histogram::label_value(name);
            let mut series: Vec<_> = r.requests.iter().collect();
            series.sort_unstable_by_key(|(m, st, _)| (*m, st.as_u16()));
            for (method, status, c) in series {
                let _ = writeln!(
                    out,
                    "{REQUESTS}{{route=\"{route}\",method=\"{method}\",status=\"{}\"}} {}",
                    status.as_u16(),
                    c.get()
                );
            }
        }
        const DURATIONS: &str = "trustdesk_http_request_duration_seconds";
        let _ = writeln!(out, "# TYPE {DURATIONS} histogram");
        for (name, r) in by_route {
            let labels = format!("route=\"{}\"", histogram::label_value(name));
            r.duration.render(out, DURATIONS, &labels);
        }
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

    /// The copy-on-write table: a new kind of answer is added without losing the ones before it,
    /// and a kind seen before is found on the lock-free read.
    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn request_metrics_keep_every_route_method_and_status_seen() {
        let m = RequestMetrics::default();
        m.record("/v1/verify", &Method::POST, StatusCode::OK, MS);
        m.record("/v1/verify", &Method::POST, StatusCode::BAD_REQUEST, MS);
        m.record("/healthz", &Method::GET, StatusCode::OK, MS);
        m.record("/v1/verify", &Method::POST, StatusCode::OK, MS);
        let table = m.routes.load();
        let verify = table.get("/v1/verify").expect("route kept");
        assert_eq!(verify.requests.len(), 2, "one entry per method and status");
        assert!(verify.find("POST", StatusCode::OK).is_some());
        assert!(verify.find("POST", StatusCode::BAD_REQUEST).is_some());
        assert!(verify.find("GET", StatusCode::OK).is_none());
        assert!(table
            .get("/healthz")
            .and_then(|r| r.find("GET", StatusCode::OK))
            .is_some());
        assert_eq!(table.len(), 2);
        // Every answer is timed in its route's histogram, whatever its method and status.
        assert_eq!(verify.duration.snapshot().count, 3);
    }

    #[test]
    fn requests_and_durations_render_once_per_metric_by_route() {
        let edge = Edge::new(8, false);
        let mut out = String::new();
        edge.render(&mut out);
        assert_eq!(out, "", "nothing before the first request");
        edge.metrics
            .record("/v1/verify", &Method::POST, StatusCode::OK, MS);
        edge.metrics
            .record("/v1/verify", &Method::POST, StatusCode::OK, MS);
        edge.metrics
            .record("/v1/verify", &Method::POST, StatusCode::BAD_REQUEST, MS);
        edge.metrics
            .record("/v/{token}", &Method::GET, StatusCode::OK, MS * 30);
        let mut out = String::from("trustdesk_verdicts_total{verdict=\"genuine\"} 1");
        edge.render(&mut out);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[1], "# TYPE trustdesk_http_requests_total counter");
        assert_eq!(
            &lines[2..5],
            [
                r#"trustdesk_http_requests_total{route="/v/{token}",method="GET",status="200"} 1"#,
                r#"trustdesk_http_requests_total{route="/v1/verify",method="POST",status="200"} 2"#,
                r#"trustdesk_http_requests_total{route="/v1/verify",method="POST",status="400"} 1"#,
            ]
        );
        assert_eq!(
            lines[5],
            "# TYPE trustdesk_http_request_duration_seconds histogram"
        );
        assert_eq!(
            out.matches("# TYPE").count(),
            2,
            "one TYPE line per metric, for all routes"
        );
        assert!(lines.contains(
            &r#"trustdesk_http_request_duration_seconds_bucket{route="/v1/verify",le="0.001"} 3"#
        ));
        assert!(lines.contains(
            &r#"trustdesk_http_request_duration_seconds_bucket{route="/v/{token}",le="0.025"} 0"#
        ));
        assert!(lines
            .contains(&r#"trustdesk_http_request_duration_seconds_count{route="/v/{token}"} 1"#));
    }

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

    type BoxedAnswer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    /// The edge around `inner` on a real app state (SQLite in a temporary directory), allowing
    /// one request in flight and a 1 s request timeout.
    async fn edge_around<F>(
        inner: F,
    ) -> (
        tempfile::TempDir,
        impl Service<Request, Response = Response, Error = Infallible, Future: Unpin> + Clone + Send,
    )
    where
        F: FnMut(Request) -> BoxedAnswer + Clone + Send + 'static,
    {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = crate::config::Config::for_dir(dir.path());
        config.max_concurrent_requests = 1;
        config.request_timeout_secs = 1;
        let app = crate::app::App::build(config).await.expect("app");
        let svc = EdgeLayer(app.state().clone()).layer(tower::service_fn(inner));
        (dir, svc)
    }

    fn get() -> Request {
        Request::get("/x")
            .body(axum::body::Body::empty())
            .expect("request")
    }

    async fn answer(
        svc: &mut (impl Service<Request, Response = Response, Error = Infallible> + Send),
    ) -> Response {
        use tower::ServiceExt;
        match svc.ready().await {
            Ok(s) => match s.call(get()).await {
                Ok(r) => r,
                Err(e) => match e {},
            },
            Err(e) => match e {},
        }
    }

    #[tokio::test]
    async fn a_panicking_handler_is_a_500_problem_and_frees_its_slot() {
        let calls = std::sync::Arc::new(AtomicUsize::new(0));
        let (_dir, mut svc) = edge_around(move |_req: Request| -> BoxedAnswer {
            // Alternately while the route is called and while its future is polled.
            if calls.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
                panic!("boom in call");
            }
            Box::pin(async move { panic!("boom in poll") })
        })
        .await;
        for _ in 0..4 {
            let r = answer(&mut svc).await;
            // Not 503: the slot of the panicked request was given back.
            assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(r.headers()["x-content-type-options"], "nosniff");
            assert!(r.headers().contains_key("x-request-id"));
            let body = axum::body::to_bytes(r.into_body(), 4096)
                .await
                .expect("body");
            let v: serde_json::Value = serde_json::from_slice(&body).expect("problem json");
            assert_eq!(v["code"], "internal");
            assert!(
                !String::from_utf8_lossy(&body).contains("boom"),
                "no internals"
            );
        }
    }

    #[tokio::test]
    async fn a_request_dropped_unanswered_frees_its_slot_and_a_slow_one_times_out() {
        let (_dir, mut svc) = edge_around(|_req: Request| -> BoxedAnswer {
            Box::pin(async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(Response::new(axum::body::Body::empty()))
            })
        })
        .await;
        // The only slot is taken while this request waits.
        let mut first = Box::pin(answer(&mut svc));
        let polled = futures_util_poll_once(first.as_mut()).await;
        assert!(polled.is_none(), "the slow handler is still running");
        drop(first);
        // The client went away: its slot is free again, and a request that runs past the
        // timeout is answered 408 after about a second.
        let started = std::time::Instant::now();
        let r = answer(&mut svc).await;
        assert_eq!(r.status(), StatusCode::REQUEST_TIMEOUT);
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(900) && waited < Duration::from_secs(10),
            "{waited:?}"
        );
    }

    /// Polls a future once: its output if it was ready.
    async fn futures_util_poll_once<F: Future + Unpin>(f: F) -> Option<F::Output> {
        let mut f = f;
        std::future::poll_fn(|cx| {
            Poll::Ready(match Pin::new(&mut f).poll(cx) {
                Poll::Ready(v) => Some(v),
                Poll::Pending => None,
            })
        })
        .await
    }

    #[tokio::test]
    async fn past_the_in_flight_bound_a_request_is_shed_without_running() {
        let ran = std::sync::Arc::new(AtomicUsize::new(0));
        let counter = ran.clone();
        let (_dir, svc) = edge_around(move |_req: Request| -> BoxedAnswer {
            counter.fetch_add(1, Ordering::SeqCst);
            Box::pin(async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(Response::new(axum::body::Body::empty()))
            })
        })
        .await;
        let mut a = svc.clone();
        let mut b = svc;
        let mut first = Box::pin(answer(&mut a));
        assert!(futures_util_poll_once(first.as_mut()).await.is_none());
        let r = answer(&mut b).await;
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            ran.load(Ordering::SeqCst),
            1,
            "the shed request never reached its handler"
        );
        drop(first);
    }
}
