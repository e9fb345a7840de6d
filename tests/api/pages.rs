//! The public pages over HTTP: the home page, the channel check page, the report form pre-filled
//! from verdict and check links, and `POST /report` filing a report with its evidence.

use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use trustdesk::types::{now, Role};

use crate::helpers::{assert_problem, json, png, sign, spawn_app, spawn_app_with, TestApp};

/// Undoes askama's HTML escaping (numeric entities; `&amp;` is written by a template).
fn unescape(s: &str) -> String {
    let mut s = s.to_owned();
    for (e, c) in [
        ("&#34;", "\""),
        ("&#39;", "'"),
        ("&#60;", "<"),
        ("&#62;", ">"),
    ] {
        s = s.replace(e, c);
    }
    s.replace("&amp;", "&").replace("&#38;", "&")
}

/// The opening tag of the element carrying `marker` (e.g. `id="receipt"`).
fn tag<'a>(html: &'a str, marker: &str) -> &'a str {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"));
    let start = html[..at].rfind('<').unwrap();
    &html[start..at + html[at..].find('>').unwrap() + 1]
}

/// The attribute `name` of the element carrying `marker`, unescaped.
fn attr(html: &str, marker: &str, name: &str) -> String {
    let t = tag(html, marker);
    let key = format!(" {name}=\"");
    let at = t.find(&key).unwrap_or_else(|| panic!("{name} in {t}")) + key.len();
    unescape(&t[at..at + t[at..].find('"').unwrap()])
}

/// The `value` of the input `id`.
fn val(html: &str, id: &str) -> String {
    attr(html, &format!("id=\"{id}\""), "value")
}

fn href(html: &str, marker: &str) -> String {
    attr(html, marker, "href")
}

/// The text right after the element `id` opens (up to the next tag).
fn text(html: &str, id: &str) -> String {
    let t = tag(html, &format!("id=\"{id}\""));
    let rest = &html[html.find(t).unwrap() + t.len()..];
    unescape(&rest[..rest.find('<').unwrap()])
}

/// Asserts every snippet is in the page.
fn has(html: &str, snippets: &[&str]) {
    for s in snippets {
        assert!(html.contains(s), "{s:?} in {html}");
    }
}

/// The value of the selected option of `<select id="{id}">` ("" for none).
fn selected(html: &str, id: &str) -> String {
    let from = html.find(&format!("<select id=\"{id}\"")).expect("select");
    let body = &html[from..from + html[from..].find("</select>").unwrap()];
    let picked: Vec<&str> = body
        .split("<option ")
        .skip(1)
        .filter(|o| o[..o.find('>').unwrap()].contains("selected"))
        .collect();
    assert!(picked.len() <= 1, "one selected option in {body}");
    picked.first().map_or(String::new(), |o| {
        o["value=\"".len()..o.find("\" ").unwrap()].to_owned()
    })
}

/// Asserts the decoded query of a relative link: `Some(value)`, or `None` for absent.
fn assert_query(link: &str, want: &[(&str, Option<&str>)]) {
    let url = url::Url::parse(&format!("http://x{link}")).unwrap();
    let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    for (k, v) in want {
        let got = q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(got, *v, "{k} in {link}");
    }
}

/// Every page is HTML that no cache keeps, under the CSP.
fn html_page(r: &reqwest::Response) {
    let h = r.headers();
    let ct = h["content-type"].to_str().unwrap();
    assert!(ct.starts_with("text/html"), "an HTML page, got {ct}");
    assert_eq!(h["cache-control"], "no-store");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
}

async fn page(app: &TestApp, path: &str, lang: Option<&str>) -> (u16, String) {
    let mut req = app.client.get(app.url(path));
    if let Some(l) = lang {
        req = req.header("accept-language", l);
    }
    let r = req.send().await.unwrap();
    html_page(&r);
    (r.status().as_u16(), r.text().await.unwrap())
}

/// `POST` of a multipart form to `path` (`/report?lang=..`).
async fn post(app: &TestApp, path: &str, form: Form) -> (u16, String) {
    let r = app.client.post(app.url(path)).multipart(form);
    let r = r.send().await.unwrap();
    html_page(&r);
    (r.status().as_u16(), r.text().await.unwrap())
}

/// A report form as a browser sends it; `files` are `(name, bytes, mime)`.
fn form(fields: &[(&str, &str)], files: &[(&str, Vec<u8>, &str)]) -> Form {
    let mut f = Form::new();
    for (k, v) in fields {
        f = f.text(k.to_string(), v.to_string());
    }
    for (name, bytes, mime) in files {
        let part = Part::bytes(bytes.clone())
            .file_name(name.to_string())
            .mime_str(mime)
            .unwrap();
        f = f.part("attachment", part);
    }
    f
}

async fn staff_view(app: &TestApp, key: &str, id: &str) -> Value {
    let r = app.report_status(id, key).await;
    assert_eq!(r.status(), 200, "staff reads {id}");
    json(r).await
}

async fn report_count(app: &TestApp, key: &str) -> usize {
    let r = app.client.get(app.url("/v1/reports")).bearer_auth(key);
    let r = r.send().await.unwrap();
    assert_eq!(r.status(), 200);
    json(r).await["reports"].as_array().unwrap().len()
}

/// Files a form (asserting 201) and returns the report id and the page.
async fn filed(app: &TestApp, path: &str, form: Form) -> (String, String) {
    let (s, html) = post(app, path, form).await;
    assert_eq!(s, 201, "{html}");
    (text(&html, "report-id"), html)
}

/// What the staff view says about the reporter: anonymous, contact_opt_in, law enforcement.
fn consent(d: &Value) -> Value {
    json!([
        d["anonymous"],
        d["contact_opt_in"],
        d["share_with_law_enforcement"]
    ])
}

const IDEM: &str = "0123456789abcdef0123456789abcdef";

#[tokio::test]
async fn home_page_offers_the_three_entries_in_both_languages() {
    let app = spawn_app().await;
    let (status, en) = page(&app, "/", None).await;
    assert_eq!(status, 200);
    let title = "Is this really official support?";
    has(&en, &["<html lang=\"en\">", title]);
    let entries = [
        ("entry-verify", "/verify", "Verify a contact", "验证客服"),
        ("entry-check", "/check", "Check a handle", "查询账号"),
        ("entry-report", "/report", "Report fraud", "举报诈骗"),
    ];
    for (id, path, label, _) in entries {
        let marker = format!("id=\"{id}\"");
        assert!(tag(&en, &marker).starts_with("<a "), "{id} is a link");
        assert_eq!(href(&en, &marker), format!("{path}?lang=en"));
        has(&en, &[label]);
        let (status, _) = page(&app, &format!("{path}?lang=en"), None).await;
        assert_eq!(status, 200, "{path}");
    }

    // Chinese by query and by header; the query wins over the header.
    let (_, by_query) = page(&app, "/?lang=zh-CN", None).await;
    let (_, by_header) = page(&app, "/", Some("zh-CN,zh;q=0.9")).await;
    for zh in [&by_query, &by_header] {
        has(zh, &["<html lang=\"zh-CN\">", "这真的是官方客服吗？"]);
        assert!(!zh.contains("Is this really official support?"));
        for (id, path, _, label) in entries {
            let link = href(zh, &format!("id=\"{id}\""));
            assert_eq!(link, format!("{path}?lang=zh-CN"));
            has(zh, &[label]);
        }
    }
    let (_, en_again) = page(&app, "/?lang=en", Some("zh-CN")).await;
    has(&en_again, &["Is this really official support?"]);
}

fn result_of(html: &str) -> String {
    attr(html, "id=\"check-result\"", "data-result")
}

#[tokio::test]
async fn check_page_answers_official_lookalike_invalid_and_quotes_policies() {
    let app = spawn_app().await;
    let r = app.register_channel("telegram", "@acme_support", None);
    assert_eq!(r.await.status(), 201);

    let (s, empty) = page(&app, "/check", None).await;
    assert_eq!(s, 200);
    assert!(!empty.contains("id=\"check-result\"") && !empty.contains("role=\"alert\""));
    assert_eq!(selected(&empty, "kind"), "telegram");

    let (s, html) = page(&app, "/check?kind=telegram&value=%40Acme_Support", None).await;
    assert_eq!((s, result_of(&html).as_str()), (200, "official"));
    has(&html, &["Official channel"]);
    assert!(!html.contains("id=\"report-link\""));

    let (s, html) = page(&app, "/check?kind=telegram&value=%40acme_supp0rt", None).await;
    assert_eq!((s, result_of(&html).as_str()), (200, "lookalike"));
    has(&html, &["LOOKALIKE"]);
    assert_eq!(val(&html, "value"), "@acme_supp0rt");
    let link = href(&html, "id=\"report-link\"");
    assert!(link.starts_with("/report?"), "a relative link: {link}");
    assert_query(
        &link,
        &[
            ("source", Some("check")),
            ("result", Some("lookalike")),
            ("scam_kind", Some("telegram")),
            ("scam_handle", Some("acme_supp0rt")),
            ("claimed_kind", Some("telegram")),
            ("claimed_handle", Some("acme_support")),
            ("lang", Some("en")),
        ],
    );

    // Invalid input: 400 with an error paragraph, no answer, and the value escaped.
    let markup = "/check?kind=telegram&value=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    for (path, says) in [
        (
            "/check?kind=email&value=not-an-address",
            "invalid email handle",
        ),
        ("/check?kind=pigeon&value=anything", "Unknown channel kind."),
        (markup, "invalid telegram handle"),
    ] {
        let (s, html) = page(&app, path, None).await;
        assert_eq!(s, 400, "{path}");
        has(&html, &["<p class=\"error\" role=\"alert\">", says]);
        assert!(!html.contains("id=\"check-result\""), "{path}");
        assert!(!html.contains("<script>alert"), "{path}: escaped");
    }
    let (_, html) = page(&app, markup, None).await;
    assert_eq!(val(&html, "value"), "\"><script>alert(1)</script>");

    // A never_used policy is the answer for a WhatsApp number, in both languages.
    let policy = json!({"rule": "never_used", "channel_kind": "whatsapp"});
    let r = app.client.post(app.url("/v1/policies")).json(&policy);
    let r = r.bearer_auth(&app.admin_key).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let (s, html) = page(&app, "/check?kind=whatsapp&value=%2B86+138+0013+8000", None).await;
    assert_eq!((s, result_of(&html).as_str()), (200, "not_official"));
    has(&html, &["NOT an official channel", "How we contact you"]);
    let quoted = html.matches("never contacts users on WhatsApp").count();
    assert_eq!(quoted, 2, "in the message and the policy list: {html}");
    assert_eq!(selected(&html, "kind"), "whatsapp");
    let want = [
        ("scam_kind", Some("whatsapp")),
        ("scam_handle", Some("+8613800138000")),
        ("claimed_kind", None),
    ];
    assert_query(&href(&html, "id=\"report-link\""), &want);

    // The language links keep the question; following one answers it in Chinese.
    let zh_link = href(&html, "hreflang=\"zh-CN\"");
    let value = Some("+86 138 0013 8000");
    let want = [
        ("kind", Some("whatsapp")),
        ("value", value),
        ("lang", Some("zh-CN")),
    ];
    assert_query(&zh_link, &want);
    let (s, zh) = page(&app, &format!("/check{zh_link}"), None).await;
    assert_eq!((s, result_of(&zh).as_str()), (200, "not_official"));
    has(&zh, &["<html lang=\"zh-CN\">", "不是官方渠道"]);
    has(&zh, &["我们的联系方式政策"]);
    assert_query(&href(&zh, "hreflang=\"en\""), &[("value", value)]);
    assert_query(&href(&zh, "id=\"report-link\""), &[("lang", Some("zh-CN"))]);
}

#[tokio::test]
async fn report_form_is_prefilled_from_verdict_and_check_links_and_escaped() {
    let app = spawn_app().await;
    app.agent_with_channel("Alice", "@acme_support").await;

    // A forged token's verdict page links to a report naming what it claimed.
    let mut claims = app.claims(now() - 10, now() + 600);
    claims.agent_name = "Alice".into();
    let thief = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let forged = sign(&thief, "k-stolen", &claims);
    let (s, verdict) = page(&app, &format!("/v/{forged}"), None).await;
    assert_eq!(s, 200);
    let link = href(&verdict, "class=\"button report\"");
    assert!(link.starts_with("/report?"), "relative: {link}");
    let (s, html) = page(&app, &link, None).await;
    assert_eq!(s, 200);
    assert_eq!(text(&html, "presented"), forged);
    assert_eq!(val(&html, "claimed_agent"), "Alice");
    assert_eq!(val(&html, "claimed_handle"), "acme_support");
    assert_eq!(selected(&html, "claimed_kind"), "telegram");
    assert_eq!(selected(&html, "scam_kind"), "", "no scammer channel");
    assert_eq!(selected(&html, "category"), "impersonation");
    let idem = attr(&html, "name=\"idem\"", "value");
    let hex = idem.bytes().all(|b| b.is_ascii_hexdigit());
    assert!(idem.len() == 32 && hex, "{idem}");
    let (_, again) = page(&app, &link, None).await;
    let other = attr(&again, "name=\"idem\"", "value");
    assert_ne!(other, idem, "one key per rendered form");

    // The check page's link fills in the scammer and the channel imitated.
    let path = "/check?kind=telegram&value=acme_supp0rt&lang=zh-CN";
    let (_, check) = page(&app, path, None).await;
    let (s, html) = page(&app, &href(&check, "id=\"report-link\""), None).await;
    assert_eq!(s, 200);
    has(&html, &["<html lang=\"zh-CN\">", "举报诈骗"]);
    assert_eq!(selected(&html, "scam_kind"), "telegram");
    assert_eq!(val(&html, "scam_handle"), "acme_supp0rt");
    assert_eq!(selected(&html, "claimed_kind"), "telegram");
    assert_eq!(val(&html, "claimed_handle"), "acme_support");
    // Switching language keeps the form filled in.
    let en = format!("/report{}", href(&html, "hreflang=\"en\""));
    let (_, html) = page(&app, &en, None).await;
    has(&html, &["<html lang=\"en\">", "Report fraud"]);
    assert_eq!(val(&html, "scam_handle"), "acme_supp0rt");

    // Whatever the query holds is shown as text, never as markup.
    let hostile = [
        ("scam_kind", "email"),
        ("scam_handle", "\"><script>alert(1)</script>"),
        ("claimed_agent", "O'Brien <b>"),
        ("description", "</textarea><img src=x onerror=alert(1)>"),
        ("category", "phishing_link"),
        ("claimed_kind", "\" onfocus=\"x"),
    ];
    let r = app.client.get(app.url("/report")).query(&hostile);
    let html = r.send().await.unwrap().text().await.unwrap();
    for raw in ["<script>alert", "<img src=x", "<b>", "onfocus=\"x"] {
        assert!(!html.contains(raw), "{raw} escaped in {html}");
    }
    assert_eq!(val(&html, "scam_handle"), hostile[1].1);
    assert_eq!(val(&html, "claimed_agent"), hostile[2].1);
    assert_eq!(text(&html, "description"), hostile[3].1);
    assert_eq!(selected(&html, "scam_kind"), "email");
    assert_eq!(selected(&html, "category"), "phishing_link");
    assert_eq!(selected(&html, "claimed_kind"), "");
}

/// The form of a victim who followed a check link: one screenshot and an empty file input.
fn full_form(shot: &[u8], description: &str) -> Form {
    let fields = [
        ("idem", IDEM),
        ("category", "impersonation"),
        ("description", description),
        ("scam_kind", "telegram"),
        ("scam_handle", "@acme_supp0rt"),
        ("claimed_kind", "telegram"),
        ("claimed_handle", "@acme_support"),
        ("claimed_agent", "Alice"),
    ];
    let shot = ("chat.png", shot.to_vec(), "image/png");
    let empty = ("", Vec::new(), "application/octet-stream");
    form(&fields, &[shot, empty])
}

#[tokio::test]
async fn posting_the_form_files_one_report_with_its_evidence() {
    let app = spawn_app().await;
    app.agent_with_channel("Alice", "@acme_support").await;
    let sec = app.create_staff("Sec", Role::Security).await.key;
    let shot = png(4096);
    let digest: String = Sha256::digest(&shot)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let said = "A fake support account asked for my seed phrase";

    let (id, html) = filed(&app, "/report?lang=en", full_form(&shot, said)).await;
    let receipt = text(&html, "receipt");
    assert!(id.starts_with("TD-") && receipt.starts_with("tdr_"));
    let status = format!("/r/{id}?lang=en");
    assert_eq!(href(&html, "id=\"status-link\""), status);
    has(&html, &[&digest, "chat.png"]);

    // The receipt on the page is the victim's key to the status.
    let r = app.report_status(&id, &receipt).await;
    assert_eq!(r.status(), 200);
    let v = json(r).await;
    assert_eq!((&v["id"], &v["status"]), (&json!(id), &json!("received")));
    // Staff only: an admin key is refused, as on every report endpoint.
    assert_eq!(app.report_status(&id, &app.admin_key).await.status(), 403);

    let d = staff_view(&app, &sec, &id).await;
    assert_eq!(d["category"], "impersonation");
    assert_eq!(d["description"], said);
    assert_eq!(d["scam_channel"]["handle"], "acme_supp0rt");
    let claimed = &d["claimed_entity"];
    let official = json!({"kind": "telegram", "handle": "acme_support"});
    assert_eq!(claimed["channel"], official);
    assert_eq!(claimed["agent"], "Alice");
    assert!(claimed["official_channel_id"].is_string(), "{d}");
    let files = d["attachments"].as_array().unwrap();
    assert_eq!(files.len(), 1, "the empty file input is ignored: {d}");
    assert_eq!(files[0]["sha256"], digest);
    assert_eq!(files[0]["content_type"], "png");
    assert_eq!(consent(&d), json!([true, false, false]));
    assert!(d.get("reporter_contact").is_none());
    let blobs = app.stored_files();
    assert_eq!(blobs.len(), 1, "{blobs:?}");

    // A double click: the same answer, one report, one blob.
    let (again, html) = filed(&app, "/report?lang=en", full_form(&shot, said)).await;
    assert_eq!((again, text(&html, "receipt")), (id, receipt));
    assert_eq!(report_count(&app, &sec).await, 1);
    assert_eq!(app.stored_files(), blobs);

    // The same key with another description is refused on the form, not filed.
    let (s, html) = post(&app, "/report?lang=en", full_form(&shot, "changed")).await;
    assert_eq!(s, 409, "{html}");
    has(&html, &["id=\"form-error\""]);
    assert_eq!(text(&html, "description"), "changed");
    assert_eq!(report_count(&app, &sec).await, 1);
    assert_eq!(app.stored_files(), blobs);
}

#[tokio::test]
async fn bad_forms_come_back_filled_in_and_leave_nothing_behind() {
    let app = spawn_app().await;
    let sec = app.create_staff("Sec", Role::Security).await.key;

    // No description: 400, the typed values kept (contact and consent included).
    let fields = [
        ("category", "fake_app"),
        ("scam_kind", "email"),
        ("scam_handle", "help@acme-support.example"),
        ("asset", "USDT"),
        ("reporter_contact", "me@example.com"),
        ("contact_opt_in", "on"),
    ];
    let with_file = form(&fields, &[("a.png", png(512), "image/png")]);
    let (s, html) = post(&app, "/report", with_file).await;
    assert_eq!(s, 400);
    let error = text(&html, "form-error");
    assert!(error.contains("Please check the form:"), "{error}");
    assert_eq!(selected(&html, "category"), "fake_app");
    assert_eq!(selected(&html, "scam_kind"), "email");
    assert_eq!(val(&html, "scam_handle"), "help@acme-support.example");
    assert_eq!(val(&html, "asset"), "USDT");
    assert_eq!(val(&html, "reporter_contact"), "me@example.com");
    assert!(tag(&html, "id=\"contact_opt_in\"").contains("checked"));
    assert!(!tag(&html, "id=\"share_with_law_enforcement\"").contains("checked"));

    // An executable: 415 and the form again, escaped.
    let mut exe = b"MZ\x90\x00\x03\x00\x00\x00".to_vec();
    exe.resize(2048, 0xCC);
    let said = "They sent me this <installer>";
    let typed = [("description", said), ("idem", IDEM)];
    let files = [("setup.exe", exe, "application/octet-stream")];
    let (s, html) = post(&app, "/report", form(&typed, &files)).await;
    assert_eq!(s, 415);
    has(&html, &["id=\"form-error\""]);
    assert_eq!(text(&html, "description"), said);
    assert!(!html.contains("<installer>"));
    assert_eq!(report_count(&app, &sec).await, 0);
    assert!(app.stored_files().is_empty(), "{:?}", app.stored_files());

    // Not multipart: a problem, not a page.
    let r = app
        .client
        .post(app.url("/report"))
        .form(&[("description", "x")]);
    let r = r.send().await.unwrap();
    assert_problem(r, 415, "unsupported_media_type", "url-encoded form").await;
    assert_eq!(report_count(&app, &sec).await, 0);

    // More files than allowed: 413 on the form.
    let app = spawn_app_with(|c| c.max_attachments = 1).await;
    let sec = app.create_staff("Sec", Role::Security).await.key;
    let (_, blank) = page(&app, "/report", None).await;
    assert_eq!(attr(&blank, "id=\"attachment\"", "data-max-files"), "1");
    let two = [
        ("1.png", png(256), "image/png"),
        ("2.png", png(300), "image/png"),
    ];
    let (s, html) = post(&app, "/report", form(&[("description", "two shots")], &two)).await;
    assert_eq!(s, 413);
    has(&html, &["id=\"form-error\""]);
    assert_eq!(text(&html, "description"), "two shots");
    assert_eq!(report_count(&app, &sec).await, 0);
    assert!(app.stored_files().is_empty(), "{:?}", app.stored_files());
}

#[tokio::test]
async fn consent_on_the_form_is_recorded_as_checked() {
    let app = spawn_app().await;
    let sec = app.create_staff("Sec", Role::Security).await.key;
    let base = [("category", "other"), ("description", "scam call")];
    let contact = ("reporter_contact", "victim@example.com");
    let boxes = [
        ("contact_opt_in", "on"),
        ("share_with_law_enforcement", "on"),
    ];

    let (anon, _) = filed(&app, "/report?lang=en", form(&base, &[])).await;
    let d = staff_view(&app, &sec, &anon).await;
    assert_eq!(consent(&d), json!([true, false, false]));

    let both = [&base[..], &[contact], &boxes[..]].concat();
    let (id, html) = filed(&app, "/report?lang=zh-CN", form(&both, &[])).await;
    has(&html, &["<html lang=\"zh-CN\">", "举报已收到"]);
    let status = format!("/r/{id}?lang=zh-CN");
    assert_eq!(href(&html, "id=\"status-link\""), status);
    let d = staff_view(&app, &sec, &id).await;
    assert_eq!(consent(&d), json!([false, true, true]));
    assert_eq!(d["reporter_contact"], "victim@example.com");
    assert_eq!(d["locale"], "zh-CN");

    // A contact with both boxes left unchecked: kept from staff screens.
    let quiet = [&base[..], &[contact]].concat();
    let (id, _) = filed(&app, "/report", form(&quiet, &[])).await;
    let d = staff_view(&app, &sec, &id).await;
    // Unchecked boxes are no consent (the API alone defaults opt-in to true with a contact).
    assert_eq!(consent(&d), json!([false, false, false]));
    assert!(d.get("reporter_contact").is_none(), "{d}");
}
