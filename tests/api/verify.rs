//! Every verdict, through `POST /v1/verify` and `GET /v/{token}`.

use serde_json::json;
use trustdesk::types::now;

use crate::helpers::{json, sign, spawn_app};

#[tokio::test]
async fn genuine_token_link_code_and_pasted_message_all_verify_with_channel_instruction() {
    let app = spawn_app().await;
    let agent = app.agent_with_channel("Alice Chen", "@Acme_Support").await;
    let s = app.new_session(&agent, "https://t.me/acme_support").await;
    let token = s["token"].as_str().unwrap();
    let inputs = [
        (token.to_owned(), "bare token"),
        (s["link"].as_str().unwrap().to_owned(), "identity link"),
        (s["code"].as_str().unwrap().to_owned(), "session code"),
        (
            s["code"].as_str().unwrap().to_lowercase().replace('-', ""),
            "code typed lower-case without dashes",
        ),
        (
            format!(
                "Hello, this is support. Please verify me: {} thanks",
                s["link"].as_str().unwrap()
            ),
            "pasted message",
        ),
    ];
    for (input, why) in inputs {
        let v = app.verdict_of(&input).await;
        assert_eq!(v["verdict"], "genuine", "{why}: {v}");
        assert_eq!(v["session"]["agent_name"], "Alice Chen", "{why}");
        assert_eq!(v["session"]["channel"]["handle"], "acme_support", "{why}");
        assert_eq!(v["session"]["session_id"], s["session_id"], "{why}");
        assert!(
            v["instruction"].as_str().unwrap().contains("@acme_support"),
            "{why}"
        );
        assert!(
            v.get("report_url").is_none(),
            "{why}: genuine offers no report link"
        );
    }
}

#[tokio::test]
async fn verdicts_speak_the_users_language() {
    let app = spawn_app().await;
    let agent = app.agent_with_channel("Li Wei", "@acme_cn").await;
    let s = app.new_session(&agent, "@acme_cn").await;
    let r = app
        .client
        .post(app.url("/v1/verify"))
        .header("accept-language", "zh-CN,zh;q=0.9,en;q=0.5")
        .json(&json!({"input": s["token"]}))
        .send()
        .await
        .unwrap();
    let v = json(r).await;
    assert_eq!(v["locale"], "zh-CN");
    assert_eq!(v["title"], "真实的官方会话");
    // An explicit lang wins over the header.
    let r = app
        .client
        .post(app.url("/v1/verify"))
        .header("accept-language", "zh-CN")
        .json(&json!({"input": s["token"], "lang": "en"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await["locale"], "en");
}

#[tokio::test]
async fn forged_expired_not_yet_valid_and_malformed_are_never_genuine_and_offer_a_report() {
    let app = spawn_app().await;
    let t = now();
    let foreign = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let server_kid = app.server_keys().current().active_kid().to_owned();
    let genuine = app.sign_with_server_key(&app.claims(t, t + 600)).await;
    assert_eq!(
        app.verdict_of(&genuine).await["verdict"],
        "genuine",
        "crafted control token"
    );

    // Tamper one character of the payload (keeping valid base64url).
    let mut tampered = genuine.clone().into_bytes();
    let i = "v4.public.".len() + 10;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();

    let cases = [
        (
            sign(
                &foreign,
                "k4.pid.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                &app.claims(t, t + 600),
            ),
            "forged",
            Some("unknown_key"),
            "unknown kid",
        ),
        (
            sign(&foreign, &server_kid, &app.claims(t, t + 600)),
            "forged",
            Some("bad_signature"),
            "foreign key claiming our kid",
        ),
        (
            tampered,
            "forged",
            Some("bad_signature"),
            "tampered payload",
        ),
        (
            app.sign_with_server_key(&app.claims(t - 3600, t - 60))
                .await,
            "expired",
            None,
            "expired",
        ),
        (
            app.sign_with_server_key(&app.claims(t + 3600, t + 7200))
                .await,
            "not_yet_valid",
            None,
            "not yet valid",
        ),
        (
            sign(
                &app.server_keys().current().signing_key().clone(),
                &server_kid,
                &app.claims(t, t + 600),
            ),
            "forged",
            Some("unknown_session"),
            "our key, but a session never issued (stolen key)",
        ),
        (
            "v4.local.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
            "malformed",
            None,
            "v4.local is never accepted",
        ),
        (
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.".into(),
            "malformed",
            None,
            "JWT alg none",
        ),
        ("v4.public.%%%".into(), "malformed", None, "broken token"),
        (
            "v4.public.AAAA".into(),
            "malformed",
            None,
            "truncated token",
        ),
        (
            "hello, I am from Binance support".into(),
            "malformed",
            None,
            "no token at all",
        ),
        (
            "ZZZZ-ZZZZ-ZZ".into(),
            "forged",
            Some("unknown_code"),
            "unknown session code",
        ),
    ];
    for (input, verdict, reason, why) in cases {
        let v = app.verdict_of(&input).await;
        assert_eq!(v["verdict"], verdict, "{why}: {v}");
        if let Some(r) = reason {
            assert_eq!(v["reason"], r, "{why}");
        }
        assert!(
            v["report_url"]
                .as_str()
                .is_some_and(|u| u.contains("/report")),
            "{why}: report link"
        );
        assert!(
            v.get("instruction").is_none(),
            "{why}: no 'continue' instruction"
        );
    }
}

#[tokio::test]
async fn token_signed_by_our_key_for_another_issuer_is_not_genuine() {
    let app = spawn_app().await;
    let t = now();
    let mut c = app.claims(t, t + 600);
    c.iss = "https://evil.example".into();
    let v = app.verdict_of(&app.sign_with_server_key(&c).await).await;
    assert_eq!(v["verdict"], "malformed");
}

#[tokio::test]
async fn identity_link_page_renders_the_verdict_in_both_languages_without_leaking_referrers() {
    let app = spawn_app().await;
    let agent = app.agent_with_channel("Alice Chen", "@acme_support").await;
    let s = app.new_session(&agent, "@acme_support").await;
    let token = s["token"].as_str().unwrap();

    let r = app.get(&format!("/v/{token}")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = r.text().await.unwrap();
    assert!(html.contains("Genuine official session"));
    assert!(html.contains("Telegram @acme_support"));
    assert!(
        !html.contains("Report this contact"),
        "genuine: no report button"
    );

    let html = app
        .get(&format!("/v/{token}?lang=zh-CN"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("真实的官方会话"), "zh-CN page");
    assert!(html.contains(r#"lang="zh-CN""#));

    let forged = format!("{}x", &token[..token.len() - 1]);
    let html = app.get(&format!("/v/{forged}")).await.text().await.unwrap();
    assert!(
        html.contains("FORGED") || html.contains("NOT VERIFIABLE"),
        "{html}"
    );
    assert!(html.contains("Report this contact"));
}

#[tokio::test]
async fn page_escapes_hostile_agent_names() {
    let app = spawn_app().await;
    let agent = app
        .agent_with_channel("<script>alert(1)</script>", "@acme_support")
        .await;
    let s = app.new_session(&agent, "@acme_support").await;
    let html = app
        .get(&format!("/v/{}", s["token"].as_str().unwrap()))
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("<script>"), "agent name must be escaped");
    assert!(html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"));
}

#[tokio::test]
async fn verify_form_accepts_a_typed_session_code_and_answers_with_the_verdict_page() {
    let app = spawn_app().await;
    let agent = app.agent_with_channel("Alice Chen", "@acme_support").await;
    let s = app.new_session(&agent, "@acme_support").await;

    let form = app.get("/verify?lang=zh-CN").await;
    assert_eq!(form.status(), 200);
    let html = form.text().await.unwrap();
    assert!(html.contains(r#"<form method="post""#) && html.contains("验证客服身份"));

    let code = s["code"].as_str().unwrap().to_lowercase();
    let r = app
        .client
        .post(app.url("/verify"))
        .form(&[("input", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Genuine official session"), "{html}");
    assert!(html.contains("Telegram @acme_support"));

    let r = app
        .client
        .post(app.url("/verify"))
        .form(&[("input", "7KQ4-MZ2P-XT")])
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("FORGED"), "unknown code");
    let r = app
        .client
        .post(app.url("/verify"))
        .form(&[("other", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
