//! Victims' e-mail notifications against a real SMTP server on loopback (aiosmtpd from PyPI, in a
//! virtualenv the test creates once): the lifecycle's messages, each quoting the anti-phishing
//! phrase and linking only to the official base URL; "forget me"; the late-first-response notice;
//! retries; and exactly-once delivery across a kill -9 between commit and send.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use trustdesk::types::Role;

use crate::helpers::{json, spawn_app_with, TestApp};

const BASE: &str = "https://trust.acme.example";
const PHRASE: &str = "blue heron 42";
const EMAIL: &str = "victim.wang@example.net";

/// A Python with aiosmtpd: `TRUSTDESK_TEST_SMTP_PYTHON`, or a virtualenv with a pinned version.
fn python() -> &'static str {
    static PY: OnceLock<String> = OnceLock::new();
    PY.get_or_init(|| {
        if let Ok(p) = std::env::var("TRUSTDESK_TEST_SMTP_PYTHON") {
            return p;
        }
        let bin = crate::helpers::python_venv("smtp-venv", &["aiosmtpd==1.4.6"]);
        bin.join("python").display().to_string()
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `tests/smtp/sink.py`: stores every accepted message as `<n>.eml`.
struct Sink {
    child: Child,
    dir: PathBuf,
    port: u16,
    _tmp: tempfile::TempDir,
}

impl Sink {
    fn start_on(port: u16, extra: &[&str]) -> Sink {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("mail");
        let mut child = Command::new(python())
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/sink.py"))
            .arg(port.to_string())
            .arg(&dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the SMTP sink");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line.trim(), "ready");
        Sink {
            child,
            dir,
            port,
            _tmp: tmp,
        }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// `(recipients, raw message)` in arrival order.
    fn messages(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for n in 1.. {
            let Ok(raw) = std::fs::read(self.dir.join(format!("{n}.eml"))) else {
                break;
            };
            let rcpt =
                std::fs::read_to_string(self.dir.join(format!("{n}.rcpt"))).unwrap_or_default();
            out.push((rcpt, decode(&String::from_utf8_lossy(&raw))));
        }
        out
    }

    async fn wait_for(&self, n: usize) -> Vec<(String, String)> {
        let start = Instant::now();
        loop {
            let m = self.messages();
            if m.len() >= n || start.elapsed() > Duration::from_secs(20) {
                assert_eq!(m.len(), n, "messages: {m:#?}");
                return m;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Headers and body with quoted-printable / base64 text parts decoded, enough to read them.
fn decode(raw: &str) -> String {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    let lower = head.to_ascii_lowercase();
    let body = if lower.contains("content-transfer-encoding: base64") {
        use base64::Engine as _;
        let joined: String = body.split_whitespace().collect();
        String::from_utf8_lossy(
            &base64::engine::general_purpose::STANDARD
                .decode(joined)
                .unwrap_or_default(),
        )
        .into_owned()
    } else if lower.contains("content-transfer-encoding: quoted-printable") {
        let soft = body.replace("=\r\n", "");
        let b = soft.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'=' && i + 2 < b.len() + 1 {
                if let Ok(v) = u8::from_str_radix(
                    std::str::from_utf8(&b[i + 1..(i + 3).min(b.len())]).unwrap_or(""),
                    16,
                ) {
                    out.push(v);
                    i += 3;
                    continue;
                }
            }
            out.push(b[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    } else {
        body.to_owned()
    };
    format!("{head}\r\n\r\n{body}")
}

/// The checks every genuine notification passes.
fn assert_genuine(msg: &str, id: &str) {
    assert!(msg.contains(PHRASE), "quotes the phrase: {msg}");
    assert!(msg.contains(id), "names the report: {msg}");
    let links = msg.matches("://").count();
    assert!(
        links >= 1 && links == msg.matches(BASE).count(),
        "only our links: {msg}"
    );
    assert!(
        msg.contains("never ask for your seed phrase") || msg.contains("绝不会索要您的助记词"),
        "says what we never ask: {msg}"
    );
    assert!(
        !msg.to_ascii_lowercase().contains("content-type: text/html"),
        "plain text only"
    );
}

/// The message sent before the address is confirmed: a code, no phrase, only our link.
fn assert_confirmation(msg: &str, id: &str) -> String {
    assert!(
        !msg.contains(PHRASE),
        "no phrase before confirmation: {msg}"
    );
    assert!(msg.contains(id), "{msg}");
    let links = msg.matches("://").count();
    assert!(
        links >= 1 && links == msg.matches(BASE).count(),
        "only our links: {msg}"
    );
    let re = regex::Regex::new(r"(?:code: |确认码：)([0-9A-Z]{4}-[0-9A-Z]{4})").unwrap();
    re.captures(msg).expect("a confirmation code")[1].to_owned()
}

async fn confirm(app: &TestApp, id: &str, receipt: &str, code: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/v1/reports/{id}/contact/confirm")))
        .bearer_auth(receipt)
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap()
}

/// Files a report asking for notifications and confirms the address with the mailed code, as
/// the victim would; `before` messages were in the sink already.
async fn file_and_confirm(
    app: &TestApp,
    sink: &Sink,
    extra: Value,
    before: usize,
) -> (String, String) {
    let (id, receipt) = file_with_notify(app, extra).await;
    let m = sink.wait_for(before + 1).await;
    let code = assert_confirmation(&m[before].1, &id);
    assert_eq!(
        confirm(app, &id, &receipt, &code.to_lowercase())
            .await
            .status(),
        204
    );
    (id, receipt)
}

async fn app_with_mail(sink: &Sink, warn_secs: u32) -> TestApp {
    let url = sink.url();
    spawn_app_with(move |c| {
        c.smtp_url = Some(trustdesk::config::SmtpUrl(url));
        c.mail_from = "Acme Security <security@acme.example>".into();
        c.public_base_url = BASE.into();
        c.sla_warning_secs = warn_secs;
    })
    .await
}

async fn file_with_notify(app: &TestApp, extra: Value) -> (String, String) {
    let mut report = json!({"category": "impersonation", "description": "fake agent took my USDT",
        "notify_email": EMAIL, "anti_phishing_phrase": PHRASE});
    if let (Some(r), Some(e)) = (report.as_object_mut(), extra.as_object()) {
        r.extend(e.clone());
    }
    let r = app.submit_report(&report, &[], None).await;
    assert_eq!(r.status(), 201);
    let v = json(r).await;
    (
        v["id"].as_str().unwrap().into(),
        v["receipt"].as_str().unwrap().into(),
    )
}

async fn transition(app: &TestApp, key: &str, id: &str, to: &str, note: &str) {
    let r = app
        .client
        .post(app.url(&format!("/v1/reports/{id}/transition")))
        .bearer_auth(key)
        .json(&json!({"to": to, "reason": "checked", "public_note": note}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{to}: {}", r.text().await.unwrap());
}

#[tokio::test]
async fn the_lifecycle_sends_one_genuine_message_per_public_update_and_never_leaks_the_address() {
    let sink = Sink::start_on(free_port(), &[]);
    let app = app_with_mail(&sink, 0).await;
    let sec = app.create_staff("Sec", Role::Security).await.key;
    let (id, receipt) = file_with_notify(&app, json!({"lang": "zh-CN"})).await;
    // First only a confirmation code, without the phrase; nothing else until it is entered.
    let m = sink.wait_for(1).await;
    assert_eq!(m[0].0, EMAIL, "sent to the victim");
    let code = assert_confirmation(&m[0].1, &id);
    let v = json(app.report_status(&id, &receipt).await).await;
    assert_eq!(
        (
            v["notifications"].clone(),
            v["notifications_pending"].clone()
        ),
        (json!(false), json!(true))
    );
    let wrong = confirm(&app, &id, &receipt, "AAAA-AAAA").await;
    assert_eq!(wrong.status(), 400);
    assert_eq!(json(wrong).await["code"], "wrong_confirmation_code");
    assert_eq!(confirm(&app, &id, "tdr_wrong", &code).await.status(), 404);
    assert_eq!(confirm(&app, &id, &receipt, &code).await.status(), 204);
    assert_eq!(
        confirm(&app, &id, &receipt, &code).await.status(),
        400,
        "used once"
    );

    let m = sink.wait_for(2).await;
    assert_genuine(&m[1].1, &id);
    assert!(
        m[1].1.contains("Acme Security") && m[1].1.contains("<security@acme.example>"),
        "from the configured sender: {}",
        m[1].1
    );

    transition(&app, &sec, &id, "triaged", "").await;
    // A link in a staff note never reaches the victim's inbox.
    transition(
        &app,
        &sec,
        &id,
        "dismissed",
        "see https://evil.example/claim for a refund",
    )
    .await;
    transition(&app, &sec, &id, "resolved", "").await;
    let m = sink.wait_for(5).await;
    for (_, msg) in &m[1..] {
        assert_genuine(msg, &id);
        assert!(!msg.contains("evil.example"), "{msg}");
    }
    assert!(
        m[4].1.contains("已处理完毕"),
        "the last one says resolved, in Chinese: {}",
        m[4].1
    );
    // Stable Message-IDs: one per report and step.
    let ids: std::collections::HashSet<_> = m
        .iter()
        .filter_map(|(_, x)| {
            x.lines()
                .find(|l| l.starts_with("Message-ID:"))
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(ids.len(), 5);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(sink.messages().len(), 5, "nothing sent twice");

    // The address is nowhere staff or the public can read, nor in the database in clear.
    let staff_view = app
        .client
        .get(app.url(&format!("/v1/reports/{id}")))
        .bearer_auth(&sec)
        .send()
        .await
        .unwrap();
    let list = app
        .client
        .get(app.url("/v1/reports"))
        .bearer_auth(&sec)
        .send()
        .await
        .unwrap();
    let feed = app
        .client
        .get(app.url("/v1/feeds/scammers"))
        .send()
        .await
        .unwrap();
    for body in [
        staff_view.text().await.unwrap(),
        list.text().await.unwrap(),
        feed.text().await.unwrap(),
    ] {
        assert!(!body.contains(EMAIL) && !body.contains(PHRASE), "{body}");
    }
    let f = app.store.followup_for_report(&id).await.unwrap().unwrap();
    assert!(!f.email_enc.unwrap().contains("example.net"));
    let v = json(app.report_status(&id, &receipt).await).await;
    assert_eq!(v["notifications"], true);
}

#[tokio::test]
async fn forget_me_stops_notifications_and_deletes_every_contact_detail() {
    let sink = Sink::start_on(free_port(), &[]);
    let app = app_with_mail(&sink, 0).await;
    let sec = app.create_staff("Sec", Role::Security).await.key;
    let (id, receipt) = file_and_confirm(
        &app,
        &sink,
        json!({"reporter_contact": "+86 138 0000 0000"}),
        0,
    )
    .await;
    sink.wait_for(2).await;

    let forget = |bearer: &str| {
        app.client
            .delete(app.url(&format!("/v1/reports/{id}/contact")))
            .bearer_auth(bearer)
            .send()
    };
    assert_eq!(forget("tdr_wrong").await.unwrap().status(), 404);
    assert_eq!(forget(&receipt).await.unwrap().status(), 204);
    let v = json(app.report_status(&id, &receipt).await).await;
    assert_eq!(v["notifications"], false);
    let staff = json(
        app.client
            .get(app.url(&format!("/v1/reports/{id}")))
            .bearer_auth(&sec)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        !staff.to_string().contains("138 0000"),
        "reporter contact deleted: {staff}"
    );
    let f = app.store.followup_for_report(&id).await.unwrap().unwrap();
    assert!(f.email_enc.is_none() && f.phrase_enc.is_none() && f.forgotten_at.is_some());

    transition(&app, &sec, &id, "triaged", "").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.messages().len(), 2, "no e-mail after opting out");
}

#[tokio::test]
async fn a_late_first_response_sends_one_still_working_notice() {
    let sink = Sink::start_on(free_port(), &[]);
    let url = sink.url();
    // Deadlines of 4 s and a 1 h window: the notice is due once half the promise has passed.
    let app = spawn_app_with(move |c| {
        c.smtp_url = Some(trustdesk::config::SmtpUrl(url));
        c.public_base_url = BASE.into();
        c.sla_warning_secs = 3600;
        (c.sla_p1_secs, c.sla_p2_secs, c.sla_p3_secs) = (4, 4, 4);
    })
    .await;
    let (id, _) = file_and_confirm(&app, &sink, json!({}), 0).await;
    let m = sink.wait_for(2).await;
    assert!(
        !m[1].1.contains("still working"),
        "the receipt first: {}",
        m[1].1
    );
    let m = sink.wait_for(3).await;
    assert_genuine(&m[2].1, &id);
    assert!(m[2].1.contains("still working"), "{}", m[2].1);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(sink.messages().len(), 3, "the notice goes once");
}

#[tokio::test]
async fn a_temporary_smtp_failure_is_retried_and_delivered_once() {
    let sink = Sink::start_on(free_port(), &["--fail-first", "2"]);
    let app = app_with_mail(&sink, 0).await;
    let (id, _) = file_with_notify(&app, json!({})).await;
    let m = sink.wait_for(1).await;
    assert_confirmation(&m[0].1, &id);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn notifications_need_a_phrase_and_a_configured_server() {
    let sink = Sink::start_on(free_port(), &[]);
    let app = app_with_mail(&sink, 0).await;
    for (body, code) in [
        (
            json!({"notify_email": EMAIL}),
            "anti_phishing_phrase_required",
        ),
        (
            json!({"notify_email": "not-an-address", "anti_phishing_phrase": PHRASE}),
            "invalid_notify_email",
        ),
        (
            json!({"notify_email": EMAIL, "anti_phishing_phrase": "abc"}),
            "invalid_anti_phishing_phrase",
        ),
        (json!({"anti_phishing_phrase": PHRASE}), "invalid_notify"),
        (
            json!({"notify_email": EMAIL, "anti_phishing_phrase": "acme-refund.io"}),
            "invalid_anti_phishing_phrase",
        ),
        (
            json!({"notify_email": EMAIL, "anti_phishing_phrase": "call +1 555 0100 99"}),
            "invalid_anti_phishing_phrase",
        ),
        (
            json!({"notify_email": "john..doe@example.com", "anti_phishing_phrase": PHRASE}),
            "invalid_notify_email",
        ),
    ] {
        let mut r = body.clone();
        r["category"] = json!("other");
        r["description"] = json!("x");
        let resp = app.submit_report(&r, &[], None).await;
        assert_eq!(resp.status(), 400, "{body}");
        assert_eq!(json(resp).await["code"], code, "{body}");
    }
    let plain = crate::helpers::spawn_app().await;
    let r = json!({"category": "other", "description": "x", "notify_email": EMAIL, "anti_phishing_phrase": PHRASE});
    let resp = plain.submit_report(&r, &[], None).await;
    assert_eq!(json(resp).await["code"], "notifications_disabled");
}

/// kill -9 after the report is committed but before its receipt notification could be sent:
/// the restarted process sends it exactly once, and a further restart sends nothing again.
#[tokio::test]
async fn a_kill_between_commit_and_send_still_sends_exactly_once_after_restart() {
    use crate::process::start;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let smtp = format!("smtp://127.0.0.1:{port}");
    let args = [
        "--smtp-url",
        &smtp,
        "--mail-poll-ms",
        "100",
        "--public-base-url",
        BASE,
    ];
    // No SMTP server yet: the commit succeeds, the send cannot.
    let mut first = start(dir.path(), &args);
    let client = reqwest::Client::new();
    let report = json!({"category": "impersonation", "description": "fake agent",
        "notify_email": EMAIL, "anti_phishing_phrase": PHRASE});
    let form = reqwest::multipart::Form::new().part(
        "report",
        reqwest::multipart::Part::text(report.to_string())
            .mime_str("application/json")
            .unwrap(),
    );
    let r = client
        .post(format!("{}/v1/reports", first.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = json(r).await["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(300)).await;
    first.child.kill().unwrap(); // SIGKILL
    first.child.wait().unwrap();
    let mut logs = first.logs.lock().unwrap().join("\n");

    let sink = Sink::start_on(port, &[]);
    let mut second = start(dir.path(), &args);
    let m = sink.wait_for(1).await;
    assert_confirmation(&m[0].1, &id);
    tokio::time::sleep(Duration::from_millis(500)).await;
    second.child.kill().unwrap();
    second.child.wait().unwrap();
    logs.push_str(&second.logs.lock().unwrap().join("\n"));

    let third = start(dir.path(), &args);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.messages().len(), 1, "exactly once across restarts");
    logs.push_str(&third.logs.lock().unwrap().join("\n"));
    assert!(
        !logs.contains(EMAIL) && !logs.contains(PHRASE),
        "no address or phrase in logs"
    );
    assert!(
        logs.contains("Notification not sent"),
        "the failed first attempt was logged"
    );
}

#[tokio::test]
async fn the_report_form_offers_notifications_and_its_opt_in_is_honoured() {
    let sink = Sink::start_on(free_port(), &[]);
    let app = app_with_mail(&sink, 0).await;
    let html = app.get("/report?lang=zh-CN").await.text().await.unwrap();
    assert!(
        html.contains("id=\"notify_email\"") && html.contains("防钓鱼短语"),
        "{html}"
    );
    let without = crate::helpers::spawn_app().await;
    let html = without.get("/report").await.text().await.unwrap();
    assert!(!html.contains("notify_email"), "not offered without SMTP");

    let form = reqwest::multipart::Form::new()
        .text("category", "impersonation")
        .text("description", "假客服让我转账")
        .text("notify_email", EMAIL)
        .text("anti_phishing_phrase", PHRASE)
        .text("idem", "0123456789abcdef0123456789abcdef");
    let r = app
        .client
        .post(app.url("/report?lang=zh-CN"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let page = r.text().await.unwrap();
    let at = page.find("id=\"report-id\">").unwrap() + 15;
    let id = &page[at..at + 12];
    let m = sink.wait_for(1).await;
    assert_confirmation(&m[0].1, id);
    assert!(
        m[0].1.contains("希望是您本人"),
        "in the form's language: {}",
        m[0].1
    );

    // An address without a phrase comes back as a form error, nothing filed.
    let form = reqwest::multipart::Form::new()
        .text("category", "impersonation")
        .text("description", "x")
        .text("notify_email", EMAIL);
    let r = app
        .client
        .post(app.url("/report"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("anti-phishing phrase"));
}

/// Someone files a report naming another person's address with a phrase of their choosing: that
/// person gets one code (no phrase) and nothing else, ever, unless the code is entered with the
/// receipt. The victim who did file confirms on the status page.
#[tokio::test]
async fn an_unconfirmed_address_gets_only_the_code_and_the_status_page_confirms_it() {
    let sink = Sink::start_on(free_port(), &[]);
    let app = app_with_mail(&sink, 10_000_000).await;
    let sec = app.create_staff("Sec", Role::Security).await.key;
    let (id, receipt) = file_with_notify(&app, json!({})).await;
    let m = sink.wait_for(1).await;
    let code = assert_confirmation(&m[0].1, &id);
    transition(&app, &sec, &id, "triaged", "").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        sink.messages().len(),
        1,
        "nothing quoting the phrase before confirmation"
    );

    let page = |path: String, form: Vec<(&'static str, String)>| {
        let c = app.client.clone();
        let url = app.url(&path);
        async move { c.post(url).form(&form).send().await.unwrap() }
    };
    let html = page(format!("/r/{id}"), vec![("receipt", receipt.clone())])
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"confirm-form\""), "{html}");
    let r = page(
        format!("/r/{id}/confirm"),
        vec![("receipt", receipt.clone()), ("code", "ZZZZ-ZZZZ".into())],
    )
    .await;
    assert!(r.text().await.unwrap().contains("not right"));
    let r = page(
        format!("/r/{id}/confirm"),
        vec![("receipt", receipt.clone()), ("code", code)],
    )
    .await;
    let html = r.text().await.unwrap();
    assert!(
        html.contains("E-mail notifications are on.") && !html.contains("confirm-form"),
        "{html}"
    );
    // Now the owed steps follow, each quoting the phrase.
    let m = sink.wait_for(3).await;
    assert_genuine(&m[1].1, &id);
    assert_genuine(&m[2].1, &id);
}

/// A mail setting that cannot work stops the start, instead of accepting opt-ins that are
/// never sent.
#[tokio::test]
async fn unusable_mail_settings_refuse_to_start() {
    for (url, from) in [
        (
            "smtp://127.0.0.1:2525?tls=starttls",
            "Acme <security@acme.example>",
        ),
        ("smtp://127.0.0.1:2525", "not a mailbox"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = trustdesk::config::Config::for_dir(dir.path());
        config.smtp_url = Some(trustdesk::config::SmtpUrl(url.into()));
        config.mail_from = from.into();
        let err = trustdesk::app::App::build(config)
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().contains("TRUSTDESK_"), "{err}");
    }
}
