//! Review workflow, escalation queue, known-scam feedback and the audit trail.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use trustdesk::escalations::{new_escalation, QueueSettings};
use trustdesk::reports::Priority;
use trustdesk::types::{now, Role};

use crate::helpers::{assert_problem, json, spawn_app, spawn_app_with, TestApp};

fn report(category: &str, channel: Option<&str>) -> Value {
    let mut r = json!({"category": category, "description": "fake support took my funds"});
    if let Some(c) = channel {
        r["scam_channel"] = json!({"kind": "telegram", "handle": c});
    }
    r
}

async fn file(app: &TestApp, r: &Value) -> String {
    let resp = app.submit_report(r, &[], None).await;
    assert_eq!(resp.status(), 201);
    json(resp).await["id"].as_str().unwrap().to_owned()
}

async fn post(app: &TestApp, key: &str, path: &str, body: Option<Value>) -> reqwest::Response {
    let mut req = app.client.post(app.url(path)).bearer_auth(key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

async fn move_to(app: &TestApp, key: &str, id: &str, to: &str) -> reqwest::Response {
    post(
        app,
        key,
        &format!("/v1/reports/{id}/transition"),
        Some(json!({"to": to, "reason": format!("moving to {to}")})),
    )
    .await
}

/// Inserts `n` reports that each already have a queued escalation of `priority` (fast seeding
/// for queue tests; the HTTP path is covered separately).
async fn seed(app: &TestApp, n: usize, priority: Priority) -> Vec<String> {
    let q = QueueSettings {
        base_url: "http://127.0.0.1".into(),
        lease_secs: 300,
        sla_secs: [900, 14_400, 86_400],
    };
    let mut ids = Vec::new();
    for _ in 0..n {
        let id = trustdesk::reports::receipt::new_report_id();
        let t = now();
        let esc = new_escalation(&q, &id, priority, "seeded", t);
        ids.push(esc.record.id.clone());
        app.store
            .insert_report(&crate::helpers::seed_bundle(&id, t, esc))
            .await
            .unwrap();
    }
    ids
}

#[tokio::test]
async fn workflow_moves_are_checked_audited_and_shown_to_the_victim() {
    let app = spawn_app().await;
    let sec = app.create_staff("Sec", Role::Security).await.key;
    let b = json(
        app.submit_report(&report("impersonation", None), &[], None)
            .await,
    )
    .await;
    let id = b["id"].as_str().unwrap();

    // Illegal moves from `received`.
    for to in ["investigating", "confirmed_fraud", "resolved", "received"] {
        assert_problem(
            move_to(&app, &sec, id, to).await,
            409,
            "illegal_transition",
            to,
        )
        .await;
    }
    for to in ["triaged", "investigating", "confirmed_fraud"] {
        let r = move_to(&app, &sec, id, to).await;
        assert_eq!(r.status(), 200, "{to}");
    }
    // The report cannot close while its escalation is still being worked.
    assert_problem(
        move_to(&app, &sec, id, "resolved").await,
        409,
        "escalation_open",
        "open escalation",
    )
    .await;
    let e = json(post(&app, &sec, "/v1/escalations/claim", None).await).await;
    let eid = e["id"].as_str().unwrap();
    let done = post(
        &app,
        &sec,
        &format!("/v1/escalations/{eid}/resolve"),
        Some(json!({"outcome": "victim_contacted", "note": "called back"})),
    )
    .await;
    assert_eq!(done.status(), 200);
    let r = json(move_to(&app, &sec, id, "resolved").await).await;
    assert_eq!(r["status"], "resolved");
    assert_eq!(
        r["escalation"]["priority"], "P2",
        "confirmed impersonation is P2"
    );
    assert_problem(
        move_to(&app, &sec, id, "triaged").await,
        409,
        "illegal_transition",
        "after resolved",
    )
    .await;

    let victim = json(app.report_status(id, b["receipt"].as_str().unwrap()).await).await;
    assert_eq!(victim["status"], "resolved");
    let kinds: Vec<&str> = victim["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "received",
            "triaged",
            "investigating",
            "confirmed_fraud",
            "resolved"
        ]
    );
    assert!(
        !victim.to_string().contains("moving to"),
        "internal reasons stay internal"
    );

    // Reason required, role required, unknown report.
    let r = post(
        &app,
        &sec,
        &format!("/v1/reports/{id}/transition"),
        Some(json!({"to": "triaged", "reason": " "})),
    )
    .await;
    assert_problem(r, 400, "invalid_body", "empty reason").await;
    let agent = app.create_staff("Agent", Role::Agent).await.key;
    assert_problem(
        move_to(&app, &agent, id, "triaged").await,
        403,
        "forbidden",
        "agent",
    )
    .await;
    assert_problem(
        move_to(&app, &sec, "TD-0000-0000", "triaged").await,
        404,
        "report_not_found",
        "missing",
    )
    .await;
}

#[tokio::test]
async fn dismissing_an_auto_escalated_report_takes_it_out_of_the_queue() {
    let app = spawn_app().await;
    let sec = app.create_staff("Sec", Role::Security).await.key;
    app.register_channel("telegram", "@acme_support", None)
        .await;
    let id = file(&app, &report("other", Some("@acme_support"))).await;
    let list = json(
        app.client
            .get(app.url("/v1/escalations?state=queued"))
            .bearer_auth(&sec)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "auto-escalated at intake"
    );
    let r = json(move_to(&app, &sec, &id, "dismissed").await).await;
    assert_eq!(r["escalation"]["state"], "resolved");
    assert_eq!(r["escalation"]["outcome"], "no_action");
    assert_eq!(
        post(&app, &sec, "/v1/escalations/claim", None)
            .await
            .status(),
        204
    );
}

#[tokio::test]
async fn dismissing_spam_directly_is_allowed_and_never_escalates() {
    let app = spawn_app().await;
    let sec = app.create_staff("Sec", Role::Security).await.key;
    let id = file(&app, &report("other", None)).await;
    let r = json(move_to(&app, &sec, &id, "dismissed").await).await;
    assert!(r.get("escalation").is_none());
    assert_eq!(
        post(&app, &sec, "/v1/escalations/claim", None)
            .await
            .status(),
        204
    );
}

#[tokio::test]
async fn claims_come_in_priority_then_age_order_and_hard_evidence_escalates_at_intake() {
    let app = spawn_app().await;
    let sec = app.create_staff("Sec", Role::Security).await.key;
    let p3 = seed(&app, 2, Priority::P3).await;
    let p2 = seed(&app, 2, Priority::P2).await;
    // Intake: the scammer wrote from an official channel => P1, queued without any staff move.
    app.register_channel("telegram", "@acme_support", None)
        .await;
    let auto = file(&app, &report("account_takeover", Some("@acme_support"))).await;

    let mut order = Vec::new();
    loop {
        let r = post(&app, &sec, "/v1/escalations/claim", None).await;
        if r.status() == 204 {
            break;
        }
        let e = json(r).await;
        order.push((
            e["priority"].as_str().unwrap().to_owned(),
            e["id"].as_str().unwrap().to_owned(),
            e["report_id"].as_str().unwrap().to_owned(),
        ));
    }
    assert_eq!(order.len(), 5);
    assert_eq!(order[0].0, "P1");
    assert_eq!(order[0].2, auto, "the auto-escalated report comes first");
    let rest: Vec<&str> = order[1..].iter().map(|o| o.1.as_str()).collect();
    assert_eq!(
        rest,
        [
            p2[0].as_str(),
            p2[1].as_str(),
            p3[0].as_str(),
            p3[1].as_str()
        ]
    );
}

#[tokio::test]
async fn an_expired_lease_returns_the_item_and_the_old_holder_can_no_longer_act() {
    let app = spawn_app_with(|c| c.lease_secs = 1).await;
    let alice = app.create_staff("Alice", Role::Security).await.key;
    let bob = app.create_staff("Bob", Role::Security).await.key;
    seed(&app, 1, Priority::P2).await;
    let e = json(post(&app, &alice, "/v1/escalations/claim", None).await).await;
    let id = e["id"].as_str().unwrap();
    assert_eq!(
        post(&app, &bob, "/v1/escalations/claim", None)
            .await
            .status(),
        204,
        "held by Alice"
    );
    assert_problem(
        post(
            &app,
            &bob,
            &format!("/v1/escalations/{id}/resolve"),
            Some(json!({"outcome": "no_action", "note": "x"})),
        )
        .await,
        409,
        "not_lease_holder",
        "Bob resolves Alice's item",
    )
    .await;
    // Heartbeat keeps it.
    assert_eq!(
        post(
            &app,
            &alice,
            &format!("/v1/escalations/{id}/heartbeat"),
            None
        )
        .await
        .status(),
        200
    );

    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let again = json(post(&app, &bob, "/v1/escalations/claim", None).await).await;
    assert_eq!(again["id"], id, "re-claimed after expiry");
    assert_eq!(again["claims"], 2);
    assert_problem(
        post(
            &app,
            &alice,
            &format!("/v1/escalations/{id}/heartbeat"),
            None,
        )
        .await,
        409,
        "not_lease_holder",
        "expired holder",
    )
    .await;
    let done = json(
        post(
            &app,
            &bob,
            &format!("/v1/escalations/{id}/resolve"),
            Some(json!({"outcome": "takedown_requested", "note": "reported to Telegram"})),
        )
        .await,
    )
    .await;
    assert_eq!(done["state"], "resolved");
    assert_problem(
        post(&app, &bob, &format!("/v1/escalations/{id}/release"), None).await,
        409,
        "not_lease_holder",
        "resolved item",
    )
    .await;
    assert_problem(
        post(
            &app,
            &bob,
            "/v1/escalations/00000000-0000-7000-8000-000000000000/release",
            None,
        )
        .await,
        404,
        "escalation_not_found",
        "unknown",
    )
    .await;
}

#[tokio::test]
async fn release_gives_the_item_back_at_once() {
    let app = spawn_app().await;
    let alice = app.create_staff("Alice", Role::Security).await.key;
    let bob = app.create_staff("Bob", Role::Security).await.key;
    seed(&app, 1, Priority::P1).await;
    let e = json(post(&app, &alice, "/v1/escalations/claim", None).await).await;
    let id = e["id"].as_str().unwrap();
    let r = post(&app, &alice, &format!("/v1/escalations/{id}/release"), None).await;
    assert_eq!(r.status(), 200);
    // The answer is the item as the release left it (not re-read, when someone may already
    // have claimed it again).
    let released = json(r).await;
    assert_eq!(released["state"], "queued");
    assert!(released.get("claimed_by").is_none());
    assert_eq!(
        json(post(&app, &bob, "/v1/escalations/claim", None).await).await["id"],
        id
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_concurrent_claimers_resolve_five_hundred_items_exactly_once() {
    let app = Arc::new(spawn_app().await);
    let mut seeded = seed(&app, 200, Priority::P3).await;
    seeded.extend(seed(&app, 200, Priority::P2).await);
    seeded.extend(seed(&app, 100, Priority::P1).await);
    let mut keys = Vec::new();
    for i in 0..32 {
        keys.push(
            app.create_staff(&format!("analyst-{i}"), Role::Security)
                .await
                .key,
        );
    }
    let mut tasks = Vec::new();
    for key in keys {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let r = post(&app, &key, "/v1/escalations/claim", None).await;
                if r.status() == 204 {
                    return mine;
                }
                assert_eq!(r.status(), 200);
                let id = json(r).await["id"].as_str().unwrap().to_owned();
                let done = post(
                    &app,
                    &key,
                    &format!("/v1/escalations/{id}/resolve"),
                    Some(json!({"outcome": "no_action", "note": "checked"})),
                )
                .await;
                assert_eq!(
                    done.status(),
                    200,
                    "a claimed item must be resolvable by its holder"
                );
                mine.push(id);
            }
        }));
    }
    let mut count: HashMap<String, usize> = HashMap::new();
    for t in tasks {
        for id in t.await.unwrap() {
            *count.entry(id).or_default() += 1;
        }
    }
    assert_eq!(count.len(), 500, "every item resolved");
    assert!(count.values().all(|n| *n == 1), "no item resolved twice");
    for id in &seeded {
        assert_eq!(count.get(id), Some(&1));
    }
    let sec = app.create_staff("auditor", Role::Security).await.key;
    let open = app
        .client
        .get(app.url("/v1/escalations?state=queued"))
        .bearer_auth(&sec)
        .send()
        .await
        .unwrap();
    assert_eq!(json(open).await.as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn items_past_their_sla_are_flagged_listed_and_counted() {
    let app = spawn_app_with(|c| c.sla_p3_secs = 1).await;
    let sec = app.create_staff("Sec", Role::Security).await.key;
    let id = file(&app, &report("other", None)).await;
    for to in ["triaged", "investigating", "confirmed_fraud"] {
        assert_eq!(move_to(&app, &sec, &id, to).await.status(), 200);
    }
    let fresh = json(
        app.client
            .get(app.url("/v1/escalations?breached=true"))
            .bearer_auth(&sec)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(fresh.as_array().unwrap().len(), 0);
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let late = json(
        app.client
            .get(app.url("/v1/escalations?breached=true"))
            .bearer_auth(&sec)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(late.as_array().unwrap().len(), 1);
    assert_eq!(late[0]["report_id"], id);
    assert_eq!(late[0]["sla_breached"], true);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("trustdesk_escalations_sla_breached"),
        "gauge exported"
    );
}

#[tokio::test]
async fn a_scammer_confirmed_in_a_resolved_escalation_becomes_a_known_scam() {
    let app = spawn_app().await;
    let sec = app.create_staff("Sec", Role::Security).await.key;
    app.register_channel("telegram", "@acme_support", None)
        .await;
    let before = app.check_channel("telegram", "@acme_help_desk").await;
    assert_eq!(before["result"], "lookalike");

    let id = file(&app, &report("impersonation", Some("@acme_help_desk"))).await;
    for to in ["triaged", "investigating", "confirmed_fraud"] {
        assert_eq!(move_to(&app, &sec, &id, to).await.status(), 200);
    }
    let e = json(post(&app, &sec, "/v1/escalations/claim", None).await).await;
    assert_eq!(e["report_id"], id);
    let eid = e["id"].as_str().unwrap();
    post(
        &app,
        &sec,
        &format!("/v1/escalations/{eid}/resolve"),
        Some(json!({"outcome": "handle_blocklisted", "note": "blocked"})),
    )
    .await;

    let after = app
        .check_channel("telegram", "https://t.me/ACME_help_desk")
        .await;
    assert_eq!(after["result"], "known_scam", "{after}");
    assert_eq!(after["confirmed_reports"], 1);
    assert_eq!(
        after["official"]["value"], "acme_support",
        "still names what it imitates"
    );
    assert!(after["message"].as_str().unwrap().contains("known scammer"));

    // A new report about that scammer is triaged with that knowledge.
    let next = json(
        app.submit_report(&report("impersonation", Some("@acme_help_desk")), &[], None)
            .await,
    )
    .await;
    let d = json(app.report_status(next["id"].as_str().unwrap(), &sec).await).await;
    assert!(
        d["triage_reasons"].to_string().contains("known scam"),
        "{d}"
    );
}

#[tokio::test]
async fn audit_chain_verifies_and_any_edit_or_deletion_in_the_database_is_detected() {
    let app = spawn_app().await;
    let sec = app.create_staff("Sec", Role::Security).await.key;
    let agent = app.agent_with_channel("Alice", "@acme_support").await;
    let s = app.new_session(&agent, "@acme_support").await;
    app.revoke(&agent.key, s["session_id"].as_str().unwrap())
        .await;
    let id = file(&app, &report("impersonation", None)).await;
    move_to(&app, &sec, &id, "triaged").await;
    app.post_admin("/v1/keys/rotate").await;

    let page = json(app.get_admin("/v1/audit?limit=500").await).await;
    let actions: Vec<&str> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "staff.add",
        "channel.add",
        "session.issue",
        "session.revoke",
        "report.transition",
        "key.rotate",
    ] {
        assert!(actions.contains(&a), "{a} audited: {actions:?}");
    }
    let r = app
        .client
        .get(app.url("/v1/audit"))
        .bearer_auth(&sec)
        .send()
        .await
        .unwrap();
    assert_problem(r, 403, "forbidden", "security cannot read the audit trail").await;

    let verify = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_trustdesk"))
            .args([
                "--database-url",
                &app.config.database_url.0,
                "audit",
                "verify",
            ])
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (ok, out) = verify();
    assert!(ok && out.contains("chain intact"), "{out}");

    crate::helpers::raw_execute(
        &app,
        "UPDATE audit_log SET details = '{\"reason\":\"nothing to see\"}' WHERE seq = 3",
        None,
    )
    .await;
    let (ok, out) = verify();
    assert!(
        !ok && out.contains("BROKEN at entry 3") && out.contains("edited"),
        "{out}"
    );

    // Restore by recomputing that one row's hash: the next link then breaks instead.
    let row = app.store.audit_page(2, 1).await.unwrap().remove(0);
    let d = trustdesk::storage::AuditDraft {
        at: row.at,
        actor_id: row.actor_id,
        action: row.action,
        subject: row.subject,
        details: row.details,
    };
    let forged = trustdesk::audit::hash_entry(3, &row.prev_hash, &d);
    crate::helpers::raw_execute(
        &app,
        "UPDATE audit_log SET hash = $1 WHERE seq = 3",
        Some(&forged),
    )
    .await;
    let (ok, out) = verify();
    assert!(
        !ok && out.contains("BROKEN at entry 4"),
        "rewriting a hash breaks the next link: {out}"
    );

    crate::helpers::raw_execute(&app, "DELETE FROM audit_log WHERE seq = 3", None).await;
    let (ok, out) = verify();
    assert!(
        !ok && out.contains("BROKEN at entry"),
        "deleted entry detected: {out}"
    );
}

#[tokio::test]
async fn new_p1_escalations_reach_the_webhook_signed_and_retried_after_failures() {
    use std::sync::Mutex;
    #[derive(Default)]
    struct Seen {
        calls: Vec<(axum::http::HeaderMap, Vec<u8>)>,
    }
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s2 = seen.clone();
    // A receiver that fails twice, then accepts.
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let s2 = s2.clone();
                async move {
                    let mut s = s2.lock().unwrap();
                    s.calls.push((headers, body.to_vec()));
                    if s.calls.len() <= 2 {
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        axum::http::StatusCode::NO_CONTENT
                    }
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    let app = spawn_app_with(|c| {
        c.webhook_url = Some(hook);
        c.webhook_backoff_secs = 1;
    })
    .await;
    app.register_channel("telegram", "@acme_support", None)
        .await;
    let report_id = file(&app, &report("account_takeover", Some("@acme_support"))).await;

    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while seen.lock().unwrap().calls.len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "webhook not retried to success"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let calls = std::mem::take(&mut seen.lock().unwrap().calls);
    assert_eq!(
        calls.len(),
        3,
        "two failures, one success, then nothing more"
    );
    let delivery = calls[0].0["trustdesk-delivery"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        calls
            .iter()
            .all(|(h, _)| h["trustdesk-delivery"] == delivery.as_str()),
        "same delivery id on retries"
    );

    let (headers, body) = &calls[2];
    let payload: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(payload["type"], "escalation.created");
    assert_eq!(payload["priority"], "P1");
    assert_eq!(payload["report_id"], report_id);

    // Verify the signature the way a receiver would: with the published key named by kid.
    let kid = headers["trustdesk-key-id"].to_str().unwrap();
    let keys = json(app.get("/.well-known/trustdesk-keys").await).await;
    let paserk = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap()["paserk"]
        .as_str()
        .unwrap()
        .to_owned();
    let vk = trustdesk::tokens::paserk::public_from_paserk(&paserk).unwrap();
    let ts: i64 = headers["trustdesk-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let sig = headers["trustdesk-signature"]
        .to_str()
        .unwrap()
        .strip_prefix("ed25519=")
        .unwrap();
    use base64::Engine as _;
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .unwrap();
    let sig = ed25519_dalek::Signature::from_slice(&sig).unwrap();
    let msg = trustdesk::notify::signed_message(ts, &delivery, body);
    assert!(vk.verify_strict(&msg, &sig).is_ok(), "signature verifies");
    let mut tampered = body.clone();
    tampered[0] ^= 1;
    assert!(vk
        .verify_strict(
            &trustdesk::notify::signed_message(ts, &delivery, &tampered),
            &sig
        )
        .is_err());
    assert!(
        vk.verify_strict(
            &trustdesk::notify::signed_message(ts, "other-delivery", body),
            &sig
        )
        .is_err(),
        "the delivery id is signed"
    );

    let row = app.store.outbox_by_id(&delivery).await.unwrap().unwrap();
    assert!(row.delivered_at.is_some());
    assert_eq!(row.attempts, 3);
}
