//! Published keys, rotation and retirement, and offline verification.

use crate::helpers::{assert_problem, json, spawn_app};

#[tokio::test]
async fn published_keys_are_paserk_with_kid_state_and_cache_headers() {
    let app = spawn_app().await;
    let r = app.get("/.well-known/trustdesk-keys").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    let set = json(r).await;
    assert_eq!(set["purpose"], "v4.public");
    let keys = set["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys[0]["kid"].as_str().unwrap().starts_with("k4.pid."));
    assert!(keys[0]["paserk"]
        .as_str()
        .unwrap()
        .starts_with("k4.public."));
    assert_eq!(keys[0]["state"], "active");
    let text = set.to_string();
    assert!(!text.contains("k4.secret"), "never publish private keys");
}

#[tokio::test]
async fn old_tokens_stay_genuine_after_rotation_and_become_forged_when_the_key_retires() {
    let app = spawn_app().await;
    let agent = app.agent_with_channel("Alice", "@acme_support").await;
    let before = app.new_session(&agent, "@acme_support").await;
    let old_kid = before["kid"].as_str().unwrap().to_owned();

    let r = app.post_admin("/v1/keys/rotate").await;
    assert_eq!(r.status(), 200);
    let keys = json(r).await;
    let states: Vec<(String, String)> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["kid"].as_str().unwrap().into(),
                k["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        states.contains(&(old_kid.clone(), "verify_only".into())),
        "{states:?}"
    );

    let after = app.new_session(&agent, "@acme_support").await;
    assert_ne!(after["kid"], before["kid"], "new sessions use the new key");
    assert_eq!(
        app.verdict_of(before["token"].as_str().unwrap()).await["verdict"],
        "genuine",
        "old token after rotation"
    );
    assert_eq!(
        app.verdict_of(after["token"].as_str().unwrap()).await["verdict"],
        "genuine"
    );

    let published = json(app.get("/.well-known/trustdesk-keys").await).await;
    assert_eq!(published["keys"].as_array().unwrap().len(), 2);

    // The active key cannot be retired; the old one can.
    let active = after["kid"].as_str().unwrap();
    assert_problem(
        app.post_admin(&format!("/v1/keys/{active}/retire")).await,
        409,
        "key_active",
        "retire active",
    )
    .await;
    assert_eq!(
        app.post_admin(&format!("/v1/keys/{old_kid}/retire"))
            .await
            .status(),
        200
    );
    let v = app.verdict_of(before["token"].as_str().unwrap()).await;
    assert_eq!(v["verdict"], "forged", "old token after retirement: {v}");
    assert_eq!(v["reason"], "unknown_key");
    let v = app.verdict_of(before["code"].as_str().unwrap()).await;
    assert_eq!(
        v["verdict"], "forged",
        "codes of sessions signed by a retired key: {v}"
    );
    assert_eq!(
        app.verdict_of(after["token"].as_str().unwrap()).await["verdict"],
        "genuine"
    );
    let published = json(app.get("/.well-known/trustdesk-keys").await).await;
    assert_eq!(
        published["keys"].as_array().unwrap().len(),
        1,
        "retired keys are not published"
    );
    assert_problem(
        app.post_admin("/v1/keys/k4.pid.nope/retire").await,
        404,
        "key_not_found",
        "unknown kid",
    )
    .await;
}

/// Admins rotating and retiring at the same moment: every answer is 200 or the documented 409,
/// no rotation's key is lost, and the service still signs and verifies afterwards (unserialised
/// rewrites of the keyring once answered 500 and left it without a usable signing key).
#[tokio::test]
async fn concurrent_rotations_and_retirements_keep_every_key_and_the_service_signing() {
    let app = spawn_app().await;
    let agent = app.agent_with_channel("Alice", "@acme_support").await;
    let first = app.new_session(&agent, "@acme_support").await;
    let first_kid = first["kid"].as_str().unwrap().to_owned();
    let mut kids = vec![first_kid.clone()];
    for _ in 0..2 {
        let keys = json(app.post_admin("/v1/keys/rotate").await).await;
        let active = keys
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["state"] == "active")
            .unwrap()["kid"]
            .as_str()
            .unwrap()
            .to_owned();
        kids.push(active);
    }
    // Six rotations and a retirement of every earlier key, all in flight at once.
    let mut paths = vec!["/v1/keys/rotate".to_owned(); 6];
    paths.extend(kids.iter().map(|k| format!("/v1/keys/{k}/retire")));
    let mut tasks = tokio::task::JoinSet::new();
    for path in paths {
        let (client, url, key) = (app.client.clone(), app.url(&path), app.admin_key.clone());
        tasks.spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(key)
                .send()
                .await
                .expect("request");
            (path, r.status().as_u16())
        });
    }
    let (mut rotated, mut retired) = (Vec::new(), Vec::new());
    while let Some(done) = tasks.join_next().await {
        let (path, status) = done.unwrap();
        if path.ends_with("/rotate") {
            rotated.push(status);
        } else {
            retired.push(status);
        }
    }
    assert_eq!(rotated, vec![200; 6], "rotations");
    assert!(
        retired.iter().all(|s| [200, 409].contains(s)),
        "retirements answered {retired:?}"
    );
    let list = json(app.get_admin("/v1/keys").await).await;
    let list = list.as_array().unwrap();
    assert_eq!(
        list.len(),
        kids.len() + 6,
        "no rotation's key lost: {list:?}"
    );
    assert_eq!(
        list.iter().filter(|k| k["state"] == "active").count(),
        1,
        "{list:?}"
    );
    let after = app.new_session(&agent, "@acme_support").await;
    assert_eq!(
        app.verdict_of(after["token"].as_str().unwrap()).await["verdict"],
        "genuine"
    );
}

#[tokio::test]
async fn offline_cli_verifies_against_published_keys_from_file_and_url() {
    let app = spawn_app().await;
    let agent = app.agent_with_channel("Alice", "@acme_support").await;
    let s = app.new_session(&agent, "@acme_support").await;
    let dir = tempfile::tempdir().unwrap();
    let keys_file = dir.path().join("keys.json");
    let body = app
        .get("/.well-known/trustdesk-keys")
        .await
        .text()
        .await
        .unwrap();
    std::fs::write(&keys_file, body).unwrap();
    let bin = env!("CARGO_BIN_EXE_trustdesk");
    let token = s["token"].as_str().unwrap().to_owned();
    let link = s["link"].as_str().unwrap().to_owned();
    let url = app.url("/.well-known/trustdesk-keys");
    let keys_path = keys_file.to_str().unwrap().to_owned();

    let run = move |input: String, keys: String| {
        std::process::Command::new(bin)
            .args(["verify", &input, "--keys", &keys])
            .output()
            .unwrap()
    };
    let (t, k) = (token.clone(), keys_path.clone());
    let out = tokio::task::spawn_blocking(move || run(t, k))
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("verdict: genuine"));

    let out = tokio::task::spawn_blocking(move || run(link, url))
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "link + URL: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let forged = format!("{}A", &token[..token.len() - 1]);
    let forged = if forged == token {
        format!("{}B", &token[..token.len() - 1])
    } else {
        forged
    };
    let out = tokio::task::spawn_blocking(move || run(forged, keys_path))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "forged token exits 2");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("genuine"));
}
