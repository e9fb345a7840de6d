//! The official-channel registry: which Telegram/X handles, e-mail addresses, phone numbers and
//! websites really belong to the operator, and which merely look like them.

mod handle;
mod lookalike;
pub mod policy;

pub use handle::{ChannelHandle, ChannelKind, HandleError, MAX_RAW_LEN};
pub use lookalike::{is_official_match, lookalike_of, Lookalike, LookalikeReason};

use crate::storage::{ChannelRecord, StorageError, Store};
use crate::types::now;

/// Longest label an admin may attach to a channel.
pub const MAX_LABEL_CHARS: usize = 200;

/// A registered official channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfficialChannel {
    pub id: String,
    pub handle: ChannelHandle,
    pub label: Option<String>,
    /// `None`: shared by every agent (e.g. the support e-mail). `Some`: that agent's own account.
    pub agent_id: Option<String>,
    pub created_at: i64,
}

/// The registry's answer for a value someone was contacted from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckResult {
    Official(OfficialChannel),
    /// Imitates an official channel.
    Lookalike {
        of: OfficialChannel,
        reason: LookalikeReason,
    },
    NotOfficial,
    /// Confirmed in resolved escalations: `reports` confirmed reports name this channel.
    KnownScam {
        reports: i64,
        /// Set when it also imitates an official channel.
        imitates: Option<(OfficialChannel, LookalikeReason)>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// 400
    #[error(transparent)]
    Handle(#[from] HandleError),
    /// 400
    #[error("label must be at most {MAX_LABEL_CHARS} printable characters")]
    InvalidLabel,
    /// 409
    #[error("this channel is already registered")]
    AlreadyRegistered,
    /// 404
    #[error("no such channel")]
    NotFound,
    /// 400
    #[error("agent_id does not name an agent")]
    UnknownAgent,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Registers an official channel. The value is normalised first, so `@Acme_Support` and
/// `https://t.me/acme_support` are the same registration.
pub async fn register(
    store: &dyn Store,
    actor_id: &str,
    handle: ChannelHandle,
    label: Option<&str>,
    agent_id: Option<&str>,
) -> Result<OfficialChannel, ChannelError> {
    let label = match label.map(str::trim).filter(|l| !l.is_empty()) {
        Some(l) if l.chars().count() > MAX_LABEL_CHARS || l.chars().any(char::is_control) => {
            return Err(ChannelError::InvalidLabel)
        }
        other => other.map(str::to_owned),
    };
    if let Some(a) = agent_id {
        let is_agent = store
            .staff_by_id(a)
            .await?
            .is_some_and(|s| s.role == crate::types::Role::Agent.as_str());
        if !is_agent {
            return Err(ChannelError::UnknownAgent);
        }
    }
    let rec = ChannelRecord {
        id: uuid::Uuid::new_v4().to_string(),
        kind: handle.kind().as_str().to_owned(),
        value: handle.as_str().to_owned(),
        label,
        agent_id: agent_id.map(str::to_owned),
        created_at: now(),
        created_by: actor_id.to_owned(),
    };
    match store.insert_channel(&rec).await {
        Ok(()) => {}
        Err(StorageError::Conflict { .. }) => return Err(ChannelError::AlreadyRegistered),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(channel.id = %rec.id, channel.kind = %rec.kind, "Registered official channel");
    crate::audit::record(
        store,
        Some(actor_id),
        "channel.add",
        &rec.id,
        serde_json::json!({"kind": rec.kind, "value": rec.value, "agent_id": rec.agent_id}),
    )
    .await?;
    Ok(OfficialChannel {
        id: rec.id,
        handle,
        label: rec.label,
        agent_id: rec.agent_id,
        created_at: rec.created_at,
    })
}

/// Every registered channel. The registry is small (an operator's own accounts), so lookups load
/// it whole and compare in memory; that is also what lookalike detection needs.
pub async fn list(store: &dyn Store) -> Result<Vec<OfficialChannel>, StorageError> {
    Ok(store
        .list_channels()
        .await?
        .into_iter()
        .filter_map(|r| {
            let kind = ChannelKind::parse(&r.kind)?;
            Some(OfficialChannel {
                handle: ChannelHandle::from_normalised(kind, &r.value).ok()?,
                id: r.id,
                label: r.label,
                agent_id: r.agent_id,
                created_at: r.created_at,
            })
        })
        .collect())
}

pub async fn delete(store: &dyn Store, actor_id: &str, id: &str) -> Result<(), ChannelError> {
    if store.delete_channel(id).await? {
        tracing::info!(channel.id = %id, "Removed official channel");
        crate::audit::record(
            store,
            Some(actor_id),
            "channel.remove",
            id,
            serde_json::json!({}),
        )
        .await?;
        Ok(())
    } else {
        Err(ChannelError::NotFound)
    }
}

/// Is `handle` official, a lookalike of an official channel, or neither?
/// A channel confirmed as a scammer's in resolved escalations answers `KnownScam`, so the next
/// person who checks it is warned before they lose money.
pub async fn check(store: &dyn Store, handle: &ChannelHandle) -> Result<CheckResult, StorageError> {
    let all = list(store).await?;
    let result = classify(handle, &all);
    if matches!(result, CheckResult::Official(_)) {
        return Ok(result);
    }
    let confirmed = store
        .known_scam_count(handle.kind().as_str(), handle.as_str())
        .await?;
    if confirmed == 0 {
        return Ok(result);
    }
    Ok(CheckResult::KnownScam {
        reports: confirmed,
        imitates: match result {
            CheckResult::Lookalike { of, reason } => Some((of, reason)),
            _ => None,
        },
    })
}

/// The pure part of [`check`].
pub fn classify(handle: &ChannelHandle, all: &[OfficialChannel]) -> CheckResult {
    if let Some(c) = all.iter().find(|c| is_official_match(handle, &c.handle)) {
        return CheckResult::Official(c.clone());
    }
    let handles: Vec<ChannelHandle> = all.iter().map(|c| c.handle.clone()).collect();
    match lookalike_of(handle, &handles) {
        Some(l) => match handles.iter().position(|h| std::ptr::eq(h, l.of)) {
            Some(i) => CheckResult::Lookalike {
                of: all[i].clone(),
                reason: l.reason,
            },
            None => CheckResult::NotOfficial,
        },
        None => CheckResult::NotOfficial,
    }
}

/// Whether `agent_id` may use `handle` for a support session: the channel must be registered
/// exactly (no subdomain leeway) and be either shared or that agent's own.
pub async fn official_for_agent(
    store: &dyn Store,
    handle: &ChannelHandle,
    agent_id: &str,
) -> Result<bool, StorageError> {
    Ok(list(store)
        .await?
        .iter()
        .any(|c| &c.handle == handle && c.agent_id.as_deref().is_none_or(|a| a == agent_id)))
}
