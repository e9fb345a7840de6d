//! Fraud reports through real multipart requests.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use trustdesk::types::{now, Role};

use crate::helpers::{assert_problem, json, png, spawn_app, spawn_app_with, TestApp};

fn report(category: &str) -> Value {
    json!({
        "category": category,
        "description": "Someone claiming to be support asked me to move funds to a 'safe wallet'.",
    })
}

async fn security(app: &TestApp) -> String {
    app.create_staff("Sec Analyst", Role::Security).await.key
}

async fn list_reports(app: &TestApp, key: &str, query: &str) -> Value {
    let r = app
        .client
        .get(app.url(&format!("/v1/reports{query}")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "list {query}");
    json(r).await
}

#[tokio::test]
async fn every_category_is_accepted_with_receipt_and_is_trackable_by_its_victim() {
    let app = spawn_app().await;
    for cat in [
        "impersonation",
        "phishing_link",
        "fake_app",
        "investment_scam",
        "account_takeover",
        "other",
    ] {
        let r = app.submit_report(&report(cat), &[], None).await;
        assert_eq!(r.status(), 201, "{cat}");
        let body = json(r).await;
        let id = body["id"].as_str().unwrap();
        assert!(id.starts_with("TD-") && id.len() == 12, "{id}");
        let receipt = body["receipt"].as_str().unwrap();
        assert!(receipt.starts_with("tdr_"));
        assert!(body["status_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/r/{id}")));
        assert!(body["expected_first_response_by"].is_string());

        let st = json(app.report_status(id, receipt).await).await;
        assert_eq!(st["id"], id);
        assert_eq!(st["status"], "received");
        assert_eq!(st["category"], cat);
        assert_eq!(st["timeline"].as_array().unwrap().len(), 1);
        assert!(st["next_step"].as_str().unwrap().contains("seed phrase"));
        assert!(
            st.get("triage").is_none() && st.get("description").is_none(),
            "victim view has nothing internal"
        );
    }
}

#[tokio::test]
async fn wrong_receipt_is_indistinguishable_from_a_missing_report() {
    let app = spawn_app().await;
    let body = json(app.submit_report(&report("other"), &[], None).await).await;
    let id = body["id"].as_str().unwrap();
    let other = json(app.submit_report(&report("other"), &[], None).await).await;
    for (rid, receipt, why) in [
        (
            id,
            "tdr_wrongwrongwrongwrongwrongwrongwrongwrong000",
            "wrong receipt",
        ),
        (
            id,
            other["receipt"].as_str().unwrap(),
            "another report's receipt",
        ),
        (
            "TD-0000-0000",
            body["receipt"].as_str().unwrap(),
            "no such report",
        ),
        ("not-an-id", body["receipt"].as_str().unwrap(), "garbage id"),
    ] {
        let r = app.report_status(rid, receipt).await;
        assert_problem(r, 404, "report_not_found", why).await;
    }
    let r = app
        .client
        .get(app.url(&format!("/v1/reports/{id}")))
        .send()
        .await
        .unwrap();
    assert_problem(r, 401, "missing_credentials", "no receipt").await;
}

#[tokio::test]
async fn attachments_are_hashed_sniffed_stored_once_and_downloadable_by_security_only() {
    let app = spawn_app().await;
    let shot = png(5000);
    let text = "12:01 Support: send your 12 words to verify\n"
        .repeat(10)
        .into_bytes();
    let files = [
        ("shot.png", shot.clone()),
        ("chat.txt", text.clone()),
        ("copy.png", shot.clone()),
    ];
    let r = app
        .submit_report(&report("impersonation"), &files, None)
        .await;
    assert_eq!(r.status(), 201);
    let body = json(r).await;
    let atts = body["attachments"].as_array().unwrap();
    assert_eq!(atts.len(), 3);
    let sha = format!("{:x}", Sha256::digest(&shot));
    assert_eq!(atts[0]["sha256"], sha);
    assert_eq!(atts[0]["content_type"], "png");
    assert_eq!(atts[1]["content_type"], "text");
    assert_eq!(atts[2]["sha256"], sha);
    // Same bytes twice, stored once, at the digest path.
    let stored = app.stored_files();
    assert_eq!(stored.len(), 2, "{stored:?}");
    let expected = app
        .config
        .attachments_dir
        .join(&sha[0..2])
        .join(&sha[2..4])
        .join(&sha);
    assert!(stored.contains(&expected));

    let id = body["id"].as_str().unwrap();
    let sec = security(&app).await;
    let r = app
        .client
        .get(app.url(&format!("/v1/reports/{id}/attachments/0")))
        .bearer_auth(&sec)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["content-security-policy"], "sandbox");
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().as_ref(), shot.as_slice());

    let agent = app.create_staff("Agent", Role::Agent).await;
    for (key, status) in [(Some(agent.key.as_str()), 403), (None, 401)] {
        let mut req = app
            .client
            .get(app.url(&format!("/v1/reports/{id}/attachments/0")));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        assert_eq!(req.send().await.unwrap().status(), status);
    }
    let r = app
        .client
        .get(app.url(&format!("/v1/reports/{id}/attachments/9")))
        .bearer_auth(&sec)
        .send()
        .await
        .unwrap();
    assert_problem(r, 404, "attachment_not_found", "no such index").await;

    // Tampered evidence on disk is refused, not served.
    std::fs::write(&expected, b"tampered").unwrap();
    let r = app
        .client
        .get(app.url(&format!("/v1/reports/{id}/attachments/0")))
        .bearer_auth(&sec)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
}

#[tokio::test]
async fn spoofed_types_and_executables_are_rejected_with_415_and_leave_nothing_behind() {
    let app = spawn_app().await;
    let sec = security(&app).await;
    for (name, bytes, why) in [
        (
            "photo.png",
            b"<!DOCTYPE html><html><script>alert(1)</script></html>".to_vec(),
            "HTML named .png",
        ),
        (
            "image.svg",
            b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>".to_vec(),
            "SVG",
        ),
        (
            "setup.png",
            b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff".to_vec(),
            "Windows executable",
        ),
        (
            "blob.bin",
            vec![0u8, 1, 2, 3, 255, 254, 0, 7],
            "random binary",
        ),
    ] {
        let r = app
            .submit_report(
                &report("fake_app"),
                &[("ok.png", png(100)), (name, bytes)],
                None,
            )
            .await;
        assert_problem(r, 415, "unsupported_attachment_type", why).await;
    }
    assert!(
        app.stored_files().is_empty(),
        "no files left: {:?}",
        app.stored_files()
    );
    assert_eq!(
        list_reports(&app, &sec, "").await["reports"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn count_size_and_total_limits_cut_uploads_off_with_413_and_leave_nothing() {
    let app = spawn_app_with(|c| {
        c.max_attachments = 3;
        c.max_attachment_bytes = 10_000;
        c.max_report_bytes = 25_000;
    })
    .await;
    let sec = security(&app).await;
    type Files<'a> = Vec<(&'a str, Vec<u8>)>;
    let cases: Vec<(Files, &str, &str)> = vec![
        (
            vec![
                ("a.png", png(10)),
                ("b.png", png(10)),
                ("c.png", png(10)),
                ("d.png", png(10)),
            ],
            "too_many_attachments",
            "4 files, limit 3",
        ),
        (
            vec![("big.png", png(10_001))],
            "attachment_too_large",
            "one byte over the file limit",
        ),
        (
            vec![
                ("a.png", png(9_000)),
                ("b.png", png(9_000)),
                ("c.png", png(9_000)),
            ],
            "report_too_large",
            "27 000 bytes, limit 25 000",
        ),
    ];
    for (files, code, why) in cases {
        let r = app.submit_report(&report("other"), &files, None).await;
        assert_problem(r, 413, code, why).await;
    }
    // Exactly at the limits is fine.
    let ok = app
        .submit_report(
            &report("other"),
            &[
                ("a.png", png(10_000)),
                ("b.png", png(9_999)),
                ("c.png", png(5_001)),
            ],
            None,
        )
        .await;
    assert_eq!(ok.status(), 201);
    assert_eq!(
        list_reports(&app, &sec, "").await["reports"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.stored_files().len(),
        3,
        "only the accepted report's files remain"
    );
}

#[tokio::test]
async fn path_traversal_file_names_are_kept_only_as_sanitised_labels() {
    let app = spawn_app().await;
    let files = [
        ("../../../../etc/passwd.png", png(64)),
        ("..\\..\\windows\\win.ini.png", png(65)),
        ("/abs/path/.hidden.png", png(66)),
    ];
    let body = json(
        app.submit_report(&report("phishing_link"), &files, None)
            .await,
    )
    .await;
    let names: Vec<&str> = body["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["filename"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["passwd.png", "win.ini.png", "hidden.png"]);
    for f in app.stored_files() {
        assert!(f.starts_with(&app.config.attachments_dir), "{f:?}");
        let name = f.file_name().unwrap().to_str().unwrap();
        assert_eq!(name.len(), 64, "stored under its digest: {name}");
    }
}

#[tokio::test]
async fn idempotent_resubmission_replays_the_receipt_and_a_changed_body_is_409() {
    let app = spawn_app().await;
    let sec = security(&app).await;
    let files = [("shot.png", png(300))];
    let first = app
        .submit_report(&report("impersonation"), &files, Some("victim-retry-1"))
        .await;
    assert_eq!(first.status(), 201);
    let first = json(first).await;
    let again = app
        .submit_report(&report("impersonation"), &files, Some("victim-retry-1"))
        .await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again = json(again).await;
    assert_eq!(again["id"], first["id"]);
    assert_eq!(
        again["receipt"], first["receipt"],
        "the replay carries the original receipt"
    );
    assert_eq!(again["attachments"], first["attachments"]);
    assert_eq!(
        list_reports(&app, &sec, "").await["reports"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "no duplicate"
    );

    let mut changed = report("impersonation");
    changed["description"] = json!("a different story");
    let r = app
        .submit_report(&changed, &files, Some("victim-retry-1"))
        .await;
    assert_problem(r, 409, "idempotency_conflict", "same key, other body").await;
    let r = app
        .submit_report(
            &report("impersonation"),
            &[("other.png", png(301))],
            Some("victim-retry-1"),
        )
        .await;
    assert_problem(r, 409, "idempotency_conflict", "same key, other file").await;
    assert_eq!(
        list_reports(&app, &sec, "").await["reports"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.stored_files().len(),
        1,
        "files of refused replays are not kept"
    );

    let r = app
        .submit_report(&report("other"), &[], Some("bad key with spaces"))
        .await;
    assert_problem(r, 400, "invalid_idempotency_key", "spaces in key").await;
}

#[tokio::test]
async fn concurrent_resubmissions_with_one_key_create_one_report() {
    let app = spawn_app().await;
    let sec = security(&app).await;
    let mut handles = Vec::new();
    let app = std::sync::Arc::new(app);
    for _ in 0..8 {
        let app = app.clone();
        handles.push(tokio::spawn(async move {
            let r = app
                .submit_report(&report("other"), &[("a.png", png(100))], Some("same-key"))
                .await;
            assert_eq!(r.status(), 201);
            json(r).await["id"].as_str().unwrap().to_owned()
        }));
    }
    let mut ids = Vec::new();
    for h in handles {
        ids.push(h.await.unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(
        list_reports(&app, &sec, "").await["reports"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn auto_triage_uses_forged_tokens_lookalikes_and_official_channels() {
    let app = spawn_app().await;
    let sec = security(&app).await;
    app.register_channel("telegram", "@acme_support", None)
        .await;
    let foreign = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let forged = crate::helpers::sign(
        &foreign,
        "k4.pid.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        &app.claims(now(), now() + 600),
    );

    let mut r1 = report("impersonation");
    r1["presented"] = json!(format!(
        "He sent me https://trust.example/v/{forged} to prove he is real"
    ));
    let mut r2 = report("impersonation");
    r2["scam_channel"] = json!({"kind": "telegram", "handle": "@acme_supp0rt"});
    let mut r3 = report("account_takeover");
    r3["scam_channel"] = json!({"kind": "telegram", "handle": "https://t.me/acme_support"});
    let r4 = report("investment_scam");

    let mut got = Vec::new();
    for r in [r1, r2, r3, r4] {
        let b = json(app.submit_report(&r, &[], None).await).await;
        let detail = json(app.report_status(b["id"].as_str().unwrap(), &sec).await).await;
        got.push((
            b["priority"].as_str().unwrap().to_owned(),
            detail["triage"].as_str().unwrap().to_owned(),
            detail,
        ));
    }
    assert_eq!(
        (got[0].0.as_str(), got[0].1.as_str()),
        ("P1", "confirmed_impersonation")
    );
    assert_eq!(got[0].2["token_verdict"], "forged");
    assert!(got[0].2["triage_reasons"][0]
        .as_str()
        .unwrap()
        .contains("forged"));
    assert_eq!(
        (got[1].0.as_str(), got[1].1.as_str()),
        ("P2", "suspected_impersonation")
    );
    assert!(got[1].2["triage_reasons"][0]
        .as_str()
        .unwrap()
        .contains("acme_support"));
    assert_eq!(
        (got[2].0.as_str(), got[2].1.as_str()),
        ("P1", "possible_compromised_official")
    );
    assert_eq!((got[3].0.as_str(), got[3].1.as_str()), ("P3", "none"));
    // Staff see the triage note in the internal timeline.
    assert!(got[0].2["events"][0]["internal_note"]
        .as_str()
        .unwrap()
        .contains("auto-triage"));

    let p1 = list_reports(&app, &sec, "?priority=P1").await;
    assert_eq!(p1["reports"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn reports_about_the_same_scammer_are_linked_and_filterable() {
    let app = spawn_app().await;
    let sec = security(&app).await;
    let mut r = report("impersonation");
    r["scam_channel"] = json!({"kind": "telegram", "handle": "@scammer_x"});
    let a = json(app.submit_report(&r, &[], None).await).await;
    r["scam_channel"] = json!({"kind": "telegram", "handle": "https://t.me/Scammer_X"});
    let b = json(app.submit_report(&r, &[], None).await).await;
    let db = json(app.report_status(b["id"].as_str().unwrap(), &sec).await).await;
    assert_eq!(db["related_to"], a["id"]);
    let da = json(app.report_status(a["id"].as_str().unwrap(), &sec).await).await;
    assert_eq!(da["related"], json!([b["id"]]));

    let page = list_reports(
        &app,
        &sec,
        "?channel_kind=telegram&channel_value=@SCAMMER_X",
    )
    .await;
    assert_eq!(page["reports"].as_array().unwrap().len(), 2);
    let page = list_reports(&app, &sec, "?category=impersonation&limit=1").await;
    assert_eq!(page["reports"].as_array().unwrap().len(), 1);
    let cursor = page["next_cursor"].as_str().unwrap();
    let next = list_reports(
        &app,
        &sec,
        &format!("?category=impersonation&limit=1&cursor={cursor}"),
    )
    .await;
    assert_eq!(next["reports"].as_array().unwrap().len(), 1);
    assert_ne!(next["reports"][0]["id"], page["reports"][0]["id"]);
    assert!(next.get("next_cursor").is_none());
    for (q, why) in [
        ("?status=bogus", "status"),
        ("?limit=1000", "limit"),
        ("?from=yesterday", "from"),
        ("?cursor=x", "cursor"),
    ] {
        let r = app
            .client
            .get(app.url(&format!("/v1/reports{q}")))
            .bearer_auth(&sec)
            .send()
            .await
            .unwrap();
        assert_problem(r, 400, "invalid_query", why).await;
    }
}

#[tokio::test]
async fn staff_endpoints_for_reports_need_the_security_role() {
    let app = spawn_app().await;
    let b = json(app.submit_report(&report("other"), &[], None).await).await;
    let id = b["id"].as_str().unwrap();
    let agent = app.create_staff("Agent", Role::Agent).await;
    let r = app
        .client
        .get(app.url("/v1/reports"))
        .bearer_auth(&agent.key)
        .send()
        .await
        .unwrap();
    assert_problem(r, 403, "forbidden", "agent lists").await;
    let r = app.get_admin("/v1/reports").await;
    assert_problem(r, 403, "forbidden", "admin lists").await;
    let r = app.client.get(app.url("/v1/reports")).send().await.unwrap();
    assert_problem(r, 401, "missing_credentials", "anonymous lists").await;
    let r = app.report_status(id, &agent.key).await;
    assert_problem(r, 403, "forbidden", "agent reads a report").await;
    let r = app.report_status(id, "tdk_forged").await;
    assert_problem(r, 401, "invalid_credentials", "bad staff key").await;
}

#[tokio::test]
async fn malformed_reports_get_clear_problems() {
    let app = spawn_app().await;
    let long = "x".repeat(5001);
    let cases = [
        (
            json!({"category": "nonsense", "description": "x"}),
            400,
            "invalid_body",
            "unknown category",
        ),
        (
            json!({"category": "other"}),
            400,
            "invalid_body",
            "missing description",
        ),
        (
            json!({"category": "other", "description": long}),
            400,
            "invalid_description",
            "description too long",
        ),
        (
            json!({"category": "other", "description": "x", "is_admin": true}),
            400,
            "invalid_body",
            "unknown field",
        ),
        (
            json!({"category": "other", "description": "x", "scam_channel": {"kind": "phone", "handle": "12345"}}),
            400,
            "invalid_channel",
            "phone without country code",
        ),
        (
            json!({"category": "other", "description": "x", "amount_lost": "a lot"}),
            400,
            "invalid_amount",
            "amount",
        ),
        (
            json!({"category": "other", "description": "x", "occurred_at": "last tuesday"}),
            400,
            "invalid_occurred_at",
            "time",
        ),
        (
            json!({"category": "other", "description": "x", "lang": "fr"}),
            400,
            "invalid_lang",
            "lang",
        ),
    ];
    for (body, status, code, why) in cases {
        let r = app.submit_report(&body, &[], None).await;
        assert_problem(r, status, code, why).await;
    }
    // Not multipart at all.
    let r = app
        .client
        .post(app.url("/v1/reports"))
        .json(&report("other"))
        .send()
        .await
        .unwrap();
    assert_problem(r, 415, "unsupported_media_type", "JSON body").await;
    // Multipart without the report part.
    let form = reqwest::multipart::Form::new().part(
        "attachment",
        reqwest::multipart::Part::bytes(png(10)).file_name("a.png"),
    );
    let r = app
        .client
        .post(app.url("/v1/reports"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_problem(r, 400, "invalid_multipart", "no report part").await;
    // Broken JSON in the report part.
    let form =
        reqwest::multipart::Form::new().part("report", reqwest::multipart::Part::text("{oops"));
    let r = app
        .client
        .post(app.url("/v1/reports"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_problem(r, 400, "invalid_body", "broken JSON").await;
    // A body cut off in the middle.
    let r = app
        .client
        .post(app.url("/v1/reports"))
        .header("content-type", "multipart/form-data; boundary=XYZ")
        .body("--XYZ\r\nContent-Disposition: form-data; name=\"report\"\r\n\r\n{\"categ")
        .send()
        .await
        .unwrap();
    assert_problem(r, 400, "invalid_multipart", "truncated body").await;
    assert!(app.stored_files().is_empty());
}

#[tokio::test]
async fn transaction_references_are_format_checked_per_chain() {
    let app = spawn_app().await;
    let eth = format!("0x{}", "ab".repeat(32));
    let btc = "cd".repeat(32);
    let tron = "EF".repeat(32);
    let mut ok = report("investment_scam");
    ok["transactions"] = json!([
        {"chain": "eth", "tx_hash": eth.to_uppercase().replace("0X", "0x")},
        {"chain": "btc", "tx_hash": btc},
        {"chain": "tron", "tx_hash": tron},
        {"chain": "bsc", "tx_hash": format!("https://bscscan.com/tx/{eth}")},
    ]);
    ok["amount_lost"] = json!("1250.50");
    ok["asset"] = json!("usdt");
    ok["occurred_at"] = json!("2026-11-20T14:30:00+08:00");
    let b = json(app.submit_report(&ok, &[], None).await).await;
    let sec = security(&app).await;
    let d = json(app.report_status(b["id"].as_str().unwrap(), &sec).await).await;
    assert_eq!(d["transactions"][0]["tx_hash"], eth, "lower-cased");
    assert_eq!(d["transactions"][2]["tx_hash"], tron.to_lowercase());
    assert_eq!(
        d["transactions"][3]["tx_hash"], eth,
        "explorer link reduced to the hash"
    );
    assert_eq!(d["asset"], "USDT");
    for (chain, hash, why) in [
        ("eth", "ab".repeat(32), "EVM hash without 0x"),
        (
            "eth",
            format!("0x{}", "ab".repeat(31)),
            "EVM hash too short",
        ),
        ("btc", format!("0x{}", "ab".repeat(32)), "BTC with 0x"),
        ("btc", "zz".repeat(32), "non-hex"),
        ("tron", "ab".repeat(33), "TRON too long"),
        ("dogecoin", "ab".repeat(32), "unknown chain"),
    ] {
        let mut r = report("investment_scam");
        r["transactions"] = json!([{"chain": chain, "tx_hash": hash}]);
        let resp = app.submit_report(&r, &[], None).await;
        assert_eq!(resp.status(), 400, "{why}");
    }
}

#[tokio::test]
async fn status_page_asks_for_the_receipt_in_a_form_and_shows_the_timeline() {
    let app = spawn_app().await;
    let mut r = report("impersonation");
    r["lang"] = json!("zh-CN");
    let b = json(app.submit_report(&r, &[], None).await).await;
    assert!(
        b["message"].as_str().unwrap().contains("回执"),
        "zh-CN save-this prompt"
    );
    let id = b["id"].as_str().unwrap();

    let page = app.get(&format!("/r/{id}")).await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"type="password""#) && html.contains(r#"method="post""#));

    let shown = app
        .client
        .post(app.url(&format!("/r/{id}?lang=zh-CN")))
        .form(&[("receipt", b["receipt"].as_str().unwrap())])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(shown.contains("已收到"), "status label in Chinese");
    assert!(
        shown.contains("我们已收到您的举报"),
        "timeline entry in Chinese"
    );

    let wrong = app
        .client
        .post(app.url(&format!("/r/{id}")))
        .form(&[("receipt", "tdr_nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 200);
    let html = wrong.text().await.unwrap();
    assert!(html.contains("No report matches"));
    assert!(!html.contains("Timeline"));
}

#[tokio::test]
async fn concurrent_uploads_of_the_same_new_file_all_succeed_and_store_it_once() {
    let app = std::sync::Arc::new(spawn_app().await);
    let shot = png(200_000);
    let mut handles = Vec::new();
    for i in 0..12 {
        let (app, shot) = (app.clone(), shot.clone());
        handles.push(tokio::spawn(async move {
            let mut r = report("impersonation");
            r["description"] = json!(format!("victim {i}"));
            app.submit_report(&r, &[("same.png", shot)], None)
                .await
                .status()
        }));
    }
    for h in handles {
        assert_eq!(h.await.unwrap(), 201);
    }
    assert_eq!(app.stored_files().len(), 1);
}

#[tokio::test]
async fn oversized_report_part_is_a_problem_response_and_report_sent_as_a_file_still_counts() {
    let app = spawn_app().await;
    let mut big = report("other");
    big["description"] = json!("x".repeat(100_000));
    let r = app.submit_report(&big, &[], None).await;
    assert_problem(r, 413, "payload_too_large", "report part over 64 KiB").await;

    let form = reqwest::multipart::Form::new().part(
        "report",
        reqwest::multipart::Part::bytes(report("other").to_string().into_bytes())
            .file_name("report.json"),
    );
    let r = app
        .client
        .post(app.url("/v1/reports"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "curl -F report=@report.json works");

    let sec = security(&app).await;
    let r = app
        .client
        .get(app.url("/v1/reports/TD-0000-0000/attachments/0"))
        .bearer_auth(&sec)
        .send()
        .await
        .unwrap();
    assert_problem(r, 404, "report_not_found", "download from a missing report").await;
    let html = app.get("/r/not-an-id").await.text().await.unwrap();
    assert!(html.contains("No report matches"));
}
