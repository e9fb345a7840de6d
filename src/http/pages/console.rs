//! The web console for agents and security staff: an API key is exchanged once for a session
//! cookie (HttpOnly, SameSite=Strict, Secure and `__Host-` when the public URL is HTTPS), and
//! every form carries a CSRF token derived from the session. Agents issue and revoke support
//! sessions here; security staff work the escalation queue (see `console_staff.rs`).

use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Deserialize;

use super::HtmlPage;
use crate::channels::{self, ChannelHandle};
use crate::http::error::ApiError;
use crate::http::extract::{AppPath, PreferredLocale};
use crate::http::i18n;
use crate::http::state::AppState;
use crate::staff::{self, Staff};
use crate::tokens::{self, input::display_code};
use crate::types::{now, rfc3339, Locale, Role};

/// Cookie holding the console session secret.
fn session_cookie_name(s: &AppState) -> &'static str {
    if secure(s) {
        "__Host-td_console"
    } else {
        "td_console"
    }
}

/// Cookie holding the sign-in form's CSRF token (before there is a session to derive it from).
const LOGIN_COOKIE: &str = "td_login";

fn secure(s: &AppState) -> bool {
    s.config.public_base_url.starts_with("https://")
}

/// A browser-session cookie (no Max-Age: it ends with the browser; the server-side session
/// expires after [`staff::CONSOLE_SESSION_SECS`] regardless).
fn cookie(s: &AppState, name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .secure(secure(s))
        .same_site(SameSite::Strict)
        .build()
}

/// A signed-in console user. Without a live session the request is redirected to sign-in.
pub struct ConsoleUser {
    pub staff: Staff,
    /// The token every form must send back.
    pub csrf: String,
    secret: String,
}

impl FromRequestParts<AppState> for ConsoleUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let to_login = || Redirect::to("/console/login").into_response();
        let Some(secret) = jar
            .get(session_cookie_name(s))
            .map(|c| c.value().to_owned())
        else {
            return Err(to_login());
        };
        match staff::console_staff(s.store.as_ref(), &secret).await {
            Ok(Some(staff)) => Ok(ConsoleUser {
                csrf: staff::console_csrf(&secret),
                staff,
                secret,
            }),
            Ok(None) => Err(to_login()),
            Err(e) => Err(ApiError::from(e).into_response()),
        }
    }
}

impl ConsoleUser {
    /// Refuses a form whose CSRF token does not match the session's.
    pub fn check_csrf(&self, sent: &str) -> Result<(), ApiError> {
        use subtle::ConstantTimeEq;
        if bool::from(sent.as_bytes().ct_eq(self.csrf.as_bytes())) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "the form is stale or was not sent by this console; reload the page".into(),
            ))
        }
    }

    pub fn require(&self, roles: &[Role]) -> Result<&Staff, ApiError> {
        staff::require(&self.staff, roles)?;
        Ok(&self.staff)
    }
}

/// Texts shared by every console page.
pub struct Chrome {
    pub lang: &'static str,
    pub lang_label: &'static str,
    pub title: String,
    pub csrf: String,
    pub user: String,
    pub sign_out: &'static str,
    pub is_admin: bool,
    /// Security staff and admins see the victims' ratings.
    pub sees_ratings: bool,
}

impl Chrome {
    pub fn new(u: &ConsoleUser, l: Locale, title: impl Into<String>) -> Chrome {
        let zh = l == Locale::ZhCn;
        Chrome {
            lang: l.as_str(),
            lang_label: if zh { "语言" } else { "Language" },
            title: title.into(),
            csrf: u.csrf.clone(),
            user: format!("{} ({})", u.staff.name, u.staff.role.as_str()),
            sign_out: if zh { "退出" } else { "Sign out" },
            is_admin: u.staff.role == Role::Admin,
            sees_ratings: matches!(u.staff.role, Role::Admin | Role::Security),
        }
    }
}

#[derive(Template)]
#[template(path = "console_login.html")]
pub struct LoginPage {
    pub lang: &'static str,
    pub lang_label: &'static str,
    pub title: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    pub submit: &'static str,
    pub error: Option<&'static str>,
    pub csrf: String,
}

fn login_page(s: &AppState, l: Locale, error: bool) -> Response {
    use rand::RngCore;
    let mut raw = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let csrf = staff::hex(&raw);
    let zh = l == Locale::ZhCn;
    let page = LoginPage {
        lang: l.as_str(),
        lang_label: if zh { "语言" } else { "Language" },
        title: if zh {
            "客服与安全控制台登录"
        } else {
            "Console sign-in"
        },
        label: if zh { "API 密钥" } else { "API key" },
        hint: if zh {
            "请输入管理员发给您的 API 密钥（tdk_…）。登录后密钥不会保存在浏览器中。"
        } else {
            "Enter the API key your administrator gave you (tdk_…). The key itself is not kept in the browser."
        },
        submit: if zh { "登录" } else { "Sign in" },
        error: error.then_some(if zh {
            "密钥无效或已停用。"
        } else {
            "That key is not valid or has been disabled."
        }),
        csrf: csrf.clone(),
    };
    let jar = CookieJar::new().add(cookie(s, LOGIN_COOKIE, csrf));
    (jar, HtmlPage(page)).into_response()
}

/// `GET /console/login`
pub async fn login_form(
    State(s): State<AppState>,
    PreferredLocale(l): PreferredLocale,
) -> Response {
    login_page(&s, l, false)
}

#[derive(Deserialize)]
pub struct LoginForm {
    key: String,
    csrf: String,
}

/// `POST /console/login`: a valid key becomes a session cookie. A wrong key counts towards the
/// client's lockout, like a wrong `Authorization` header.
pub async fn login(
    State(s): State<AppState>,
    PreferredLocale(l): PreferredLocale,
    jar: CookieJar,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, ApiError> {
    let Ok(Form(form)) = form else {
        return Ok(login_page(&s, l, true));
    };
    let expected = jar.get(LOGIN_COOKIE).map(|c| c.value().to_owned());
    if expected.as_deref() != Some(form.csrf.as_str()) {
        return Err(ApiError::Forbidden(
            "the sign-in form expired; reload the page".into(),
        ));
    }
    match staff::authenticate(s.store.as_ref(), form.key.trim()).await {
        Ok(staff) => {
            let secret = staff::open_console_session(s.store.as_ref(), &staff).await?;
            tracing::info!(staff.id = %staff.id, "Console sign-in");
            let jar = jar
                .remove(Cookie::build(LOGIN_COOKIE).path("/"))
                .add(cookie(&s, session_cookie_name(&s), secret.to_string()));
            Ok((jar, Redirect::to(&format!("/console?lang={}", l.as_str()))).into_response())
        }
        Err(staff::AuthError::Storage(e)) => Err(e.into()),
        Err(_) => {
            let mut resp = login_page(&s, l, true);
            resp.extensions_mut()
                .insert(crate::http::limits::AuthFailed);
            Ok(resp)
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST /console/logout`
pub async fn logout(
    State(s): State<AppState>,
    user: ConsoleUser,
    jar: CookieJar,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    user.check_csrf(&form.csrf)?;
    staff::close_console_session(s.store.as_ref(), &user.secret).await?;
    let jar = jar.remove(Cookie::build(session_cookie_name(&s)).path("/"));
    Ok((jar, Redirect::to("/console/login")).into_response())
}

/// `GET /console`: the agent console or the security queue, by role.
pub async fn home(
    State(s): State<AppState>,
    PreferredLocale(l): PreferredLocale,
    user: ConsoleUser,
) -> Result<Response, ApiError> {
    match user.staff.role {
        Role::Agent => agent_page(&s, &user, l, None).await,
        Role::Security | Role::Admin => super::console_staff::queue_page(&s, &user, l).await,
    }
}

pub struct ChannelOption {
    pub value: String,
    pub label: String,
}

pub struct SessionLine {
    pub id: String,
    pub channel: String,
    pub expires_at: String,
    pub remaining: String,
    pub revoked: bool,
}

/// What an agent sees right after issuing: shown once.
pub struct Issued {
    pub link: String,
    pub code: String,
    pub message_en: String,
    pub message_zh: String,
    pub expires_at: String,
}

#[derive(Template)]
#[template(path = "console_agent.html")]
pub struct AgentPage {
    pub c: Chrome,
    pub t: AgentTexts,
    pub channels: Vec<ChannelOption>,
    pub sessions: Vec<SessionLine>,
    pub issued: Option<Issued>,
    pub error: Option<String>,
}

pub struct AgentTexts {
    pub new_session: &'static str,
    pub channel: &'static str,
    pub user_ref: &'static str,
    pub user_ref_hint: &'static str,
    pub issue: &'static str,
    pub no_channels: &'static str,
    pub issued_title: &'static str,
    pub link: &'static str,
    pub code: &'static str,
    pub message_en: &'static str,
    pub message_zh: &'static str,
    pub copy: &'static str,
    pub expires: &'static str,
    pub active: &'static str,
    pub remaining: &'static str,
    pub revoke: &'static str,
    pub revoked: &'static str,
    pub none: &'static str,
}

fn agent_texts(l: Locale) -> AgentTexts {
    match l {
        Locale::En => AgentTexts {
            new_session: "Start a verified support session",
            channel: "Official channel you are using",
            user_ref: "User reference (optional)",
            user_ref_hint:
                "e.g. the user's account id; only its last four characters are shown to the user.",
            issue: "Issue identity link",
            no_channels: "No official channel is registered for you yet: ask an administrator.",
            issued_title: "Send this to the user",
            link: "Identity link",
            code: "Session code",
            message_en: "Ready-to-paste message (English)",
            message_zh: "Ready-to-paste message (中文)",
            copy: "Copy",
            expires: "Valid until",
            active: "Your active sessions",
            remaining: "Remaining",
            revoke: "Revoke",
            revoked: "revoked",
            none: "No active sessions.",
        },
        Locale::ZhCn => AgentTexts {
            new_session: "开始一个可验证的客服会话",
            channel: "您正在使用的官方渠道",
            user_ref: "用户标识（可选）",
            user_ref_hint: "例如用户的账户编号；用户只会看到最后四位。",
            issue: "生成身份链接",
            no_channels: "尚未为您登记官方渠道，请联系管理员。",
            issued_title: "请将以下内容发给用户",
            link: "身份链接",
            code: "会话验证码",
            message_en: "可直接粘贴的消息（English）",
            message_zh: "可直接粘贴的消息（中文）",
            copy: "复制",
            expires: "有效期至",
            active: "您当前有效的会话",
            remaining: "剩余时间",
            revoke: "撤销",
            revoked: "已撤销",
            none: "没有有效的会话。",
        },
    }
}

fn remaining(secs: i64, l: Locale) -> String {
    let m = (secs.max(0) + 59) / 60;
    match l {
        Locale::En => format!("{m} min"),
        Locale::ZhCn => format!("{m} 分钟"),
    }
}

async fn agent_page(
    s: &AppState,
    u: &ConsoleUser,
    l: Locale,
    issued: Option<Issued>,
) -> Result<Response, ApiError> {
    agent_page_with(s, u, l, issued, None).await
}

async fn agent_page_with(
    s: &AppState,
    u: &ConsoleUser,
    l: Locale,
    issued: Option<Issued>,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let agent = u.require(&[Role::Agent])?;
    let all = channels::list(s.store.as_ref()).await?;
    let options = all
        .iter()
        .filter(|c| c.agent_id.as_deref().is_none_or(|a| a == agent.id))
        .map(|c| ChannelOption {
            value: format!("{}:{}", c.handle.kind().as_str(), c.handle.as_str()),
            label: format!(
                "{} {}",
                i18n::kind_name(c.handle.kind(), l),
                i18n::display_handle(c.handle.kind(), c.handle.as_str())
            ),
        })
        .collect();
    let at = now();
    let sessions = tokens::active_sessions(s.store.as_ref(), agent)
        .await?
        .into_iter()
        .map(|(info, revoked)| SessionLine {
            channel: format!(
                "{} {}",
                i18n::kind_name(info.channel_kind, l),
                i18n::display_handle(info.channel_kind, &info.channel_handle)
            ),
            expires_at: rfc3339(info.expires_at),
            remaining: remaining(info.expires_at - at, l),
            revoked: revoked.is_some(),
            id: info.session_id,
        })
        .collect();
    let title = if l == Locale::ZhCn {
        "客服控制台"
    } else {
        "Agent console"
    };
    Ok(HtmlPage(AgentPage {
        c: Chrome::new(u, l, title),
        t: agent_texts(l),
        channels: options,
        sessions,
        issued,
        error,
    })
    .into_response())
}

#[derive(Deserialize)]
pub struct IssueForm {
    csrf: String,
    /// `kind:handle` as offered in the select.
    channel: String,
    #[serde(default)]
    user_ref: String,
}

/// `POST /console/sessions`: issues a session and shows its link, code and messages once.
pub async fn issue(
    State(s): State<AppState>,
    PreferredLocale(l): PreferredLocale,
    user: ConsoleUser,
    Form(form): Form<IssueForm>,
) -> Result<Response, ApiError> {
    user.check_csrf(&form.csrf)?;
    let agent = user.require(&[Role::Agent])?;
    let handle = form
        .channel
        .split_once(':')
        .and_then(|(k, v)| Some((crate::channels::ChannelKind::parse(k)?, v)))
        .and_then(|(k, v)| ChannelHandle::from_normalised(k, v).ok());
    let Some(handle) = handle else {
        return agent_page_with(&s, &user, l, None, Some("unknown channel".into())).await;
    };
    if !channels::official_for_agent(s.store.as_ref(), &handle, &agent.id).await? {
        return Err(ApiError::Forbidden(
            "this channel is not registered as an official channel for you".into(),
        ));
    }
    let user_ref = Some(form.user_ref.trim()).filter(|r| !r.is_empty());
    let issued = match tokens::issue_session(
        &s.tokens,
        &s.keys,
        s.store.as_ref(),
        s.verifier.live(),
        agent,
        &handle,
        user_ref,
        None,
    )
    .await
    {
        Ok(i) => i,
        Err(tokens::TokenError::InvalidUserRef) => {
            let msg = tokens::TokenError::InvalidUserRef.to_string();
            return agent_page_with(&s, &user, l, None, Some(msg)).await;
        }
        Err(e) => return Err(e.into()),
    };
    metrics::counter!("trustdesk_sessions_issued_total").increment(1);
    let link = format!("{}/v/{}", s.base_url(), issued.token);
    let code = display_code(&issued.code);
    let m = crate::http::api::sessions::ready_message(&agent.name, &link, &code, s.base_url());
    let shown = Issued {
        link,
        code,
        message_en: m.en,
        message_zh: m.zh_cn,
        expires_at: rfc3339(issued.info.expires_at),
    };
    agent_page(&s, &user, l, Some(shown)).await
}

/// `POST /console/sessions/{id}/revoke`
pub async fn revoke(
    State(s): State<AppState>,
    PreferredLocale(l): PreferredLocale,
    user: ConsoleUser,
    AppPath(id): AppPath<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    user.check_csrf(&form.csrf)?;
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::bad_request(
            "invalid_session_id",
            "not a session id",
        ));
    }
    tokens::revoke(s.store.as_ref(), s.verifier.live(), &user.staff, &id).await?;
    metrics::counter!("trustdesk_sessions_revoked_total").increment(1);
    Ok(Redirect::to(&format!("/console?lang={}", l.as_str())).into_response())
}

/// The small script behind the copy buttons (served as a file: the CSP forbids inline script).
pub async fn script() -> impl IntoResponse {
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/javascript; charset=utf-8",
            ),
            (axum::http::header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../../web/console.js"),
    )
}
