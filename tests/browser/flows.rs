//! The user, victim, agent and analyst flows, each read back the way a person would: by the
//! words on the page.

use ed25519_dalek::SigningKey;
use fantoccini::key::Key;
use trustdesk::types::{now, Role};

use crate::driver::{spawn_server, Browser};
use crate::helpers::{json, png, sign, TestApp};

/// A token a scammer made with their own key, claiming to be Alice on the official account.
fn forged_token(app: &TestApp) -> String {
    let t = now();
    let mut claims = app.claims(t - 10, t + 600);
    claims.agent_name = "Alice Chen".into();
    let scammer = SigningKey::from_bytes(&[7u8; 32]);
    let kid = app.server_keys().current().active_kid().to_owned();
    sign(&scammer, &kid, &claims)
}

#[tokio::test]
async fn a_user_verifies_a_genuine_and_a_forged_link_and_checks_a_handle_in_english_and_chinese() {
    let app = spawn_server().await;
    let alice = app.agent_with_channel("Alice Chen", "@acme_support").await;
    let session = app.new_session(&alice, "@acme_support").await;
    let link = session["link"].as_str().unwrap().to_owned();
    let b = Browser::start().await;

    // Home page: three ways in.
    b.goto(&app.url("/?lang=en")).await;
    assert!(b.text("#entry-verify").await.contains("Verify a contact"));
    assert!(b.text("#entry-check").await.contains("Check a handle"));
    assert!(b.text("#entry-report").await.contains("Report fraud"));
    b.shot("home-en").await;
    b.goto(&app.url("/?lang=zh-CN")).await;
    assert!(b.text("#entry-report").await.contains("举报诈骗"));
    b.shot("home-zh").await;

    // The genuine link, opened as a user would, in English.
    b.goto(&format!("{link}?lang=en")).await;
    assert_eq!(b.text(".verdict h1").await, "Genuine official session");
    let details = b.text(".details").await;
    assert!(
        details.contains("Alice Chen") && details.contains("@acme_support"),
        "{details}"
    );
    assert!(
        b.c.find(fantoccini::Locator::Css(".button.report"))
            .await
            .is_err(),
        "no report button on genuine"
    );
    b.shot("verify-genuine-en").await;
    // The same link in Chinese, through the language switch.
    b.click("a[hreflang=zh-CN]").await;
    assert_eq!(b.text(".verdict h1").await, "真实的官方会话");

    // A forgery pasted into the verify form, in Chinese.
    let forged = forged_token(&app);
    b.goto(&app.url("/verify?lang=zh-CN")).await;
    b.fill(
        "#input",
        &format!("您好，我是官方客服，请验证：{}/v/{forged}", app.base),
    )
    .await;
    b.submit("button[type=submit]").await;
    let title = b.text(".verdict h1").await;
    assert!(title.starts_with("伪造"), "{title}");
    assert_eq!(b.text(".verdict .icon").await, "✖", "icon as well as words");
    assert!(b.text(".button.report").await.contains("举报此联系人"));
    b.shot("verify-forged-zh").await;

    // Check a handle: a lookalike of the official account, in English.
    b.goto(&app.url("/check?lang=en")).await;
    b.find("#kind")
        .await
        .select_by_value("telegram")
        .await
        .unwrap();
    b.fill("#value", "@acme_supp0rt").await;
    b.submit("#check-submit").await;
    let headline = b.text("#check-result .headline").await;
    assert!(headline.contains("LOOKALIKE"), "{headline}");
    assert!(b
        .text("#check-result .message")
        .await
        .contains("acme_support"));
    b.shot("check-lookalike-en").await;
    // And the official one.
    b.fill("#value", "t.me/acme_support").await;
    b.submit("#check-submit").await;
    assert_eq!(b.text("#check-result .headline").await, "Official channel");
    b.close().await;
}

/// Moves the report, as the analyst, through the legal steps up to `target`.
async fn move_report(b: &Browser, app: &TestApp, id: &str, target: &str, note: &str) {
    for _ in 0..4 {
        b.goto(&app.url(&format!("/console/reports/{id}?lang=en")))
            .await;
        let options = b
            .find("#to")
            .await
            .find_all(fantoccini::Locator::Css("option"))
            .await
            .unwrap();
        let mut values = Vec::new();
        for o in options {
            values.push(o.attr("value").await.unwrap().unwrap_or_default());
        }
        let next = if values.iter().any(|v| v == target) {
            target.to_owned()
        } else {
            ["triaged", "investigating", "confirmed_fraud"]
                .into_iter()
                .find(|s| values.iter().any(|v| v == s))
                .unwrap_or_else(|| panic!("no way towards {target}: {values:?}"))
                .to_owned()
        };
        b.find("#to").await.select_by_value(&next).await.unwrap();
        b.fill("#reason", "checked the evidence").await;
        if next == target {
            b.fill("#public_note", note).await;
        }
        b.submit("#move").await;
        if next == target {
            return;
        }
    }
    panic!("{target} not reached");
}

#[tokio::test]
async fn a_victim_reports_a_forgery_with_a_screenshot_and_follows_it_while_an_analyst_resolves_it()
{
    let app = spawn_server().await;
    let _alice = app.agent_with_channel("Alice Chen", "@acme_support").await;
    let analyst = app.create_staff("Sam Analyst", Role::Security).await;
    let forged = forged_token(&app);
    let shot = tempfile::Builder::new().suffix(".png").tempfile().unwrap();
    std::fs::write(shot.path(), png(4096)).unwrap();

    // The victim, in Chinese: the forged verdict's report button leads to a pre-filled form.
    let victim = Browser::start().await;
    victim
        .goto(&app.url(&format!("/v/{forged}?lang=zh-CN")))
        .await;
    victim.submit(".button.report").await;
    assert!(
        victim.url().await.contains("/report?"),
        "{}",
        victim.url().await
    );
    assert_eq!(victim.value("#presented").await, forged, "token pre-filled");
    assert_eq!(
        victim.value("#claimed_handle").await,
        "acme_support",
        "impersonated account pre-filled"
    );
    assert_eq!(victim.value("#claimed_agent").await, "Alice Chen");
    victim
        .fill(
            "#description",
            "对方自称官方客服 Alice，让我把 USDT 转到\u{201c}安全账户\u{201d}。",
        )
        .await;
    victim
        .find("#scam_kind")
        .await
        .select_by_value("telegram")
        .await
        .unwrap();
    victim.fill("#scam_handle", "@acme_help_desk").await;
    victim.fill("#amount_lost", "1200").await;
    victim.fill("#asset", "USDT").await;
    victim
        .find("#attachment")
        .await
        .send_keys(&shot.path().display().to_string())
        .await
        .expect("attach the screenshot");
    victim.shot("report-form-zh").await;
    victim.submit("#report-submit").await;
    let id = victim.text("#report-id").await;
    let receipt = victim.text("#receipt").await;
    assert!(
        id.starts_with("TD-") && receipt.starts_with("tdr_"),
        "{id} {receipt}"
    );
    assert!(victim.text("h1").await.contains("举报已收到"));
    assert!(
        victim.text(".files").await.contains(".png"),
        "the screenshot is listed"
    );
    victim.shot("report-receipt-zh").await;

    // The status page asks for the receipt and shows the timeline.
    victim.submit("#status-link").await;
    victim.fill("#receipt", &receipt).await;
    victim.submit("button[type=submit]").await;
    let status = victim.text("#status-h").await;
    assert!(!status.contains("已解决"), "{status}");
    assert!(
        victim.text(".timeline").await.contains("收到"),
        "received entry"
    );
    victim.shot("status-received-zh").await;

    // The forged token was hard evidence: the report is already in the escalation queue.
    let staff = Browser::start().await;
    staff.wide().await;
    staff.goto(&app.url("/console/login?lang=en")).await;
    staff.shot("console-login-en").await;
    staff.fill("#key", &analyst.key).await;
    staff.submit("#sign-in").await;
    assert!(staff.text("main").await.contains(&id), "queued");
    staff.shot("console-queue-en").await;
    staff.submit("#claim").await;
    let held = staff.find("article.item").await;
    assert!(
        held.text().await.unwrap().contains(&id),
        "claimed the victim's report"
    );
    // Evidence preview on the report page.
    staff
        .goto(&app.url(&format!("/console/reports/{id}?lang=en")))
        .await;
    let img = staff.find(".evidence img").await;
    assert!(img
        .attr("src")
        .await
        .unwrap()
        .unwrap()
        .contains("/attachments/0"));
    staff.shot("console-report-en").await;
    staff.goto(&app.url("/console?lang=en")).await;
    staff
        .find("article.item select")
        .await
        .select_by_value("handle_blocklisted")
        .await
        .unwrap();
    staff
        .fill(
            "article.item input[name=note]",
            "asked Telegram to remove @acme_help_desk",
        )
        .await;
    staff
        .submit("article.item form.resolve button[type=submit]")
        .await;
    assert!(
        staff
            .c
            .find(fantoccini::Locator::Css("article.item"))
            .await
            .is_err(),
        "no longer held"
    );
    let e = app.store.escalation_for_report(&id).await.unwrap().unwrap();
    assert_eq!(e.state, "resolved");
    // Close the report with a note for the victim.
    move_report(
        &staff,
        &app,
        &id,
        "resolved",
        "The scam account was removed.",
    )
    .await;

    // The victim's status page now says so, with the note, in Chinese.
    victim.goto(&app.url(&format!("/r/{id}?lang=zh-CN"))).await;
    victim.fill("#receipt", &receipt).await;
    victim.submit("button[type=submit]").await;
    let status = victim.text("#status-h").await;
    assert!(status.contains("已解决"), "{status}");
    assert!(victim
        .text(".timeline")
        .await
        .contains("The scam account was removed."));
    victim.shot("status-resolved-zh").await;

    // A wrong receipt shows nothing of the report.
    victim.goto(&app.url(&format!("/r/{id}?lang=en"))).await;
    victim.fill("#receipt", "tdr_not-the-receipt").await;
    victim.submit("button[type=submit]").await;
    assert!(victim
        .text("[role=alert]")
        .await
        .contains("No report matches"));
    assert!(victim
        .c
        .find(fantoccini::Locator::Css(".timeline"))
        .await
        .is_err());
    staff.close().await;
    victim.close().await;
}

#[tokio::test]
async fn an_agent_issues_a_session_in_the_console_and_the_copied_link_verifies_genuine() {
    let app = spawn_server().await;
    let alice = app.agent_with_channel("Alice Chen", "@acme_support").await;
    let b = Browser::start().await;
    b.wide().await;

    // Sign in (Chinese), issue a session for a user reference.
    b.goto(&app.url("/console/login?lang=zh-CN")).await;
    b.fill("#key", &alice.key).await;
    b.submit("#sign-in").await;
    b.fill("#user_ref", "UID-20481234").await;
    b.submit("#issue").await;
    let link = b.value("#issued-link").await;
    assert!(
        link.starts_with(&format!("{}/v/v4.public.", app.base)),
        "{link}"
    );
    assert!(b.value("#message-zh").await.contains(&link));
    assert!(b.value("#message-en").await.contains(&link));
    assert!(
        b.text("tr.session").await.contains("@acme_support"),
        "listed as active"
    );
    b.shot("console-agent-zh").await;

    // One click copies the link; paste it into the verify form as a user would.
    b.click("button[data-copy=issued-link]").await;
    // The copy completes asynchronously (the clipboard API answers with a promise), so wait for
    // the button to say so rather than reading it at once; `find` fails after 20 s.
    b.find("button[data-copy=issued-link][data-copied=true]")
        .await;
    b.goto(&app.url("/verify?lang=en")).await;
    let input = b.find("#input").await;
    input.click().await.unwrap();
    input
        .send_keys(&format!("{}v", char::from(Key::Control)))
        .await
        .unwrap();
    assert_eq!(
        b.value("#input").await,
        link,
        "the clipboard holds the link"
    );
    b.submit("button[type=submit]").await;
    assert_eq!(b.text(".verdict h1").await, "Genuine official session");
    assert!(
        b.text(".details").await.contains("1234"),
        "user reference shown by its last 4"
    );

    // Revoke it in the console; the same link now says so.
    b.goto(&app.url("/console?lang=en")).await;
    b.submit("tr.session button[type=submit]").await;
    assert!(b
        .text("tr.session")
        .await
        .to_lowercase()
        .contains("revoked"));
    b.goto(&link).await;
    assert!(b.text(".verdict h1").await.starts_with("REVOKED"));

    // And the API agrees.
    let v = json(app.verify(&link).await).await;
    assert_eq!(v["verdict"], "revoked");
    b.close().await;
}

#[tokio::test]
async fn an_admin_sees_the_audit_trail_and_an_agent_is_refused_the_security_console() {
    let app = spawn_server().await;
    let alice = app.agent_with_channel("Alice Chen", "@acme_support").await;
    let b = Browser::start().await;
    b.wide().await;
    b.goto(&app.url("/console/login?lang=en")).await;
    b.fill("#key", "tdk_not-a-real-key").await;
    b.submit("#sign-in").await;
    assert!(
        b.text("[role=alert]").await.contains("✖"),
        "a wrong key is refused"
    );
    b.fill("#key", &app.admin_key).await;
    b.submit("#sign-in").await;
    b.goto(&app.url("/console/audit?lang=en")).await;
    let page = b.text("main").await;
    assert!(page.contains("Chain verifies"), "{page}");
    assert!(
        page.contains("channel"),
        "the channel registration is audited: {page}"
    );
    b.shot("console-audit-en").await;
    b.close().await;

    // An agent's session cannot open the audit view.
    let b = Browser::start().await;
    b.goto(&app.url("/console/login?lang=en")).await;
    b.fill("#key", &alice.key).await;
    b.submit("#sign-in").await;
    b.goto(&app.url("/console/audit?lang=en")).await;
    assert!(!b.text("body").await.contains("Chain verifies"));
    b.close().await;
}
