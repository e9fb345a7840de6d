//! Server-rendered pages. Templates escape everything (askama); no inline script or style.

pub mod console;
pub mod console_staff;
pub mod public;

use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::api::verify::present;
use super::error::ApiError;
use super::extract::{AppPath, PreferredLocale};
use super::i18n;
use super::state::AppState;
use crate::tokens::{self, Verdict};
use crate::types::Locale;

/// Renders a template, turning a rendering failure into an opaque 500.
pub struct HtmlPage<T>(pub T);

impl<T: Template> IntoResponse for HtmlPage<T> {
    fn into_response(self) -> Response {
        match self.0.render() {
            Ok(html) => {
                let mut r = Html(html).into_response();
                // Verdicts change with time and revocation: never cache them.
                r.headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                r
            }
            Err(e) => ApiError::Internal(e.into()).into_response(),
        }
    }
}

pub struct SessionRow {
    pub agent_name: String,
    pub channel: String,
    pub expires_at: String,
    pub user_ref_last4: Option<String>,
}

#[derive(Template)]
#[template(path = "verify.html")]
pub struct VerifyPage {
    pub lang: &'static str,
    pub verdict: &'static str,
    pub icon: &'static str,
    pub title: &'static str,
    pub message: &'static str,
    pub instruction: Option<String>,
    pub session: Option<SessionRow>,
    pub report_url: Option<String>,
    /// Published contact policies that apply, in the page's language.
    pub policies: Vec<String>,
    pub policies_label: &'static str,
    pub report_label: &'static str,
    pub lang_label: &'static str,
    pub details_label: &'static str,
    pub agent_label: &'static str,
    pub channel_label: &'static str,
    pub expires_label: &'static str,
    pub user_ref_label: &'static str,
    pub footnote: &'static str,
}

/// `GET /v/{token}`: the identity link a user opens.
pub async fn verify_link(
    State(s): State<AppState>,
    PreferredLocale(locale): PreferredLocale,
    AppPath(token): AppPath<String>,
) -> Result<Response, ApiError> {
    let verdict = if token.len() > tokens::paseto::MAX_TOKEN_LEN {
        Verdict::Malformed("the token is damaged or incomplete")
    } else {
        s.verifier.verify(&token).await?
    };
    Ok(verdict_page(&s, &verdict, locale, &token))
}

#[derive(Template)]
#[template(path = "verify_form.html")]
pub struct VerifyFormPage {
    pub lang: &'static str,
    pub lang_label: &'static str,
    pub title: &'static str,
    pub intro: &'static str,
    pub label: &'static str,
    pub submit: &'static str,
    pub footnote: &'static str,
}

/// `GET /verify`: where a user types a session code read out on a call, or pastes a message.
/// The point of a code is that the user reaches this page on their own, never through a link.
pub async fn verify_form(PreferredLocale(locale): PreferredLocale) -> Response {
    let zh = locale == Locale::ZhCn;
    HtmlPage(VerifyFormPage {
        lang: locale.as_str(),
        lang_label: if zh { "语言" } else { "Language" },
        title: if zh { "验证客服身份" } else { "Verify a support contact" },
        intro: if zh {
            "输入客服告诉您的会话码，或粘贴对方发来的身份链接或整条消息。"
        } else {
            "Enter the session code the agent read out to you, or paste the identity link or the whole message you received."
        },
        label: if zh { "会话码、链接或消息" } else { "Session code, link or message" },
        submit: if zh { "验证" } else { "Verify" },
        footnote: if zh {
            "请自行输入本网站地址，不要点击他人发来的链接打开此页面。"
        } else {
            "Type this site's address yourself; do not open this page from a link someone sent you."
        },
    })
    .into_response()
}

#[derive(serde::Deserialize)]
pub struct VerifyForm {
    input: String,
}

/// `POST /verify`: the form's answer, as the same verdict page as an identity link.
pub async fn verify_submit(
    State(s): State<AppState>,
    PreferredLocale(locale): PreferredLocale,
    form: Result<axum::Form<VerifyForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, ApiError> {
    let Ok(axum::Form(form)) = form else {
        return Err(ApiError::bad_request(
            "invalid_form",
            "the form is incomplete",
        ));
    };
    let verdict = if form.input.len() > tokens::input::MAX_INPUT_LEN {
        Verdict::Malformed("the input is too long")
    } else {
        s.verifier.verify(&form.input).await?
    };
    Ok(verdict_page(&s, &verdict, locale, &form.input))
}

fn verdict_page(s: &AppState, verdict: &Verdict, locale: Locale, input: &str) -> Response {
    crate::http::api::verify::VERDICTS.increment(verdict.kind());
    let policies = s.policies.get();
    let p = present(verdict, locale, s.base_url(), input, &policies);
    let zh = locale == Locale::ZhCn;
    let page = VerifyPage {
        lang: locale.as_str(),
        verdict: p.verdict,
        icon: if p.verdict == "genuine" { "✔" } else { "✖" },
        title: p.title,
        message: p.message,
        instruction: p.instruction,
        session: p.session.map(|s| SessionRow {
            agent_name: s.agent_name,
            channel: format!(
                "{} {}",
                i18n::kind_name(s.channel.kind, locale),
                i18n::display_handle(s.channel.kind, &s.channel.handle)
            ),
            expires_at: s.expires_at,
            user_ref_last4: s.user_ref_last4,
        }),
        // The form opens in the language of the verdict the victim just read.
        report_url: p
            .report_url
            .map(|u| format!("{}&lang={}", local_link(s, u), locale.as_str())),
        policies: p.policies.into_iter().map(|n| n.statement).collect(),
        policies_label: if zh {
            "我们从不这样做"
        } else {
            "What we never do"
        },
        report_label: i18n::report_label(locale),
        lang_label: if zh { "语言" } else { "Language" },
        details_label: if zh {
            "会话详情"
        } else {
            "Session details"
        },
        agent_label: if zh { "客服" } else { "Agent" },
        channel_label: if zh { "渠道" } else { "Channel" },
        expires_label: if zh { "有效期至" } else { "Valid until" },
        user_ref_label: if zh {
            "您的账户尾号"
        } else {
            "Your reference ends in"
        },
        footnote: if zh {
            "Trustdesk 绝不会索要您的助记词、私钥、转账或远程控制权限。"
        } else {
            "Trustdesk and real support never ask for your seed phrase, private keys, a payment or remote access."
        },
    };
    let mut resp = HtmlPage(page).into_response();
    super::api::verify::mark_guess(&mut resp, verdict);
    resp
}

/// A link to this service as a path, so a page works whatever host name it was reached by.
pub(crate) fn local_link(s: &AppState, url: String) -> String {
    match url.strip_prefix(s.base_url()) {
        Some(path) if path.starts_with('/') => path.to_owned(),
        _ => url,
    }
}

/// The stylesheet, embedded so the binary is self-contained.
pub async fn stylesheet() -> impl IntoResponse {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../../web/style.css"),
    )
}

/// Labels of the status page.
pub struct StatusTexts {
    pub lang_label: &'static str,
    pub priority: &'static str,
    pub created: &'static str,
    pub expected: &'static str,
    pub next: &'static str,
    pub timeline: &'static str,
    pub not_found: &'static str,
    pub receipt_label: &'static str,
    pub submit: &'static str,
    pub receipt_hint: &'static str,
    pub next_by: &'static str,
    pub notifications_on: &'static str,
    pub forget: &'static str,
    pub forget_hint: &'static str,
    pub rate_title: &'static str,
    pub rate_label: &'static str,
    pub comment: &'static str,
    pub rate_submit: &'static str,
    pub rated: &'static str,
    pub confirm_title: &'static str,
    pub confirm_label: &'static str,
    pub confirm_submit: &'static str,
}

fn status_texts(l: Locale) -> StatusTexts {
    match l {
        Locale::En => StatusTexts {
            lang_label: "Language",
            priority: "Priority",
            created: "Received",
            expected: "First response expected by",
            next: "What happens next:",
            timeline: "Timeline",
            not_found: "No report matches this id and receipt. Check both and try again.",
            receipt_label: "Receipt (tdr_…)",
            submit: "Show my report",
            receipt_hint: "The receipt was shown once when you filed the report. We never send it by e-mail or chat, and we never ask for fees or your seed phrase.",
            next_by: "Next step expected by",
            notifications_on: "E-mail notifications are on. Every genuine e-mail quotes your anti-phishing phrase.",
            forget: "Forget my contact details",
            forget_hint: "Deletes your e-mail address, phrase and contact details now and stops all e-mails. Your report and its evidence stay with the investigation.",
            rate_title: "How did we handle your report?",
            rate_label: "Your rating (1 = bad, 5 = excellent)",
            comment: "Comment (optional)",
            rate_submit: "Send rating",
            rated: "Your rating",
            confirm_title: "Turn on e-mail notifications: enter the code we e-mailed you",
            confirm_label: "Confirmation code (XXXX-XXXX)",
            confirm_submit: "Confirm",
        },
        Locale::ZhCn => StatusTexts {
            lang_label: "语言",
            priority: "优先级",
            created: "收到时间",
            expected: "预计首次回复时间",
            next: "下一步：",
            timeline: "处理记录",
            not_found: "没有与该编号和回执匹配的举报。请检查后重试。",
            receipt_label: "回执（tdr_…）",
            submit: "查看我的举报",
            receipt_hint: "回执仅在您提交举报时显示一次。我们绝不会通过邮件或聊天发送回执，也绝不会索要费用或助记词。",
            next_by: "下一步预计时间",
            notifications_on: "邮件通知已开启。每一封真实邮件都会引用您的防钓鱼短语。",
            forget: "删除我的联系方式",
            forget_hint: "立即删除您的邮箱、短语和联系方式，并停止所有邮件。您的举报和证据仍保留用于调查。",
            rate_title: "您对我们的处理满意吗？",
            rate_label: "您的评分（1 = 很差，5 = 很好）",
            comment: "意见（选填）",
            rate_submit: "提交评分",
            rated: "您的评分",
            confirm_title: "开启邮件通知：请输入我们发到您邮箱的确认码",
            confirm_label: "确认码（XXXX-XXXX）",
            confirm_submit: "确认",
        },
    }
}

#[derive(Template)]
#[template(path = "status.html")]
pub struct StatusPage {
    pub lang: &'static str,
    pub lang_label: &'static str,
    pub title: String,
    pub id: String,
    pub t: StatusTexts,
    pub report: Option<super::api::reports::VictimStatus>,
    pub not_found: bool,
    /// Only a well-formed id gets a form (its action URL is built from the id).
    pub valid: bool,
    /// The receipt the victim just typed, echoed into the forget and rating forms of this
    /// (no-store) page so they need not type it again.
    pub receipt: Option<String>,
    /// What the last action did ("contact deleted", "thank you", or why not).
    pub notice: Option<String>,
}

fn status_page(
    locale: Locale,
    id: String,
    report: Option<super::api::reports::VictimStatus>,
    not_found: bool,
) -> Response {
    status_page_with(locale, id, report, not_found, None, None)
}

fn status_page_with(
    locale: Locale,
    id: String,
    report: Option<super::api::reports::VictimStatus>,
    not_found: bool,
    receipt: Option<String>,
    notice: Option<String>,
) -> Response {
    let title = match locale {
        Locale::En => format!("Report {id}"),
        Locale::ZhCn => format!("举报 {id}"),
    };
    let t = status_texts(locale);
    let valid = crate::reports::receipt::parse_report_id(&id).as_deref() == Some(id.as_str());
    HtmlPage(StatusPage {
        valid,
        lang: locale.as_str(),
        lang_label: t.lang_label,
        title,
        id,
        t,
        report,
        not_found,
        receipt,
        notice,
    })
    .into_response()
}

/// `GET /r/{id}`: asks for the receipt (never in the URL, so it stays out of logs and history).
pub async fn report_status_form(
    PreferredLocale(locale): PreferredLocale,
    AppPath(id): AppPath<String>,
) -> Response {
    match crate::reports::receipt::parse_report_id(&id) {
        Some(id) => status_page(locale, id, None, false),
        // Not even an id: say so rather than showing a form that cannot succeed.
        None => status_page(locale, id.chars().take(20).collect(), None, true),
    }
}

#[derive(serde::Deserialize)]
pub struct ReceiptForm {
    receipt: String,
}

/// `POST /r/{id}`: the report's status and timeline for its receipt holder.
pub async fn report_status_submit(
    State(s): State<AppState>,
    PreferredLocale(locale): PreferredLocale,
    AppPath(id): AppPath<String>,
    form: Result<axum::Form<ReceiptForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, ApiError> {
    let canonical = crate::reports::receipt::parse_report_id(&id)
        .unwrap_or_else(|| id.chars().take(20).collect());
    let Ok(axum::Form(form)) = form else {
        return Ok(status_page(locale, canonical, None, true));
    };
    match s.victim_view(&id, &form.receipt, locale).await {
        Ok(v) => Ok(status_page_with(
            locale,
            canonical,
            Some(super::api::reports::victim_status(&v)),
            false,
            Some(form.receipt),
            None,
        )),
        Err(crate::reports::ReportError::NotFound) => {
            let mut resp = status_page(locale, canonical, None, true);
            resp.extensions_mut().insert(super::limits::AuthFailed);
            Ok(resp)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(serde::Deserialize)]
pub struct FollowupForm {
    receipt: String,
    /// Kept as text so that a missing or garbled value gets "rating must be 1 to 5".
    #[serde(default)]
    rating: Option<String>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

/// Which victim action a status-page form asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    Forget,
    Rate,
    Confirm,
}

/// `POST /r/{id}/forget` and `POST /r/{id}/rate`: the victim's actions from the status page,
/// through the same functions as the API; the page comes back with what happened.
async fn followup_action(
    s: &AppState,
    locale: Locale,
    id: String,
    form: Result<axum::Form<FollowupForm>, axum::extract::rejection::FormRejection>,
    action: Action,
) -> Result<Response, ApiError> {
    let canonical = crate::reports::receipt::parse_report_id(&id)
        .unwrap_or_else(|| id.chars().take(20).collect());
    let Ok(axum::Form(form)) = form else {
        return Ok(status_page(locale, canonical, None, true));
    };
    let zh = locale == Locale::ZhCn;
    let done = match action {
        Action::Forget => super::api::reports::forget(s, &id, &form.receipt)
            .await
            .map(|()| {
                if zh {
                    "您的联系方式已删除，我们不会再发送邮件。"
                } else {
                    "Your contact details were deleted. We will not e-mail you again."
                }
            }),
        Action::Rate => super::api::reports::rate_report(
            s,
            &id,
            &form.receipt,
            form.rating
                .as_deref()
                .and_then(|r| r.trim().parse().ok())
                .unwrap_or(0),
            form.comment.as_deref(),
        )
        .await
        .map(|()| {
            if zh {
                "感谢您的评分。"
            } else {
                "Thank you for your rating."
            }
        }),
        Action::Confirm => {
            super::api::reports::confirm(s, &id, &form.receipt, form.code.as_deref().unwrap_or(""))
                .await
                .map(|()| {
                    if zh {
                        "邮件通知已开启。"
                    } else {
                        "E-mail notifications are on."
                    }
                })
        }
    };
    let notice = match done {
        Ok(n) => n.to_owned(),
        Err(e @ ApiError::NotFound { .. }) => {
            let mut resp = status_page(locale, canonical, None, true);
            if matches!(
                e,
                ApiError::NotFound {
                    code: "report_not_found",
                    ..
                }
            ) {
                resp.extensions_mut().insert(super::limits::AuthFailed);
            }
            return Ok(resp);
        }
        Err(
            e @ ApiError::BadRequest {
                code: "wrong_confirmation_code",
                ..
            },
        ) => {
            // A wrong code is a guess, like a wrong receipt.
            let v = s.victim_view(&id, &form.receipt, locale).await?;
            let mut resp = status_page_with(
                locale,
                canonical,
                Some(super::api::reports::victim_status(&v)),
                false,
                Some(form.receipt),
                Some(e.to_string()),
            );
            resp.extensions_mut().insert(super::limits::AuthFailed);
            return Ok(resp);
        }
        Err(e @ (ApiError::BadRequest { .. } | ApiError::Conflict { .. })) => e.to_string(),
        Err(e) => return Err(e),
    };
    let v = s.victim_view(&id, &form.receipt, locale).await?;
    Ok(status_page_with(
        locale,
        canonical,
        Some(super::api::reports::victim_status(&v)),
        false,
        Some(form.receipt),
        Some(notice),
    ))
}

pub async fn report_forget(
    State(s): State<AppState>,
    PreferredLocale(locale): PreferredLocale,
    AppPath(id): AppPath<String>,
    form: Result<axum::Form<FollowupForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, ApiError> {
    followup_action(&s, locale, id, form, Action::Forget).await
}

pub async fn report_rate(
    State(s): State<AppState>,
    PreferredLocale(locale): PreferredLocale,
    AppPath(id): AppPath<String>,
    form: Result<axum::Form<FollowupForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, ApiError> {
    followup_action(&s, locale, id, form, Action::Rate).await
}

pub async fn report_confirm(
    State(s): State<AppState>,
    PreferredLocale(locale): PreferredLocale,
    AppPath(id): AppPath<String>,
    form: Result<axum::Form<FollowupForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, ApiError> {
    followup_action(&s, locale, id, form, Action::Confirm).await
}
