//! The review workflow and the escalation queue for confirmed fraud.
//!
//! Reports move `received → triaged → investigating → confirmed_fraud | dismissed | duplicate →
//! resolved` (spam and duplicates may be closed from `received`/`triaged` directly). Confirming
//! fraud — by a staff move, or at intake on hard evidence — enqueues exactly one escalation.
//! Staff claim the highest-priority, oldest item under a lease; an expired lease returns it to the
//! queue; only the holder can heartbeat, release or resolve. Every change is audited in the
//! same transaction.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit;
use crate::reports::{Priority, Status};
use crate::staff::Staff;
use crate::storage::{
    EscalationFilter, EscalationRecord, NewEscalation, OutboxRecord, ReportTransition,
    StorageError, Store,
};
use crate::types::now;

pub const MAX_REASON_CHARS: usize = 2000;

#[derive(Debug, thiserror::Error)]
pub enum EscalationError {
    /// 404
    #[error("no such report")]
    ReportNotFound,
    /// 404
    #[error("no such escalation")]
    NotFound,
    /// 409
    #[error("a report cannot move from {from} to {to}")]
    IllegalTransition {
        from: &'static str,
        to: &'static str,
    },
    /// 409: someone else moved the report first; reload and retry.
    #[error("the report changed meanwhile; reload it")]
    Concurrent,
    /// 409: a report cannot be resolved while its escalation is still being worked.
    #[error("the report's escalation is still open; resolve it first")]
    EscalationOpen,
    /// 409: not claimed by you, or your lease expired.
    #[error("you do not hold this escalation (not claimed by you, or the lease expired)")]
    NotHolder,
    /// 400
    #[error("{0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    HandleBlocklisted,
    TakedownRequested,
    ExchangeNotified,
    VictimContacted,
    NoAction,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::HandleBlocklisted => "handle_blocklisted",
            Outcome::TakedownRequested => "takedown_requested",
            Outcome::ExchangeNotified => "exchange_notified",
            Outcome::VictimContacted => "victim_contacted",
            Outcome::NoAction => "no_action",
        }
    }
}

#[derive(Clone, Debug)]
pub struct QueueSettings {
    /// Public base URL, for links in notifications.
    pub base_url: String,
    pub lease_secs: u32,
    /// SLA for P1, P2, P3 in seconds.
    pub sla_secs: [u32; 3],
}

impl QueueSettings {
    fn sla(&self, p: Priority) -> i64 {
        i64::from(self.sla_secs[rank(p) as usize - 1])
    }
}

fn rank(p: Priority) -> i64 {
    match p {
        Priority::P1 => 1,
        Priority::P2 => 2,
        Priority::P3 => 3,
    }
}

/// The legal moves of the review workflow.
pub fn allowed(from: Status, to: Status) -> bool {
    use Status::*;
    matches!(
        (from, to),
        (Received, Triaged)
            | (Triaged, Investigating)
            | (Investigating, ConfirmedFraud | Dismissed | Duplicate)
            | (Received | Triaged, Dismissed | Duplicate)
            | (ConfirmedFraud | Dismissed | Duplicate, Resolved)
    )
}

/// A new queue item for a report. A P1 item also gets its webhook notification, written in the
/// same transaction (see [`crate::notify`]).
pub fn new_escalation(
    settings: &QueueSettings,
    report_id: &str,
    priority: Priority,
    reason: &str,
    at: i64,
) -> NewEscalation {
    let record = EscalationRecord {
        // Time-ordered (UUIDv7): within one second, the id still orders items by age.
        id: uuid::Uuid::now_v7().to_string(),
        report_id: report_id.to_owned(),
        priority: priority.as_str().to_owned(),
        priority_rank: rank(priority),
        reason: reason.to_owned(),
        state: "queued".into(),
        created_at: at,
        sla_due_at: at + settings.sla(priority),
        claimed_by: None,
        lease_until: None,
        claims: 0,
        resolved_at: None,
        resolved_by: None,
        outcome: None,
        note: None,
    };
    let notify = (priority == Priority::P1).then(|| {
        let payload = serde_json::json!({
            "type": "escalation.created",
            "escalation_id": record.id,
            "report_id": record.report_id,
            "priority": record.priority,
            "reason": record.reason,
            "created_at": crate::types::rfc3339(record.created_at),
            "sla_due_at": crate::types::rfc3339(record.sla_due_at),
            "report_api_url": format!("{}/v1/reports/{}", settings.base_url, record.report_id),
        });
        OutboxRecord {
            id: uuid::Uuid::now_v7().to_string(),
            kind: "escalation.created".into(),
            payload: payload.to_string(),
            created_at: at,
            attempts: 0,
            next_attempt_at: at,
            locked_until: None,
            delivered_at: None,
            last_error: None,
        }
    });
    NewEscalation { record, notify }
}

/// Escalation priority for a confirmed report: P1 when funds are at immediate risk or an
/// official account is compromised (intake priority P1), P2 for confirmed impersonation, P3 other.
pub fn escalation_priority(report_priority: &str, category: &str, triage: &str) -> Priority {
    if report_priority == "P1" || triage == crate::reports::triage::POSSIBLE_COMPROMISED_OFFICIAL {
        Priority::P1
    } else if category == "impersonation"
        || triage == crate::reports::triage::CONFIRMED_IMPERSONATION
        || triage == crate::reports::triage::SUSPECTED_IMPERSONATION
    {
        Priority::P2
    } else {
        Priority::P3
    }
}

fn public_text(to: Status) -> (&'static str, &'static str) {
    match to {
        Status::Triaged => (
            "Your report has been triaged and is queued for investigation.",
            "您的举报已完成分类，正在排队等待调查。",
        ),
        Status::Investigating => (
            "A security analyst is investigating your report.",
            "安全分析师正在调查您的举报。",
        ),
        Status::ConfirmedFraud => (
            "We confirmed this as fraud and are acting on it.",
            "我们已确认这是诈骗，正在采取行动。",
        ),
        Status::Dismissed => (
            "We reviewed your report and found no fraud to act on.",
            "我们审核了您的举报，未发现需要处理的诈骗行为。",
        ),
        Status::Duplicate => (
            "Your report was merged with an earlier report about the same scammer.",
            "您的举报已与之前关于同一诈骗者的举报合并。",
        ),
        Status::Resolved => (
            "Your report is resolved. Thank you for helping protect other users.",
            "您的举报已处理完毕。感谢您帮助保护其他用户。",
        ),
        Status::Received => ("Your report was received.", "您的举报已收到。"),
    }
}

fn check_text(s: &str, what: &'static str) -> Result<String, EscalationError> {
    let s = s.trim();
    if s.is_empty()
        || s.chars().count() > MAX_REASON_CHARS
        || s.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(EscalationError::Invalid(what));
    }
    Ok(s.to_owned())
}

/// Moves a report (role security, checked by the caller). `reason` is the internal note;
/// `public_note` is added to the victim's timeline after the standard text.
pub async fn transition(
    settings: &QueueSettings,
    store: &dyn Store,
    actor: &Staff,
    report_id: &str,
    to: Status,
    reason: &str,
    public_note: Option<&str>,
) -> Result<Status, EscalationError> {
    let reason = check_text(reason, "reason is required (1–2000 characters)")?;
    let public_note = match public_note.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => Some(check_text(
            n,
            "public_note must be at most 2000 characters",
        )?),
        None => None,
    };
    let id = crate::reports::receipt::parse_report_id(report_id)
        .ok_or(EscalationError::ReportNotFound)?;
    let r = store
        .report_by_id(&id)
        .await?
        .ok_or(EscalationError::ReportNotFound)?;
    let from = Status::parse(&r.status).ok_or(EscalationError::ReportNotFound)?;
    if !allowed(from, to) {
        return Err(EscalationError::IllegalTransition {
            from: from.as_str(),
            to: to.as_str(),
        });
    }
    if to == Status::Resolved {
        if let Some(e) = store.escalation_for_report(&id).await? {
            if e.state != "resolved" {
                return Err(EscalationError::EscalationOpen);
            }
        }
    }
    let at = now();
    let escalation = (to == Status::ConfirmedFraud).then(|| {
        let p = escalation_priority(&r.priority, &r.category, &r.triage);
        new_escalation(
            settings,
            &id,
            p,
            &format!("confirmed by staff: {reason}"),
            at,
        )
    });
    let (en, zh) = public_text(to);
    let t = ReportTransition {
        report_id: id.clone(),
        from: from.as_str().into(),
        to: to.as_str().into(),
        at,
        kind: to.as_str().into(),
        public_en: match &public_note {
            Some(n) => format!("{en} {n}"),
            None => en.into(),
        },
        public_zh: match &public_note {
            Some(n) => format!("{zh} {n}"),
            None => zh.into(),
        },
        internal_note: Some(reason.clone()),
        actor_id: actor.id.clone(),
        escalation,
        close_escalation: matches!(to, Status::Dismissed | Status::Duplicate)
            .then(|| format!("report closed as {}: {reason}", to.as_str())),
    };
    let a = audit::draft(
        Some(&actor.id),
        "report.transition",
        &id,
        serde_json::json!({"from": from.as_str(), "to": to.as_str(), "reason": reason}),
    );
    if !with_retry(|| store.transition_report(&t, &a, audit::hash_entry)).await? {
        return Err(EscalationError::Concurrent);
    }
    tracing::info!(report.id = %id, from = from.as_str(), to = to.as_str(), "Report moved");
    Ok(to)
}

/// Merges a duplicate into the report it repeats (role security, checked by the caller): the
/// duplicate is closed as `duplicate` pointing at `into`, its escalation (if any) closes, and it
/// stops counting as an independent report for its identifiers.
pub async fn merge(
    store: &dyn Store,
    actor: &Staff,
    duplicate_id: &str,
    into_id: &str,
    reason: &str,
) -> Result<(), EscalationError> {
    let reason = check_text(reason, "reason is required (1–2000 characters)")?;
    let parse = |id: &str| crate::reports::receipt::parse_report_id(id);
    let dup_id = parse(duplicate_id).ok_or(EscalationError::ReportNotFound)?;
    let into_id = parse(into_id).ok_or(EscalationError::Invalid("into must name a report"))?;
    if dup_id == into_id {
        return Err(EscalationError::Invalid(
            "a report cannot be merged into itself",
        ));
    }
    let dup = store
        .report_by_id(&dup_id)
        .await?
        .ok_or(EscalationError::ReportNotFound)?;
    let into = store
        .report_by_id(&into_id)
        .await?
        .ok_or(EscalationError::Invalid("into must name a report"))?;
    if into.duplicate_of.is_some() {
        return Err(EscalationError::Invalid(
            "into is itself a merged duplicate: merge into the report it points to",
        ));
    }
    let from = Status::parse(&dup.status).ok_or(EscalationError::ReportNotFound)?;
    if !allowed(from, Status::Duplicate) {
        return Err(EscalationError::IllegalTransition {
            from: from.as_str(),
            to: Status::Duplicate.as_str(),
        });
    }
    let at = now();
    let (en, zh) = public_text(Status::Duplicate);
    let m = crate::storage::Merge {
        duplicate: dup_id.clone(),
        into: into_id.clone(),
        from_status: dup.status.clone(),
        at,
        actor_id: actor.id.clone(),
        event: crate::storage::ReportEventRecord {
            report_id: dup_id.clone(),
            seq: 0,
            at,
            kind: "duplicate".into(),
            public_en: en.into(),
            public_zh: zh.into(),
            internal_note: Some(format!("merged into {into_id}: {reason}")),
            actor_id: Some(actor.id.clone()),
        },
    };
    let a = audit::draft(
        Some(&actor.id),
        "report.merge",
        &dup_id,
        serde_json::json!({"into": into_id, "from": from.as_str(), "reason": reason}),
    );
    if !with_retry(|| store.merge_reports(&m, &a, audit::hash_entry)).await? {
        return Err(EscalationError::Concurrent);
    }
    tracing::info!(report.id = %dup_id, into = %into_id, "Report merged as duplicate");
    Ok(())
}

/// Sets a report's priority by hand (role security): its escalation's SLA deadline is
/// recomputed for the new priority, and the victim's first-response promise moves earlier
/// when the priority rises (never later).
pub async fn set_priority(
    settings: &crate::reports::ReportSettings,
    store: &dyn Store,
    actor: &Staff,
    report_id: &str,
    to: Priority,
    reason: &str,
) -> Result<crate::storage::ReportRecord, EscalationError> {
    let reason = check_text(reason, "reason is required (1–2000 characters)")?;
    let id = crate::reports::receipt::parse_report_id(report_id)
        .ok_or(EscalationError::ReportNotFound)?;
    let r = store
        .report_by_id(&id)
        .await?
        .ok_or(EscalationError::ReportNotFound)?;
    if r.priority == to.as_str() {
        return Ok(r);
    }
    let c = crate::reports::intel::priority_change(
        settings,
        &r,
        to,
        None,
        format!("set by staff: {reason}"),
        Some(actor.id.clone()),
        now(),
    );
    let a = audit::draft(
        Some(&actor.id),
        "report.priority",
        &id,
        serde_json::json!({"from": r.priority, "to": to.as_str(), "reason": reason}),
    );
    if !with_retry(|| store.change_priority(&c, &a, audit::hash_entry)).await? {
        return Err(EscalationError::Concurrent);
    }
    tracing::info!(report.id = %id, from = %r.priority, to = to.as_str(), "Report priority changed");
    store
        .report_by_id(&id)
        .await?
        .ok_or(EscalationError::ReportNotFound)
}

/// Leases the next item to `actor`, or `None` when the queue is empty.
pub async fn claim(
    settings: &QueueSettings,
    store: &dyn Store,
    actor: &Staff,
) -> Result<Option<EscalationRecord>, EscalationError> {
    let t = now();
    let a = audit::draft(
        Some(&actor.id),
        "escalation.claim",
        "",
        serde_json::json!({}),
    );
    let mut attempt = 0;
    loop {
        match store
            .claim_escalation(
                &actor.id,
                t,
                t + i64::from(settings.lease_secs),
                &a,
                audit::hash_entry,
            )
            .await
        {
            // Two claims appended audit entries at once: retry the whole claim.
            Err(StorageError::Conflict { .. }) if attempt < 10 => attempt += 1,
            other => return Ok(other?),
        }
    }
}

pub async fn heartbeat(
    settings: &QueueSettings,
    store: &dyn Store,
    actor: &Staff,
    id: &str,
) -> Result<EscalationRecord, EscalationError> {
    let t = now();
    if !store
        .heartbeat_escalation(id, &actor.id, t, t + i64::from(settings.lease_secs))
        .await?
    {
        return Err(not_held(store, id).await);
    }
    store
        .escalation_by_id(id)
        .await?
        .ok_or(EscalationError::NotFound)
}

pub async fn release(
    store: &dyn Store,
    actor: &Staff,
    id: &str,
) -> Result<EscalationRecord, EscalationError> {
    let a = audit::draft(
        Some(&actor.id),
        "escalation.release",
        id,
        serde_json::json!({}),
    );
    let mut attempt = 0;
    loop {
        match store
            .release_escalation(id, &actor.id, now(), &a, audit::hash_entry)
            .await
        {
            Ok(Some(released)) => return Ok(released),
            Ok(None) => return Err(not_held(store, id).await),
            Err(StorageError::Conflict { .. }) if attempt < 10 => attempt += 1,
            Err(e) => return Err(e.into()),
        }
    }
}

pub async fn resolve(
    store: &dyn Store,
    actor: &Staff,
    id: &str,
    outcome: Outcome,
    note: &str,
) -> Result<EscalationRecord, EscalationError> {
    let note = check_text(note, "note is required (1–2000 characters)")?;
    let a = audit::draft(
        Some(&actor.id),
        "escalation.resolve",
        id,
        serde_json::json!({"outcome": outcome.as_str(), "note": note}),
    );
    let res = crate::storage::Resolution {
        id: id.to_owned(),
        staff_id: actor.id.clone(),
        at: now(),
        outcome: outcome.as_str().to_owned(),
        note: note.clone(),
    };
    if !with_retry(|| store.resolve_escalation(&res, &a, audit::hash_entry)).await? {
        return Err(not_held(store, id).await);
    }
    tracing::info!(escalation.id = %id, outcome = outcome.as_str(), "Escalation resolved");
    store
        .escalation_by_id(id)
        .await?
        .ok_or(EscalationError::NotFound)
}

async fn with_retry<F, Fut>(f: F) -> Result<bool, StorageError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<bool, StorageError>>,
{
    let mut attempt = 0;
    loop {
        match f().await {
            Err(StorageError::Conflict { .. }) if attempt < 10 => attempt += 1,
            other => return other,
        }
    }
}

async fn not_held(store: &dyn Store, id: &str) -> EscalationError {
    match store.escalation_by_id(id).await {
        Ok(None) => EscalationError::NotFound,
        Ok(Some(_)) => EscalationError::NotHolder,
        Err(e) => e.into(),
    }
}

pub async fn list(
    store: &dyn Store,
    f: &EscalationFilter,
) -> Result<Vec<EscalationRecord>, EscalationError> {
    Ok(store.list_escalations(f).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_legal_and_illegal_move_of_the_workflow() {
        use Status::*;
        let legal = [
            (Received, Triaged),
            (Triaged, Investigating),
            (Investigating, ConfirmedFraud),
            (Investigating, Dismissed),
            (Investigating, Duplicate),
            (Received, Dismissed),
            (Received, Duplicate),
            (Triaged, Dismissed),
            (Triaged, Duplicate),
            (ConfirmedFraud, Resolved),
            (Dismissed, Resolved),
            (Duplicate, Resolved),
        ];
        for from in Status::ALL {
            for to in Status::ALL {
                assert_eq!(
                    allowed(from, to),
                    legal.contains(&(from, to)),
                    "{from:?} -> {to:?}"
                );
            }
        }
    }
}
