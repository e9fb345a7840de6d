//! Rate limits and request hardening on a real server.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{json, spawn_app_with, TestApp};

fn report() -> serde_json::Value {
    json!({"category": "other", "description": "spam test"})
}

/// A client bound to a given loopback source address (127.0.0.2 is a different client).
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn submit_as(
    app: &TestApp,
    client: &reqwest::Client,
    xff: Option<&str>,
) -> reqwest::Response {
    let form = reqwest::multipart::Form::new().part(
        "report",
        reqwest::multipart::Part::text(report().to_string()),
    );
    let mut req = client.post(app.url("/v1/reports")).multipart(form);
    if let Some(x) = xff {
        req = req.header("x-forwarded-for", x);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn a_flooding_client_is_limited_while_another_is_served() {
    let app = spawn_app_with(|c| c.rate_limits = "report_submit=3/1h".into()).await;
    let flooder = client_from("127.0.0.1");
    for i in 0..3 {
        let r = submit_as(&app, &flooder, None).await;
        assert_eq!(r.status(), 201, "within burst #{i}");
        assert!(
            r.headers().contains_key("ratelimit"),
            "RateLimit header on success"
        );
        assert!(r.headers()["ratelimit-policy"]
            .to_str()
            .unwrap()
            .contains("report_submit"));
    }
    let r = submit_as(&app, &flooder, None).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (3500..=3600).contains(&retry),
        "burst 3, then one per hour: {retry}"
    );
    assert!(r.headers()["ratelimit"].to_str().unwrap().contains("r=0"));
    assert_eq!(json(r).await["code"], "rate_limited");

    let other = client_from("127.0.0.2");
    assert_eq!(
        submit_as(&app, &other, None).await.status(),
        201,
        "a second client is still served"
    );
    // Verification has its own, separate budget.
    let v = flooder
        .post(app.url("/v1/verify"))
        .json(&json!({"input": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(v.status(), 200);
}

#[tokio::test]
async fn waiting_for_retry_after_is_enough() {
    let app = spawn_app_with(|c| c.rate_limits = "report_submit=1/2s".into()).await;
    let c = client_from("127.0.0.1");
    assert_eq!(submit_as(&app, &c, None).await.status(), 201);
    let r = submit_as(&app, &c, None).await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry));
    tokio::time::sleep(Duration::from_secs(retry)).await;
    assert_eq!(
        submit_as(&app, &c, None).await.status(),
        201,
        "after Retry-After"
    );
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    // Behind a trusted proxy (loopback here), each forwarded client has its own budget.
    let app = spawn_app_with(|c| {
        c.rate_limits = "report_submit=1/1h".into();
        c.trusted_proxies = "127.0.0.1".into();
    })
    .await;
    let proxy = client_from("127.0.0.1");
    assert_eq!(
        submit_as(&app, &proxy, Some("203.0.113.5")).await.status(),
        201
    );
    assert_eq!(
        submit_as(&app, &proxy, Some("203.0.113.5")).await.status(),
        429
    );
    assert_eq!(
        submit_as(&app, &proxy, Some("203.0.113.6")).await.status(),
        201,
        "another client behind the proxy"
    );
    assert_eq!(
        submit_as(&app, &proxy, Some("2001:db8:1:2::1"))
            .await
            .status(),
        201
    );
    assert_eq!(
        submit_as(&app, &proxy, Some("2001:db8:1:2::ffff"))
            .await
            .status(),
        429,
        "same IPv6 /64"
    );

    // Without trust, the header is ignored: rotating it does not escape the limit.
    let app = spawn_app_with(|c| c.rate_limits = "report_submit=1/1h".into()).await;
    let c = client_from("127.0.0.1");
    assert_eq!(submit_as(&app, &c, Some("203.0.113.5")).await.status(), 201);
    assert_eq!(
        submit_as(&app, &c, Some("203.0.113.99")).await.status(),
        429,
        "spoofed header ignored"
    );
}

#[tokio::test]
async fn receipt_guessing_is_locked_out_even_for_the_right_receipt() {
    let app = spawn_app_with(|c| c.rate_limits = "auth_failure=3/1h".into()).await;
    let b = json(app.submit_report(&report(), &[], None).await).await;
    let id = b["id"].as_str().unwrap();
    for _ in 0..3 {
        assert_eq!(app.report_status(id, "tdr_guess").await.status(), 404);
    }
    let r = app.report_status(id, "tdr_guess").await;
    assert_eq!(
        r.status(),
        404,
        "the failure that exhausts the budget still answers normally"
    );
    let r = app.report_status(id, b["receipt"].as_str().unwrap()).await;
    assert_eq!(
        r.status(),
        429,
        "locked out: even a correct receipt is not checked"
    );
    assert!(r.headers().contains_key("retry-after"));
    // Another client is unaffected.
    let other = client_from("127.0.0.2");
    let r = other
        .get(app.url(&format!("/v1/reports/{id}")))
        .bearer_auth(b["receipt"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn api_key_and_session_code_guessing_are_locked_out() {
    let app = spawn_app_with(|c| c.rate_limits = "auth_failure=2/1h".into()).await;
    for _ in 0..3 {
        let r = app
            .client
            .get(app.url("/v1/sessions"))
            .bearer_auth("tdk_guessguessguess")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = app.get_admin("/v1/channels").await;
    assert_eq!(
        r.status(),
        429,
        "the guessing client is locked out of staff routes"
    );

    let other = client_from("127.0.0.2");
    for _ in 0..3 {
        let r = other
            .post(app.url("/v1/verify"))
            .json(&json!({"input": "ZZZZ-ZZZZ-ZZ"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = other
        .post(app.url("/v1/verify"))
        .json(&json!({"input": "ZZZZ-ZZZZ-Z1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429, "session-code guessing locked out");
    let r = other.head(app.url("/v/ZZZZ-ZZZZ-Z2")).send().await.unwrap();
    assert_eq!(
        r.status(),
        429,
        "HEAD on an identity link is the same class, also locked out"
    );
}

#[tokio::test]
async fn slow_requests_are_cut_off() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app_with(|c| c.request_timeout_secs = 1).await;
    // A body that starts arriving and then stalls: the writer stays open, sending nothing.
    let (mut writer, reader) = tokio::io::duplex(64);
    writer.write_all(b"{\"input\": \"").await.unwrap();
    let started = std::time::Instant::now();
    let r = app
        .client
        .post(app.url("/v1/verify"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(
            tokio_util::io::ReaderStream::new(reader),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 408);
    assert_eq!(json(r).await["code"], "timeout");
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(writer);
}

#[tokio::test]
async fn a_client_trickling_its_headers_is_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(|c| c.header_read_timeout_secs = 1).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap(); // never finishes
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "connection still open after 10 s");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "cut off after about the header timeout"
    );
    // A well-behaved client on the same server is unaffected.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

/// The header-read timeout is one timer per connection (`http::header_timer`): each request on a
/// keep-alive connection must still get the whole timeout from the start of its own head, and a
/// trickle after several requests must still be cut off.
#[tokio::test]
async fn each_request_on_a_keep_alive_connection_gets_its_own_header_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(|c| c.header_read_timeout_secs = 1).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    // Four requests 600 ms apart: 2.4 s on one connection with a 1 s header timeout.
    for i in 0..4 {
        tokio::time::sleep(Duration::from_millis(600)).await;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("request {i}: no answer"))
            .unwrap();
        assert!(
            buf[..n].starts_with(b"HTTP/1.1 200"),
            "request {i} on the kept-alive connection: {:?}",
            String::from_utf8_lossy(&buf[..n.min(200)])
        );
    }
    // Then a trickle on the same connection is cut off about a timeout later.
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "connection still open after 10 s");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(800) && waited < Duration::from_secs(5),
        "cut off {waited:?} after the trickle began"
    );
}

#[tokio::test]
async fn past_the_concurrency_limit_requests_are_shed_with_503_not_queued() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app_with(|c| c.max_concurrent_requests = 1).await;
    let shed_series = r#"route="/healthz",method="GET",status="503""#;
    let shed_before = app
        .metric("trustdesk_http_requests_total", shed_series)
        .await;
    // One request occupies the only slot: its body never finishes.
    let (mut writer, reader) = tokio::io::duplex(64);
    writer.write_all(b"{\"input\": \"").await.unwrap();
    let c = app.client.clone();
    let url = app.url("/v1/verify");
    let held = tokio::spawn(async move {
        c.post(url)
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(
                tokio_util::io::ReaderStream::new(reader),
            ))
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Any other route, any client: shed at once.
    let r = app.get("/healthz").await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(
        r.headers().contains_key("x-request-id"),
        "a shed answer can be traced"
    );
    assert_eq!(json(r).await["code"], "overloaded");
    drop(writer);
    let _ = held.await;
    assert_eq!(
        app.get("/healthz").await.status(),
        200,
        "served again once the slot is free"
    );
    assert!(
        app.metric("trustdesk_http_requests_total", shed_series)
            .await
            >= shed_before + 1.0,
        "shed answers are counted"
    );
}

#[tokio::test]
async fn a_client_may_have_only_four_secret_checks_in_flight_until_they_answer() {
    use tokio::io::AsyncWriteExt;
    // Generous budgets: only the in-flight cap on secret-checking requests can refuse here.
    let app = spawn_app_with(|c| c.rate_limits = "verify=1000/1s".into()).await;
    // Four verifications (which check a secret: a session code) from one client, each held open
    // by a body that has not finished.
    let mut writers = Vec::new();
    let mut held = Vec::new();
    for _ in 0..4 {
        let (mut writer, reader) = tokio::io::duplex(64);
        writer.write_all(b"{\"input\": \"").await.unwrap();
        writers.push(writer);
        let c = app.client.clone();
        let url = app.url("/v1/verify");
        held.push(tokio::spawn(async move {
            c.post(url)
                .header("content-type", "application/json")
                .body(reqwest::Body::wrap_stream(
                    tokio_util::io::ReaderStream::new(reader),
                ))
                .send()
                .await
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let verify = || {
        app.client
            .post(app.url("/v1/verify"))
            .json(&json!({"input": "not a token"}))
            .send()
    };
    let r = verify().await.unwrap();
    assert_eq!(r.status(), 429, "a fifth check while four are in flight");
    assert_eq!(json(r).await["code"], "rate_limited");
    // The held requests answer; their slots are given back with their answers.
    drop(writers);
    for h in held {
        let r = h.await.unwrap().unwrap();
        assert_eq!(r.status(), 400, "an unfinished body is bad JSON");
    }
    let r = verify().await.unwrap();
    assert_eq!(r.status(), 200, "served again once the slots are free");
}
