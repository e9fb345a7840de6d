//! Victim progress: the next-step estimate learned from recent handling times, satisfaction
//! ratings (API and status page).

use serde_json::{json, Value};
use trustdesk::escalations::{new_escalation, QueueSettings};
use trustdesk::reports::Priority;
use trustdesk::storage::ReportTransition;
use trustdesk::tokens::claims::parse_time;
use trustdesk::types::{now, rfc3339, Role};

use crate::helpers::{assert_problem, json, spawn_app, TestApp};

const DAY: i64 = 24 * 3600;

/// Files a plain impersonation report; returns the submit answer.
async fn file(app: &TestApp) -> Value {
    let r = json!({"category": "impersonation", "description": "fake support took my funds"});
    let resp = app.submit_report(&r, &[], None).await;
    assert_eq!(resp.status(), 201);
    json(resp).await
}

async fn status(app: &TestApp, id: &str, receipt: &str) -> Value {
    let r = app.report_status(id, receipt).await;
    assert_eq!(r.status(), 200);
    json(r).await
}

fn time(v: &Value) -> i64 {
    parse_time(v.as_str().unwrap_or_else(|| panic!("a time, got {v}"))).expect("RFC 3339")
}

async fn move_to(app: &TestApp, key: &str, id: &str, to: &str) {
    let r = app
        .client
        .post(app.url(&format!("/v1/reports/{id}/transition")))
        .bearer_auth(key)
        .json(&json!({"to": to, "reason": format!("moving to {to}")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "move to {to}");
}

async fn transition(app: &TestApp, actor: &str, id: &str, from: &str, to: &str, at: i64) {
    let t = ReportTransition {
        report_id: id.into(),
        from: from.into(),
        to: to.into(),
        at,
        kind: to.into(),
        public_en: format!("now {to}"),
        public_zh: format!("now {to}"),
        internal_note: None,
        actor_id: actor.into(),
        escalation: None,
        close_escalation: None,
    };
    let a = trustdesk::audit::draft(Some(actor), "report.transition", id, json!({}));
    let moved = app
        .store
        .transition_report(&t, &a, trustdesk::audit::hash_entry)
        .await
        .unwrap();
    assert!(moved, "seeded move {from} -> {to}");
}

/// A past report of `priority` received at `start` and triaged `d` seconds later: one
/// `received` handling sample. With `then`, also one `triaged` sample of that length.
async fn seed_sample(
    app: &TestApp,
    actor: &str,
    priority: &str,
    start: i64,
    d: i64,
    then: Option<i64>,
) {
    let q = QueueSettings {
        base_url: "http://127.0.0.1".into(),
        lease_secs: 300,
        sla_secs: [900, 14_400, 86_400],
    };
    let id = trustdesk::reports::receipt::new_report_id();
    let p = Priority::parse(priority).unwrap();
    let mut b = crate::helpers::seed_bundle(&id, start, new_escalation(&q, &id, p, "x", start));
    b.escalation = None;
    b.report.status = "received".into();
    b.report.confidence = "unverified".into();
    app.store.insert_report(&b).await.unwrap();
    transition(app, actor, &id, "received", "triaged", start + d).await;
    if let Some(d2) = then {
        transition(app, actor, &id, "triaged", "investigating", start + d + d2).await;
    }
}

#[tokio::test]
async fn the_next_step_estimate_follows_recent_handling_times_of_the_same_priority_and_step() {
    let app = spawn_app().await;
    let sec = app.create_staff("Sec", Role::Security).await;
    let filed = file(&app).await;
    let (id, receipt) = (
        filed["id"].as_str().unwrap(),
        filed["receipt"].as_str().unwrap(),
    );
    let p = filed["priority"].as_str().unwrap().to_owned();
    let other = if p == "P2" { "P3" } else { "P2" };
    let created = time(&filed["created_at"]);
    let promise = time(&filed["expected_first_response_by"]);
    let next_by = |v: &Value| time(&v["expected_next_step_by"]);

    // No history: the first-response promise.
    let v = status(&app, id, receipt).await;
    assert_eq!(time(&v["expected_first_response_by"]), promise);
    assert_eq!(next_by(&v), promise, "{v}");

    // Two samples of this priority are too few. Other priorities, other steps and history
    // older than the 30-day window do not count.
    seed_sample(&app, &sec.id, &p, now() - 10 * DAY, 600, Some(5)).await;
    seed_sample(&app, &sec.id, &p, now() - 9 * DAY, 600, Some(5)).await;
    for _ in 0..3 {
        seed_sample(&app, &sec.id, other, now() - 8 * DAY, 60, None).await;
        seed_sample(&app, &sec.id, &p, now() - 40 * DAY, 30, None).await;
    }
    let v = status(&app, id, receipt).await;
    assert_eq!(
        next_by(&v),
        promise,
        "fewer than 3 samples: the promise; {v}"
    );

    // A third sample: the median of 600, 600, 1200 counted from when the report arrived.
    seed_sample(&app, &sec.id, &p, now() - 7 * DAY, 1200, None).await;
    let v = status(&app, id, receipt).await;
    assert_eq!(next_by(&v), created + 600, "{v}");
    assert_eq!(
        time(&v["expected_first_response_by"]),
        promise,
        "the promise stays"
    );

    // The queue slows down: four much longer samples move the median.
    for k in 0..4 {
        seed_sample(&app, &sec.id, &p, now() - (6 - k) * DAY, 20_000, None).await;
    }
    let v = status(&app, id, receipt).await;
    assert_eq!(next_by(&v), created + 20_000, "{v}");

    // Once triaged, the step is `triaged` and its clock starts at the triage: only the two
    // 5-second triaged samples exist, and nothing is promised for that step.
    move_to(&app, &sec.key, id, "triaged").await;
    let v = status(&app, id, receipt).await;
    assert!(v.get("expected_next_step_by").is_none(), "{v}");
}

#[tokio::test]
async fn a_closed_report_can_be_rated_once_and_staff_see_the_monthly_average() {
    let app = spawn_app().await;
    let sec = app.create_staff("Sec", Role::Security).await;
    let agent = app.create_staff("Agent", Role::Agent).await;
    let filed = file(&app).await;
    let (id, receipt) = (
        filed["id"].as_str().unwrap(),
        filed["receipt"].as_str().unwrap(),
    );
    let rate = |body: Value, bearer: Option<&str>| {
        let mut req = app
            .client
            .post(app.url(&format!("/v1/reports/{id}/rating")))
            .json(&body);
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        async move { req.send().await.unwrap() }
    };
    let good = json!({"rating": 4, "comment": "quick"});

    let v = status(&app, id, receipt).await;
    assert_eq!(v["can_rate"], false, "{v}");
    assert!(v.get("rating").is_none() && v["expected_next_step_by"].is_string());
    assert_problem(
        rate(good.clone(), Some(receipt)).await,
        409,
        "report_not_closed",
        "open report",
    )
    .await;

    move_to(&app, &sec.key, id, "dismissed").await;
    let v = status(&app, id, receipt).await;
    assert_eq!(
        (&v["status"], &v["can_rate"]),
        (&json!("dismissed"), &json!(true))
    );
    assert!(v.get("expected_next_step_by").is_none(), "closed: {v}");
    move_to(&app, &sec.key, id, "resolved").await;
    let v = status(&app, id, receipt).await;
    assert_eq!(
        (&v["status"], &v["can_rate"]),
        (&json!("resolved"), &json!(true))
    );
    assert!(v.get("expected_next_step_by").is_none(), "closed: {v}");

    for bad in [0, 6] {
        let r = rate(json!({"rating": bad}), Some(receipt)).await;
        assert_problem(r, 400, "invalid_rating", &format!("rating {bad}")).await;
    }
    let r = rate(good.clone(), None).await;
    assert_eq!(r.status(), 401, "no receipt");
    let r = rate(good.clone(), Some("tdr_not-the-receipt")).await;
    assert_problem(r, 404, "report_not_found", "wrong receipt").await;
    assert!(status(&app, id, receipt).await.get("rating").is_none());

    assert_eq!(rate(good.clone(), Some(receipt)).await.status(), 201);
    let again = rate(json!({"rating": 1}), Some(receipt)).await;
    assert_problem(again, 409, "already_rated", "second rating").await;
    let v = status(&app, id, receipt).await;
    assert_eq!(
        (&v["rating"], &v["can_rate"]),
        (&json!(4), &json!(false)),
        "{v}"
    );

    let ratings = |key: Option<String>| {
        let mut req = app.client.get(app.url("/v1/ratings"));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        async move { req.send().await.unwrap() }
    };
    let r = ratings(Some(sec.key.clone())).await;
    assert_eq!(r.status(), 200);
    let month = rfc3339(now())[..7].to_owned();
    let expected =
        json!([{"category": "impersonation", "month": month, "count": 1, "average": 4.0}]);
    assert_eq!(json(r).await, expected);
    assert_eq!(ratings(Some(app.admin_key.clone())).await.status(), 200);
    assert_eq!(ratings(Some(agent.key)).await.status(), 403);
    assert_eq!(ratings(None).await.status(), 401);
}

async fn page(app: &TestApp, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let r = app
        .client
        .post(app.url(path))
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn the_status_page_shows_the_estimate_and_takes_the_rating_once_closed() {
    let app = spawn_app().await;
    let sec = app.create_staff("Sec", Role::Security).await;
    let filed = file(&app).await;
    let (id, receipt) = (
        filed["id"].as_str().unwrap(),
        filed["receipt"].as_str().unwrap(),
    );
    let status_path = format!("/r/{id}?lang=en");
    let rate_path = format!("/r/{id}/rate?lang=en");

    let (code, html) = page(&app, &status_path, &[("receipt", receipt)]).await;
    assert_eq!(code, 200);
    let by = status(&app, id, receipt).await["expected_next_step_by"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(html.contains("id=\"next-by\""), "{html}");
    assert!(
        html.contains(&format!("<time datetime=\"{by}\">")),
        "{html}"
    );
    assert!(!html.contains("id=\"rate-form\""));

    move_to(&app, &sec.key, id, "dismissed").await;
    let (code, html) = page(&app, &status_path, &[("receipt", receipt)]).await;
    assert_eq!(code, 200);
    assert!(html.contains("id=\"rate-form\""), "{html}");
    assert!(!html.contains("id=\"next-by\"") && !html.contains("id=\"rated\""));

    // A wrong receipt rates nothing and reveals nothing.
    let form = [
        ("receipt", "tdr_not-the-receipt"),
        ("rating", "5"),
        ("comment", "x"),
    ];
    let (_, html) = page(&app, &rate_path, &form).await;
    assert!(html.contains("role=\"alert\""), "{html}");
    assert!(!html.contains("id=\"rate-form\"") && !html.contains("id=\"rated\""));
    assert!(status(&app, id, receipt).await.get("rating").is_none());

    let form = [
        ("receipt", receipt),
        ("rating", "5"),
        ("comment", "kind and fast"),
    ];
    let (code, html) = page(&app, &rate_path, &form).await;
    assert_eq!(code, 200);
    assert!(html.contains("id=\"notice\""), "{html}");
    assert!(html.contains("Thank you for your rating."), "{html}");
    assert!(html.contains("id=\"rated\">Your rating: 5 / 5<"), "{html}");
    assert!(!html.contains("id=\"rate-form\""), "{html}");
    assert_eq!(status(&app, id, receipt).await["rating"], 5);

    // Rating again from the page: the page says why, the first rating stands.
    let form = [("receipt", receipt), ("rating", "1"), ("comment", "")];
    let (code, html) = page(&app, &rate_path, &form).await;
    assert_eq!(code, 200);
    assert!(
        html.contains("id=\"notice\"") && html.contains("already rated"),
        "{html}"
    );
    assert!(html.contains("Your rating: 5 / 5"), "{html}");
}
