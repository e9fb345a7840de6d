//! Malformed input on every endpoint gets a 4xx problem with a stable code; nothing panics.

use reqwest::Method;

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn broken_bodies_get_problem_responses_on_every_json_endpoint() {
    let app = spawn_app().await;
    let agent = app.agent_with_channel("Alice", "@acme_support").await;
    let endpoints = [
        ("/v1/verify", None),
        ("/v1/sessions", Some(agent.key.clone())),
        ("/v1/channels", Some(app.admin_key.clone())),
    ];
    for (path, key) in endpoints {
        let cases: Vec<(Vec<u8>, &str, u16, &str, &str)> = vec![
            (
                b"{not json".to_vec(),
                "application/json",
                400,
                "invalid_json",
                "syntax error",
            ),
            (
                b"[]".to_vec(),
                "application/json",
                400,
                "invalid_body",
                "wrong JSON type",
            ),
            (
                b"{}".to_vec(),
                "application/json",
                400,
                "invalid_body",
                "missing fields",
            ),
            (
                br#"{"input":"x","channel":1,"kind":"x","value":"y","extra":true}"#.to_vec(),
                "application/json",
                400,
                "invalid_body",
                "unknown field",
            ),
            (
                b"input=x".to_vec(),
                "application/x-www-form-urlencoded",
                415,
                "unsupported_media_type",
                "form body",
            ),
            (
                vec![0xff, 0xfe, 0x00],
                "application/json",
                400,
                "invalid_json",
                "binary garbage",
            ),
            (
                vec![b' '; 200_000],
                "application/json",
                413,
                "payload_too_large",
                "oversized body",
            ),
        ];
        for (body, ct, status, code, why) in cases {
            let mut req = app
                .client
                .post(app.url(path))
                .header("content-type", ct)
                .body(body);
            if let Some(k) = &key {
                req = req.bearer_auth(k);
            }
            let r = req.send().await.unwrap();
            assert_problem(r, status, code, &format!("{path}: {why}")).await;
        }
    }
}

#[tokio::test]
async fn verify_input_over_the_limit_is_refused() {
    let app = spawn_app().await;
    let r = app.verify(&"v".repeat(20_000)).await;
    assert_problem(r, 400, "input_too_long", "long input").await;
    // A giant token in the identity link path is a malformed verdict page, not a crash.
    let r = app.get(&format!("/v/v4.public.{}", "A".repeat(9000))).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("NOT VERIFIABLE"));
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems_too() {
    let app = spawn_app().await;
    assert_problem(app.get("/nope").await, 404, "not_found", "unknown route").await;
    let r = app
        .client
        .request(Method::DELETE, app.url("/v1/verify"))
        .send()
        .await
        .unwrap();
    assert_problem(r, 405, "method_not_allowed", "wrong method").await;
    let r = app
        .client
        .request(Method::PUT, app.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_problem(r, 405, "method_not_allowed", "wrong method on ops").await;
}

#[tokio::test]
async fn hostile_path_and_query_values_do_not_crash_anything() {
    let app = spawn_app().await;
    for path in [
        "/v/%00%01%02",
        "/v/..%2F..%2Fetc%2Fpasswd",
        "/v/v4.public.",
        "/v/%F0%9F%92%A9",
        "/v1/channels/check?kind=%00&value=%00",
        "/v1/channels/check?kind=website&value=http%3A%2F%2F%5B%3A%3A1%5D%3A99999",
        "/v1/channels/check?kind=email&value=%40%40%40",
    ] {
        let r = app.get(path).await;
        assert!(
            r.status().is_success() || r.status().is_client_error(),
            "{path}: {}",
            r.status()
        );
    }
    assert_eq!(app.get("/healthz").await.status(), 200, "still alive");
}
