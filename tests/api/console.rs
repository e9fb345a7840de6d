//! The web console over HTTP: API key sign-in for a cookie, CSRF on every form, the agent
//! console issuing and revoking sessions, the security queue, report detail with evidence
//! previews, and the admin audit view. (Real-browser flows are in tests/browser.)

use reqwest::redirect::Policy;
use serde_json::json;
use trustdesk::types::Role;

use crate::helpers::{json, png, spawn_app, spawn_app_with, TestApp};

/// A browser-like client: keeps cookies, does not follow redirects.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// The value of the first `name="csrf"` hidden field of a page.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..at + html[at..].find('"').unwrap()].to_owned()
}

async fn page(c: &reqwest::Client, app: &TestApp, path: &str) -> (u16, String) {
    let r = c.get(app.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn post_form(
    c: &reqwest::Client,
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    c.post(app.url(path)).form(form).send().await.unwrap()
}

/// The (unescaped) `value` attribute of the first element after `marker`.
fn value_after(html: &str, marker: &str) -> String {
    let from = html.find(marker).expect("marker");
    let at = from + html[from..].find("value=\"").expect("value") + 7;
    html[at..at + html[at..].find('"').unwrap()]
        .replace("&#x2f;", "/")
        .replace("&#x3d;", "=")
        .replace("&amp;", "&")
}

/// Signs in with `key` and returns the console's CSRF token.
async fn sign_in(c: &reqwest::Client, app: &TestApp, key: &str) -> String {
    let (_, html) = page(c, app, "/console/login").await;
    let r = post_form(
        c,
        app,
        "/console/login",
        &[("key", key), ("csrf", &csrf_of(&html))],
    )
    .await;
    assert_eq!(r.status(), 303, "sign-in redirects");
    let (status, html) = page(c, app, "/console").await;
    assert_eq!(status, 200);
    csrf_of(&html)
}

#[tokio::test]
async fn sign_in_exchanges_a_key_for_a_strict_http_only_cookie_and_refuses_bad_keys() {
    let app = spawn_app().await;
    let c = browser();
    let r = c.get(app.url("/console")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/console/login");

    let (_, html) = page(&c, &app, "/console/login").await;
    let token = csrf_of(&html);
    // A wrong key: the form again, with an error, and no session.
    let r = post_form(
        &c,
        &app,
        "/console/login",
        &[("key", "tdk_nope"), ("csrf", &token)],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("not valid"));
    // A forged sign-in form (no matching login cookie) is refused.
    let other = browser();
    let r = post_form(
        &other,
        &app,
        "/console/login",
        &[("key", &app.admin_key), ("csrf", &token)],
    )
    .await;
    assert_eq!(r.status(), 403);

    let (_, html) = page(&c, &app, "/console/login").await;
    let r = post_form(
        &c,
        &app,
        "/console/login",
        &[("key", &app.admin_key), ("csrf", &csrf_of(&html))],
    )
    .await;
    assert_eq!(r.status(), 303);
    let set: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session = set
        .iter()
        .find(|c| c.starts_with("td_console="))
        .expect("session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Strict"),
        "{session}"
    );
    assert!(
        !session.contains("tdk_"),
        "the API key never goes into the cookie"
    );
    let (status, html) = page(&c, &app, "/console").await;
    assert_eq!(status, 200);
    assert!(html.contains("Security console"));

    // Sign-out needs the CSRF token, and ends the session server-side.
    let r = post_form(&c, &app, "/console/logout", &[("csrf", "wrong")]).await;
    assert_eq!(r.status(), 403);
    let r = post_form(&c, &app, "/console/logout", &[("csrf", &csrf_of(&html))]).await;
    assert_eq!(r.status(), 303);
    let r = c.get(app.url("/console")).send().await.unwrap();
    assert_eq!(r.status(), 303, "signed out");
}

#[tokio::test]
async fn over_https_the_cookie_is_secure_and_host_prefixed() {
    let app = spawn_app_with(|c| c.public_base_url = "https://desk.example".into()).await;
    let c = browser();
    let (_, html) = page(&c, &app, "/console/login").await;
    // The login cookie is Secure too, so a plain-HTTP client cannot send it back: read it.
    let r = c.get(app.url("/console/login")).send().await.unwrap();
    let login_cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(login_cookie.contains("Secure"), "{login_cookie}");
    let value = login_cookie.split(';').next().unwrap().to_owned();
    let token = csrf_of(&r.text().await.unwrap());
    let _ = html;
    let r = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
        .post(app.url("/console/login"))
        .header("cookie", value)
        .form(&[("key", app.admin_key.as_str()), ("csrf", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let set = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("__Host-td_console="))
        .expect("__Host- cookie");
    assert!(
        set.contains("Secure") && set.contains("Path=/") && !set.contains("Domain"),
        "{set}"
    );
}

#[tokio::test]
async fn the_agent_console_issues_a_verifiable_link_and_revokes_it() {
    let app = spawn_app().await;
    let agent = app.agent_with_channel("Alice", "@acme_support").await;
    let c = browser();
    let csrf = sign_in(&c, &app, &agent.key).await;
    let (_, html) = page(&c, &app, "/console?lang=zh-CN").await;
    assert!(
        html.contains("客服控制台") && html.contains("telegram:acme_support"),
        "{html}"
    );

    // Without the CSRF token: refused, nothing issued.
    let r = post_form(
        &c,
        &app,
        "/console/sessions",
        &[("channel", "telegram:acme_support"), ("csrf", "x")],
    )
    .await;
    assert_eq!(r.status(), 403);
    // Another agent's channel cannot be used.
    app.create_staff("Bob", Role::Agent).await;
    let r = post_form(
        &c,
        &app,
        "/console/sessions",
        &[
            ("channel", "telegram:acme_support"),
            ("user_ref", "UID-99887766"),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let link = value_after(&html, "id=\"issued-link\"");
    assert!(
        html.contains("id=\"issued-code\"") && html.contains("我是官方客服 Alice"),
        "{html}"
    );
    let token = link.rsplit('/').next().unwrap().to_owned();
    let v = app.verdict_of(&token).await;
    assert_eq!(v["verdict"], "genuine", "{link} {token}");
    assert_eq!(v["session"]["user_ref_last4"], "7766");

    // Listed with its remaining time, then revoked from the console.
    let (_, html) = page(&c, &app, "/console").await;
    assert!(html.contains("Remaining"), "{html}");
    let id = v["session"]["session_id"].as_str().unwrap();
    let r = post_form(
        &c,
        &app,
        &format!("/console/sessions/{id}/revoke"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.verdict_of(&token).await["verdict"], "revoked");
    // An agent has no security console.
    let (status, _) = page(&c, &app, "/console/audit").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn the_security_console_claims_previews_evidence_moves_and_resolves() {
    let app = spawn_app().await;
    let sec = app.create_staff("Sec", Role::Security).await;
    let report = json!({"category": "impersonation", "description": "fake agent",
        "scam_channel": {"kind": "telegram", "handle": "@acme_fake_help"}});
    let r = app
        .submit_report(&report, &[("shot.png", png(2048))], None)
        .await;
    let filed = json(r).await;
    let id = filed["id"].as_str().unwrap().to_owned();
    let receipt = filed["receipt"].as_str().unwrap().to_owned();

    let c = browser();
    let csrf = sign_in(&c, &app, &sec.key).await;
    // Detail page: fields, an inline image preview, workflow buttons.
    let (status, html) = page(&c, &app, &format!("/console/reports/{id}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("acme_fake_help") && html.contains("<img src="),
        "{html}"
    );
    let img = c
        .get(app.url(&format!("/console/reports/{id}/attachments/0")))
        .send()
        .await
        .unwrap();
    assert_eq!(img.status(), 200);
    assert_eq!(img.headers()["content-type"], "image/png");
    assert_eq!(img.headers()["x-content-type-options"], "nosniff");
    assert!(img.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("sandbox"));
    assert_eq!(img.bytes().await.unwrap().len(), 2048);

    for to in ["triaged", "investigating", "confirmed_fraud"] {
        let r = post_form(
            &c,
            &app,
            &format!("/console/reports/{id}/transition"),
            &[
                ("to", to),
                ("reason", "checked"),
                ("public_note", ""),
                ("csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(r.status(), 303, "{to}");
    }
    let r = post_form(
        &c,
        &app,
        &format!("/console/reports/{id}/transition"),
        &[("to", "resolved"), ("reason", "x"), ("csrf", "forged")],
    )
    .await;
    assert_eq!(r.status(), 403, "CSRF");

    // Queue: claim, heartbeat, resolve.
    let (_, html) = page(&c, &app, "/console").await;
    assert!(html.contains(&id), "queued: {html}");
    let r = post_form(&c, &app, "/console/escalations/claim", &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 303);
    let (_, html) = page(&c, &app, "/console").await;
    let at = html.find("id=\"held-").expect("held item") + 9;
    let eid = html[at..at + html[at..].find('"').unwrap()].to_owned();
    let r = post_form(
        &c,
        &app,
        &format!("/console/escalations/{eid}"),
        &[("action", "heartbeat"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), 303);
    let r = post_form(
        &c,
        &app,
        &format!("/console/escalations/{eid}"),
        &[
            ("action", "resolve"),
            ("outcome", "handle_blocklisted"),
            ("note", "reported to Telegram"),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let e = app.store.escalation_by_id(&eid).await.unwrap().unwrap();
    assert_eq!(
        (e.state.as_str(), e.outcome.as_deref()),
        ("resolved", Some("handle_blocklisted"))
    );

    // The victim sees the change with the receipt.
    let v = json(app.report_status(&id, &receipt).await).await;
    assert_eq!(v["status"], "confirmed_fraud");

    // Admins see the audit trail and whether it verifies; security staff do not.
    assert_eq!(page(&c, &app, "/console/audit").await.0, 403);
    let admin = browser();
    sign_in(&admin, &app, &app.admin_key).await;
    let (status, html) = page(&admin, &app, "/console/audit").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Chain verifies") && html.contains("escalation.resolve"),
        "{html}"
    );
}

#[tokio::test]
async fn security_staff_see_victims_ratings_per_category_and_month_agents_do_not() {
    let app = spawn_app().await;
    let sec = app.create_staff("Sec", Role::Security).await;
    let agent = app.create_staff("Agent", Role::Agent).await;
    let filed = json(
        app.submit_report(
            &json!({"category": "phishing_link", "description": "fake site"}),
            &[],
            None,
        )
        .await,
    )
    .await;
    let (id, receipt) = (
        filed["id"].as_str().unwrap(),
        filed["receipt"].as_str().unwrap(),
    );
    let r = app
        .client
        .post(app.url(&format!("/v1/reports/{id}/transition")))
        .bearer_auth(&sec.key)
        .json(&json!({"to": "dismissed", "reason": "no loss"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .client
        .post(app.url(&format!("/v1/reports/{id}/rating")))
        .bearer_auth(receipt)
        .json(&json!({"rating": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let c = browser();
    sign_in(&c, &app, &sec.key).await;
    let (status, html) = page(&c, &app, "/console/ratings").await;
    assert_eq!(status, 200);
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    assert!(
        html.contains(&month) && html.contains("phishing_link") && html.contains("3.00 / 5"),
        "{html}"
    );
    let a = browser();
    sign_in(&a, &app, &agent.key).await;
    assert_eq!(page(&a, &app, "/console/ratings").await.0, 403);
}
