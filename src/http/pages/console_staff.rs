//! The security console: the escalation queue (claim, heartbeat, release, resolve), report
//! detail with evidence previews and workflow buttons, and the audit view for admins. Every
//! action goes through the same domain functions as the JSON API.

use askama::Template;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::console::{Chrome, ConsoleUser};
use super::HtmlPage;
use crate::escalations::{self, Outcome};
use crate::http::api::escalations::{view, EscalationView};
use crate::http::error::ApiError;
use crate::http::extract::{AppPath, PreferredLocale};
use crate::http::state::AppState;
use crate::reports::{self, Status};
use crate::storage::EscalationFilter;
use crate::types::{now, rfc3339, Locale, Role};

pub struct QueueTexts {
    pub queue: &'static str,
    pub claim_next: &'static str,
    pub mine: &'static str,
    pub heartbeat: &'static str,
    pub release: &'static str,
    pub resolve: &'static str,
    pub outcome: &'static str,
    pub note: &'static str,
    pub open_report: &'static str,
    pub priority: &'static str,
    pub due: &'static str,
    pub breached: &'static str,
    pub empty: &'static str,
    pub audit: &'static str,
}

fn queue_texts(l: Locale) -> QueueTexts {
    match l {
        Locale::En => QueueTexts {
            queue: "Escalation queue",
            claim_next: "Claim next",
            mine: "Claimed by you",
            heartbeat: "Keep working (extend lease)",
            release: "Release",
            resolve: "Resolve",
            outcome: "Outcome",
            note: "Note",
            open_report: "Open report",
            priority: "Priority",
            due: "SLA due",
            breached: "SLA missed",
            empty: "The queue is empty.",
            audit: "Audit trail",
        },
        Locale::ZhCn => QueueTexts {
            queue: "升级队列",
            claim_next: "领取下一项",
            mine: "您已领取",
            heartbeat: "继续处理（延长租约）",
            release: "放回队列",
            resolve: "结案",
            outcome: "处理结果",
            note: "备注",
            open_report: "查看举报",
            priority: "优先级",
            due: "SLA 截止",
            breached: "已超出 SLA",
            empty: "队列为空。",
            audit: "审计记录",
        },
    }
}

#[derive(Template)]
#[template(path = "console_queue.html")]
pub struct QueuePage {
    pub c: Chrome,
    pub t: QueueTexts,
    pub mine: Vec<EscalationView>,
    pub queued: Vec<EscalationView>,
    pub outcomes: Vec<&'static str>,
}

pub async fn queue_page(s: &AppState, u: &ConsoleUser, l: Locale) -> Result<Response, ApiError> {
    u.require(&[Role::Security, Role::Admin])?;
    let at = now();
    let list = |state: &str| EscalationFilter {
        state: Some(state.into()),
        limit: 50,
        ..EscalationFilter::default()
    };
    let mine = escalations::list(s.store.as_ref(), &list("claimed"))
        .await?
        .iter()
        .filter(|e| e.claimed_by.as_deref() == Some(u.staff.id.as_str()))
        .map(|e| view(e, at))
        .collect();
    let queued = escalations::list(s.store.as_ref(), &list("queued"))
        .await?
        .iter()
        .map(|e| view(e, at))
        .collect();
    let title = if l == Locale::ZhCn {
        "安全控制台"
    } else {
        "Security console"
    };
    Ok(HtmlPage(QueuePage {
        c: Chrome::new(u, l, title),
        t: queue_texts(l),
        mine,
        queued,
        outcomes: [
            Outcome::HandleBlocklisted,
            Outcome::TakedownRequested,
            Outcome::ExchangeNotified,
            Outcome::VictimContacted,
            Outcome::NoAction,
        ]
        .map(Outcome::as_str)
        .to_vec(),
    })
    .into_response())
}

fn back(l: Locale) -> Response {
    Redirect::to(&format!("/console?lang={}", l.as_str())).into_response()
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

/// `POST /console/escalations/claim`
pub async fn claim(
    State(s): State<AppState>,
    PreferredLocale(l): PreferredLocale,
    user: ConsoleUser,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, ApiError> {
    user.check_csrf(&f.csrf)?;
    let actor = user.require(&[Role::Security])?;
    escalations::claim(&s.queue, s.store.as_ref(), actor).await?;
    Ok(back(l))
}

#[derive(Deserialize)]
pub struct ItemAction {
    csrf: String,
    /// `heartbeat`, `release` or `resolve`.
    action: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    note: String,
}

/// `POST /console/escalations/{id}`: heartbeat, release or resolve a held item.
pub async fn item(
    State(s): State<AppState>,
    PreferredLocale(l): PreferredLocale,
    user: ConsoleUser,
    AppPath(id): AppPath<String>,
    Form(f): Form<ItemAction>,
) -> Result<Response, ApiError> {
    user.check_csrf(&f.csrf)?;
    let actor = user.require(&[Role::Security])?;
    match f.action.as_str() {
        "heartbeat" => {
            escalations::heartbeat(&s.queue, s.store.as_ref(), actor, &id).await?;
        }
        "release" => {
            escalations::release(s.store.as_ref(), actor, &id).await?;
        }
        "resolve" => {
            let outcome: Outcome = serde_json::from_value(serde_json::Value::String(f.outcome))
                .map_err(|_| ApiError::bad_request("invalid_outcome", "choose an outcome"))?;
            escalations::resolve(s.store.as_ref(), actor, &id, outcome, &f.note).await?;
        }
        _ => return Err(ApiError::bad_request("invalid_action", "unknown action")),
    }
    Ok(back(l))
}

pub struct Field {
    pub label: &'static str,
    pub value: String,
}

pub struct EvidenceLine {
    pub url: String,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub image: bool,
}

pub struct EventLine {
    pub at: String,
    pub kind: String,
    pub public: String,
    pub internal: String,
}

#[derive(Template)]
#[template(path = "console_report.html")]
pub struct ReportPage {
    pub c: Chrome,
    pub id: String,
    pub status: String,
    pub fields: Vec<Field>,
    pub rules: Vec<String>,
    pub evidence: Vec<EvidenceLine>,
    pub events: Vec<EventLine>,
    pub moves: Vec<&'static str>,
    pub move_label: &'static str,
    pub reason_label: &'static str,
    pub public_note_label: &'static str,
    pub evidence_label: &'static str,
    pub timeline_label: &'static str,
    pub rules_label: &'static str,
}

/// `GET /console/reports/{id}`
pub async fn report(
    State(s): State<AppState>,
    PreferredLocale(l): PreferredLocale,
    user: ConsoleUser,
    AppPath(id): AppPath<String>,
) -> Result<Response, ApiError> {
    user.require(&[Role::Security])?;
    let v = reports::staff_view(s.store.as_ref(), &id).await?;
    let r = &v.report;
    let zh = l == Locale::ZhCn;
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "—".into());
    let fields = vec![
        Field {
            label: if zh { "状态" } else { "Status" },
            value: r.status.clone(),
        },
        Field {
            label: if zh { "优先级" } else { "Priority" },
            value: r.priority.clone(),
        },
        Field {
            label: if zh { "可信度" } else { "Confidence" },
            value: r.confidence.clone(),
        },
        Field {
            label: if zh { "类别" } else { "Category" },
            value: r.category.clone(),
        },
        Field {
            label: if zh { "描述" } else { "Description" },
            value: r.description.clone(),
        },
        Field {
            label: if zh {
                "诈骗渠道"
            } else {
                "Scammer channel"
            },
            value: match (&r.scam_channel_kind, &r.scam_channel_value) {
                (Some(k), Some(v)) => format!("{k} {v}"),
                _ => "—".into(),
            },
        },
        Field {
            label: if zh { "冒充对象" } else { "Posed as" },
            value: [
                r.claimed_channel_value
                    .clone()
                    .map(|v| format!("{} {v}", opt(&r.claimed_channel_kind))),
                r.claimed_agent.clone().map(|a| format!("agent {a}")),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", "),
        },
        Field {
            label: if zh {
                "出示的令牌"
            } else {
                "Token verdict"
            },
            value: opt(&r.token_verdict),
        },
        Field {
            label: if zh { "损失" } else { "Loss" },
            value: format!(
                "{} {}",
                opt(&r.amount_lost),
                r.asset.clone().unwrap_or_default()
            ),
        },
        Field {
            label: if zh {
                "首次回复截止"
            } else {
                "First response by"
            },
            value: rfc3339(r.first_response_by),
        },
    ];
    let rules = serde_json::from_str::<Vec<crate::storage::FiredRule>>(&r.fired_rules)
        .unwrap_or_default()
        .into_iter()
        .map(|f| format!("{} ({}): {}", f.rule, f.priority, f.detail))
        .collect();
    let evidence = v
        .attachments
        .iter()
        .map(|a| EvidenceLine {
            url: format!("/console/reports/{}/attachments/{}", r.id, a.idx),
            filename: a.filename.clone(),
            image: previewable(&a.content_type).is_some(),
            content_type: a.content_type.clone(),
            size: a.size_bytes,
            sha256: a.sha256.clone(),
        })
        .collect();
    let events = v
        .events
        .iter()
        .map(|e| EventLine {
            at: rfc3339(e.at),
            kind: e.kind.clone(),
            public: if zh {
                e.public_zh.clone()
            } else {
                e.public_en.clone()
            },
            internal: e.internal_note.clone().unwrap_or_default(),
        })
        .collect();
    let from = Status::parse(&r.status).unwrap_or(Status::Received);
    let moves = Status::ALL
        .into_iter()
        .filter(|to| escalations::allowed(from, *to))
        .map(Status::as_str)
        .collect();
    Ok(HtmlPage(ReportPage {
        c: Chrome::new(
            &user,
            l,
            format!("{} {}", if zh { "举报" } else { "Report" }, r.id),
        ),
        id: r.id.clone(),
        status: r.status.clone(),
        fields,
        rules,
        evidence,
        events,
        moves,
        move_label: if zh { "移动到" } else { "Move to" },
        reason_label: if zh {
            "内部原因"
        } else {
            "Internal reason"
        },
        public_note_label: if zh {
            "给举报人的说明（可选）"
        } else {
            "Note for the victim (optional)"
        },
        evidence_label: if zh { "证据" } else { "Evidence" },
        timeline_label: if zh { "处理记录" } else { "Timeline" },
        rules_label: if zh {
            "触发的升级规则"
        } else {
            "Escalation rules that fired"
        },
    })
    .into_response())
}

#[derive(Deserialize)]
pub struct MoveForm {
    csrf: String,
    to: String,
    reason: String,
    #[serde(default)]
    public_note: String,
}

/// `POST /console/reports/{id}/transition`
pub async fn transition(
    State(s): State<AppState>,
    PreferredLocale(l): PreferredLocale,
    user: ConsoleUser,
    AppPath(id): AppPath<String>,
    Form(f): Form<MoveForm>,
) -> Result<Response, ApiError> {
    user.check_csrf(&f.csrf)?;
    let actor = user.require(&[Role::Security])?;
    let to = Status::parse(&f.to)
        .ok_or_else(|| ApiError::bad_request("invalid_status", "unknown status"))?;
    escalations::transition(
        &s.queue,
        s.store.as_ref(),
        actor,
        &id,
        to,
        &f.reason,
        Some(f.public_note.as_str()),
    )
    .await?;
    let canonical = reports::receipt::parse_report_id(&id).unwrap_or(id);
    Ok(Redirect::to(&format!("/console/reports/{canonical}?lang={}", l.as_str())).into_response())
}

/// Image types shown inline; their type was sniffed from the bytes at upload, not trusted from
/// the client.
fn previewable(content_type: &str) -> Option<&'static str> {
    match content_type {
        "png" => Some("image/png"),
        "jpeg" => Some("image/jpeg"),
        "webp" => Some("image/webp"),
        "gif" => Some("image/gif"),
        _ => None,
    }
}

/// `GET /console/reports/{id}/attachments/{index}`: images inline for preview, under a CSP that
/// forbids everything but the image itself; anything else as a download.
pub async fn attachment(
    State(s): State<AppState>,
    user: ConsoleUser,
    AppPath((id, idx)): AppPath<(String, i64)>,
) -> Result<Response, ApiError> {
    user.require(&[Role::Security])?;
    let (rec, file) =
        reports::open_attachment(s.store.as_ref(), s.blobs.as_ref(), &id, idx).await?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    let (ctype, disposition) = match previewable(&rec.content_type) {
        Some(t) => (t, "inline"),
        None => ("application/octet-stream", "attachment"),
    };
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static(disposition),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; img-src 'self'; sandbox"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

pub struct AuditLine {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub details: String,
}

#[derive(Template)]
#[template(path = "console_audit.html")]
pub struct AuditPage {
    pub c: Chrome,
    pub chain: String,
    pub entries: Vec<AuditLine>,
}

/// `GET /console/audit` (admins): the newest entries and whether the chain verifies.
pub async fn audit(
    State(s): State<AppState>,
    PreferredLocale(l): PreferredLocale,
    user: ConsoleUser,
) -> Result<Response, ApiError> {
    user.require(&[Role::Admin])?;
    let check = crate::audit::verify(s.store.as_ref()).await?;
    let zh = l == Locale::ZhCn;
    let chain = match check.first_break {
        None => format!(
            "{}: {} · head #{} {}",
            if zh {
                "哈希链完整"
            } else {
                "Chain verifies"
            },
            check.entries,
            check.head_seq,
            check.head_hash
        ),
        Some((seq, why)) => format!(
            "{} #{seq}: {why}",
            if zh {
                "哈希链断裂于"
            } else {
                "CHAIN BROKEN at"
            }
        ),
    };
    let after = (check.head_seq - 200).max(0);
    let mut entries: Vec<AuditLine> = s
        .store
        .audit_page(after, 200)
        .await?
        .into_iter()
        .map(|a| AuditLine {
            seq: a.seq,
            at: rfc3339(a.at),
            actor: a.actor_id.unwrap_or_default(),
            action: a.action,
            subject: a.subject,
            details: a.details,
        })
        .collect();
    entries.reverse();
    Ok(HtmlPage(AuditPage {
        c: Chrome::new(&user, l, if zh { "审计记录" } else { "Audit trail" }),
        chain,
        entries,
    })
    .into_response())
}

#[derive(Template)]
#[template(path = "console_ratings.html")]
pub struct RatingsPage {
    pub c: Chrome,
    pub rows: Vec<crate::storage::RatingSummary>,
    pub headers: [&'static str; 4],
    pub empty: &'static str,
}

/// `GET /console/ratings` (security, admin): victims' ratings per category and month.
pub async fn ratings(
    State(s): State<AppState>,
    PreferredLocale(l): PreferredLocale,
    user: ConsoleUser,
) -> Result<Response, ApiError> {
    user.require(&[Role::Security, Role::Admin])?;
    let zh = l == Locale::ZhCn;
    let mut rows = s.store.rating_summary().await?;
    rows.reverse();
    Ok(HtmlPage(RatingsPage {
        c: Chrome::new(
            &user,
            l,
            if zh {
                "受害者评分"
            } else {
                "Victims' ratings"
            },
        ),
        rows,
        headers: if zh {
            ["月份", "类别", "数量", "平均分"]
        } else {
            ["Month", "Category", "Ratings", "Average"]
        },
        empty: if zh {
            "还没有评分。"
        } else {
            "No ratings yet."
        },
    })
    .into_response())
}
