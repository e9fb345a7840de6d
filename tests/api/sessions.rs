//! Issuing and revoking support sessions.

use serde_json::json;
use trustdesk::types::Role;

use crate::helpers::{assert_problem, json, spawn_app, spawn_app_with};

#[tokio::test]
async fn issued_session_carries_token_link_code_and_ready_messages() {
    let app = spawn_app().await;
    let agent = app.agent_with_channel("Alice Chen", "@acme_support").await;
    let r = app
        .issue_session(
            &agent.key,
            json!({"channel": {"kind": "telegram", "handle": "@ACME_support"}, "user_ref": "UID-12345678", "ttl_secs": 600}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let s = json(r).await;
    let token = s["token"].as_str().unwrap();
    assert!(token.starts_with("v4.public."));
    assert_eq!(
        s["link"],
        format!("{}/v/{token}", app.config.public_base_url)
    );
    let code = s["code"].as_str().unwrap();
    assert_eq!(code.len(), 12);
    assert_eq!(code.matches('-').count(), 2);
    assert!(s["kid"].as_str().unwrap().starts_with("k4.pid."));
    assert!(s["message"]["en"].as_str().unwrap().contains(code));
    assert!(s["message"]["zh-CN"].as_str().unwrap().contains(code));
    // The token leaks only the last 4 characters of the user reference.
    let v = app.verdict_of(token).await;
    assert_eq!(v["session"]["user_ref_last4"], "5678");
    let payload = token.split('.').nth(2).unwrap();
    assert!(!payload.contains("UID-1234"));
}

#[tokio::test]
async fn agents_can_only_use_channels_registered_for_them() {
    let app = spawn_app().await;
    let alice = app.agent_with_channel("Alice", "@acme_alice").await;
    let bob = app.agent_with_channel("Bob", "@acme_bob").await;
    // Shared channel (no agent): anyone may use it.
    assert_eq!(
        app.register_channel("email", "Support@Acme.com", None)
            .await
            .status(),
        201
    );

    let own = app
        .issue_session(
            &alice.key,
            json!({"channel": {"kind": "telegram", "handle": "acme_alice"}}),
        )
        .await;
    assert_eq!(own.status(), 201);
    let shared = app
        .issue_session(
            &bob.key,
            json!({"channel": {"kind": "email", "handle": "support@acme.com"}}),
        )
        .await;
    assert_eq!(shared.status(), 201);
    let others = app
        .issue_session(
            &alice.key,
            json!({"channel": {"kind": "telegram", "handle": "acme_bob"}}),
        )
        .await;
    assert_problem(others, 403, "forbidden", "another agent's channel").await;
    let unknown = app
        .issue_session(
            &alice.key,
            json!({"channel": {"kind": "telegram", "handle": "acme_fake"}}),
        )
        .await;
    assert_problem(unknown, 403, "forbidden", "unregistered channel").await;
}

#[tokio::test]
async fn session_requests_are_validated() {
    let app = spawn_app_with(|c| c.max_token_ttl_secs = 3600).await;
    let agent = app.agent_with_channel("Alice", "@acme_support").await;
    let cases = [
        (
            json!({"channel": {"kind": "telegram", "handle": "acme_support"}, "ttl_secs": 3601}),
            "invalid_ttl",
            "ttl above max",
        ),
        (
            json!({"channel": {"kind": "telegram", "handle": "acme_support"}, "ttl_secs": 5}),
            "invalid_ttl",
            "ttl too short",
        ),
        (
            json!({"channel": {"kind": "telegram", "handle": "acme_support"}, "user_ref": "abc"}),
            "invalid_user_ref",
            "user_ref too short",
        ),
        (
            json!({"channel": {"kind": "telegram", "handle": ""}}),
            "invalid_channel",
            "empty handle",
        ),
        (
            json!({"channel": {"kind": "fax", "handle": "123"}}),
            "invalid_body",
            "unknown kind",
        ),
        (
            json!({"channel": {"kind": "telegram", "handle": "acme_support"}, "admin": true}),
            "invalid_body",
            "unknown field",
        ),
    ];
    for (body, code, why) in cases {
        let r = app.issue_session(&agent.key, body).await;
        assert_problem(r, 400, code, why).await;
    }
}

#[tokio::test]
async fn revocation_is_seen_by_the_very_next_verify_for_token_and_code() {
    let app = spawn_app().await;
    let agent = app.agent_with_channel("Alice", "@acme_support").await;
    let s = app.new_session(&agent, "@acme_support").await;
    let sid = s["session_id"].as_str().unwrap();
    assert_eq!(
        app.verdict_of(s["token"].as_str().unwrap()).await["verdict"],
        "genuine"
    );

    let r = app.revoke(&agent.key, sid).await;
    assert_eq!(r.status(), 200);
    let body = json(r).await;
    assert_eq!(body["session_id"], sid);

    for input in [
        s["token"].as_str().unwrap(),
        s["code"].as_str().unwrap(),
        s["link"].as_str().unwrap(),
    ] {
        let v = app.verdict_of(input).await;
        assert_eq!(v["verdict"], "revoked", "{input}");
        assert!(v["report_url"].is_string());
    }
    // Revoking twice is harmless and keeps the first time.
    let again = json(app.revoke(&agent.key, sid).await).await;
    assert_eq!(again["revoked_at"], body["revoked_at"]);
}

#[tokio::test]
async fn only_the_issuing_agent_or_security_may_revoke() {
    let app = spawn_app().await;
    let alice = app.agent_with_channel("Alice", "@acme_alice").await;
    let bob = app.agent_with_channel("Bob", "@acme_bob").await;
    let sec = app.create_staff("Sec", Role::Security).await;
    let s1 = app.new_session(&alice, "@acme_alice").await;
    let s2 = app.new_session(&alice, "@acme_alice").await;

    let r = app
        .revoke(&bob.key, s1["session_id"].as_str().unwrap())
        .await;
    assert_problem(r, 403, "forbidden", "another agent").await;
    assert_eq!(
        app.verdict_of(s1["token"].as_str().unwrap()).await["verdict"],
        "genuine"
    );

    assert_eq!(
        app.revoke(&sec.key, s2["session_id"].as_str().unwrap())
            .await
            .status(),
        200
    );
    assert_eq!(
        app.verdict_of(s2["token"].as_str().unwrap()).await["verdict"],
        "revoked"
    );

    let r = app
        .revoke(&alice.key, "00000000-0000-4000-8000-000000000000")
        .await;
    assert_problem(r, 404, "session_not_found", "unknown session").await;
    let r = app.revoke(&alice.key, "not-a-uuid").await;
    assert_problem(r, 400, "invalid_session_id", "garbage id").await;
}

#[tokio::test]
async fn agent_lists_its_own_active_sessions_only() {
    let app = spawn_app().await;
    let alice = app.agent_with_channel("Alice", "@acme_alice").await;
    let bob = app.agent_with_channel("Bob", "@acme_bob").await;
    let a = app.new_session(&alice, "@acme_alice").await;
    app.new_session(&bob, "@acme_bob").await;
    app.revoke(&alice.key, a["session_id"].as_str().unwrap())
        .await;
    let r = app
        .client
        .get(app.url("/v1/sessions"))
        .bearer_auth(&alice.key)
        .send()
        .await
        .unwrap();
    let list = json(r).await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["session_id"], a["session_id"]);
    assert!(list[0]["revoked_at"].is_string());
}
