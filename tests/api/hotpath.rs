//! The verification hot path: signature cache, in-memory revocations, batch verification.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use trustdesk::types::now;

use crate::helpers::{json, sign, spawn_app, spawn_app_with, TestApp};

/// Flips one character inside the signature part of a token (before the footer).
fn tamper(token: &str) -> String {
    let mut b = token.as_bytes().to_vec();
    let i = token.rfind('.').unwrap() - 30;
    b[i] = if b[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(b).unwrap()
}

async fn cache_hits(app: &TestApp) -> f64 {
    app.metric("trustdesk_verify_cache_total", "result=\"hit\"")
        .await
}

#[tokio::test]
async fn a_cached_genuine_token_is_revoked_at_once_here_and_within_two_seconds_elsewhere() {
    let a = spawn_app_with(|c| c.session_sync_ms = 1000).await;
    // A second instance on the same database and keys, with the default sync interval.
    let b = spawn_app_with(|c| {
        c.database_url = a.config.database_url.clone();
        c.keys_dir = a.config.keys_dir.clone();
        c.session_sync_ms = 1000;
    })
    .await;
    let agent = a.agent_with_channel("Alice", "@acme_support").await;
    let s = a.new_session(&agent, "@acme_support").await;
    let token = s["token"].as_str().unwrap();

    for app in [&a, &b] {
        let before = cache_hits(app).await;
        // Cached from the second sighting on (the doorkeeper), answered from the cache after.
        for _ in 0..4 {
            assert_eq!(app.verdict_of(token).await["verdict"], "genuine");
        }
        assert!(
            cache_hits(app).await >= before + 2.0,
            "repeated verifications must come from the cache"
        );
    }

    let r = a
        .revoke(&agent.key, s["session_id"].as_str().unwrap())
        .await;
    assert_eq!(r.status(), 200);
    let t0 = Instant::now();
    assert_eq!(
        a.verdict_of(token).await["verdict"],
        "revoked",
        "the revoking instance honours it at once"
    );
    loop {
        let v = b.verdict_of(token).await;
        if v["verdict"] == "revoked" {
            break;
        }
        assert_eq!(v["verdict"], "genuine");
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "the other instance still says genuine 2 s after the revocation"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And it stays revoked, through the cache, on both.
    for app in [&a, &b] {
        assert_eq!(app.verdict_of(token).await["verdict"], "revoked");
        assert_eq!(app.get(&format!("/v/{token}")).await.status(), 200);
    }
}

#[tokio::test]
async fn a_cached_token_answers_expired_once_its_time_is_up() {
    let app = spawn_app().await;
    let t = now();
    let token = app.sign_with_server_key(&app.claims(t - 10, t + 2)).await;
    assert_eq!(app.verdict_of(&token).await["verdict"], "genuine");
    assert_eq!(app.verdict_of(&token).await["verdict"], "genuine");
    let before = cache_hits(&app).await;
    assert_eq!(app.verdict_of(&token).await["verdict"], "genuine");
    assert!(
        cache_hits(&app).await > before,
        "third answer from the cache"
    );
    while now() < t + 2 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let v = app.verdict_of(&token).await;
    assert_eq!(v["verdict"], "expired", "{v}");
    assert!(v["report_url"].is_string());
}

#[tokio::test]
async fn a_forgery_never_becomes_genuine_through_the_cache() {
    let app = spawn_app().await;
    let agent = app.agent_with_channel("Alice", "@acme_support").await;
    let s = app.new_session(&agent, "@acme_support").await;
    let genuine = s["token"].as_str().unwrap().to_owned();
    let forged = tamper(&genuine);
    let t = now();
    let server = app.server_keys().current();
    // Our key, but a session we never issued: the stolen-key case.
    let stolen = sign(
        &server.signing_key().clone(),
        server.active_kid(),
        &app.claims(t, t + 600),
    );
    for round in 0..3 {
        let v = app.verdict_of(&forged).await;
        assert_eq!(v["verdict"], "forged", "round {round}: {v}");
        assert_eq!(v["reason"], "bad_signature");
        let v = app.verdict_of(&stolen).await;
        assert_eq!(v["verdict"], "forged", "round {round}: {v}");
        assert_eq!(v["reason"], "unknown_session");
        assert_eq!(app.verdict_of(&genuine).await["verdict"], "genuine");
    }

    // A cached genuine token stops being genuine when its key retires.
    let r = app.post_admin("/v1/keys/rotate").await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.verdict_of(&genuine).await["verdict"], "genuine");
    let r = app
        .post_admin(&format!("/v1/keys/{}/retire", server.active_kid()))
        .await;
    assert_eq!(r.status(), 200);
    let v = app.verdict_of(&genuine).await;
    assert_eq!(v["verdict"], "forged", "{v}");
    assert_eq!(v["reason"], "unknown_key");
}

/// The fields a batch answer must share with the single answer for the same input.
fn essence(v: &Value) -> Value {
    json!({
        "verdict": v["verdict"],
        "reason": v["reason"],
        "session_id": v["session"]["session_id"],
        "report_url": v["report_url"],
    })
}

#[tokio::test]
async fn batch_verdicts_match_single_verdicts_for_a_mix_and_for_a_full_batch() {
    let app = spawn_app().await;
    let agent = app.agent_with_channel("Alice", "@acme_support").await;
    let mut genuine = Vec::new();
    for _ in 0..3 {
        genuine.push(app.new_session(&agent, "@acme_support").await);
    }
    let revoked = app.new_session(&agent, "@acme_support").await;
    let r = app
        .revoke(&agent.key, revoked["session_id"].as_str().unwrap())
        .await;
    assert_eq!(r.status(), 200);
    let t = now();
    let foreign = trustdesk::tokens::Keyring::load_or_create(&app.config.keys_dir.join("other"))
        .unwrap()
        .current();
    let server = app.server_keys().current();
    let token = |v: &Value| v["token"].as_str().unwrap().to_owned();
    let mix: Vec<String> = vec![
        token(&genuine[0]),
        tamper(&token(&genuine[1])),
        app.sign_with_server_key(&app.claims(t - 3600, t - 60))
            .await,
        genuine[1]["link"].as_str().unwrap().to_owned(),
        sign(
            &foreign.signing_key().clone(),
            foreign.active_kid(),
            &app.claims(t, t + 600),
        ),
        "v4.public.AAAA".into(),
        token(&revoked),
        app.sign_with_server_key(&app.claims(t + 3600, t + 7200))
            .await,
        sign(
            &server.signing_key().clone(),
            server.active_kid(),
            &app.claims(t, t + 600),
        ),
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.".into(),
        format!("Hi, support here, check me: {}", token(&genuine[2])),
        "hello, I am from support".into(),
    ];
    let want = [
        "genuine",
        "forged",
        "expired",
        "genuine",
        "forged",
        "malformed",
        "revoked",
        "not_yet_valid",
        "forged",
        "malformed",
        "genuine",
        "malformed",
    ];
    // Twice: the second batch comes largely from the caches and must not differ.
    for round in 0..2 {
        let r = app.verify_batch(&mix).await;
        assert_eq!(r.status(), 200);
        let batch = json(r).await;
        let results = batch["results"].as_array().unwrap();
        assert_eq!(results.len(), mix.len());
        for (i, (input, got)) in mix.iter().zip(results).enumerate() {
            assert_eq!(got["verdict"], want[i], "round {round}, input {i}: {got}");
            let single = app.verdict_of(input).await;
            assert_eq!(essence(got), essence(&single), "round {round}, input {i}");
        }
    }

    // A full batch of 64 genuine tokens, none seen before: the batch-verification path.
    let mut full = Vec::new();
    for _ in 0..64 {
        full.push(token(&app.new_session(&agent, "@acme_support").await));
    }
    let batch = json(app.verify_batch(&full).await).await;
    let results = batch["results"].as_array().unwrap();
    assert_eq!(results.len(), 64);
    assert!(results.iter().all(|v| v["verdict"] == "genuine"), "{batch}");
    // The same 64 with one forgery in the middle: only that one is forged.
    full[31] = tamper(&full[31]);
    let batch = json(app.verify_batch(&full).await).await;
    for (i, v) in batch["results"].as_array().unwrap().iter().enumerate() {
        let want = if i == 31 { "forged" } else { "genuine" };
        assert_eq!(v["verdict"], want, "input {i}");
    }
}

#[tokio::test]
async fn batches_refuse_codes_and_bad_sizes_with_clear_errors() {
    let app = spawn_app().await;
    let agent = app.agent_with_channel("Alice", "@acme_support").await;
    let s = app.new_session(&agent, "@acme_support").await;
    let code = s["code"].as_str().unwrap().to_owned();
    assert_eq!(app.verdict_of(&code).await["verdict"], "genuine");
    let batch = json(app.verify_batch(&[code]).await).await;
    assert_eq!(batch["results"][0]["verdict"], "malformed", "{batch}");

    crate::helpers::assert_problem(
        app.verify_batch(&[]).await,
        400,
        "invalid_batch_size",
        "empty",
    )
    .await;
    let too_many: Vec<String> = (0..65).map(|_| "x".to_owned()).collect();
    crate::helpers::assert_problem(
        app.verify_batch(&too_many).await,
        400,
        "invalid_batch_size",
        "65 inputs",
    )
    .await;
    let r = app
        .client
        .post(app.url("/v1/verify/batch"))
        .json(&json!({"inputs": ["x"], "extra": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
