//! Health, readiness, metrics, OpenAPI, request ids, security headers.

use crate::helpers::{json, spawn_app};

#[tokio::test]
async fn health_and_readiness_answer_and_every_response_has_a_request_id_and_security_headers() {
    let app = spawn_app().await;
    let r = app.get("/healthz").await;
    assert_eq!(r.status(), 200);
    for h in [
        "x-request-id",
        "x-content-type-options",
        "x-frame-options",
        "referrer-policy",
        "content-security-policy",
    ] {
        assert!(r.headers().contains_key(h), "{h}");
    }
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert_eq!(json(app.get("/readyz").await).await["status"], "ready");
    // A request id sent by a proxy is kept.
    let r = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
}

#[tokio::test]
async fn readiness_fails_with_503_when_the_database_is_gone() {
    let app = spawn_app().await;
    app.store.close().await;
    let r = app.get("/readyz").await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(
        app.get("/healthz").await.status(),
        200,
        "liveness is independent"
    );
}

#[tokio::test]
async fn metrics_count_requests_verdicts_and_sessions() {
    let app = spawn_app().await;
    let agent = app.agent_with_channel("Alice", "@acme_support").await;
    let s = app.new_session(&agent, "@acme_support").await;
    app.verdict_of(s["token"].as_str().unwrap()).await;
    app.verdict_of("nonsense").await;
    app.revoke(&agent.key, s["session_id"].as_str().unwrap())
        .await;
    let r = app.get("/metrics").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text().await.unwrap();
    for needle in [
        "trustdesk_http_requests_total",
        r#"route="/v1/verify""#,
        "trustdesk_http_request_duration_seconds",
        r#"trustdesk_verdicts_total{verdict="genuine"}"#,
        r#"trustdesk_verdicts_total{verdict="malformed"}"#,
        "trustdesk_sessions_issued_total",
        "trustdesk_sessions_revoked_total",
    ] {
        assert!(text.contains(needle), "metrics lack {needle}");
    }
    assert!(!text.contains("v4.public."), "no token in metrics");
    // This instance's request durations: both verifications, in one histogram for the route.
    assert_eq!(
        text.matches("# TYPE trustdesk_http_request_duration_seconds histogram")
            .count(),
        1
    );
    for line in [
        r#"trustdesk_http_request_duration_seconds_count{route="/v1/verify"} 2"#,
        r#"trustdesk_http_request_duration_seconds_bucket{route="/v1/verify",le="+Inf"} 2"#,
    ] {
        assert!(text.lines().any(|l| l == line), "metrics lack {line}");
    }
}

#[tokio::test]
async fn openapi_document_covers_every_endpoint_with_problem_responses() {
    let app = spawn_app().await;
    let doc = json(app.get("/openapi.json").await).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/v1/verify",
        "/v1/channels/check",
        "/v1/channels",
        "/v1/channels/{id}",
        "/v1/sessions",
        "/v1/sessions/{session_id}/revoke",
        "/.well-known/trustdesk-keys",
        "/v1/keys",
        "/v1/keys/rotate",
        "/v1/keys/{kid}/retire",
        "/healthz",
        "/readyz",
        "/metrics",
        "/v1/policies",
        "/v1/policies/{id}",
        "/v1/feeds/stix",
        "/v1/feeds/scammers",
        "/v1/reports/{id}/xarf",
        "/v1/reports/{id}/priority",
        "/v1/reports/{id}/merge",
        "/v1/escalation-rules",
    ] {
        assert!(paths.contains_key(p), "openapi lacks {p}");
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    // Every new field is described: report input, staff view, verdict and check answers.
    let schemas = &doc["components"]["schemas"];
    for (schema, field) in [
        ("ReportInput", "claimed_entity"),
        ("ReportInput", "scam_addresses"),
        ("ReportInput", "share_with_law_enforcement"),
        ("StaffReport", "confidence"),
        ("StaffReport", "fired_rules"),
        ("VerifyResponse", "report_prefill"),
        ("CheckResponse", "policy"),
        ("RuleConfig", "window_secs"),
    ] {
        assert!(
            schemas[schema]["properties"][field].is_object(),
            "openapi lacks {schema}.{field}"
        );
    }
    let verify = &doc["paths"]["/v1/verify"]["post"]["responses"];
    assert!(verify["400"]["content"]["application/problem+json"].is_object());
}

#[tokio::test]
async fn home_page_links_to_verify_check_and_report() {
    let app = spawn_app().await;
    let r = app.get("/").await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    for path in ["/verify?lang=en", "/check?lang=en", "/report?lang=en"] {
        assert!(html.contains(&format!("href=\"{path}\"")), "{path}: {html}");
    }
}

/// Evidence is served with the type recognised at intake; each such type is documented, so
/// clients (and schemathesis' content-type check, which found this gap) expect it.
#[tokio::test]
async fn openapi_documents_every_type_evidence_is_served_with() {
    let app = spawn_app().await;
    let doc = json(app.get("/openapi.json").await).await;
    let content = doc["paths"]["/v1/reports/{id}/attachments/{index}"]["get"]["responses"]["200"]
        ["content"]
        .as_object()
        .unwrap()
        .clone();
    for kind in trustdesk::reports::sniff::EvidenceType::ALL {
        let base = kind.mime().split(';').next().unwrap();
        assert!(content.contains_key(base), "{base} is not documented");
    }
    assert!(content.contains_key("application/octet-stream"));
}
