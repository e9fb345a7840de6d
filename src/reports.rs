//! Fraud reports: durable intake with evidence, receipts, status tracking for victims, and the
//! staff's read access.
//!
//! A `201` means: every attachment is fsync'd under its SHA-256 name, and the report, its
//! attachment rows, its first timeline entry and its idempotency record have committed in one
//! transaction. A crash before that commit leaves at most unreferenced files, which
//! [`sweep_orphans`] removes once they are older than the cleanup interval.

pub mod attachment;
pub mod chain;
pub mod intel;
pub mod model;
pub mod receipt;
pub mod rules;
pub mod sniff;
pub mod triage;

use zeroize::Zeroizing;

pub use attachment::{AttachmentLimits, AttachmentWriter, StagedAttachment, UploadBudget};
pub use model::{Category, NewReport, Priority, ReportInput, Status};
pub use triage::{ChannelFinding, Evidence, TokenFinding, Triage};

use crate::storage::blobs::{BlobDigest, BlobStore};
use crate::storage::{
    AttachmentRecord, FollowupRecord, IdempotencyRecord, NewReportBundle, ReportEventRecord,
    ReportFilter, ReportRecord, StorageError, Store,
};
use crate::types::{now, rfc3339, Locale, UnixTime};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// 400
    #[error("{detail}")]
    Invalid { code: &'static str, detail: String },
    /// 413
    #[error("a report may carry at most {max} attachments")]
    TooManyAttachments { max: usize },
    /// 413
    #[error("each attachment is limited to {max} bytes")]
    AttachmentTooLarge { max: u64 },
    /// 413
    #[error("attachments of one report are limited to {max} bytes in total")]
    ReportTooLarge { max: u64 },
    /// 415
    #[error("{0}. Accepted: PNG, JPEG, WebP, GIF, PDF, ZIP chat exports, plain UTF-8 text, JSON")]
    UnsupportedType(String),
    /// 409: the Idempotency-Key was used for a different request.
    #[error("this Idempotency-Key was already used for a different report")]
    IdempotencyConflict,
    /// 404: no such report, or the receipt does not match (indistinguishable on purpose).
    #[error("no such report")]
    NotFound,
    /// 404
    #[error("no such attachment")]
    AttachmentNotFound,
    /// 500: a stored attachment no longer matches its digest.
    #[error("stored evidence failed its integrity check")]
    Corrupt,
    /// 500/507
    #[error("file storage failed")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Settings from the service configuration.
#[derive(Clone, Debug)]
pub struct ReportSettings {
    /// First-response targets for P1, P2, P3, in seconds.
    pub sla_secs: [u32; 3],
}

impl ReportSettings {
    pub fn sla(&self, p: Priority) -> i64 {
        i64::from(match p {
            Priority::P1 => self.sla_secs[0],
            Priority::P2 => self.sla_secs[1],
            Priority::P3 => self.sla_secs[2],
        })
    }
}

/// An Idempotency-Key and the fingerprint of the request it came with.
pub struct IdempotentRequest {
    pub key: String,
    pub fingerprint: String,
}

/// What the victim gets back.
#[derive(Debug)]
pub struct Submitted {
    pub report_id: String,
    pub receipt: Zeroizing<String>,
    pub priority: Priority,
    pub created_at: UnixTime,
    pub first_response_by: UnixTime,
    pub attachments: Vec<AttachmentRecord>,
    /// True when this answer replays an earlier identical submission.
    pub replayed: bool,
}

/// Fingerprint of a submission: the report JSON and every file's digest and name, in order.
pub fn fingerprint(report_json: &[u8], files: &[StagedAttachment]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update((report_json.len() as u64).to_le_bytes());
    h.update(report_json);
    for f in files {
        h.update(f.digest.as_str().as_bytes());
        h.update((f.filename.len() as u64).to_le_bytes());
        h.update(f.filename.as_bytes());
    }
    crate::staff::hex(&h.finalize())
}

/// One submission: the parsed report, what intake found out, its files and its idempotency key.
pub struct Submission {
    pub report: NewReport,
    pub evidence: Evidence,
    pub files: Vec<StagedAttachment>,
    pub idem: Option<IdempotentRequest>,
    /// The victim's notification address and phrase, already sealed (`followup::cipher`).
    pub followup: Option<SealedContact>,
}

/// Encrypted notification address and anti-phishing phrase.
#[derive(Clone, Debug)]
pub struct SealedContact {
    pub email_enc: String,
    pub phrase_enc: String,
    /// The address confirmation code, sealed for the sender, and its SHA-256.
    pub confirm_enc: String,
    pub confirm_hash: String,
}

/// Decides, from the stored report, whether it enters the escalation queue at intake.
pub type AutoEscalate<'a> =
    &'a (dyn Fn(&str, &ReportRecord) -> Option<crate::storage::NewEscalation> + Sync);

/// Accepts a report. See the module docs for what "accepted" guarantees.
pub async fn submit(
    settings: &ReportSettings,
    store: &dyn Store,
    blobs: &dyn BlobStore,
    sub: Submission,
    auto_escalate: AutoEscalate<'_>,
) -> Result<Submitted, ReportError> {
    let Submission {
        report,
        evidence,
        files,
        idem,
        followup,
    } = sub;
    let evidence = &evidence;
    if let Some(i) = &idem {
        if let Some(prev) = store
            .idempotency_by_key(&receipt::idempotency_digest(&i.key))
            .await?
        {
            return replay(store, &prev, i).await;
        }
    }
    let mut t = triage::triage(report.category, evidence);
    let created_at = now();
    let claim = intel::resolve_claim(store, &report, evidence).await?;
    let outcome = intel::apply_rules(settings, store, &report, evidence, created_at).await?;
    if let Some(p) = rules::strongest(&outcome.fired) {
        t.priority = t.priority.min(p);
        t.reasons.extend(
            outcome
                .fired
                .iter()
                .map(|f| format!("rule {} ({}): {}", f.rule, f.priority, f.detail)),
        );
    }
    // A forged token is hard evidence: the report is confirmed from the start.
    let confidence = if t.label == triage::CONFIRMED_IMPERSONATION {
        "confirmed"
    } else {
        "unverified"
    };
    let related_to = match &report.scam_channel {
        Some(c) => {
            store
                .open_report_for_channel(c.kind().as_str(), c.as_str(), &Status::CLOSED)
                .await?
        }
        None => None,
    };
    // Files first: once they are durable, the transaction can point at them. The guard keeps
    // the orphan sweeper away until the transaction has committed.
    let _guard = blobs.intake_guard().await;
    let mut rows = Vec::with_capacity(files.len());
    for (idx, f) in files.into_iter().enumerate() {
        let (digest, size, kind, filename) = (f.digest.clone(), f.size, f.kind, f.filename.clone());
        blobs.commit(f.temp, &digest).await?;
        rows.push((idx, digest, size, kind, filename));
    }
    let first_response_by = created_at + settings.sla(t.priority);
    for attempt in 0.. {
        let id = receipt::new_report_id();
        let (receipt_secret, raw) = receipt::new_receipt();
        let report_rec = ReportRecord {
            id: id.clone(),
            receipt_hash: receipt::receipt_digest(&receipt_secret),
            status: Status::Received.as_str().into(),
            category: report.category.as_str().into(),
            priority: t.priority.as_str().into(),
            triage: t.label.into(),
            triage_reasons: serde_json::to_string(&t.reasons).unwrap_or_else(|_| "[]".into()),
            description: report.description.clone(),
            scam_channel_kind: report
                .scam_channel
                .as_ref()
                .map(|c| c.kind().as_str().into()),
            scam_channel_value: report.scam_channel.as_ref().map(|c| c.as_str().into()),
            presented_token: report.presented.clone(),
            token_verdict: evidence.token.as_ref().map(|t| t.verdict.into()),
            transactions: serde_json::to_string(&report.transactions)
                .unwrap_or_else(|_| "[]".into()),
            amount_lost: report.amount_lost.clone(),
            asset: report.asset.clone(),
            occurred_at: report.occurred_at,
            reporter_contact: report.reporter_contact.clone(),
            locale: report.locale.as_str().into(),
            related_to: related_to.clone(),
            created_at,
            updated_at: created_at,
            first_response_by,
            claimed_channel_kind: claim.channel.as_ref().map(|c| c.kind().as_str().into()),
            claimed_channel_value: claim.channel.as_ref().map(|c| c.as_str().into()),
            claimed_agent: claim.agent.clone(),
            claimed_channel_id: claim.channel_id.clone(),
            claimed_agent_id: claim.agent_id.clone(),
            contact_opt_in: i64::from(report.contact_opt_in),
            law_enforcement_opt_in: i64::from(report.law_enforcement_opt_in),
            reporter_key: report.reporter_contact.as_deref().map(intel::reporter_key),
            confidence: confidence.into(),
            duplicate_of: None,
            fired_rules: serde_json::to_string(&outcome.fired).unwrap_or_else(|_| "[]".into()),
        };
        let bundle = NewReportBundle {
            identifiers: report.identifiers(),
            raise: outcome.raise.clone(),
            followup: followup.as_ref().map(|c| FollowupRecord {
                report_id: id.clone(),
                email_enc: Some(c.email_enc.clone()),
                phrase_enc: Some(c.phrase_enc.clone()),
                locale: report.locale.as_str().to_owned(),
                created_at,
                notified_seq: 0,
                sla_warned_at: None,
                attempts: 0,
                next_attempt_at: created_at,
                locked_until: None,
                last_error: None,
                forgotten_at: None,
                confirm_enc: Some(c.confirm_enc.clone()),
                confirm_hash: Some(c.confirm_hash.clone()),
                confirm_sent_at: None,
                confirmed_at: None,
            }),
            escalation: auto_escalate(&id, &report_rec),
            report: report_rec,
            attachments: rows
                .iter()
                .map(|(idx, d, size, kind, name)| AttachmentRecord {
                    report_id: id.clone(),
                    idx: *idx as i64,
                    sha256: d.as_str().into(),
                    size_bytes: *size as i64,
                    content_type: kind.as_str().into(),
                    filename: name.clone(),
                })
                .collect(),
            first_event: received_event(&id, created_at, first_response_by, &t),
            idempotency: idem.as_ref().map(|i| IdempotencyRecord {
                key_hash: receipt::idempotency_digest(&i.key),
                request_hash: i.fingerprint.clone(),
                report_id: id.clone(),
                receipt_masked: receipt::mask_receipt(&raw, &i.key),
                created_at,
            }),
        };
        match store.insert_report(&bundle).await {
            Ok(()) => {
                tracing::info!(report.id = %id, attachments = rows.len(), priority = t.priority.as_str(), triage = t.label, "Accepted fraud report {id}");
                return Ok(Submitted {
                    report_id: id,
                    receipt: receipt_secret,
                    priority: t.priority,
                    created_at,
                    first_response_by,
                    attachments: bundle.attachments,
                    replayed: false,
                });
            }
            Err(StorageError::Conflict { constraint }) => {
                // A concurrent request with the same Idempotency-Key won the race: answer as
                // its replay. Otherwise the random id collided: try another.
                if let Some(i) = &idem {
                    if let Some(prev) = store
                        .idempotency_by_key(&receipt::idempotency_digest(&i.key))
                        .await?
                    {
                        return replay(store, &prev, i).await;
                    }
                }
                if attempt >= 3 {
                    return Err(StorageError::Conflict { constraint }.into());
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    unreachable!("the loop returns")
}

async fn replay(
    store: &dyn Store,
    prev: &IdempotencyRecord,
    req: &IdempotentRequest,
) -> Result<Submitted, ReportError> {
    if prev.request_hash != req.fingerprint {
        return Err(ReportError::IdempotencyConflict);
    }
    let r = store
        .report_by_id(&prev.report_id)
        .await?
        .ok_or(ReportError::NotFound)?;
    let receipt =
        receipt::unmask_receipt(&prev.receipt_masked, &req.key).ok_or(ReportError::NotFound)?;
    let priority = Priority::parse(&r.priority).unwrap_or(Priority::P3);
    let attachments = store.report_attachments(&r.id).await?;
    Ok(Submitted {
        attachments,
        report_id: r.id,
        receipt,
        priority,
        created_at: r.created_at,
        first_response_by: r.first_response_by,
        replayed: true,
    })
}

fn received_event(id: &str, at: UnixTime, by: UnixTime, t: &Triage) -> ReportEventRecord {
    ReportEventRecord {
        report_id: id.into(),
        seq: 1,
        at,
        kind: "received".into(),
        public_en: format!(
            "We received your report {id}. A security analyst will review it; first response expected by {}.",
            rfc3339(by)
        ),
        public_zh: format!("我们已收到您的举报 {id}。安全分析师将进行审核，预计在 {} 前首次回复。", rfc3339(by)),
        internal_note: Some(if t.reasons.is_empty() {
            format!("auto-triage: {} {}", t.priority.as_str(), t.label)
        } else {
            format!(
                "auto-triage: {} {}; {}",
                t.priority.as_str(),
                t.label,
                t.reasons.join("; ")
            )
        }),
        actor_id: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Victim view

#[derive(Clone, Debug)]
pub struct TimelineEntry {
    pub at: UnixTime,
    pub kind: String,
    pub message: String,
}

/// What a victim holding the receipt may see: nothing internal.
#[derive(Clone, Debug)]
pub struct VictimView {
    pub id: String,
    pub status: Status,
    pub category: Category,
    pub priority: Priority,
    pub created_at: UnixTime,
    pub first_response_by: UnixTime,
    pub timeline: Vec<TimelineEntry>,
    pub next_step: String,
    /// When the next step is expected, learned from recent handling times (see
    /// `followup::estimate_next_step`); `None` once closed or when nothing can be promised.
    pub expected_next_step_by: Option<UnixTime>,
    /// Whether e-mail notifications are on for this report (address confirmed).
    pub notifications: bool,
    /// An address was given but its confirmation code not entered yet.
    pub notifications_pending: bool,
    /// The victim's rating, once given.
    pub rating: Option<i64>,
    pub locale: Locale,
}

/// The report behind an id and receipt; a wrong receipt is indistinguishable from no report.
pub async fn victim_report(
    store: &dyn Store,
    id: &str,
    receipt: &str,
) -> Result<ReportRecord, ReportError> {
    let Some(id) = receipt::parse_report_id(id) else {
        return Err(ReportError::NotFound);
    };
    let r = store.report_by_id(&id).await?;
    // Compare even when the report is missing, so timing does not tell the two apart.
    let stored = r
        .as_ref()
        .map(|r| r.receipt_hash.as_str())
        .unwrap_or("0000");
    if !receipt::receipt_matches(receipt, stored) {
        return Err(ReportError::NotFound);
    }
    r.ok_or(ReportError::NotFound)
}

/// The report for its receipt holder; a wrong receipt is indistinguishable from no report.
pub async fn status_for_victim(
    store: &dyn Store,
    estimates: &crate::followup::Estimates,
    id: &str,
    receipt: &str,
    locale: Locale,
) -> Result<VictimView, ReportError> {
    let r = victim_report(store, id, receipt).await?;
    let events = store.report_events(&r.id).await?;
    let status = Status::parse(&r.status).unwrap_or(Status::Received);
    let priority = Priority::parse(&r.priority).unwrap_or(Priority::P3);
    // Fixed at intake: changing the SLA settings later does not rewrite promises already made.
    let first_response_by = r.first_response_by;
    let at = now();
    let expected_next_step_by = if crate::followup::is_closed(status.as_str()) {
        None
    } else {
        let samples = estimates.samples(store).await?;
        // The step is the last status change: a priority change in between is not a step.
        let (step, since) = events
            .iter()
            .rev()
            .find(|e| Status::parse(&e.kind).is_some())
            .map(|e| (e.kind.as_str(), e.at))
            .unwrap_or(("received", r.created_at));
        let promise = (status == Status::Received).then_some(first_response_by);
        crate::followup::estimate_next_step(&samples, &r.priority, step, since, promise)
            .filter(|t| *t > at)
            .or(promise.filter(|t| *t > at))
    };
    let followup = store
        .followup_for_report(&r.id)
        .await?
        .filter(|f| f.email_enc.is_some());
    let notifications = followup.as_ref().is_some_and(|f| f.confirmed_at.is_some());
    let notifications_pending = followup.as_ref().is_some_and(|f| f.confirmed_at.is_none());
    let rating = store.rating_for_report(&r.id).await?;
    Ok(VictimView {
        timeline: events
            .into_iter()
            // Internal-only events (a priority change that moved no promise) have no public text.
            .filter(|e| !e.public_en.is_empty())
            .map(|e| TimelineEntry {
                at: e.at,
                kind: e.kind,
                message: if locale == Locale::ZhCn {
                    e.public_zh
                } else {
                    e.public_en
                },
            })
            .collect(),
        next_step: next_step(status, first_response_by, locale),
        expected_next_step_by,
        notifications,
        notifications_pending,
        rating,
        id: r.id,
        status,
        category: Category::parse(&r.category).unwrap_or(Category::Other),
        priority,
        created_at: r.created_at,
        first_response_by,
        locale,
    })
}

fn next_step(status: Status, by: UnixTime, l: Locale) -> String {
    let zh = l == Locale::ZhCn;
    match status {
        Status::Received | Status::Triaged => {
            if zh {
                format!("安全分析师将审核您的举报，预计在 {} 前首次回复。我们绝不会索要您的助记词、私钥或任何费用。", rfc3339(by))
            } else {
                format!("A security analyst will review your report; first response expected by {}. We will never ask for your seed phrase, private keys or any fee.", rfc3339(by))
            }
        }
        Status::Investigating | Status::ConfirmedFraud => {
            if zh {
                "我们正在调查并处理此事，有进展时会在此更新。".into()
            } else {
                "We are investigating and acting on this; updates will appear here.".into()
            }
        }
        _ => {
            if zh {
                "此举报已处理完毕。感谢您帮助保护其他用户。".into()
            } else {
                "This report is closed. Thank you for helping protect other users.".into()
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Staff view

/// Everything staff may see about a report.
#[derive(Clone, Debug)]
pub struct StaffView {
    pub report: ReportRecord,
    pub attachments: Vec<AttachmentRecord>,
    pub events: Vec<ReportEventRecord>,
    /// Other reports naming the same scammer channel.
    pub related: Vec<String>,
    /// Per scammer identifier the report names: independent reporters and the reports naming it.
    pub groups: Vec<Group>,
}

/// Reports naming one scammer identifier.
#[derive(Clone, Debug)]
pub struct Group {
    pub kind: String,
    pub value: String,
    pub independent_reports: i64,
    /// Newest first, at most [`MAX_GROUP_LISTED`].
    pub members: Vec<crate::storage::GroupMember>,
}

pub const MAX_GROUP_LISTED: i64 = 100;

/// Groups a report's identifiers with the other reports naming them.
pub async fn groups_of(store: &dyn Store, id: &str) -> Result<Vec<Group>, StorageError> {
    let mut out = Vec::new();
    for (kind, value) in store.identifiers_of(id).await? {
        out.push(Group {
            independent_reports: store.independent_reporters(&kind, &value).await?,
            members: store
                .reports_naming(&kind, &value, i64::MIN, MAX_GROUP_LISTED)
                .await?,
            kind,
            value,
        });
    }
    Ok(out)
}

pub async fn staff_view(store: &dyn Store, id: &str) -> Result<StaffView, ReportError> {
    let id = receipt::parse_report_id(id).ok_or(ReportError::NotFound)?;
    let report = store
        .report_by_id(&id)
        .await?
        .ok_or(ReportError::NotFound)?;
    let attachments = store.report_attachments(&id).await?;
    let events = store.report_events(&id).await?;
    let related = match (&report.scam_channel_kind, &report.scam_channel_value) {
        (Some(k), Some(v)) => store
            .reports_for_channel(k, v, 50)
            .await?
            .into_iter()
            .map(|r| r.id)
            .filter(|r| *r != id)
            .collect(),
        _ => Vec::new(),
    };
    Ok(StaffView {
        groups: groups_of(store, &id).await?,
        report,
        attachments,
        events,
        related,
    })
}

pub async fn list(
    store: &dyn Store,
    filter: &ReportFilter,
) -> Result<Vec<ReportRecord>, ReportError> {
    Ok(store.list_reports(filter).await?)
}

/// Opens an attachment for download after re-checking its SHA-256.
pub async fn open_attachment(
    store: &dyn Store,
    blobs: &dyn BlobStore,
    id: &str,
    idx: i64,
) -> Result<
    (
        AttachmentRecord,
        Box<dyn tokio::io::AsyncRead + Send + Unpin>,
    ),
    ReportError,
> {
    let id = receipt::parse_report_id(id).ok_or(ReportError::NotFound)?;
    store
        .report_by_id(&id)
        .await?
        .ok_or(ReportError::NotFound)?;
    let rec = store
        .report_attachments(&id)
        .await?
        .into_iter()
        .find(|a| a.idx == idx)
        .ok_or(ReportError::AttachmentNotFound)?;
    let digest = BlobDigest::parse(&rec.sha256).ok_or(ReportError::Corrupt)?;
    if !blobs.verify(&digest).await? {
        tracing::error!(report.id = %id, attachment = idx, "Stored evidence does not match its SHA-256");
        return Err(ReportError::Corrupt);
    }
    let file = blobs.open_blob(&digest).await?;
    Ok((rec, file))
}

/// Removes files that interrupted uploads left behind, once older than `age`.
pub async fn sweep_orphans(
    store: &dyn Store,
    blobs: &dyn BlobStore,
    age: std::time::Duration,
) -> Result<usize, ReportError> {
    let referenced = |d: BlobDigest| -> crate::storage::blobs::Referenced<'_> {
        // On a database error, keep the file: deleting evidence is the worse mistake.
        Box::pin(async move { store.blob_referenced(d.as_str()).await.unwrap_or(true) })
    };
    Ok(blobs.sweep(age, &referenced).await?)
}
