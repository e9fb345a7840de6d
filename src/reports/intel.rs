//! What intake learns beyond the report itself: who the scammer posed as (matched against the
//! registry), whether other reports name the same scammer, and which escalation rules fire.

use sha2::{Digest, Sha256};

use super::model::{NewReport, Priority, Status};
use super::rules::{self, Facts, RuleConfig, RuleKind};
use super::triage::{ClaimGuess, Evidence};
use super::ReportSettings;
use crate::channels::{self, ChannelHandle, CheckResult};
use crate::storage::{FiredRule, PriorityChange, ReportEventRecord, StorageError, Store};
use crate::types::{rfc3339, Role, UnixTime};

/// Reports a repeat-identifier rule raises at most, per intake: a bound on the work one report
/// can cause.
const MAX_RAISED: i64 = 100;

/// Who the scammer posed as, as recorded on the report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Claim {
    pub channel: Option<ChannelHandle>,
    pub agent: Option<String>,
    /// The registered official channel imitated, when the claimed channel is one or looks like one.
    pub channel_id: Option<String>,
    /// The agent posed as, when the claimed name is one of ours.
    pub agent_id: Option<String>,
}

/// The victim's own answer wins; otherwise what the evidence shows. Then both are matched
/// against the registry and the staff list.
pub async fn resolve_claim(
    store: &dyn Store,
    report: &NewReport,
    evidence: &Evidence,
) -> Result<Claim, StorageError> {
    let guess = evidence.claimed.clone().unwrap_or_default();
    let given = report.claimed_channel.is_some() || report.claimed_agent.is_some();
    let ClaimGuess { channel, agent } = if given {
        ClaimGuess {
            channel: report.claimed_channel.clone(),
            agent: report.claimed_agent.clone(),
        }
    } else {
        guess
    };
    let mut claim = Claim {
        channel,
        agent,
        ..Claim::default()
    };
    if let Some(h) = &claim.channel {
        let all = channels::list(store).await?;
        claim.channel_id = match channels::classify(h, &all) {
            CheckResult::Official(c) => Some(c.id),
            CheckResult::Lookalike { of, .. } => Some(of.id),
            _ => None,
        };
    }
    if let Some(name) = &claim.agent {
        claim.agent_id = store
            .list_staff()
            .await?
            .into_iter()
            .find(|s| {
                s.role == Role::Agent.as_str()
                    && s.disabled_at.is_none()
                    && s.name.eq_ignore_ascii_case(name)
            })
            .map(|s| s.id);
    }
    Ok(claim)
}

/// Tells independent reporters apart without reading contacts: the same contact, however it is
/// capitalised or padded, gives the same key.
pub fn reporter_key(contact: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"trustdesk:reporter\0");
    h.update(contact.trim().to_lowercase().as_bytes());
    crate::staff::hex(&h.finalize())
}

/// The rules' verdict for a new report, and the earlier reports it raises with it.
pub struct RuleOutcome {
    pub fired: Vec<FiredRule>,
    pub raise: Vec<PriorityChange>,
}

/// Evaluates the configured escalation rules for a report about to be stored.
pub async fn apply_rules(
    settings: &ReportSettings,
    store: &dyn Store,
    report: &NewReport,
    evidence: &Evidence,
    at: UnixTime,
) -> Result<RuleOutcome, StorageError> {
    let rules = rules::effective(&store.list_rules().await?);
    let ids = report.identifiers();
    let enabled = |k: RuleKind| rules.iter().find(|r| r.rule == k && r.enabled);

    let mut known_scam = Vec::new();
    if enabled(RuleKind::KnownScamIdentifier).is_some() {
        for (kind, value) in &ids {
            let n = store.known_scam_count(kind, value).await?;
            if n > 0 {
                known_scam.push((format!("{kind}:{value}"), n));
            }
        }
    }
    let mut recent = Vec::new();
    let mut groups = Vec::new();
    if let Some(r) = enabled(RuleKind::RepeatIdentifier) {
        let since = at - i64::from(r.window_secs.unwrap_or(3600));
        for (kind, value) in &ids {
            let members: Vec<_> = store
                .reports_naming(kind, value, since, MAX_RAISED)
                .await?
                .into_iter()
                .filter(|m| m.duplicate_of.is_none() && m.status != "dismissed")
                .collect();
            // This report is not stored yet: it is the "+ 1".
            recent.push((format!("{kind}:{value}"), members.len() as i64 + 1));
            groups.push(members);
        }
    }
    let facts = Facts {
        amount_lost: report.amount_lost.as_deref(),
        asset: report.asset.as_deref(),
        evidence: Some(evidence),
        known_scam,
        recent,
    };
    let fired = rules::evaluate(&rules, &facts, at);
    let raise = match fired
        .iter()
        .find(|f| f.rule == RuleKind::RepeatIdentifier.as_str())
    {
        Some(f) => raise_group(settings, store, &rules, f, &groups, at).await?,
        None => Vec::new(),
    };
    Ok(RuleOutcome { fired, raise })
}

/// A live campaign raises the earlier open reports naming the same identifier too, and their
/// deadlines with them.
async fn raise_group(
    settings: &ReportSettings,
    store: &dyn Store,
    rules: &[RuleConfig],
    fired: &FiredRule,
    groups: &[Vec<crate::storage::GroupMember>],
    at: UnixTime,
) -> Result<Vec<PriorityChange>, StorageError> {
    let Some(rule) = rules.iter().find(|r| r.rule == RuleKind::RepeatIdentifier) else {
        return Ok(Vec::new());
    };
    let need = i64::from(rule.count.unwrap_or(3));
    let mut out: Vec<PriorityChange> = Vec::new();
    for members in groups.iter().filter(|g| g.len() as i64 + 1 >= need) {
        for m in members {
            let open = !Status::CLOSED.contains(&m.status.as_str());
            let lower = Priority::parse(&m.priority).is_some_and(|p| p > rule.priority);
            if !open || !lower || out.iter().any(|c| c.report_id == m.report_id) {
                continue;
            }
            let Some(r) = store.report_by_id(&m.report_id).await? else {
                continue;
            };
            let mut all: Vec<FiredRule> = serde_json::from_str(&r.fired_rules).unwrap_or_default();
            all.push(fired.clone());
            out.push(priority_change(
                settings,
                &r,
                rule.priority,
                Some(serde_json::to_string(&all).unwrap_or_else(|_| "[]".into())),
                format!(
                    "priority raised by rule repeat_identifier: {}",
                    fired.detail
                ),
                None,
                at,
            ));
        }
    }
    Ok(out)
}

/// A priority change and its consequences: the escalation's SLA deadline follows the new
/// priority; the victim's first-response promise moves earlier when the priority rises and never
/// later (a promise once made is kept).
pub fn priority_change(
    settings: &ReportSettings,
    r: &crate::storage::ReportRecord,
    to: Priority,
    fired_rules: Option<String>,
    internal_note: String,
    actor_id: Option<String>,
    at: UnixTime,
) -> PriorityChange {
    let first_response_by = r.first_response_by.min(r.created_at + settings.sla(to));
    let moved = first_response_by < r.first_response_by;
    let (public_en, public_zh) = if moved {
        (
            format!(
                "We raised the priority of your report; first response now expected by {}.",
                rfc3339(first_response_by)
            ),
            format!(
                "我们提高了您举报的优先级，现预计在 {} 前首次回复。",
                rfc3339(first_response_by)
            ),
        )
    } else {
        (String::new(), String::new())
    };
    PriorityChange {
        report_id: r.id.clone(),
        from: r.priority.clone(),
        to: to.as_str().into(),
        to_rank: match to {
            Priority::P1 => 1,
            Priority::P2 => 2,
            Priority::P3 => 3,
        },
        first_response_by,
        escalation_sla_secs: settings.sla(to),
        fired_rules,
        event: ReportEventRecord {
            report_id: r.id.clone(),
            seq: 0,
            at,
            kind: "priority_changed".into(),
            public_en,
            public_zh,
            internal_note: Some(format!(
                "priority {} -> {}: {internal_note}",
                r.priority,
                to.as_str()
            )),
            actor_id,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reporter_keys_ignore_case_and_padding() {
        assert_eq!(
            reporter_key(" Alice@Example.com "),
            reporter_key("alice@example.com")
        );
        assert_ne!(
            reporter_key("alice@example.com"),
            reporter_key("bob@example.com")
        );
    }
}
