//! Fraud reports: victims submit and track them; security staff list, read and download.

use axum::body::Body;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{Multipart, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::channels::{self, ChannelHandle, CheckResult};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{AppPath, AppQuery, PreferredLocale, StaffUser};
use crate::http::i18n;
use crate::http::state::AppState;
use crate::reports::{
    self, triage::ClaimGuess, AttachmentWriter, ChannelFinding, Evidence, IdempotentRequest,
    NewReport, ReportInput, StagedAttachment, TokenFinding, UploadBudget,
};
use crate::staff;
use crate::storage::{AttachmentRecord, ReportFilter, ReportRecord};
use crate::tokens::{self, input::Presented, Verdict};
use crate::types::{now, rfc3339, Locale, Role};

/// Largest JSON `report` part.
const MAX_REPORT_JSON: usize = 64 * 1024;
const IDEMPOTENCY_KEY: &str = "idempotency-key";

#[derive(Serialize, ToSchema)]
pub struct AttachmentView {
    pub index: i64,
    pub sha256: String,
    pub size: i64,
    /// Type sniffed from the bytes: png, jpeg, gif, webp, pdf, zip, json, text.
    pub content_type: String,
    /// Sanitised original name; display only.
    pub filename: String,
}

impl From<&AttachmentRecord> for AttachmentView {
    fn from(a: &AttachmentRecord) -> Self {
        AttachmentView {
            index: a.idx,
            sha256: a.sha256.clone(),
            size: a.size_bytes,
            content_type: a.content_type.clone(),
            filename: a.filename.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SubmittedResponse {
    /// Quote this id when you talk to us.
    #[schema(example = "TD-7K3F-9Q2M")]
    pub id: String,
    /// Shown once: keep it. With the id it lets you (and only you) follow the report.
    pub receipt: String,
    /// Page where the victim enters the receipt to see progress.
    pub status_url: String,
    /// JSON status: `GET` with `Authorization: Bearer <receipt>`.
    pub api_status_url: String,
    pub status: &'static str,
    pub priority: &'static str,
    pub created_at: String,
    pub expected_first_response_by: String,
    pub attachments: Vec<AttachmentView>,
    pub message: String,
}

/// Submit a fraud report with evidence (multipart: JSON part `report`, then 0..N files).
#[utoipa::path(
    post, path = "/v1/reports", tag = "reports",
    request_body(content = ReportInput, content_type = "multipart/form-data",
        description = "Part `report`: the JSON below. Other parts: files (PNG, JPEG, WebP, GIF, PDF, ZIP, text, JSON)."),
    params(("Idempotency-Key" = Option<String>, Header, description = "Same key + same body replays the original answer")),
    responses(
        (status = 201, body = SubmittedResponse),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Idempotency-Key reused with a different body", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Too many files, a file too large, or too much in total", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not multipart, or an attachment type we do not accept", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited; see Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Overloaded; see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn submit(
    State(s): State<AppState>,
    PreferredLocale(header_locale): PreferredLocale,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let mut multipart = multipart.map_err(|_| {
        ApiError::UnsupportedMediaType("send the report as multipart/form-data".into())
    })?;
    let idem_key = idempotency_key(&headers)?;
    let mut budget = UploadBudget::new(s.attachment_limits);
    let mut report_json: Option<Vec<u8>> = None;
    let mut files: Vec<StagedAttachment> = Vec::new();
    // Any early return drops the staged temporary files, which deletes them.
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.name() {
            // `report` is the JSON part, even if a client sends it as a file (`-F report=@r.json`).
            Some("report") => {
                if report_json.is_some() {
                    return Err(ApiError::bad_request(
                        "invalid_multipart",
                        "only one `report` part is allowed",
                    ));
                }
                report_json = Some(read_small(field).await?);
            }
            _ if field.file_name().is_some() => {
                files.push(receive_file(&s, &mut budget, field).await?);
            }
            other => {
                return Err(ApiError::bad_request(
                    "invalid_multipart",
                    format!(
                        "unexpected part {:?}: send one `report` JSON part and file parts",
                        other.unwrap_or("")
                    ),
                ))
            }
        }
    }
    let json = report_json.ok_or_else(|| {
        ApiError::bad_request("invalid_multipart", "the `report` part is missing")
    })?;
    let input: ReportInput = serde_json::from_slice(&json)
        .map_err(|e| ApiError::bad_request("invalid_body", format!("report: {e}")))?;
    let (done, locale) = intake(&s, header_locale, idem_key, input, &json, files).await?;
    let base = s.base_url();
    let body = SubmittedResponse {
        status_url: format!("{base}/r/{}", done.report_id),
        api_status_url: format!("{base}/v1/reports/{}", done.report_id),
        status: "received",
        priority: done.priority.as_str(),
        created_at: rfc3339(done.created_at),
        expected_first_response_by: rfc3339(done.first_response_by),
        attachments: done.attachments.iter().map(AttachmentView::from).collect(),
        message: i18n::report_saved(locale, &done.report_id),
        id: done.report_id,
        receipt: done.receipt.to_string(),
    };
    let mut resp = (StatusCode::CREATED, Json(body)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if done.replayed {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(resp)
}

/// Everything after the upload: parse, verify what the scammer showed, triage, and commit the
/// report, its files and any automatic escalation in one transaction. Shared by `POST
/// /v1/reports` and the `/report` page, so both follow the same rules.
pub(crate) async fn intake(
    s: &AppState,
    header_locale: Locale,
    idem_key: Option<String>,
    input: ReportInput,
    json: &[u8],
    files: Vec<StagedAttachment>,
) -> Result<(reports::Submitted, Locale), ApiError> {
    let report = NewReport::parse(input, now(), header_locale)?;
    let locale = report.locale;
    let followup = match &report.notify {
        Some(_) if !s.notifications_enabled() => {
            return Err(ApiError::bad_request(
                "notifications_disabled",
                "e-mail notifications are not offered here; leave notify_email empty",
            ))
        }
        Some(n) => {
            let code = crate::followup::new_confirmation_code();
            Some(reports::SealedContact {
                email_enc: s.contact_cipher.seal(&n.email),
                phrase_enc: s.contact_cipher.seal(&n.phrase),
                confirm_enc: s.contact_cipher.seal(&code),
                confirm_hash: crate::followup::confirmation_hash(&code),
            })
        }
        None => None,
    };
    let evidence = gather_evidence(s, &report).await?;
    let idem = idem_key.map(|key| IdempotentRequest {
        fingerprint: reports::fingerprint(json, &files),
        key,
    });
    // Hard evidence (a forged token, an official account used by a scammer) is confirmed fraud
    // already: it enters the escalation queue in the same transaction as the report.
    let queue = s.queue.clone();
    let auto = move |id: &str, r: &crate::storage::ReportRecord| {
        use crate::reports::triage::{CONFIRMED_IMPERSONATION, POSSIBLE_COMPROMISED_OFFICIAL};
        (r.triage == CONFIRMED_IMPERSONATION || r.triage == POSSIBLE_COMPROMISED_OFFICIAL).then(
            || {
                let p =
                    crate::escalations::escalation_priority(&r.priority, &r.category, &r.triage);
                crate::escalations::new_escalation(
                    &queue,
                    id,
                    p,
                    &format!("auto: {}", r.triage),
                    r.created_at,
                )
            },
        )
    };
    let sub = reports::Submission {
        report,
        evidence,
        files,
        idem,
        followup,
    };
    let done = reports::submit(&s.reports, s.store.as_ref(), s.blobs.as_ref(), sub, &auto).await?;
    if !done.replayed {
        metrics::counter!("trustdesk_reports_total", "priority" => done.priority.as_str())
            .increment(1);
    }
    Ok((done, locale))
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    match headers.get(IDEMPOTENCY_KEY) {
        None => Ok(None),
        Some(v) => {
            let k = v.to_str().ok().map(str::trim).filter(|k| {
                (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic())
            });
            k.map(|k| Some(k.to_owned())).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_idempotency_key",
                    "Idempotency-Key must be 1–255 visible ASCII characters",
                )
            })
        }
    }
}

async fn read_small(mut field: Field<'_>) -> Result<Vec<u8>, ApiError> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if buf.len() + chunk.len() > MAX_REPORT_JSON {
            return Err(ApiError::PayloadTooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

pub(crate) async fn receive_file(
    s: &AppState,
    budget: &mut UploadBudget,
    mut field: Field<'_>,
) -> Result<StagedAttachment, ApiError> {
    let mut w = AttachmentWriter::start(s.blobs.as_ref(), budget, field.file_name())?;
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        w.write(budget, &chunk).await?;
    }
    Ok(w.finish().await?)
}

pub(crate) fn multipart_error(e: MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::bad_request(
            "invalid_multipart",
            "the multipart body is malformed or was cut off",
        )
    }
}

/// Verifies what the scammer showed and looks up their channel: hard evidence for triage, and a
/// first guess at who the scammer posed as.
async fn gather_evidence(s: &AppState, r: &NewReport) -> Result<Evidence, ApiError> {
    let mut claimed = ClaimGuess::default();
    let token = match &r.presented {
        None => None,
        Some(p) => {
            let v = s.verifier.verify(p).await?;
            let reason = match &v {
                Verdict::Forged(f) => serde_json::to_value(f)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned)),
                _ => None,
            };
            if let Some(info) = v.session() {
                claimed.agent = Some(info.agent_name.clone());
                claimed.channel =
                    ChannelHandle::from_normalised(info.channel_kind, &info.channel_handle).ok();
            } else if let Presented::Token(t) = tokens::input::extract(p) {
                // A forgery: what it claims is exactly what the victim was shown.
                if let Some((agent, kind, handle)) = tokens::claimed_identity(t) {
                    claimed.agent = Some(agent);
                    claimed.channel = ChannelHandle::parse(kind, &handle).ok();
                }
            }
            Some(TokenFinding {
                verdict: v.kind(),
                reason,
                agent_name: v.session().map(|i| i.agent_name.clone()),
            })
        }
    };
    let channel = match &r.scam_channel {
        None => None,
        Some(h) => Some(match channels::check(s.store.as_ref(), h).await? {
            CheckResult::Official(c) => ChannelFinding::Official {
                value: format!("{}:{}", c.handle.kind(), c.handle.as_str()),
            },
            CheckResult::Lookalike { of, reason } => {
                claimed.channel.get_or_insert_with(|| of.handle.clone());
                ChannelFinding::Lookalike {
                    of: format!("{}:{}", of.handle.kind(), of.handle.as_str()),
                    reason: serde_json::to_value(reason)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                }
            }
            CheckResult::NotOfficial => ChannelFinding::NotOfficial,
            CheckResult::KnownScam { reports, imitates } => {
                if let Some((of, _)) = imitates {
                    claimed.channel.get_or_insert_with(|| of.handle.clone());
                }
                ChannelFinding::KnownScam { reports }
            }
        }),
    };
    let claimed = (claimed != ClaimGuess::default()).then_some(claimed);
    Ok(Evidence {
        token,
        channel,
        claimed,
    })
}

#[derive(Serialize, ToSchema)]
pub struct TimelineView {
    pub at: String,
    pub kind: String,
    pub message: String,
}

/// What a victim sees with the receipt.
#[derive(Serialize, ToSchema)]
pub struct VictimStatus {
    pub id: String,
    pub status: String,
    pub status_label: &'static str,
    pub category: String,
    pub priority: String,
    pub created_at: String,
    pub expected_first_response_by: String,
    pub timeline: Vec<TimelineView>,
    pub next_step: String,
    /// When the next step is expected: the median time recent reports of this priority spent
    /// at this step, or the first-response promise while there is too little history. Absent
    /// once the report is closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_next_step_by: Option<String>,
    /// Whether e-mail notifications are on (`DELETE /v1/reports/{id}/contact` turns them off).
    pub notifications: bool,
    /// An address was given; notifications start once the code mailed to it is entered
    /// (`POST /v1/reports/{id}/contact/confirm`).
    pub notifications_pending: bool,
    /// Whether the handling can be rated now (`POST /v1/reports/{id}/rating`).
    pub can_rate: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<i64>,
    pub locale: Locale,
}

pub fn victim_status(v: &reports::VictimView) -> VictimStatus {
    VictimStatus {
        id: v.id.clone(),
        status: v.status.as_str().into(),
        status_label: i18n::status_label(v.status, v.locale),
        category: v.category.as_str().into(),
        priority: v.priority.as_str().into(),
        created_at: rfc3339(v.created_at),
        expected_first_response_by: rfc3339(v.first_response_by),
        timeline: v
            .timeline
            .iter()
            .map(|e| TimelineView {
                at: rfc3339(e.at),
                kind: e.kind.clone(),
                message: e.message.clone(),
            })
            .collect(),
        next_step: v.next_step.clone(),
        expected_next_step_by: v.expected_next_step_by.map(rfc3339),
        notifications: v.notifications,
        notifications_pending: v.notifications_pending,
        can_rate: v.rating.is_none() && crate::followup::is_closed(v.status.as_str()),
        rating: v.rating,
        locale: v.locale,
    }
}

/// The receipt from `Authorization: Bearer <receipt>`.
fn receipt_of(headers: &HeaderMap) -> Result<String, ApiError> {
    crate::http::extract::bearer(headers)
        .filter(|b| !b.starts_with("tdk_"))
        .map(str::to_owned)
        .ok_or_else(|| ApiError::Unauthorized {
            code: "missing_credentials",
            detail: "send Authorization: Bearer <receipt>".into(),
        })
}

/// "Forget me": delete the reporter's contact details and notification address (receipt holder).
/// The evidence stays with the investigation. Notifications stop at once.
#[utoipa::path(
    delete, path = "/v1/reports/{id}/contact", tag = "reports",
    params(("id" = String, Path, example = "TD-7K3F-9Q2M")),
    security(("receipt" = [])),
    responses(
        (status = 204, description = "Contact details deleted"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such report, or wrong receipt", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn forget_contact(
    State(s): State<AppState>,
    headers: HeaderMap,
    AppPath(id): AppPath<String>,
) -> Result<Response, ApiError> {
    let receipt = receipt_of(&headers)?;
    Ok(match forget(&s, &id, &receipt).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => counted_guess(e),
    })
}

/// A wrong receipt is a guess: it counts towards the client's lockout like a wrong key.
pub(crate) fn counted_guess(e: ApiError) -> Response {
    let guess = matches!(
        &e,
        ApiError::NotFound {
            code: "report_not_found",
            ..
        }
    );
    let mut resp = e.into_response();
    if guess {
        resp.extensions_mut()
            .insert(crate::http::limits::AuthFailed);
    }
    resp
}

/// Shared by the API and the status page.
pub(crate) async fn forget(s: &AppState, id: &str, receipt: &str) -> Result<(), ApiError> {
    let r = reports::victim_report(s.store.as_ref(), id, receipt).await?;
    s.store.forget_contact(&r.id, now()).await?;
    tracing::info!(report.id = %r.id, "Victim deleted their contact details");
    Ok(())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    /// The code from the confirmation e-mail, e.g. `K7QM-2XPD`.
    #[schema(max_length = 32)]
    pub code: String,
}

/// Turn notifications on: the receipt holder enters the code mailed to the address. Until then
/// nothing that quotes the anti-phishing phrase is sent, so nobody can sign up someone else's
/// address with a phrase of their choosing.
#[utoipa::path(
    post, path = "/v1/reports/{id}/contact/confirm", tag = "reports",
    params(("id" = String, Path, example = "TD-7K3F-9Q2M")),
    request_body = ConfirmRequest,
    security(("receipt" = [])),
    responses(
        (status = 204, description = "Notifications are on"),
        (status = 400, description = "Wrong or used code (counts towards the lockout)", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such report, or wrong receipt", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn confirm_contact(
    State(s): State<AppState>,
    headers: HeaderMap,
    AppPath(id): AppPath<String>,
    crate::http::extract::AppJson(req): crate::http::extract::AppJson<ConfirmRequest>,
) -> Result<Response, ApiError> {
    let receipt = receipt_of(&headers)?;
    Ok(match confirm(&s, &id, &receipt, &req.code).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => counted_guess(e),
    })
}

pub(crate) async fn confirm(
    s: &AppState,
    id: &str,
    receipt: &str,
    code: &str,
) -> Result<(), ApiError> {
    let r = reports::victim_report(s.store.as_ref(), id, receipt).await?;
    crate::followup::confirm(s.store.as_ref(), &r.id, code).await?;
    Ok(())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingRequest {
    /// 1 (bad) to 5 (excellent).
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i64,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub comment: Option<String>,
}

/// Rate how the report was handled, once, after it is closed (receipt holder).
#[utoipa::path(
    post, path = "/v1/reports/{id}/rating", tag = "reports",
    params(("id" = String, Path, example = "TD-7K3F-9Q2M")),
    request_body = RatingRequest,
    security(("receipt" = [])),
    responses(
        (status = 201, description = "Thank you"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such report, or wrong receipt", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not closed yet, or already rated", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn rate(
    State(s): State<AppState>,
    headers: HeaderMap,
    AppPath(id): AppPath<String>,
    crate::http::extract::AppJson(req): crate::http::extract::AppJson<RatingRequest>,
) -> Result<Response, ApiError> {
    let receipt = receipt_of(&headers)?;
    Ok(
        match rate_report(&s, &id, &receipt, req.rating, req.comment.as_deref()).await {
            Ok(()) => StatusCode::CREATED.into_response(),
            Err(e) => counted_guess(e),
        },
    )
}

pub(crate) async fn rate_report(
    s: &AppState,
    id: &str,
    receipt: &str,
    rating: i64,
    comment: Option<&str>,
) -> Result<(), ApiError> {
    let r = reports::victim_report(s.store.as_ref(), id, receipt).await?;
    crate::followup::rate(s.store.as_ref(), &r.id, &r.status, rating, comment).await?;
    metrics::counter!("trustdesk_ratings_total").increment(1);
    Ok(())
}

/// Victims' ratings per report category and month (security staff and admins).
#[utoipa::path(
    get, path = "/v1/ratings", tag = "reports",
    security(("api_key" = [])),
    responses(
        (status = 200, body = [crate::storage::RatingSummary]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn ratings(
    State(s): State<AppState>,
    user: StaffUser,
) -> Result<Json<Vec<crate::storage::RatingSummary>>, ApiError> {
    user.require(&[Role::Security, Role::Admin])?;
    Ok(Json(s.store.rating_summary().await?))
}

#[derive(Serialize, ToSchema)]
pub struct TxView {
    pub chain: String,
    pub tx_hash: String,
}

#[derive(Serialize, ToSchema)]
pub struct StaffEventView {
    pub seq: i64,
    pub at: String,
    pub kind: String,
    pub public_en: String,
    pub public_zh: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internal_note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
}

/// A report as security staff see it.
#[derive(Serialize, ToSchema)]
pub struct StaffReport {
    pub id: String,
    pub status: String,
    pub category: String,
    pub priority: String,
    /// `confirmed_impersonation`, `possible_compromised_official`, `suspected_impersonation` or `none`.
    pub triage: String,
    pub triage_reasons: Vec<String>,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scam_channel: Option<super::verify::ChannelRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presented: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_verdict: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub transactions: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_lost: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reporter_contact: Option<String>,
    pub locale: String,
    /// The oldest open report about the same scammer channel at intake time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub related_to: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// When staff expect to have answered the victim first (moves earlier when priority rises).
    pub first_response_by: String,
    /// Who the scammer posed as, and whether the registry matched it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed_entity: Option<ClaimedEntityView>,
    /// No reporter contact was given.
    pub anonymous: bool,
    /// The reporter agreed to be contacted about this report.
    pub contact_opt_in: bool,
    /// The reporter agreed, separately, to have their contact shared with law enforcement.
    pub share_with_law_enforcement: bool,
    /// `unverified`, `corroborated` (independent reports name the same scammer identifier) or
    /// `confirmed` (staff confirmed it, or a forged token proved it).
    pub confidence: String,
    /// Set when staff merged this report into another.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<String>,
    /// The escalation rules that fired for this report, and why.
    pub fired_rules: Vec<crate::storage::FiredRule>,
}

/// Who the scammer posed as.
#[derive(Serialize, ToSchema)]
pub struct ClaimedEntityView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<super::verify::ChannelRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The registered official channel imitated (id in `GET /v1/channels`), when matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub official_channel_id: Option<String>,
    /// The agent posed as, when the name is one of ours.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
}

/// One scammer identifier the report names and the other reports naming it.
#[derive(Serialize, ToSchema)]
pub struct IdentifierGroup {
    /// A channel kind (`telegram`, `email`, `phone`, `website`, ...) or `crypto_address`.
    pub kind: String,
    /// Normalised value; for `crypto_address`, `chain:address`.
    pub value: String,
    /// Independent reports naming it, this one included (duplicates and dismissed excluded).
    pub independent_reports: i64,
    pub reports: Vec<GroupMemberView>,
}

#[derive(Serialize, ToSchema)]
pub struct GroupMemberView {
    pub id: String,
    pub status: String,
    pub priority: String,
    pub confidence: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct StaffReportDetail {
    #[serde(flatten)]
    pub report: StaffReport,
    pub attachments: Vec<AttachmentView>,
    pub events: Vec<StaffEventView>,
    /// Every other report naming the same scammer channel.
    pub related: Vec<String>,
    /// Reports grouped by each scammer identifier this one names.
    pub groups: Vec<IdentifierGroup>,
}

fn staff_report(r: &ReportRecord) -> StaffReport {
    StaffReport {
        id: r.id.clone(),
        status: r.status.clone(),
        category: r.category.clone(),
        priority: r.priority.clone(),
        triage: r.triage.clone(),
        triage_reasons: serde_json::from_str(&r.triage_reasons).unwrap_or_default(),
        description: r.description.clone(),
        scam_channel: match (&r.scam_channel_kind, &r.scam_channel_value) {
            (Some(k), Some(v)) => {
                crate::channels::ChannelKind::parse(k).map(|kind| super::verify::ChannelRef {
                    kind,
                    handle: v.clone(),
                })
            }
            _ => None,
        },
        presented: r.presented_token.clone(),
        token_verdict: r.token_verdict.clone(),
        transactions: serde_json::from_str(&r.transactions).unwrap_or_default(),
        amount_lost: r.amount_lost.clone(),
        asset: r.asset.clone(),
        occurred_at: r.occurred_at.map(rfc3339),
        // A contact the reporter did not agree to have used stays out of staff screens.
        reporter_contact: r
            .reporter_contact
            .clone()
            .filter(|_| r.contact_opt_in != 0 || r.law_enforcement_opt_in != 0),
        locale: r.locale.clone(),
        related_to: r.related_to.clone(),
        created_at: rfc3339(r.created_at),
        updated_at: rfc3339(r.updated_at),
        first_response_by: rfc3339(r.first_response_by),
        claimed_entity: claimed_view(r),
        anonymous: r.reporter_contact.is_none(),
        contact_opt_in: r.contact_opt_in != 0,
        share_with_law_enforcement: r.law_enforcement_opt_in != 0,
        confidence: r.confidence.clone(),
        duplicate_of: r.duplicate_of.clone(),
        fired_rules: serde_json::from_str(&r.fired_rules).unwrap_or_default(),
    }
}

fn claimed_view(r: &ReportRecord) -> Option<ClaimedEntityView> {
    let channel = match (&r.claimed_channel_kind, &r.claimed_channel_value) {
        (Some(k), Some(v)) => {
            crate::channels::ChannelKind::parse(k).map(|kind| super::verify::ChannelRef {
                kind,
                handle: v.clone(),
            })
        }
        _ => None,
    };
    (channel.is_some() || r.claimed_agent.is_some()).then(|| ClaimedEntityView {
        channel,
        agent: r.claimed_agent.clone(),
        official_channel_id: r.claimed_channel_id.clone(),
        agent_id: r.claimed_agent_id.clone(),
    })
}

/// What `GET /v1/reports/{id}` answers, depending on who asks (documentation only: the handler
/// serialises one or the other).
#[allow(dead_code, clippy::large_enum_variant)]
#[derive(utoipa::ToSchema)]
#[serde(untagged)]
pub enum ReportStatusAnswer {
    /// For the receipt holder.
    Victim(VictimStatus),
    /// For security staff.
    Staff(StaffReportDetail),
}

/// A report's status: victims authenticate with their receipt, security staff with their API
/// key (and then see everything). A wrong receipt is a 404, exactly like a missing report.
#[utoipa::path(
    get, path = "/v1/reports/{id}", tag = "reports",
    params(("id" = String, Path, example = "TD-7K3F-9Q2M")),
    security(("receipt" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "VictimStatus for a receipt; StaffReportDetail for security staff", body = ReportStatusAnswer),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such report, or wrong receipt", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn status(
    State(s): State<AppState>,
    PreferredLocale(locale): PreferredLocale,
    headers: HeaderMap,
    AppPath(id): AppPath<String>,
) -> Result<Response, ApiError> {
    let bearer = crate::http::extract::bearer(&headers)
        .map(str::to_owned)
        .ok_or_else(|| ApiError::Unauthorized {
            code: "missing_credentials",
            detail: "send Authorization: Bearer <receipt> (or a security staff API key)".into(),
        })?;
    if bearer.starts_with("tdk_") {
        let user = staff::authenticate(s.store.as_ref(), &bearer).await?;
        staff::require(&user, &[Role::Security])?;
        let v = reports::staff_view(s.store.as_ref(), &id).await?;
        let detail = StaffReportDetail {
            report: staff_report(&v.report),
            attachments: v.attachments.iter().map(AttachmentView::from).collect(),
            events: v
                .events
                .into_iter()
                .map(|e| StaffEventView {
                    seq: e.seq,
                    at: rfc3339(e.at),
                    kind: e.kind,
                    public_en: e.public_en,
                    public_zh: e.public_zh,
                    internal_note: e.internal_note,
                    actor_id: e.actor_id,
                })
                .collect(),
            related: v.related,
            groups: v
                .groups
                .into_iter()
                .map(|g| IdentifierGroup {
                    kind: g.kind,
                    value: g.value,
                    independent_reports: g.independent_reports,
                    reports: g
                        .members
                        .into_iter()
                        .map(|m| GroupMemberView {
                            id: m.report_id,
                            status: m.status,
                            priority: m.priority,
                            confidence: m.confidence,
                            created_at: rfc3339(m.created_at),
                            duplicate_of: m.duplicate_of,
                        })
                        .collect(),
                })
                .collect(),
        };
        let mut resp = Json(detail).into_response();
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return Ok(resp);
    }
    let v = match s.victim_view(&id, &bearer, locale).await {
        Ok(v) => v,
        Err(e @ reports::ReportError::NotFound) => {
            // A wrong receipt is a guess: counted towards the lockout.
            let mut resp = ApiError::from(e).into_response();
            resp.extensions_mut()
                .insert(crate::http::limits::AuthFailed);
            return Ok(resp);
        }
        Err(e) => return Err(e.into()),
    };
    let mut resp = Json(victim_status(&v)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub status: Option<String>,
    pub category: Option<String>,
    pub priority: Option<String>,
    /// RFC 3339; reports created at or after.
    pub from: Option<String>,
    /// RFC 3339; reports created before.
    pub to: Option<String>,
    pub channel_kind: Option<String>,
    pub channel_value: Option<String>,
    /// Page size, 1–100 (default 50).
    pub limit: Option<i64>,
    /// Cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ReportPage {
    pub reports: Vec<StaffReport>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// List reports, newest first, with filters (role `security`).
#[utoipa::path(
    get, path = "/v1/reports", tag = "reports",
    params(ListQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, body = ReportPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(s): State<AppState>,
    user: StaffUser,
    AppQuery(q): AppQuery<ListQuery>,
) -> Result<([(header::HeaderName, &'static str); 1], Json<ReportPage>), ApiError> {
    user.require(&[Role::Security])?;
    let bad = |what: &str| ApiError::bad_request("invalid_query", format!("invalid {what}"));
    let time = |t: &Option<String>, what: &str| -> Result<Option<i64>, ApiError> {
        t.as_deref()
            .map(|t| tokens::claims::parse_time(t).ok_or_else(|| bad(what)))
            .transpose()
    };
    if let Some(st) = &q.status {
        reports::Status::parse(st).ok_or_else(|| bad("status"))?;
    }
    if let Some(c) = &q.category {
        reports::Category::parse(c).ok_or_else(|| bad("category"))?;
    }
    if let Some(p) = &q.priority {
        reports::Priority::parse(p).ok_or_else(|| bad("priority"))?;
    }
    let channel_kind = match &q.channel_kind {
        Some(k) => Some(crate::channels::ChannelKind::parse(k).ok_or_else(|| bad("channel_kind"))?),
        None => None,
    };
    let channel_value = match (channel_kind, &q.channel_value) {
        (Some(kind), Some(v)) => Some(
            crate::channels::ChannelHandle::parse(kind, v)?
                .as_str()
                .to_owned(),
        ),
        (None, Some(_)) => return Err(bad("channel_value without channel_kind")),
        (_, None) => None,
    };
    let limit = q.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(bad("limit (1–100)"));
    }
    let before = match &q.cursor {
        None => None,
        Some(c) => {
            let (at, id) = c.split_once('_').ok_or_else(|| bad("cursor"))?;
            Some((at.parse::<i64>().map_err(|_| bad("cursor"))?, id.to_owned()))
        }
    };
    let filter = ReportFilter {
        status: q.status.clone(),
        category: q.category.clone(),
        priority: q.priority.clone(),
        created_from: time(&q.from, "from")?,
        created_to: time(&q.to, "to")?,
        channel_kind: channel_kind.map(|k| k.as_str().to_owned()),
        channel_value,
        before,
        limit: limit + 1,
    };
    let mut rows = reports::list(s.store.as_ref(), &filter).await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| format!("{}_{}", r.created_at, r.id))
    } else {
        None
    };
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(ReportPage {
            reports: rows.iter().map(staff_report).collect(),
            next_cursor,
        }),
    ))
}

/// Download one attachment (role `security`). Served as an attachment that no browser renders
/// inline, after its SHA-256 is re-checked.
#[utoipa::path(
    get, path = "/v1/reports/{id}/attachments/{index}", tag = "reports",
    params(("id" = String, Path), ("index" = i64, Path)),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The file, with the type its content was recognised as at intake (never the uploader's claim)",
            content(
                (String = "image/png"), (String = "image/jpeg"), (String = "image/gif"),
                (String = "image/webp"), (String = "application/pdf"), (String = "application/zip"),
                (serde_json::Value = "application/json"), (String = "text/plain"),
                (String = "application/octet-stream"),
            )),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn download(
    State(s): State<AppState>,
    user: StaffUser,
    AppPath((id, index)): AppPath<(String, i64)>,
) -> Result<Response, ApiError> {
    user.require(&[Role::Security])?;
    let (rec, file) =
        reports::open_attachment(s.store.as_ref(), s.blobs.as_ref(), &id, index).await?;
    let kind = reports::sniff::EvidenceType::parse(&rec.content_type);
    let mime = kind.map(|k| k.mime()).unwrap_or("application/octet-stream");
    let stream = tokio_util::io::ReaderStream::new(file);
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(mime).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(rec.size_bytes.max(0) as u64),
    );
    // The filename is sanitised at intake; the ASCII fallback avoids header injection entirely.
    let ascii: String = rec
        .filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\""))
            .unwrap_or(HeaderValue::from_static("attachment")),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    h.insert(
        "x-content-sha256",
        HeaderValue::from_str(&rec.sha256).unwrap_or(HeaderValue::from_static("")),
    );
    Ok(resp)
}
