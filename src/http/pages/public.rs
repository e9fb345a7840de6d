//! The public pages a victim reaches without an API: the home page, the channel check and the
//! report form. Each calls the same function as its JSON endpoint, so the rules are the same.

use askama::Template;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::HtmlPage;
use crate::channels::ChannelKind;
use crate::http::api::channels::CheckResponse;
use crate::http::api::reports::{intake, multipart_error, receive_file};
use crate::http::error::ApiError;
use crate::http::extract::{AppQuery, PreferredLocale};
use crate::http::i18n;
use crate::http::state::AppState;
use crate::reports::{Category, ReportInput, StagedAttachment, UploadBudget};
use crate::types::{rfc3339, Locale};

/// Largest text field of the report form (the description's 5,000 characters in UTF-8, with room).
const MAX_FORM_FIELD: usize = 64 * 1024;

/// A `<select>` option.
pub struct Choice {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

fn kind_choices(l: Locale, selected: &str) -> Vec<Choice> {
    ChannelKind::ALL
        .into_iter()
        .map(|k| Choice {
            value: k.as_str(),
            label: k.display_name(l),
            selected: k.as_str() == selected,
        })
        .collect()
}

/// `?lang=` links that keep the rest of the query (a pre-filled form stays pre-filled).
fn lang_links(query: &[(String, String)]) -> (String, String) {
    let with = |tag: &str| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in query.iter().filter(|(k, _)| k != "lang") {
            q.append_pair(k, v);
        }
        q.append_pair("lang", tag);
        format!("?{}", q.finish())
    };
    (with("en"), with("zh-CN"))
}

// ---------------------------------------------------------------------------------------------
// Home

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub lang: &'static str,
    pub lang_label: &'static str,
    pub title: &'static str,
    pub intro: &'static str,
    pub verify: (&'static str, &'static str),
    pub check: (&'static str, &'static str),
    pub report: (&'static str, &'static str),
    pub track: &'static str,
    pub never: &'static str,
}

/// `GET /`: what Trustdesk is, and the three things a worried user came to do.
pub async fn home(PreferredLocale(l): PreferredLocale) -> Response {
    let zh = l == Locale::ZhCn;
    HtmlPage(HomePage {
        lang: l.as_str(),
        lang_label: if zh { "语言" } else { "Language" },
        title: if zh { "这真的是官方客服吗？" } else { "Is this really official support?" },
        intro: if zh {
            "骗子常在 Telegram、微信、邮件或电话上冒充\u{201c}官方客服\u{201d}。Trustdesk 让您在一步之内确认对方是否为真正的客服，并在遇到诈骗时举报、跟进处理进度。"
        } else {
            "Scammers pose as \u{201c}official support\u{201d} on Telegram, WeChat, e-mail or phone. Trustdesk tells you in one step whether the contact in front of you is a real agent, and lets you report a scam and follow what happens to your report."
        },
        verify: if zh {
            ("验证客服", "粘贴对方发来的身份链接、会话码或整条消息。")
        } else {
            ("Verify a contact", "Paste the identity link, session code or whole message you received.")
        },
        check: if zh {
            ("查询账号", "这个 Telegram 账号、邮箱、电话或网址是官方的吗？")
        } else {
            ("Check a handle", "Is this Telegram account, e-mail, phone number or website official?")
        },
        report: if zh {
            ("举报诈骗", "提交证据，获得回执，随时查看处理进度。")
        } else {
            ("Report fraud", "Send evidence, get a receipt, and follow your report.")
        },
        track: if zh {
            "已经举报过？在提交后显示的状态页面输入编号和回执。"
        } else {
            "Already reported? Open the status page shown after filing and enter your receipt."
        },
        never: if zh {
            "真正的客服绝不会索要您的助记词、私钥、转账或远程控制权限。"
        } else {
            "Real support never asks for your seed phrase, private keys, a payment or remote access."
        },
    })
    .into_response()
}

// ---------------------------------------------------------------------------------------------
// Channel check

#[derive(Deserialize)]
pub struct CheckParams {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    lang: Option<String>,
}

/// What the check page shows for an answer.
pub struct CheckView {
    pub result: &'static str,
    pub icon: &'static str,
    pub headline: &'static str,
    pub message: String,
    pub policies: Vec<String>,
    pub report_url: Option<String>,
}

#[derive(Template)]
#[template(path = "check.html")]
pub struct CheckPage {
    pub lang: &'static str,
    pub lang_label: &'static str,
    pub lang_en: String,
    pub lang_zh: String,
    pub title: &'static str,
    pub intro: &'static str,
    pub kind_label: &'static str,
    pub value_label: &'static str,
    pub value: String,
    pub kinds: Vec<Choice>,
    pub submit: &'static str,
    pub error: Option<String>,
    pub answer: Option<CheckView>,
    pub policies_label: &'static str,
    pub report_label: &'static str,
}

fn check_view(s: &AppState, r: CheckResponse, l: Locale) -> CheckView {
    let zh = l == Locale::ZhCn;
    let (icon, headline) = match (r.result, zh) {
        ("official", false) => ("✔", "Official channel"),
        ("official", true) => ("✔", "官方渠道"),
        ("lookalike", false) => ("✖", "LOOKALIKE — imitates an official channel"),
        ("lookalike", true) => ("✖", "仿冒 — 模仿官方渠道"),
        ("known_scam", false) => ("✖", "KNOWN SCAM"),
        ("known_scam", true) => ("✖", "已知诈骗"),
        (_, false) => ("✖", "NOT an official channel"),
        (_, true) => ("✖", "不是官方渠道"),
    };
    CheckView {
        result: r.result,
        icon,
        headline,
        message: r.message,
        policies: r.policies.into_iter().map(|p| p.statement).collect(),
        report_url: r.report_url.map(|u| super::local_link(s, u)),
    }
}

/// `GET /check`: the form, and with `kind` and `value` the answer below it.
pub async fn check(
    State(s): State<AppState>,
    PreferredLocale(l): PreferredLocale,
    AppQuery(q): AppQuery<CheckParams>,
) -> Result<Response, ApiError> {
    let zh = l == Locale::ZhCn;
    let kind = q.kind.as_deref().unwrap_or("telegram");
    let value = q.value.clone().unwrap_or_default();
    let mut error = None;
    let mut answer = None;
    if !value.trim().is_empty() {
        match ChannelKind::parse(kind) {
            None => {
                error = Some(
                    if zh {
                        "未知的渠道类型。"
                    } else {
                        "Unknown channel kind."
                    }
                    .into(),
                )
            }
            Some(k) => match crate::http::api::channels::answer(&s, k, &value, l).await {
                Ok(r) => answer = Some(check_view(&s, r, l)),
                Err(ApiError::BadRequest { detail, .. }) => error = Some(detail),
                Err(e) => return Err(e),
            },
        }
    }
    let mut query = vec![("kind".to_owned(), kind.to_owned())];
    if !value.is_empty() {
        query.push(("value".into(), value.clone()));
    }
    let _ = q.lang;
    let (lang_en, lang_zh) = lang_links(&query);
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = CheckPage {
        lang: l.as_str(),
        lang_label: if zh { "语言" } else { "Language" },
        lang_en,
        lang_zh,
        title: if zh {
            "查询账号是否官方"
        } else {
            "Check a handle"
        },
        intro: if zh {
            "输入联系您的账号、邮箱、电话号码或网址，我们会与官方渠道登记表比对。"
        } else {
            "Enter the account, e-mail address, phone number or website that contacted you; we compare it with the registry of official channels."
        },
        kind_label: if zh { "渠道类型" } else { "Channel" },
        value_label: if zh {
            "账号、邮箱、电话或网址"
        } else {
            "Handle, e-mail, phone or URL"
        },
        value,
        kinds: kind_choices(l, kind),
        submit: if zh { "查询" } else { "Check" },
        error,
        answer,
        policies_label: if zh {
            "我们的联系方式政策"
        } else {
            "How we contact you"
        },
        report_label: i18n::report_label(l),
    };
    Ok((status, HtmlPage(page)).into_response())
}

// ---------------------------------------------------------------------------------------------
// Report form

/// The form's fields: from a verdict's or a check's pre-filled link, or what the victim typed.
#[derive(Default, Clone)]
pub struct ReportFields {
    pub category: String,
    pub description: String,
    pub scam_kind: String,
    pub scam_handle: String,
    pub presented: String,
    pub claimed_kind: String,
    pub claimed_handle: String,
    pub claimed_agent: String,
    pub amount_lost: String,
    pub asset: String,
    pub reporter_contact: String,
    pub contact_opt_in: bool,
    pub share_with_law_enforcement: bool,
    pub notify_email: String,
    pub anti_phishing_phrase: String,
}

/// Every label of the report form.
pub struct ReportTexts {
    pub title: &'static str,
    pub intro: &'static str,
    pub category: &'static str,
    pub description: &'static str,
    pub description_hint: &'static str,
    pub scammer: &'static str,
    pub scam_kind: &'static str,
    pub scam_handle: &'static str,
    pub none: &'static str,
    pub presented: &'static str,
    pub claimed: &'static str,
    pub claimed_kind: &'static str,
    pub claimed_handle: &'static str,
    pub claimed_agent: &'static str,
    pub loss: &'static str,
    pub amount: &'static str,
    pub asset: &'static str,
    pub files: &'static str,
    pub files_hint: String,
    pub contact: &'static str,
    pub contact_hint: &'static str,
    pub opt_in: &'static str,
    pub law: &'static str,
    pub submit: &'static str,
    pub fix: &'static str,
    pub notify: &'static str,
    pub notify_intro: &'static str,
    pub notify_email: &'static str,
    pub phrase: &'static str,
    pub phrase_hint: &'static str,
}

fn report_texts(l: Locale, s: &AppState) -> ReportTexts {
    let lim = s.attachment_limits;
    let mib = |b: u64| b / (1024 * 1024);
    match l {
        Locale::En => ReportTexts {
            title: "Report fraud",
            intro: "Tell us what happened. Only the description is required; everything else helps us act faster. You will get an id and a receipt to follow your report.",
            category: "What happened?",
            description: "Describe it in your own words",
            description_hint: "Up to 5,000 characters. Never include your seed phrase or passwords.",
            scammer: "The scammer",
            scam_kind: "Where they contacted you",
            scam_handle: "Their account, e-mail, phone number or website",
            none: "(not known)",
            presented: "Any link, token or message they showed as proof",
            claimed: "Who they pretended to be",
            claimed_kind: "Official channel imitated",
            claimed_handle: "Official account imitated",
            claimed_agent: "Agent name they used",
            loss: "Loss (if any)",
            amount: "Amount",
            asset: "Asset (e.g. USDT)",
            files: "Evidence: screenshots, chat exports, PDFs",
            files_hint: format!("Up to {} files, {} MiB each, {} MiB in total. PNG, JPEG, WebP, GIF, PDF, ZIP, text or JSON.", lim.max_count, mib(lim.max_file_bytes), mib(lim.max_total_bytes)),
            contact: "Your e-mail or phone (optional)",
            contact_hint: "Leave it empty to report anonymously.",
            opt_in: "You may contact me about this report",
            law: "You may share my contact details with law enforcement",
            submit: "Send report",
            fix: "Please check the form:",
            notify: "E-mail me about progress (optional)",
            notify_intro: "We write when we receive your report, at each update, if we are late, and when it is resolved. Scammers pose as security teams: every genuine e-mail from us quotes the phrase you choose here. A message without it is not from us. We never ask for your seed phrase, a fee or remote access.",
            notify_email: "Your e-mail address",
            phrase: "Your anti-phishing phrase",
            phrase_hint: "4–64 characters that only you know, e.g. \u{201c}blue heron 42\u{201d}. Not a password.",
        },
        Locale::ZhCn => ReportTexts {
            title: "举报诈骗",
            intro: "请告诉我们发生了什么。只有描述是必填的，其他信息能帮助我们更快处理。提交后您将获得编号和回执，用于查看处理进度。",
            category: "发生了什么？",
            description: "请用您自己的话描述",
            description_hint: "最多 5000 字。切勿填写助记词或密码。",
            scammer: "骗子的信息",
            scam_kind: "对方通过什么渠道联系您",
            scam_handle: "对方的账号、邮箱、电话号码或网址",
            none: "（不清楚）",
            presented: "对方出示的任何链接、令牌或消息",
            claimed: "对方冒充的身份",
            claimed_kind: "被冒充的官方渠道",
            claimed_handle: "被冒充的官方账号",
            claimed_agent: "对方使用的客服名字",
            loss: "损失（如有）",
            amount: "金额",
            asset: "币种（例如 USDT）",
            files: "证据：截图、聊天记录导出、PDF",
            files_hint: format!("最多 {} 个文件，每个不超过 {} MiB，总共不超过 {} MiB。支持 PNG、JPEG、WebP、GIF、PDF、ZIP、文本或 JSON。", lim.max_count, mib(lim.max_file_bytes), mib(lim.max_total_bytes)),
            contact: "您的邮箱或电话（选填）",
            contact_hint: "留空即为匿名举报。",
            opt_in: "可以就此举报联系我",
            law: "可以将我的联系方式提供给执法机关",
            submit: "提交举报",
            fix: "请检查表单：",
            notify: "通过邮件通知我处理进度（选填）",
            notify_intro: "我们会在收到举报、每次有进展、处理延迟以及处理完毕时给您发邮件。骗子会冒充安全团队：我们发出的每一封真实邮件都会引用您在这里设置的短语。没有这句短语的消息都不是我们发的。我们绝不会索要您的助记词、任何费用或远程控制权限。",
            notify_email: "您的邮箱地址",
            phrase: "您的防钓鱼短语",
            phrase_hint: "4–64 个字符，只有您自己知道，例如\u{201c}蓝色苍鹭42\u{201d}。不要使用密码。",
        },
    }
}

#[derive(Template)]
#[template(path = "report.html")]
pub struct ReportPage {
    pub lang: &'static str,
    pub lang_label: &'static str,
    pub lang_en: String,
    pub lang_zh: String,
    pub title: &'static str,
    pub t: ReportTexts,
    pub f: ReportFields,
    pub categories: Vec<Choice>,
    pub scam_kinds: Vec<Choice>,
    pub claimed_kinds: Vec<Choice>,
    pub max_files: usize,
    pub max_file_bytes: u64,
    /// One fresh key per rendered form: a double click or a refresh replays the first answer
    /// instead of filing the report twice.
    pub idem: String,
    /// Offered only where an SMTP server is configured.
    pub notify_enabled: bool,
    pub error: Option<String>,
}

fn report_page(
    s: &AppState,
    l: Locale,
    f: ReportFields,
    query: &[(String, String)],
    error: Option<String>,
) -> ReportPage {
    let t = report_texts(l, s);
    let (lang_en, lang_zh) = lang_links(query);
    let category = if f.category.is_empty() {
        "impersonation"
    } else {
        f.category.as_str()
    };
    ReportPage {
        lang: l.as_str(),
        lang_label: if l == Locale::ZhCn {
            "语言"
        } else {
            "Language"
        },
        lang_en,
        lang_zh,
        title: t.title,
        categories: Category::ALL
            .into_iter()
            .map(|c| Choice {
                value: c.as_str(),
                label: i18n::category_label(c, l),
                selected: c.as_str() == category,
            })
            .collect(),
        scam_kinds: kind_choices(l, &f.scam_kind),
        claimed_kinds: kind_choices(l, &f.claimed_kind),
        max_files: s.attachment_limits.max_count,
        max_file_bytes: s.attachment_limits.max_file_bytes,
        idem: form_key(),
        notify_enabled: s.notifications_enabled(),
        t,
        f,
        error,
    }
}

/// `GET /report`: the form, pre-filled from the query (a verdict's or a check's report link).
pub async fn report_form(
    State(s): State<AppState>,
    PreferredLocale(l): PreferredLocale,
    raw: axum::extract::RawQuery,
) -> Response {
    let query: Vec<(String, String)> = raw
        .0
        .as_deref()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .take(32)
                .collect()
        })
        .unwrap_or_default();
    let fields = prefill(&query);
    HtmlPage(report_page(&s, l, fields, &query, None)).into_response()
}

/// A random 128-bit form key.
fn form_key() -> String {
    use rand::RngCore;
    let mut raw = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    crate::staff::hex(&raw)
}

/// The pre-filled fields of a report link; anything else in the query (`source`, `verdict`,
/// `result`, `lang`) is bookkeeping, and nothing in it is trusted: the server re-checks it all.
fn prefill(query: &[(String, String)]) -> ReportFields {
    let mut f = ReportFields::default();
    for (k, v) in query {
        let v: String = v.chars().take(16_384).collect();
        match k.as_str() {
            "category" => f.category = v,
            "description" => f.description = v,
            "scam_kind" => f.scam_kind = v,
            "scam_handle" => f.scam_handle = v,
            "presented" => f.presented = v,
            "claimed_kind" => f.claimed_kind = v,
            "claimed_handle" => f.claimed_handle = v,
            "claimed_agent" => f.claimed_agent = v,
            _ => {}
        }
    }
    f
}

#[derive(Template)]
#[template(path = "report_done.html")]
pub struct ReportDonePage {
    pub lang: &'static str,
    pub lang_label: &'static str,
    pub title: &'static str,
    pub message: String,
    pub id_label: &'static str,
    pub id: String,
    pub receipt_label: &'static str,
    pub receipt: String,
    pub save: &'static str,
    pub expected_label: &'static str,
    pub expected: String,
    pub files_label: &'static str,
    pub files: Vec<(String, String)>,
    pub status_url: String,
    pub status_label: &'static str,
}

/// `POST /report`: streams the files to disk as they arrive (memory does not grow with their
/// size), then files the report exactly like `POST /v1/reports`.
pub async fn report_submit(
    State(s): State<AppState>,
    PreferredLocale(l): PreferredLocale,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let mut multipart = multipart.map_err(|_| {
        ApiError::UnsupportedMediaType("send the form as multipart/form-data".into())
    })?;
    let mut budget = UploadBudget::new(s.attachment_limits);
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut files: Vec<StagedAttachment> = Vec::new();
    let mut failure: Option<ApiError> = None;
    // Any early return drops the staged temporary files, which deletes them.
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(multipart_error(e)),
        };
        match field.file_name() {
            // A file input left empty still sends a part, with no name and no bytes.
            Some("") => continue,
            Some(_) => {
                if failure.is_some() {
                    continue;
                }
                match receive_file(&s, &mut budget, field).await {
                    Ok(f) => files.push(f),
                    // Keep reading the text fields so the form comes back filled in.
                    Err(
                        e @ (ApiError::LimitExceeded { .. } | ApiError::UnsupportedType { .. }),
                    ) => failure = Some(e),
                    Err(e) => return Err(e),
                }
            }
            None => {
                let name = field.name().unwrap_or("").to_owned();
                if fields.len() >= 32 {
                    return Err(ApiError::bad_request(
                        "invalid_form",
                        "too many form fields",
                    ));
                }
                let bytes = read_field(field).await?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| ApiError::bad_request("invalid_form", "the form is not UTF-8"))?;
                fields.push((name, text));
            }
        }
    }
    let get = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let checked = |k: &str| fields.iter().any(|(n, _)| n == k);
    let form = ReportFields {
        category: get("category"),
        description: get("description"),
        scam_kind: get("scam_kind"),
        scam_handle: get("scam_handle"),
        presented: get("presented"),
        claimed_kind: get("claimed_kind"),
        claimed_handle: get("claimed_handle"),
        claimed_agent: get("claimed_agent"),
        amount_lost: get("amount_lost"),
        asset: get("asset"),
        reporter_contact: get("reporter_contact"),
        contact_opt_in: checked("contact_opt_in"),
        share_with_law_enforcement: checked("share_with_law_enforcement"),
        notify_email: get("notify_email"),
        anti_phishing_phrase: get("anti_phishing_phrase"),
    };
    let again = |e: ApiError, form: ReportFields| -> Response {
        let status = e.status();
        let page = report_page(&s, l, form, &[], Some(e.to_string()));
        (status, HtmlPage(page)).into_response()
    };
    if let Some(e) = failure {
        return Ok(again(e, form));
    }
    // A handle typed without its kind would otherwise be dropped without a word.
    let zh = l == Locale::ZhCn;
    if (form.scam_kind.is_empty() && !form.scam_handle.is_empty())
        || (form.claimed_kind.is_empty() && !form.claimed_handle.is_empty())
    {
        let msg = if zh {
            "请为您填写的账号选择渠道类型（例如 Telegram）。"
        } else {
            "choose the channel (for example Telegram) of the account you typed."
        };
        return Ok(again(
            ApiError::bad_request("channel_kind_missing", msg),
            form,
        ));
    }
    if Category::parse(&form.category).is_none() {
        let msg = if zh {
            "请选择发生了什么。"
        } else {
            "choose what happened."
        };
        return Ok(again(ApiError::bad_request("invalid_category", msg), form));
    }
    let json = report_json(&form, l);
    let bytes = serde_json::to_vec(&json).map_err(|e| ApiError::Internal(e.into()))?;
    let input: ReportInput = match serde_json::from_slice(&bytes) {
        Ok(i) => i,
        Err(e) => {
            return Ok(again(
                ApiError::bad_request("invalid_body", e.to_string()),
                form,
            ));
        }
    };
    let idem = Some(get("idem")).filter(|k| {
        (16..=128).contains(&k.len())
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    });
    let (done, locale) = match intake(
        &s,
        l,
        idem.map(|k| format!("form:{k}")),
        input,
        &bytes,
        files,
    )
    .await
    {
        Ok(d) => d,
        Err(e @ (ApiError::BadRequest { .. } | ApiError::Conflict { .. })) => {
            return Ok(again(e, form))
        }
        Err(e) => return Err(e),
    };
    let zh = locale == Locale::ZhCn;
    let page = ReportDonePage {
        lang: locale.as_str(),
        lang_label: if zh { "语言" } else { "Language" },
        title: if zh {
            "举报已收到"
        } else {
            "Report received"
        },
        message: i18n::report_saved(locale, &done.report_id),
        id_label: if zh { "举报编号" } else { "Report id" },
        receipt_label: if zh {
            "回执（只显示这一次）"
        } else {
            "Receipt (shown only this once)"
        },
        save: if zh {
            "请现在保存编号和回执：截图、抄写或存入密码管理器。没有回执就无法查看进度，我们也无法找回它。"
        } else {
            "Save the id and the receipt now: take a screenshot, write them down or keep them in a password manager. Without the receipt you cannot follow your report, and we cannot recover it."
        },
        expected_label: if zh {
            "预计首次回复时间"
        } else {
            "First response expected by"
        },
        expected: rfc3339(done.first_response_by),
        files_label: if zh {
            "已保存的证据（SHA-256）"
        } else {
            "Evidence stored (SHA-256)"
        },
        files: done
            .attachments
            .iter()
            .map(|a| (a.filename.clone(), a.sha256.clone()))
            .collect(),
        status_url: format!("/r/{}?lang={}", done.report_id, locale.as_str()),
        status_label: if zh {
            "查看举报进度"
        } else {
            "Follow this report"
        },
        id: done.report_id,
        receipt: done.receipt.to_string(),
    };
    let mut resp = (StatusCode::CREATED, HtmlPage(page)).into_response();
    // The receipt is on this page: never let a shared cache or the back button keep it.
    resp.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}

async fn read_field(mut field: axum::extract::multipart::Field<'_>) -> Result<Vec<u8>, ApiError> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if buf.len() + chunk.len() > MAX_FORM_FIELD {
            return Err(ApiError::LimitExceeded {
                code: "field_too_large",
                detail: "a form field is too long".into(),
            });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// The form as the API's `report` JSON, so one parser validates both.
fn report_json(f: &ReportFields, l: Locale) -> Value {
    let mut m = Map::new();
    m.insert(
        "category".into(),
        json!(if f.category.is_empty() {
            "other"
        } else {
            &f.category
        }),
    );
    m.insert("description".into(), json!(f.description));
    m.insert("lang".into(), json!(l.as_str()));
    let opt = |m: &mut Map<String, Value>, k: &str, v: &str| {
        if !v.is_empty() {
            m.insert(k.into(), json!(v));
        }
    };
    if !f.scam_kind.is_empty() && !f.scam_handle.is_empty() {
        m.insert(
            "scam_channel".into(),
            json!({"kind": f.scam_kind, "handle": f.scam_handle}),
        );
    }
    opt(&mut m, "presented", &f.presented);
    opt(&mut m, "amount_lost", &f.amount_lost);
    opt(&mut m, "asset", &f.asset);
    let mut claimed = Map::new();
    if !f.claimed_kind.is_empty() && !f.claimed_handle.is_empty() {
        claimed.insert(
            "channel".into(),
            json!({"kind": f.claimed_kind, "handle": f.claimed_handle}),
        );
    }
    opt(&mut claimed, "agent", &f.claimed_agent);
    if !claimed.is_empty() {
        m.insert("claimed_entity".into(), Value::Object(claimed));
    }
    opt(&mut m, "notify_email", &f.notify_email);
    opt(&mut m, "anti_phishing_phrase", &f.anti_phishing_phrase);
    if !f.reporter_contact.is_empty() {
        m.insert("reporter_contact".into(), json!(f.reporter_contact));
        m.insert("contact_opt_in".into(), json!(f.contact_opt_in));
        m.insert(
            "share_with_law_enforcement".into(),
            json!(f.share_with_law_enforcement),
        );
    }
    Value::Object(m)
}

/// The report form's file hints (served as a file: the CSP forbids inline script).
pub async fn report_script() -> impl IntoResponse {
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/javascript; charset=utf-8",
            ),
            (axum::http::header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../../web/report.js"),
    )
}
