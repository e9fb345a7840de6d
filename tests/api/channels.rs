//! The official-channel registry and lookalike detection.

use serde_json::json;

use crate::helpers::{assert_problem, json, spawn_app};

#[tokio::test]
async fn registry_normalises_values_lists_and_deletes() {
    let app = spawn_app().await;
    let r = app
        .register_channel("telegram", "https://t.me/Acme_Support", None)
        .await;
    assert_eq!(r.status(), 201);
    let c = json(r).await;
    assert_eq!(c["value"], "acme_support");
    let cases = [
        ("x", "@AcmeHelp", "acmehelp"),
        ("email", "Support@ACME.com", "support@acme.com"),
        ("phone", "+1 (415) 555-0100", "+14155550100"),
        ("website", "https://Acme.com/en/support?x=1", "acme.com"),
        ("website", "bücher-acme.de", "xn--bcher-acme-9db.de"),
    ];
    for (kind, raw, want) in cases {
        let r = app.register_channel(kind, raw, None).await;
        assert_eq!(r.status(), 201, "{kind} {raw}");
        assert_eq!(json(r).await["value"], want, "{kind} {raw}");
    }
    // The same channel in another spelling is a duplicate.
    assert_problem(
        app.register_channel("telegram", "@ACME_SUPPORT", None)
            .await,
        409,
        "channel_exists",
        "duplicate",
    )
    .await;

    let list = json(app.get_admin("/v1/channels").await).await;
    assert_eq!(list.as_array().unwrap().len(), 6);

    let id = c["id"].as_str().unwrap();
    let r = app
        .client
        .delete(app.url(&format!("/v1/channels/{id}")))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // No longer official (it may still resemble @acmehelp, which remains registered).
    assert_ne!(
        app.check_channel("telegram", "acme_support").await["result"],
        "official"
    );
    let r = app
        .client
        .delete(app.url(&format!("/v1/channels/{id}")))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .unwrap();
    assert_problem(r, 404, "channel_not_found", "second delete").await;
}

#[tokio::test]
async fn check_answers_official_for_every_spelling_of_a_registered_channel() {
    let app = spawn_app().await;
    for (k, v) in [
        ("telegram", "@binance_support"),
        ("email", "support@binance.com"),
        ("website", "binance.com"),
        ("phone", "+44 20 7946 0958"),
    ] {
        assert_eq!(app.register_channel(k, v, None).await.status(), 201);
    }
    for (kind, value) in [
        ("telegram", "https://t.me/Binance_Support"),
        ("telegram", "@BINANCE_SUPPORT"),
        ("email", "mailto:Support@Binance.COM"),
        ("website", "https://www.binance.com/en/support"),
        ("website", "accounts.binance.com"),
        ("phone", "0044 20 7946 0958"),
    ] {
        let v = app.check_channel(kind, value).await;
        assert_eq!(v["result"], "official", "{kind} {value}: {v}");
        assert!(v.get("report_url").is_none());
    }
}

#[tokio::test]
async fn lookalikes_of_official_channels_are_named_with_what_they_imitate() {
    let app = spawn_app().await;
    for (k, v) in [
        ("telegram", "@binance_support"),
        ("telegram", "@bitpie"),
        ("x", "@okx"),
        ("email", "support@binance.com"),
        ("website", "binance.com"),
        ("website", "bitget.com"),
    ] {
        assert_eq!(app.register_channel(k, v, None).await.status(), 201);
    }
    // (kind, scammer's value, official value imitated)
    let cases = [
        ("telegram", "@b1tpie", "bitpie"),
        ("telegram", "@bitpie_official", "bitpie"),
        ("telegram", "@binance_support_247", "binance_support"),
        ("telegram", "@blnance_support", "binance_support"),
        ("telegram", "@binnance_support", "binance_support"),
        ("website", "bіnance.com", "binance.com"), // Cyrillic і
        ("x", "@0kx", "okx"),
        ("x", "@okx_helpdesk", "okx"),
        ("website", "binance-support.com", "binance.com"),
        ("website", "binance.com.verify-login.io", "binance.com"),
        ("website", "https://xn--bnance-bwa.com/login", "binance.com"), // bínance.com
        ("website", "bitget.support.team", "bitget.com"),
        ("email", "support@binance-help.com", "binance.com"),
        ("telegram", "@binance_helpdesk", "binance_support"),
    ];
    for (kind, value, of) in cases {
        let v = app.check_channel(kind, value).await;
        assert_eq!(v["result"], "lookalike", "{kind} {value}: {v}");
        let official = v["official"]["value"].as_str().unwrap();
        assert!(
            official == of || official.contains(of.split('_').next().unwrap()),
            "{kind} {value} imitates {official}, expected {of}"
        );
        assert!(v["lookalike_reason"].is_string());
        assert!(v["message"].as_str().unwrap().contains("WARNING"));
        assert!(v["report_url"].as_str().unwrap().contains("/report"));
    }
    // Unrelated values are simply not official.
    for (kind, value) in [
        ("telegram", "@alice_smith"),
        ("website", "coinbase.com"),
        ("email", "friend@gmail.com"),
        ("phone", "+14155550100"),
    ] {
        assert_eq!(
            app.check_channel(kind, value).await["result"],
            "not_official",
            "{kind} {value}"
        );
    }
}

#[tokio::test]
async fn channel_checks_localise_and_reject_bad_input() {
    let app = spawn_app().await;
    app.register_channel("telegram", "@acme_support", None)
        .await;
    let r = app
        .client
        .get(app.url("/v1/channels/check?kind=telegram&value=acme_supp0rt&lang=zh-CN"))
        .send()
        .await
        .unwrap();
    let v = json(r).await;
    assert_eq!(v["locale"], "zh-CN");
    assert!(v["message"].as_str().unwrap().contains("警告"));

    for (q, code, why) in [
        ("kind=fax&value=1", "invalid_kind", "unknown kind"),
        ("kind=telegram", "invalid_query", "missing value"),
        (
            "kind=phone&value=12345",
            "invalid_channel",
            "phone without country code",
        ),
        (
            "kind=email&value=not-an-email",
            "invalid_channel",
            "bad email",
        ),
        ("kind=telegram&value=", "invalid_channel", "empty"),
    ] {
        let r = app.get(&format!("/v1/channels/check?{q}")).await;
        assert_problem(r, 400, code, why).await;
    }
    let long = "a".repeat(5000);
    let r = app
        .client
        .get(app.url("/v1/channels/check"))
        .query(&[("kind", "telegram"), ("value", long.as_str())])
        .send()
        .await
        .unwrap();
    assert_problem(r, 400, "invalid_channel", "overlong value").await;
}

#[tokio::test]
async fn channel_registration_validates_agent_and_label() {
    let app = spawn_app().await;
    let r = app
        .client
        .post(app.url("/v1/channels"))
        .bearer_auth(&app.admin_key)
        .json(&json!({"kind": "telegram", "value": "acme_x", "agent_id": "00000000-0000-4000-8000-000000000000"}))
        .send()
        .await
        .unwrap();
    assert_problem(r, 400, "unknown_agent", "unknown agent").await;
    let r = app
        .client
        .post(app.url("/v1/channels"))
        .bearer_auth(&app.admin_key)
        .json(&json!({"kind": "telegram", "value": "acme_x", "label": "x".repeat(201)}))
        .send()
        .await
        .unwrap();
    assert_problem(r, 400, "invalid_label", "long label").await;
}
