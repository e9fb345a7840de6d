//! The audit trail: an append-only, hash-chained record of every staff action and state change.
//!
//! Entry `n` stores `prev_hash` (the hash of entry `n-1`; 64 zeros for the first) and
//! `hash = SHA-256(canonical JSON of [seq, at, actor_id, action, subject, details, prev_hash])`.
//! Editing any stored field, deleting a row in the middle, or re-ordering breaks the chain at that
//! point and [`verify`] names the first broken entry. The hash is not keyed: someone with write
//! access to the database can rewrite an entry *and every later hash*, or cut entries off the end,
//! and the chain still verifies. Against that, keep a copy of the head (`trustdesk audit verify`
//! prints seq and hash) outside the database and compare.

use sha2::{Digest, Sha256};

use crate::storage::{AuditDraft, AuditRecord, StorageError, Store};
use crate::types::now;

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The chaining rule. Also handed to storage so entries written inside other transactions are
/// chained the same way.
pub fn hash_entry(seq: i64, prev_hash: &str, d: &AuditDraft) -> String {
    let canonical =
        serde_json::json!([seq, d.at, d.actor_id, d.action, d.subject, d.details, prev_hash]);
    let bytes = serde_json::to_vec(&canonical).unwrap_or_default();
    crate::staff::hex(&Sha256::digest(&bytes))
}

/// Builds an entry for "now".
pub fn draft(
    actor_id: Option<&str>,
    action: &str,
    subject: &str,
    details: serde_json::Value,
) -> AuditDraft {
    AuditDraft {
        at: now(),
        actor_id: actor_id.map(str::to_owned),
        action: action.to_owned(),
        subject: subject.to_owned(),
        details: details.to_string(),
    }
}

/// Appends an entry on its own (for actions whose own write is not a storage transaction, such
/// as key rotation). Retries when a concurrent append took the same sequence number.
pub async fn record(
    store: &dyn Store,
    actor_id: Option<&str>,
    action: &str,
    subject: &str,
    details: serde_json::Value,
) -> Result<i64, StorageError> {
    let d = draft(actor_id, action, subject, details);
    let mut attempt = 0;
    loop {
        match store.append_audit(&d, hash_entry).await {
            Err(StorageError::Conflict { .. }) if attempt < 5 => attempt += 1,
            other => return other,
        }
    }
}

/// Result of walking the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainCheck {
    pub entries: u64,
    pub head_seq: i64,
    pub head_hash: String,
    /// The first entry whose link or content does not verify, and why.
    pub first_break: Option<(i64, &'static str)>,
}

/// Checks one entry against its predecessor's state; returns why it is broken, if it is.
pub fn check_link(expected_seq: i64, prev_hash: &str, r: &AuditRecord) -> Option<&'static str> {
    if r.seq != expected_seq {
        return Some("sequence gap: an entry was deleted or inserted");
    }
    if r.prev_hash != prev_hash {
        return Some("prev_hash does not match the previous entry");
    }
    let d = AuditDraft {
        at: r.at,
        actor_id: r.actor_id.clone(),
        action: r.action.clone(),
        subject: r.subject.clone(),
        details: r.details.clone(),
    };
    if hash_entry(r.seq, &r.prev_hash, &d) != r.hash {
        return Some("content does not match its hash: the entry was edited");
    }
    None
}

/// Walks the whole chain in pages.
pub async fn verify(store: &dyn Store) -> Result<ChainCheck, StorageError> {
    let mut check = ChainCheck {
        entries: 0,
        head_seq: 0,
        head_hash: GENESIS.to_owned(),
        first_break: None,
    };
    let mut after = 0;
    loop {
        let page = store.audit_page(after, 1000).await?;
        if page.is_empty() {
            return Ok(check);
        }
        for r in &page {
            if check.first_break.is_none() {
                if let Some(why) = check_link(check.head_seq + 1, &check.head_hash, r) {
                    check.first_break = Some((r.seq, why));
                }
            }
            check.entries += 1;
            check.head_seq = r.seq;
            check.head_hash = r.hash.clone();
            after = r.seq;
        }
    }
}
