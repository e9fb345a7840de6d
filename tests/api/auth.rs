//! Every staff endpoint refuses missing and invalid keys (401) and wrong roles (403).

use reqwest::Method;
use serde_json::json;
use trustdesk::types::Role;

use crate::helpers::{assert_problem, spawn_app};

/// (method, path, body, roles allowed)
fn staff_endpoints() -> Vec<(Method, &'static str, Option<serde_json::Value>, Vec<Role>)> {
    vec![
        (
            Method::POST,
            "/v1/sessions",
            Some(json!({"channel": {"kind": "telegram", "handle": "acme_support"}})),
            vec![Role::Agent],
        ),
        (Method::GET, "/v1/sessions", None, vec![Role::Agent]),
        (
            Method::POST,
            "/v1/channels",
            Some(json!({"kind": "telegram", "value": "acme_new"})),
            vec![Role::Admin],
        ),
        (Method::GET, "/v1/channels", None, vec![Role::Admin]),
        (
            Method::DELETE,
            "/v1/channels/00000000-0000-4000-8000-000000000000",
            None,
            vec![Role::Admin],
        ),
        (Method::GET, "/v1/keys", None, vec![Role::Admin]),
        (Method::POST, "/v1/keys/rotate", None, vec![Role::Admin]),
        (
            Method::POST,
            "/v1/keys/k4.pid.x/retire",
            None,
            vec![Role::Admin],
        ),
    ]
}

#[tokio::test]
async fn missing_malformed_and_unknown_keys_get_401_with_www_authenticate() {
    let app = spawn_app().await;
    for (method, path, body, _) in staff_endpoints() {
        for (auth, code, why) in [
            (None, "missing_credentials", "no header"),
            (
                Some("Bearer tdk_notARealKeyAtAll000000000000000000000000000"),
                "invalid_credentials",
                "unknown key",
            ),
            (Some("Bearer "), "invalid_credentials", "empty key"),
            (
                Some("Basic YWRtaW46YWRtaW4="),
                "invalid_credentials",
                "wrong scheme",
            ),
            (
                Some("Bearer tdk_\u{e9}\u{e9}"),
                "invalid_credentials",
                "non-ASCII key",
            ),
        ] {
            let mut req = app.client.request(method.clone(), app.url(path));
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            if let Some(b) = &body {
                req = req.json(b);
            }
            let r = req.send().await.unwrap();
            let why = format!("{method} {path}: {why}");
            assert!(r.headers().contains_key("www-authenticate"), "{why}");
            assert_problem(r, 401, code, &why).await;
        }
    }
}

#[tokio::test]
async fn wrong_roles_get_403_and_right_roles_get_past_authorisation() {
    let app = spawn_app().await;
    let mut keys = vec![(Role::Admin, app.admin_key.clone())];
    for role in [Role::Agent, Role::Security] {
        keys.push((role, app.create_staff(&format!("{role}-1"), role).await.key));
    }
    for (method, path, body, allowed) in staff_endpoints() {
        for (role, key) in &keys {
            let mut req = app
                .client
                .request(method.clone(), app.url(path))
                .bearer_auth(key);
            if let Some(b) = &body {
                req = req.json(b);
            }
            let r = req.send().await.unwrap();
            let why = format!("{method} {path} as {role}");
            if allowed.contains(role) {
                assert_ne!(r.status(), 401, "{why}");
                assert!(
                    r.status() != 403 || path == "/v1/sessions",
                    "{why}: {}",
                    r.status()
                );
            } else {
                assert_problem(r, 403, "forbidden", &why).await;
            }
        }
    }
}

#[tokio::test]
async fn disabled_or_deleted_staff_keys_stop_working() {
    let app = spawn_app().await;
    // A key that differs from a real one by one character is rejected.
    let agent = app.create_staff("Alice", Role::Agent).await;
    let mut wrong = agent.key.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == 'A' { 'B' } else { 'A' });
    let r = app
        .client
        .get(app.url("/v1/sessions"))
        .bearer_auth(&wrong)
        .send()
        .await
        .unwrap();
    assert_problem(r, 401, "invalid_credentials", "near-miss key").await;
    let r = app
        .client
        .get(app.url("/v1/sessions"))
        .bearer_auth(&agent.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Disabling the account stops its key on the next request.
    assert!(trustdesk::staff::disable(app.store.as_ref(), "Alice")
        .await
        .unwrap());
    let r = app
        .client
        .get(app.url("/v1/sessions"))
        .bearer_auth(&agent.key)
        .send()
        .await
        .unwrap();
    assert_problem(r, 401, "invalid_credentials", "disabled account").await;
}
