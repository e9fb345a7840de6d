//! Contact policies: what the operator never does. "We never contact users on WhatsApp", "we
//! never call first", "we never ask for a seed phrase". A scam that breaks a published policy is
//! recognisable by anyone, without a token: the check answer and the verify page quote the policy
//! instead of a bare "not official".

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ChannelKind;
use crate::storage::{PolicyRecord, StorageError, Store};
use crate::types::{now, Locale};

pub const MAX_STATEMENT_CHARS: usize = 500;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PolicyRule {
    /// The operator never uses this kind of channel at all.
    NeverUsed,
    /// The operator never makes the first contact on this kind of channel (never calls first,
    /// never sends the first Telegram message).
    NeverInitiates,
    /// The operator never asks for this (a seed phrase, remote-desktop access, a fee).
    NeverAsks,
}

impl PolicyRule {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyRule::NeverUsed => "never_used",
            PolicyRule::NeverInitiates => "never_initiates",
            PolicyRule::NeverAsks => "never_asks",
        }
    }

    pub fn parse(s: &str) -> Option<PolicyRule> {
        [
            PolicyRule::NeverUsed,
            PolicyRule::NeverInitiates,
            PolicyRule::NeverAsks,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// What a `never_asks` policy says is never asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AskSubject {
    SeedPhrase,
    PrivateKey,
    Password,
    VerificationCode,
    RemoteAccess,
    Fee,
    TransferToSafeWallet,
}

impl AskSubject {
    pub const ALL: [AskSubject; 7] = [
        AskSubject::SeedPhrase,
        AskSubject::PrivateKey,
        AskSubject::Password,
        AskSubject::VerificationCode,
        AskSubject::RemoteAccess,
        AskSubject::Fee,
        AskSubject::TransferToSafeWallet,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AskSubject::SeedPhrase => "seed_phrase",
            AskSubject::PrivateKey => "private_key",
            AskSubject::Password => "password",
            AskSubject::VerificationCode => "verification_code",
            AskSubject::RemoteAccess => "remote_access",
            AskSubject::Fee => "fee",
            AskSubject::TransferToSafeWallet => "transfer_to_safe_wallet",
        }
    }

    pub fn parse(s: &str) -> Option<AskSubject> {
        AskSubject::ALL.into_iter().find(|a| a.as_str() == s)
    }

    fn words(self) -> (&'static str, &'static str) {
        match self {
            AskSubject::SeedPhrase => ("your seed phrase (recovery words)", "您的助记词"),
            AskSubject::PrivateKey => ("your private keys", "您的私钥"),
            AskSubject::Password => ("your password", "您的密码"),
            AskSubject::VerificationCode => (
                "your 2FA or SMS verification codes",
                "您的二次验证码或短信验证码",
            ),
            AskSubject::RemoteAccess => (
                "remote access to your device (AnyDesk, TeamViewer, screen sharing)",
                "远程控制您的设备（AnyDesk、TeamViewer、屏幕共享）",
            ),
            AskSubject::Fee => (
                "a fee to unfreeze, recover or verify your account",
                "支付解冻、找回或验证账户的费用",
            ),
            AskSubject::TransferToSafeWallet => (
                "a transfer of your funds to a \"safe\" wallet",
                "将资金转入所谓的\u{201c}安全钱包\u{201d}",
            ),
        }
    }
}

/// A published policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub id: String,
    pub rule: PolicyRule,
    pub channel_kind: Option<ChannelKind>,
    pub subject: Option<AskSubject>,
    pub statement_en: String,
    pub statement_zh: String,
    pub created_at: i64,
}

impl Policy {
    pub fn statement(&self, l: Locale) -> &str {
        match l {
            Locale::ZhCn => &self.statement_zh,
            Locale::En => &self.statement_en,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// 400
    #[error("{0}")]
    Invalid(&'static str),
    /// 409
    #[error("this policy already exists")]
    Exists,
    /// 404
    #[error("no such policy")]
    NotFound,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Who "we" are in policy statements, per language (`TRUSTDESK_OPERATOR_NAME`).
#[derive(Clone, Debug)]
pub struct Operator {
    pub en: String,
    pub zh: String,
}

/// The standard wording, so an admin only has to pick the rule.
pub fn default_statements(
    rule: PolicyRule,
    kind: Option<ChannelKind>,
    subject: Option<AskSubject>,
    op: &Operator,
) -> (String, String) {
    let (en_op, zh_op) = (&op.en, &op.zh);
    let (en_kind, zh_kind) = kind
        .map(|k| (k.display_name(Locale::En), k.display_name(Locale::ZhCn)))
        .unwrap_or(("", ""));
    match rule {
        PolicyRule::NeverUsed => (
            format!("{en_op} never contacts users on {en_kind}: anyone there claiming to be its support is a scammer."),
            format!("{zh_op}从不通过{zh_kind}联系用户：在{zh_kind}上自称其客服的都是骗子。"),
        ),
        PolicyRule::NeverInitiates => (
            format!("{en_op} never contacts you first on {en_kind}: if \"support\" reached out to you there first, it is a scammer."),
            format!("{zh_op}从不主动通过{zh_kind}联系您：如果\u{201c}客服\u{201d}先在{zh_kind}上找您，那就是骗子。"),
        ),
        PolicyRule::NeverAsks => {
            let (en, zh) = subject.map(AskSubject::words).unwrap_or(("", ""));
            (
                format!("{en_op} never asks for {en}. Anyone who does is a scammer."),
                format!("{zh_op}绝不会索要{zh}。任何这样做的人都是骗子。"),
            )
        }
    }
}

fn from_record(r: PolicyRecord) -> Option<Policy> {
    Some(Policy {
        rule: PolicyRule::parse(&r.rule)?,
        channel_kind: match r.channel_kind {
            Some(k) => Some(ChannelKind::parse(&k)?),
            None => None,
        },
        subject: match r.subject {
            Some(s) => Some(AskSubject::parse(&s)?),
            None => None,
        },
        id: r.id,
        statement_en: r.statement_en,
        statement_zh: r.statement_zh,
        created_at: r.created_at,
    })
}

pub async fn list(store: &dyn Store) -> Result<Vec<Policy>, StorageError> {
    Ok(store
        .list_policies()
        .await?
        .into_iter()
        .filter_map(from_record)
        .collect())
}

/// What an admin asks for; statements default to the standard wording.
pub struct NewPolicy {
    pub rule: PolicyRule,
    pub channel_kind: Option<ChannelKind>,
    pub subject: Option<AskSubject>,
    pub statement_en: Option<String>,
    pub statement_zh: Option<String>,
}

fn clean_statement(s: Option<&str>) -> Result<Option<String>, PolicyError> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) if s.chars().count() > MAX_STATEMENT_CHARS || s.chars().any(char::is_control) => {
            Err(PolicyError::Invalid(
                "a statement is at most 500 printable characters",
            ))
        }
        Some(s) => Ok(Some(s.to_owned())),
    }
}

pub async fn add(
    store: &dyn Store,
    actor_id: &str,
    operator: &Operator,
    p: NewPolicy,
) -> Result<Policy, PolicyError> {
    match (p.rule, p.channel_kind, p.subject) {
        (PolicyRule::NeverUsed | PolicyRule::NeverInitiates, Some(_), None) => {}
        (PolicyRule::NeverAsks, None, Some(_)) => {}
        (PolicyRule::NeverAsks, ..) => {
            return Err(PolicyError::Invalid(
                "never_asks takes a subject and no channel_kind",
            ))
        }
        _ => {
            return Err(PolicyError::Invalid(
                "never_used and never_initiates take a channel_kind and no subject",
            ))
        }
    }
    let (def_en, def_zh) = default_statements(p.rule, p.channel_kind, p.subject, operator);
    let rec = PolicyRecord {
        id: uuid::Uuid::new_v4().to_string(),
        rule: p.rule.as_str().into(),
        channel_kind: p.channel_kind.map(|k| k.as_str().into()),
        subject: p.subject.map(|s| s.as_str().into()),
        statement_en: clean_statement(p.statement_en.as_deref())?.unwrap_or(def_en),
        statement_zh: clean_statement(p.statement_zh.as_deref())?.unwrap_or(def_zh),
        created_at: now(),
        created_by: actor_id.into(),
        target: format!(
            "{}:{}",
            p.rule.as_str(),
            p.channel_kind
                .map(ChannelKind::as_str)
                .or(p.subject.map(AskSubject::as_str))
                .unwrap_or("")
        ),
    };
    let audit = crate::audit::draft(
        Some(actor_id),
        "policy.add",
        &rec.id,
        serde_json::json!({"rule": rec.rule, "channel_kind": rec.channel_kind, "subject": rec.subject,
            "statement_en": rec.statement_en, "statement_zh": rec.statement_zh}),
    );
    match store
        .insert_policy(&rec, &audit, crate::audit::hash_entry)
        .await
    {
        Ok(()) => {}
        Err(StorageError::Conflict { .. }) => return Err(PolicyError::Exists),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(policy.id = %rec.id, policy.rule = %rec.rule, "Published contact policy");
    from_record(rec).ok_or(PolicyError::Invalid("unreadable policy"))
}

pub async fn delete(store: &dyn Store, actor_id: &str, id: &str) -> Result<(), PolicyError> {
    let audit = crate::audit::draft(Some(actor_id), "policy.remove", id, serde_json::json!({}));
    if store
        .delete_policy(id, &audit, crate::audit::hash_entry)
        .await?
    {
        Ok(())
    } else {
        Err(PolicyError::NotFound)
    }
}

/// The published policies, held in memory so that verify answers (the hot path) and channel
/// checks quote them without a database round-trip. Refreshed on an interval (changes made on
/// other instances) and at once on the instance that made a change.
///
/// An `ArcSwap` rather than a lock: every verify answer reads the book, and a read costs no
/// write to memory shared between cores (a lock's reader count and an `Arc`'s count both are).
pub struct PolicyBook {
    current: arc_swap::ArcSwap<Vec<Policy>>,
}

impl PolicyBook {
    pub async fn load(store: &dyn Store) -> Result<PolicyBook, StorageError> {
        Ok(PolicyBook {
            current: arc_swap::ArcSwap::from_pointee(list(store).await?),
        })
    }

    /// The policies in force; hold the guard only for the length of one answer.
    pub fn get(&self) -> arc_swap::Guard<std::sync::Arc<Vec<Policy>>> {
        self.current.load()
    }

    pub async fn refresh(&self, store: &dyn Store) -> Result<(), StorageError> {
        self.current.store(std::sync::Arc::new(list(store).await?));
        Ok(())
    }
}

/// The policies that speak about a channel kind: `never_used` first (it settles the question),
/// then `never_initiates`.
pub fn for_kind(all: &[Policy], kind: ChannelKind) -> Vec<&Policy> {
    let mut v: Vec<&Policy> = all
        .iter()
        .filter(|p| p.channel_kind == Some(kind))
        .collect();
    v.sort_by_key(|p| p.rule != PolicyRule::NeverUsed);
    v
}

/// The `never_asks` policies: worth repeating on every non-genuine verdict.
pub fn never_asks(all: &[Policy]) -> Vec<&Policy> {
    all.iter()
        .filter(|p| p.rule == PolicyRule::NeverAsks)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_wording_names_the_channel_in_both_languages() {
        let op = Operator {
            en: "Acme".into(),
            zh: "Acme".into(),
        };
        let (en, zh) = default_statements(
            PolicyRule::NeverUsed,
            Some(ChannelKind::Whatsapp),
            None,
            &op,
        );
        assert!(en.contains("Acme never contacts users on WhatsApp"), "{en}");
        assert!(en.contains("scammer"));
        assert!(zh.contains("WhatsApp") && zh.contains("骗子"), "{zh}");
        let (en, _) = default_statements(
            PolicyRule::NeverAsks,
            None,
            Some(AskSubject::SeedPhrase),
            &op,
        );
        assert!(en.contains("never asks for your seed phrase"), "{en}");
    }
}
