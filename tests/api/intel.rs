//! Beyond verify pages: contact policies, reports pre-filled from verdicts, claimed entities,
//! consent, grouping and confidence, merges, escalation rules with SLA recompute, the STIX and
//! JSON feeds and the X-ARF export.

use serde_json::{json, Value};
use trustdesk::types::{now, Role};

use crate::helpers::{assert_problem, json, sign, spawn_app, TestApp};

const TRON: &str = "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7";

async fn send(
    app: &TestApp,
    method: &str,
    key: &str,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = app
        .client
        .request(method.parse().unwrap(), app.url(path))
        .bearer_auth(key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

async fn file(app: &TestApp, r: &Value) -> String {
    let resp = app.submit_report(r, &[], None).await;
    let status = resp.status();
    let body = json(resp).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

async fn staff_view(app: &TestApp, key: &str, id: &str) -> Value {
    let r = app.report_status(id, key).await;
    assert_eq!(r.status(), 200);
    json(r).await
}

fn rules_named(d: &Value) -> Vec<String> {
    d["fired_rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap().to_owned())
        .collect()
}

/// Confirms a report and resolves its escalation with an action: it becomes a known scam.
async fn confirm_and_act(app: &TestApp, sec: &str, id: &str) {
    for to in ["triaged", "investigating", "confirmed_fraud"] {
        let r = send(
            app,
            "POST",
            sec,
            &format!("/v1/reports/{id}/transition"),
            Some(json!({"to": to, "reason": format!("to {to}")})),
        )
        .await;
        assert_eq!(r.status(), 200, "{to}");
    }
    let e = json(send(app, "POST", sec, "/v1/escalations/claim", None).await).await;
    assert_eq!(e["report_id"], id, "{e}");
    let r = send(
        app,
        "POST",
        sec,
        &format!("/v1/escalations/{}/resolve", e["id"].as_str().unwrap()),
        Some(json!({"outcome": "handle_blocklisted", "note": "blocked"})),
    )
    .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn never_used_channels_answer_with_their_policy_in_both_languages() {
    let app = spawn_app().await;
    let admin = app.admin_key.clone();
    let r = send(
        &app,
        "POST",
        &admin,
        "/v1/policies",
        Some(json!({"rule": "never_used", "channel_kind": "whatsapp"})),
    )
    .await;
    assert_eq!(r.status(), 201);
    let wa = json(r).await;
    assert!(
        wa["statement_en"]
            .as_str()
            .unwrap()
            .contains("never contacts users on WhatsApp"),
        "{wa}"
    );
    let r = send(
        &app,
        "POST",
        &admin,
        "/v1/policies",
        Some(json!({"rule": "never_asks", "subject": "seed_phrase"})),
    )
    .await;
    assert_eq!(r.status(), 201);
    let r = send(
        &app,
        "POST",
        &admin,
        "/v1/policies",
        Some(json!({"rule": "never_initiates", "channel_kind": "phone",
                    "statement_en": "We never call first.", "statement_zh": "我们从不主动致电。"})),
    )
    .await;
    assert_eq!(r.status(), 201);

    // Refusals: the same policy twice, a malformed one, a non-admin.
    assert_problem(
        send(
            &app,
            "POST",
            &admin,
            "/v1/policies",
            Some(json!({"rule": "never_used", "channel_kind": "whatsapp"})),
        )
        .await,
        409,
        "policy_exists",
        "duplicate",
    )
    .await;
    assert_problem(
        send(
            &app,
            "POST",
            &admin,
            "/v1/policies",
            Some(json!({"rule": "never_used", "subject": "fee"})),
        )
        .await,
        400,
        "invalid_policy",
        "no kind",
    )
    .await;
    let sec = app.create_staff("Sec", Role::Security).await.key;
    assert_eq!(
        send(
            &app,
            "POST",
            &sec,
            "/v1/policies",
            Some(json!({"rule": "never_used", "channel_kind": "wechat"}))
        )
        .await
        .status(),
        403
    );

    // Public list, in both languages.
    let en = json(app.get("/v1/policies?lang=en").await).await;
    assert_eq!(en["policies"].as_array().unwrap().len(), 3);
    let zh = json(app.get("/v1/policies?lang=zh-CN").await).await;
    let texts = zh["policies"].to_string();
    assert!(
        texts.contains("我们从不主动致电") && texts.contains("助记词"),
        "{zh}"
    );

    // A WhatsApp number: the answer is the policy, not a bare "not official".
    let c = app.check_channel("whatsapp", "+86 138 0013 8000").await;
    assert_eq!(c["result"], "not_official");
    assert_eq!(c["policy"]["rule"], "never_used");
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .contains("never contacts users on WhatsApp"),
        "{c}"
    );
    assert_eq!(c["report_prefill"]["scam_channel"]["kind"], "whatsapp");
    // A phone number that is official still carries the "never call first" policy.
    app.register_channel("phone", "+8613800138000", None).await;
    let c = app.check_channel("phone", "+86 138 0013 8000").await;
    assert_eq!(c["result"], "official");
    assert!(c.get("policy").is_none());
    assert_eq!(c["policies"][0]["statement"], "We never call first.");

    // The verify page and API quote what the operator never asks for on a non-genuine verdict.
    let v = app.verdict_of("v4.public.AAAA").await;
    assert!(v["policies"].to_string().contains("seed phrase"), "{v}");
    let page = app.get("/verify").await;
    assert_eq!(page.status(), 200);
    let html = app
        .client
        .post(app.url("/verify"))
        .form(&[("input", "not a token at all"), ("lang", "en")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("What we never do") && html.contains("seed phrase"),
        "{html}"
    );

    // Withdrawn: gone from the list at once, and audited.
    let id = wa["id"].as_str().unwrap();
    assert_eq!(
        send(&app, "DELETE", &admin, &format!("/v1/policies/{id}"), None)
            .await
            .status(),
        204
    );
    let c = app.check_channel("whatsapp", "+8613800138001").await;
    assert!(c.get("policy").is_none(), "{c}");
    let audit = json(send(&app, "GET", &admin, "/v1/audit", None).await)
        .await
        .to_string();
    assert!(audit.contains("policy.add") && audit.contains("policy.remove"));
}

#[tokio::test]
async fn a_verdicts_report_link_prefills_a_report_that_records_the_claimed_entity() {
    let app = spawn_app().await;
    let agent = app.agent_with_channel("Alice", "@acme_support").await;
    let sec = app.create_staff("Sec", Role::Security).await.key;

    // A forgery naming our real agent and channel, signed with someone else's key.
    let mut claims = app.claims(now() - 10, now() + 600);
    claims.agent_name = "Alice".into();
    let foreign = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let forged = sign(&foreign, "k-stolen", &claims);
    let v = app.verdict_of(&forged).await;
    assert_eq!(v["verdict"], "forged");
    let prefill = v["report_prefill"].clone();
    assert_eq!(prefill["presented"], forged);
    assert_eq!(prefill["claimed_entity"]["agent"], "Alice");
    assert_eq!(
        prefill["claimed_entity"]["channel"]["handle"],
        "acme_support"
    );
    let url = v["report_url"].as_str().unwrap();
    assert!(url.contains("source=verify") && url.contains("verdict=forged"));
    assert!(
        url.contains("claimed_agent=Alice") && url.contains("presented=v4.public."),
        "{url}"
    );

    // The victim adds what happened; everything else comes from the verdict.
    let mut report = prefill.clone();
    report["category"] = json!("impersonation");
    report["description"] = json!("They showed me this link and asked for my seed phrase");
    let id = file(&app, &report).await;
    let d = staff_view(&app, &sec, &id).await;
    assert_eq!(d["claimed_entity"]["agent"], "Alice");
    assert_eq!(d["claimed_entity"]["agent_id"], agent.id);
    let channels = json(send(&app, "GET", &app.admin_key, "/v1/channels", None).await).await;
    assert_eq!(
        d["claimed_entity"]["official_channel_id"],
        channels[0]["id"]
    );
    assert_eq!(
        d["confidence"], "confirmed",
        "a forged token is hard evidence"
    );
    assert_eq!(d["priority"], "P1");
    assert!(rules_named(&d).contains(&"forged_token".to_owned()), "{d}");

    // A lookalike handle: the check answer pre-fills the scammer and the channel imitated.
    let c = app.check_channel("telegram", "@acme_suppport").await;
    assert_eq!(c["result"], "lookalike");
    let mut report = c["report_prefill"].clone();
    assert_eq!(
        report["claimed_entity"]["channel"]["handle"],
        "acme_support"
    );
    report["category"] = json!("impersonation");
    report["description"] = json!("fake support DM");
    let id = file(&app, &report).await;
    let d = staff_view(&app, &sec, &id).await;
    assert_eq!(d["scam_channel"]["handle"], "acme_suppport");
    assert_eq!(
        d["claimed_entity"]["official_channel_id"],
        channels[0]["id"]
    );

    // A genuine verdict offers no report.
    let s = app.new_session(&agent, "@acme_support").await;
    let g = app.verdict_of(s["token"].as_str().unwrap()).await;
    assert_eq!(g["verdict"], "genuine");
    assert!(g.get("report_url").is_none() && g.get("report_prefill").is_none());
}

#[tokio::test]
async fn anonymous_and_opt_in_reports_keep_consent_separate() {
    let app = spawn_app().await;
    let sec = app.create_staff("Sec", Role::Security).await.key;
    let base = json!({"category": "other", "description": "scam"});

    let anon = file(&app, &base).await;
    let d = staff_view(&app, &sec, &anon).await;
    assert_eq!(
        (d["anonymous"].clone(), d["contact_opt_in"].clone()),
        (json!(true), json!(false))
    );
    assert!(d.get("reporter_contact").is_none());

    let mut both = base.clone();
    both["reporter_contact"] = json!("victim@example.com");
    both["share_with_law_enforcement"] = json!(true);
    let d = staff_view(&app, &sec, &file(&app, &both).await).await;
    assert_eq!(
        d["contact_opt_in"], true,
        "giving a contact opts in by default"
    );
    assert_eq!(d["share_with_law_enforcement"], true);
    assert_eq!(d["reporter_contact"], "victim@example.com");

    let mut kept = base.clone();
    kept["reporter_contact"] = json!("quiet@example.com");
    kept["contact_opt_in"] = json!(false);
    let d = staff_view(&app, &sec, &file(&app, &kept).await).await;
    assert_eq!(
        (d["anonymous"].clone(), d["contact_opt_in"].clone()),
        (json!(false), json!(false))
    );
    assert!(
        d.get("reporter_contact").is_none(),
        "not shown without consent: {d}"
    );
    assert_eq!(d["share_with_law_enforcement"], false);

    let mut bad = base.clone();
    bad["share_with_law_enforcement"] = json!(true);
    assert_problem(
        app.submit_report(&bad, &[], None).await,
        400,
        "contact_required",
        "no contact",
    )
    .await;
    let mut bad = base.clone();
    bad["contact_opt_in"] = json!(true);
    assert_problem(
        app.submit_report(&bad, &[], None).await,
        400,
        "contact_required",
        "no contact",
    )
    .await;
}

#[tokio::test]
async fn reports_on_one_identifier_are_grouped_corroborated_and_merged() {
    let app = spawn_app().await;
    let sec = app.create_staff("Sec", Role::Security).await.key;
    let report = |contact: Option<&str>| {
        let mut r = json!({"category": "investment_scam", "description": "sent USDT to them",
            "scam_addresses": [{"chain": "tron", "address": TRON}]});
        if let Some(c) = contact {
            r["reporter_contact"] = json!(c);
        }
        r
    };
    // The same person twice is not corroboration.
    let a = file(&app, &report(Some("Same@Example.com"))).await;
    let b = file(&app, &report(Some(" same@example.com "))).await;
    assert_eq!(staff_view(&app, &sec, &b).await["confidence"], "unverified");
    // An independent (anonymous) report is.
    let c = file(&app, &report(None)).await;
    for id in [&a, &b, &c] {
        assert_eq!(
            staff_view(&app, &sec, id).await["confidence"],
            "corroborated",
            "{id}"
        );
    }
    let d = staff_view(&app, &sec, &c).await;
    let g = &d["groups"][0];
    assert_eq!(g["kind"], "crypto_address");
    assert_eq!(g["value"], format!("tron:{TRON}"));
    assert_eq!(g["independent_reports"], 2);
    assert_eq!(g["reports"].as_array().unwrap().len(), 3);

    // Invalid addresses are refused with a clear error.
    let mut bad = report(None);
    bad["scam_addresses"] = json!([{"chain": "eth", "address": "0x1234"}]);
    assert_problem(
        app.submit_report(&bad, &[], None).await,
        400,
        "invalid_address",
        "short",
    )
    .await;

    // Merging the anonymous one into the first: no longer independent, the group drops back.
    let merge = |dup: &str, into: &str| {
        let (dup, into) = (dup.to_owned(), into.to_owned());
        let app = &app;
        let sec = sec.clone();
        async move {
            send(
                app,
                "POST",
                &sec,
                &format!("/v1/reports/{dup}/merge"),
                Some(json!({"into": into, "reason": "same victim, same incident"})),
            )
            .await
        }
    };
    let r = merge(&c, &a).await;
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["duplicate_of"], a);
    let d = staff_view(&app, &sec, &c).await;
    assert_eq!(
        (d["status"].clone(), d["duplicate_of"].clone()),
        (json!("duplicate"), json!(a.clone()))
    );
    assert_eq!(staff_view(&app, &sec, &a).await["confidence"], "unverified");
    assert_problem(
        merge(&c, &a).await,
        409,
        "illegal_transition",
        "already merged",
    )
    .await;
    assert_problem(merge(&a, &a).await, 400, "invalid_body", "into itself").await;
    assert_problem(merge(&b, &c).await, 400, "invalid_body", "into a duplicate").await;
    let agent = app.create_staff("Agent", Role::Agent).await.key;
    assert_eq!(merge_as(&app, &agent, &b, &a).await.status(), 403);
    let audit = json(send(&app, "GET", &app.admin_key, "/v1/audit", None).await)
        .await
        .to_string();
    assert!(audit.contains("report.merge"));

    // Dismissing an independent report also takes it out of the count.
    let d = file(&app, &report(Some("other@example.com"))).await;
    assert_eq!(
        staff_view(&app, &sec, &a).await["confidence"],
        "corroborated"
    );
    let r = send(
        &app,
        "POST",
        &sec,
        &format!("/v1/reports/{d}/transition"),
        Some(json!({"to": "dismissed", "reason": "spam"})),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(staff_view(&app, &sec, &a).await["confidence"], "unverified");
}

async fn merge_as(app: &TestApp, key: &str, dup: &str, into: &str) -> reqwest::Response {
    send(
        app,
        "POST",
        key,
        &format!("/v1/reports/{dup}/merge"),
        Some(json!({"into": into, "reason": "x"})),
    )
    .await
}

#[tokio::test]
async fn each_escalation_rule_fires_is_shown_and_recomputes_deadlines() {
    let app = spawn_app().await;
    let sec = app.create_staff("Sec", Role::Security).await.key;
    let admin = app.admin_key.clone();
    app.register_channel("telegram", "@acme_support", None)
        .await;

    // loss_above (default: above 10000 in stablecoins) → P1.
    let big = json!({"category": "investment_scam", "description": "lost savings",
        "amount_lost": "25000.50", "asset": "usdt"});
    let d = staff_view(&app, &sec, &file(&app, &big).await).await;
    assert_eq!(d["priority"], "P1");
    assert_eq!(rules_named(&d), ["loss_above"]);
    assert!(d["fired_rules"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("25000.50"));
    // The first-response deadline is the P1 SLA, not the P3 one the report would otherwise get.
    let t = |v: &Value| trustdesk::tokens::claims::parse_time(v.as_str().unwrap()).unwrap();
    assert_eq!(
        t(&d["first_response_by"]) - t(&d["created_at"]),
        i64::from(app.config.sla_p1_secs)
    );

    // Admins tune the rules: loss_above off, a faster repeat rule. Non-admins cannot.
    let rules = json(send(&app, "GET", &sec, "/v1/escalation-rules", None).await).await;
    assert_eq!(rules["rules"].as_array().unwrap().len(), 5);
    let put = json!({"rules": [
        {"rule": "loss_above", "enabled": false, "priority": "P1", "threshold": "10000"},
        {"rule": "repeat_identifier", "enabled": true, "priority": "P1", "count": 3, "window_secs": 3600}
    ]});
    assert_eq!(
        send(&app, "PUT", &sec, "/v1/escalation-rules", Some(put.clone()))
            .await
            .status(),
        403
    );
    assert_problem(send(&app, "PUT", &admin, "/v1/escalation-rules",
        Some(json!({"rules": [{"rule": "repeat_identifier", "enabled": true, "priority": "P1", "count": 1, "window_secs": 3600}]}))).await,
        400, "invalid_rules", "count 1").await;
    assert_eq!(
        send(&app, "PUT", &admin, "/v1/escalation-rules", Some(put))
            .await
            .status(),
        200
    );
    let d = staff_view(&app, &sec, &file(&app, &big).await).await;
    assert_eq!(d["priority"], "P3", "disabled rule does not fire: {d}");
    assert!(rules_named(&d).is_empty());

    // repeat_identifier: the third report on one handle within the hour raises all three, and
    // the earlier reports' first-response promises move earlier.
    let scam = json!({"category": "impersonation", "description": "fake support",
        "scam_channel": {"kind": "telegram", "handle": "@totally_random_scam"}});
    let first = file(&app, &scam).await;
    let before = staff_view(&app, &sec, &first).await;
    assert_eq!(before["priority"], "P3");
    let _second = file(&app, &scam).await;
    let third = file(&app, &scam).await;
    let d = staff_view(&app, &sec, &third).await;
    assert_eq!(
        (d["priority"].clone(), rules_named(&d)),
        (json!("P1"), vec!["repeat_identifier".to_owned()])
    );
    let after = staff_view(&app, &sec, &first).await;
    assert_eq!(after["priority"], "P1");
    assert!(rules_named(&after).contains(&"repeat_identifier".to_owned()));
    assert!(
        after["first_response_by"].as_str() < before["first_response_by"].as_str(),
        "{after}"
    );
    let receipt_view = after["events"].to_string();
    assert!(receipt_view.contains("priority_changed"), "{after}");

    // known_scam_identifier: once a scammer is confirmed and acted on.
    confirm_and_act(&app, &sec, &first).await;
    let d = staff_view(&app, &sec, &file(&app, &scam).await).await;
    assert!(
        rules_named(&d).contains(&"known_scam_identifier".to_owned()),
        "{d}"
    );

    // Manual priority change recomputes the escalation's SLA deadline.
    let low = file(&app, &json!({"category": "other", "description": "odd DM"})).await;
    for to in ["triaged", "investigating", "confirmed_fraud"] {
        send(
            &app,
            "POST",
            &sec,
            &format!("/v1/reports/{low}/transition"),
            Some(json!({"to": to, "reason": "x"})),
        )
        .await;
    }
    let e0 = queued_escalation(&app, &sec, &low).await;
    assert_eq!(e0["priority"], "P3");
    let r = send(
        &app,
        "POST",
        &sec,
        &format!("/v1/reports/{low}/priority"),
        Some(json!({"priority": "P1", "reason": "victim still in contact with the scammer"})),
    )
    .await;
    assert_eq!(r.status(), 200);
    let p = json(r).await;
    let e1 = queued_escalation(&app, &sec, &low).await;
    assert_eq!(e1["priority"], "P1");
    assert_eq!(
        t(&e1["sla_due_at"]) - t(&e1["created_at"]),
        i64::from(app.config.sla_p1_secs)
    );
    assert_eq!(p["escalation_sla_due_at"], e1["sla_due_at"]);
    assert_problem(
        send(
            &app,
            "POST",
            &sec,
            &format!("/v1/reports/{low}/priority"),
            Some(json!({"priority": "P0", "reason": "x"})),
        )
        .await,
        400,
        "invalid_body",
        "P0",
    )
    .await;

    // official_channel_as_scammer → P1.
    let off = json!({"category": "impersonation", "description": "our own account scammed me",
        "scam_channel": {"kind": "telegram", "handle": "@acme_support"}});
    let d = staff_view(&app, &sec, &file(&app, &off).await).await;
    assert_eq!(
        (d["priority"].clone(), rules_named(&d)),
        (json!("P1"), vec!["official_channel_as_scammer".to_owned()])
    );
}

/// A Python with the OASIS STIX tooling: `TRUSTDESK_TEST_PYTHON`, or a virtualenv with pinned
/// versions from PyPI.
fn python() -> String {
    if let Ok(p) = std::env::var("TRUSTDESK_TEST_PYTHON") {
        return p;
    }
    let bin = crate::helpers::python_venv(
        "stix-venv",
        &[
            "stix2==3.0.2",
            "stix2-patterns==2.1.2",
            "stix2-validator==3.3.2",
        ],
    );
    bin.join("python").display().to_string()
}

#[tokio::test]
async fn the_stix_feed_validates_carries_no_victim_data_and_honours_etags() {
    let app = spawn_app().await;
    let sec = app.create_staff("Sec", Role::Security).await.key;
    app.register_channel("telegram", "@acme_support", None)
        .await;
    let secret_desc = "my name is Wang Wei and my account is 88123";
    let r = json!({"category": "impersonation", "description": secret_desc,
        "scam_channel": {"kind": "telegram", "handle": "@acme_helpdesk_vip"},
        "scam_addresses": [{"chain": "tron", "address": TRON}],
        "transactions": [{"chain": "eth", "tx_hash": format!("0x{}", "ab".repeat(32))}],
        "reporter_contact": "victim-wang@example.com", "share_with_law_enforcement": true});
    let id = file(&app, &r).await;
    // Nothing unconfirmed leaves as an X-ARF report.
    assert_problem(
        send(&app, "GET", &sec, &format!("/v1/reports/{id}/xarf"), None).await,
        409,
        "not_confirmed",
        "unconfirmed",
    )
    .await;
    let empty = app.get("/v1/feeds/stix").await;
    let etag0 = empty.headers()["etag"].to_str().unwrap().to_owned();
    confirm_and_act(&app, &sec, &id).await;
    // A report naming the official channel itself (a compromised account) is never published.
    let off = file(
        &app,
        &json!({"category": "impersonation", "description": "x",
        "scam_channel": {"kind": "telegram", "handle": "@acme_support"}}),
    )
    .await;
    confirm_and_act(&app, &sec, &off).await;

    let resp = app.get("/v1/feeds/stix").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/stix+json;version=2.1"
    );
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(etag, etag0, "new confirmations change the ETag");
    let body = resp.text().await.unwrap();
    for leak in [
        secret_desc,
        "victim-wang",
        &id,
        &"ab".repeat(32),
        "acme_support'",
    ] {
        assert!(!body.contains(leak), "feed leaks {leak:?}: {body}");
    }
    assert!(
        body.contains("acme_helpdesk_vip") && body.contains(TRON),
        "{body}"
    );
    let bundle: Value = serde_json::from_str(&body).unwrap();
    let indicators: Vec<&Value> = bundle["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["type"] == "indicator")
        .collect();
    assert_eq!(indicators.len(), 2, "{bundle}");
    assert!(indicators
        .iter()
        .all(|i| !i["object_marking_refs"].as_array().unwrap().is_empty()
            && i["confidence"].as_i64().unwrap() > 0));

    // The official STIX 2.1 tooling accepts it.
    let mut child = std::process::Command::new(python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/feeds/validate_stix.py"
        ))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 with stix2 and stix2-validator (see .ci/run; TRUSTDESK_TEST_PYTHON)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "STIX validation failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Unchanged: 304 without a body, also for a list of tags and the weak form.
    for inm in [etag.clone(), format!("\"x\", {etag}"), format!("W/{etag}")] {
        let r = app
            .client
            .get(app.url("/v1/feeds/stix"))
            .header("if-none-match", inm)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 304);
        assert!(r.text().await.unwrap().is_empty());
    }
    let r = app
        .client
        .get(app.url("/v1/feeds/stix"))
        .header("if-none-match", etag0)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // The plain JSON list: the same identifiers, its own ETag.
    let r = app.get("/v1/feeds/scammers").await;
    let tag = r.headers()["etag"].to_str().unwrap().to_owned();
    let list = json(r).await;
    let values: Vec<&str> = list["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_str().unwrap())
        .collect();
    assert_eq!(values.len(), 2, "{list}");
    assert!(
        values.contains(&"acme_helpdesk_vip") && values.contains(&format!("tron:{TRON}").as_str())
    );
    assert!(!list.to_string().contains("victim-wang"));
    let r = app
        .client
        .get(app.url("/v1/feeds/scammers"))
        .header("if-none-match", tag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);

    // The X-ARF export for the abused platform: scammer-side data only, staff only.
    let x = send(&app, "GET", &sec, &format!("/v1/reports/{id}/xarf"), None).await;
    assert_eq!(x.status(), 200);
    let x = json(x).await;
    assert_eq!(
        (
            x["xarf_version"].clone(),
            x["category"].clone(),
            x["type"].clone()
        ),
        (json!("4.2.0"), json!("content"), json!("fraud")),
        "{x}"
    );
    let text = x.to_string();
    assert!(
        text.contains("acme_helpdesk_vip")
            && !text.contains("victim-wang")
            && !text.contains("Wang Wei")
    );
    let agent = app.create_staff("Agent", Role::Agent).await.key;
    assert_eq!(
        send(&app, "GET", &agent, &format!("/v1/reports/{id}/xarf"), None)
            .await
            .status(),
        403
    );
}

async fn queued_escalation(app: &TestApp, sec: &str, report_id: &str) -> Value {
    let list = json(send(app, "GET", sec, "/v1/escalations?state=queued", None).await).await;
    list.as_array()
        .unwrap()
        .iter()
        .find(|e| e["report_id"] == report_id)
        .cloned()
        .unwrap()
}
