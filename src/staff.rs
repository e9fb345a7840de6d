//! Staff accounts, roles and API keys.
//!
//! An API key is 256 bits from the OS RNG, shown once at creation. Only its SHA-256 is stored: a
//! key with that much entropy needs no slow hash, and lookup by digest keeps authentication to one
//! indexed query.

use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::storage::{StaffRecord, StorageError, Store};
use crate::types::{now, Role};

/// Prefix that makes Trustdesk keys recognisable to secret scanners.
const KEY_PREFIX: &str = "tdk_";
const MAX_NAME_CHARS: usize = 64;

/// An authenticated staff member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Staff {
    pub id: String,
    pub name: String,
    pub role: Role,
}

#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    /// 400: names are 1–64 printable characters.
    #[error("staff name must be 1–{MAX_NAME_CHARS} printable characters")]
    InvalidName,
    /// 409: names are unique so that audit lines are unambiguous.
    #[error("a staff member with this name already exists")]
    NameTaken,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// 401: no `Authorization: Bearer` header.
    #[error("missing API key")]
    Missing,
    /// 401: the key is unknown, malformed or its account is disabled.
    #[error("invalid API key")]
    Invalid,
    /// 403: authenticated, but the role may not do this.
    #[error("this action needs one of the roles: {0}")]
    Forbidden(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Creates a staff account and returns it with its API key (the only time the key exists).
pub async fn create(
    store: &dyn Store,
    name: &str,
    role: Role,
) -> Result<(Staff, Zeroizing<String>), StaffError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(|c| c.is_control())
    {
        return Err(StaffError::InvalidName);
    }
    let mut raw = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(raw.as_mut());
    let key = Zeroizing::new(format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.as_ref())
    ));
    let rec = StaffRecord {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.to_owned(),
        role: role.as_str().to_owned(),
        created_at: now(),
        disabled_at: None,
    };
    match store.insert_staff(&rec, &key_digest(&key)).await {
        Ok(()) => {}
        Err(StorageError::Conflict { .. }) => return Err(StaffError::NameTaken),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(staff.id = %rec.id, staff.role = %role, "Created staff account");
    crate::audit::record(
        store,
        None,
        "staff.add",
        &rec.id,
        serde_json::json!({"name": rec.name, "role": role.as_str()}),
    )
    .await?;
    Ok((
        Staff {
            id: rec.id,
            name: rec.name,
            role,
        },
        key,
    ))
}

/// Resolves a presented API key to its staff member.
pub async fn authenticate(store: &dyn Store, key: &str) -> Result<Staff, AuthError> {
    // Cheap shape check first: garbage never reaches the database.
    if !key.starts_with(KEY_PREFIX) || key.len() > 128 {
        return Err(AuthError::Invalid);
    }
    let rec = store
        .staff_by_key_hash(&key_digest(key))
        .await?
        .ok_or(AuthError::Invalid)?;
    if rec.disabled_at.is_some() {
        return Err(AuthError::Invalid);
    }
    staff_from_record(rec).ok_or(AuthError::Invalid)
}

/// Checks that `staff` holds one of `allowed`.
pub fn require(staff: &Staff, allowed: &[Role]) -> Result<(), AuthError> {
    if allowed.contains(&staff.role) {
        Ok(())
    } else {
        let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
        Err(AuthError::Forbidden(names.join(", ")))
    }
}

/// Disables a staff account (a leaver, a leaked key). Its key is refused from the next request.
pub async fn disable(store: &dyn Store, name: &str) -> Result<bool, StorageError> {
    let done = store.disable_staff(name.trim(), now()).await?;
    if done {
        tracing::warn!("Disabled a staff account");
        crate::audit::record(
            store,
            None,
            "staff.disable",
            name.trim(),
            serde_json::json!({}),
        )
        .await?;
    }
    Ok(done)
}

pub async fn list(store: &dyn Store) -> Result<Vec<Staff>, StorageError> {
    Ok(store
        .list_staff()
        .await?
        .into_iter()
        .filter_map(staff_from_record)
        .collect())
}

fn staff_from_record(rec: StaffRecord) -> Option<Staff> {
    Some(Staff {
        role: Role::parse(&rec.role)?,
        id: rec.id,
        name: rec.name,
    })
}

fn key_digest(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

/// Lower-case hex, used for digests stored as text.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// How long a console sign-in lasts.
pub const CONSOLE_SESSION_SECS: i64 = 8 * 3600;

/// A fresh console session for `staff`: the secret for the cookie (shown to the browser only).
pub async fn open_console_session(
    store: &dyn Store,
    staff: &Staff,
) -> Result<zeroize::Zeroizing<String>, StorageError> {
    use rand::RngCore;
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let secret = zeroize::Zeroizing::new(format!("tdc_{}", hex(&raw)));
    let at = crate::types::now();
    store
        .insert_console_session(
            &console_digest(&secret),
            &staff.id,
            at,
            at + CONSOLE_SESSION_SECS,
        )
        .await?;
    Ok(secret)
}

/// The staff member signed in with this cookie secret, if the session is live.
pub async fn console_staff(store: &dyn Store, secret: &str) -> Result<Option<Staff>, StorageError> {
    if !secret.starts_with("tdc_") || secret.len() > 100 {
        return Ok(None);
    }
    Ok(store
        .console_session_staff(&console_digest(secret), crate::types::now())
        .await?
        .and_then(staff_from_record))
}

pub async fn close_console_session(store: &dyn Store, secret: &str) -> Result<(), StorageError> {
    store
        .delete_console_session(&console_digest(secret), crate::types::now())
        .await
}

/// The CSRF token of a console session: derived from its secret, so it needs no storage, differs
/// per session and is useless without the (HttpOnly) cookie.
pub fn console_csrf(secret: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"trustdesk:console-csrf\0");
    h.update(secret.as_bytes());
    hex(&h.finalize())[..32].to_owned()
}

fn console_digest(secret: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"trustdesk:console-session\0");
    h.update(secret.as_bytes());
    hex(&h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_check_allows_listed_roles_only() {
        let s = Staff {
            id: "1".into(),
            name: "a".into(),
            role: Role::Agent,
        };
        assert!(require(&s, &[Role::Agent, Role::Security]).is_ok());
        assert!(matches!(
            require(&s, &[Role::Admin]),
            Err(AuthError::Forbidden(_))
        ));
    }

    #[test]
    fn key_digest_is_hex_sha256() {
        assert_eq!(
            key_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
