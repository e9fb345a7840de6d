//! Support-session tokens: issue, verify, revoke.
//!
//! A session token is PASETO `v4.public` (Ed25519) with footer `{"kid":"k4.pid.…"}`; see
//! `docs/tokens.md`. Verification is a pure function of the token, the key set and the clock
//! ([`check_token`]); the service adds the revocation check and session codes ([`verify`]).
//! No algorithm negotiation exists: anything but `v4.public.` is refused before any key is touched.

pub mod claims;
pub mod input;
pub mod keyring;
pub mod live;
pub mod paserk;
pub mod paseto;
pub mod verifier;

use std::borrow::Cow;
use std::sync::Arc;

use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::channels::{ChannelHandle, ChannelKind};
use crate::staff::Staff;
use crate::storage::{SessionRecord, SessionView, StorageError, Store};
use crate::types::{now, rfc3339, Role, UnixTime};
pub use claims::{SessionClaims, AUDIENCE, IMPLICIT_ASSERTION};
pub use keyring::{KeyLookup, KeySet, KeyState, Keyring};
pub use live::LiveSessions;
pub use verifier::Verifier;

/// Settings the token functions need from the service configuration.
#[derive(Clone, Debug)]
pub struct TokenSettings {
    pub issuer: String,
    pub default_ttl_secs: u32,
    pub max_ttl_secs: u32,
    pub clock_skew_secs: u32,
}

/// What a verification concluded. Everything but `Genuine` means "do not trust this contact".
///
/// The session is shared (`Arc`) with the signature cache, so a verdict costs no copy of its
/// strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Genuine(Arc<SessionInfo>),
    /// Bad signature, unknown or retired key, or a session code no session has.
    Forged(ForgeryReason),
    Expired(Arc<SessionInfo>),
    NotYetValid(Arc<SessionInfo>),
    Revoked(Arc<SessionInfo>),
    /// Not a token or code at all, or a token that is structurally broken.
    Malformed(&'static str),
}

impl Verdict {
    pub fn kind(&self) -> &'static str {
        match self {
            Verdict::Genuine(_) => "genuine",
            Verdict::Forged(_) => "forged",
            Verdict::Expired(_) => "expired",
            Verdict::NotYetValid(_) => "not_yet_valid",
            Verdict::Revoked(_) => "revoked",
            Verdict::Malformed(_) => "malformed",
        }
    }

    pub fn session(&self) -> Option<&SessionInfo> {
        match self {
            Verdict::Genuine(s)
            | Verdict::Expired(s)
            | Verdict::NotYetValid(s)
            | Verdict::Revoked(s) => Some(s),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ForgeryReason {
    /// The footer names a key this service never had, or one that has retired.
    UnknownKey,
    /// The signature does not match the token's content under the named key.
    BadSignature,
    /// A well-formed session code that belongs to no session.
    UnknownCode,
    /// Validly signed, but this service never issued (or no longer knows) that session: the
    /// signing key may be compromised, or the token predates a database restore.
    UnknownSession,
}

/// What a genuine signature (or a session code) tells about the session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    pub session_id: String,
    pub agent_id: String,
    pub agent_name: String,
    pub channel_kind: ChannelKind,
    pub channel_handle: String,
    pub issued_at: UnixTime,
    pub not_before: UnixTime,
    pub expires_at: UnixTime,
    pub user_ref_last4: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// 400
    #[error("ttl_secs must be between 60 and {max}")]
    InvalidTtl { max: u32 },
    /// 400
    #[error("user_ref must be 6–128 printable characters")]
    InvalidUserRef,
    /// 404
    #[error("no such session")]
    SessionNotFound,
    /// 403: only the issuing agent or security staff may revoke.
    #[error("only the issuing agent or security staff may revoke this session")]
    NotYourSession,
    /// 500: keys unusable.
    #[error(transparent)]
    Key(#[from] keyring::KeyError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A freshly issued session: what the agent hands to the user.
#[derive(Clone, Debug)]
pub struct IssuedSession {
    pub token: String,
    pub code: String,
    pub info: SessionInfo,
    pub kid: String,
}

/// Signs a session for `agent` on `channel`. The caller has checked that the channel is official
/// for this agent.
#[allow(clippy::too_many_arguments)]
pub async fn issue_session(
    settings: &TokenSettings,
    keys: &Keyring,
    store: &dyn Store,
    live: &LiveSessions,
    agent: &Staff,
    channel: &ChannelHandle,
    user_ref: Option<&str>,
    ttl_secs: Option<u32>,
) -> Result<IssuedSession, TokenError> {
    let ttl = ttl_secs.unwrap_or(settings.default_ttl_secs);
    if !(60..=settings.max_ttl_secs).contains(&ttl) {
        return Err(TokenError::InvalidTtl {
            max: settings.max_ttl_secs,
        });
    }
    let user_ref_last4 = match user_ref.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(r) => {
            let n = r.chars().count();
            if !(6..=128).contains(&n) || r.chars().any(char::is_control) {
                return Err(TokenError::InvalidUserRef);
            }
            Some(r.chars().skip(n - 4).collect::<String>())
        }
    };
    let set = keys.current();
    let iat = now();
    let info = SessionInfo {
        session_id: uuid::Uuid::new_v4().to_string(),
        agent_id: agent.id.clone(),
        agent_name: agent.name.clone(),
        channel_kind: channel.kind(),
        channel_handle: channel.as_str().to_owned(),
        issued_at: iat,
        not_before: iat,
        expires_at: iat + i64::from(ttl),
        user_ref_last4,
    };
    let claims = SessionClaims {
        iss: settings.issuer.clone(),
        aud: AUDIENCE.to_owned(),
        sub: info.agent_id.clone(),
        jti: info.session_id.clone(),
        iat: rfc3339(info.issued_at),
        nbf: rfc3339(info.not_before),
        exp: rfc3339(info.expires_at),
        agent_name: info.agent_name.clone(),
        channel_kind: info.channel_kind.as_str().to_owned(),
        channel_handle: info.channel_handle.clone(),
        user_ref_last4: info.user_ref_last4.clone(),
    };
    let payload = serde_json::to_vec(&claims).unwrap_or_default();
    let footer = footer_for(set.active_kid());
    let token = paseto::sign(
        set.signing_key(),
        &payload,
        footer.as_bytes(),
        IMPLICIT_ASSERTION,
    );

    // A 50-bit code collides essentially never; the unique index makes sure, and we retry.
    let mut attempt = 0;
    loop {
        let code = new_code();
        let rec = SessionRecord {
            jti: info.session_id.clone(),
            agent_id: info.agent_id.clone(),
            kid: set.active_kid().to_owned(),
            channel_kind: info.channel_kind.as_str().to_owned(),
            channel_value: info.channel_handle.clone(),
            user_ref_last4: info.user_ref_last4.clone(),
            code_hash: code_digest(&code),
            issued_at: info.issued_at,
            expires_at: info.expires_at,
            revoked_at: None,
            revoked_by: None,
        };
        match store.insert_session(&rec).await {
            Ok(()) => {
                live.note_issued(&rec);
                tracing::info!(session.id = %info.session_id, agent.id = %agent.id, "Issued support session");
                crate::audit::record(
                    store,
                    Some(&agent.id),
                    "session.issue",
                    &info.session_id,
                    serde_json::json!({"channel_kind": info.channel_kind.as_str(), "channel": info.channel_handle, "expires_at": info.expires_at, "kid": set.active_kid()}),
                )
                .await?;
                return Ok(IssuedSession {
                    token,
                    code,
                    info,
                    kid: set.active_kid().to_owned(),
                });
            }
            Err(StorageError::Conflict { .. }) if attempt < 3 => attempt += 1,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Revokes a session. The issuing agent may revoke its own; security and admin may revoke any.
/// Revoking twice is not an error. Returns the session with its revocation time.
pub async fn revoke(
    store: &dyn Store,
    live: &LiveSessions,
    actor: &Staff,
    session_id: &str,
) -> Result<(SessionInfo, UnixTime), TokenError> {
    let view = store
        .session_by_jti(session_id)
        .await?
        .ok_or(TokenError::SessionNotFound)?;
    let privileged = matches!(actor.role, Role::Security | Role::Admin);
    if !privileged && view.session.agent_id != actor.id {
        return Err(TokenError::NotYourSession);
    }
    let at = now();
    let revoked_at = if store.revoke_session(session_id, &actor.id, at).await? {
        live.note_revoked(session_id, at);
        tracing::info!(session.id = %session_id, staff.id = %actor.id, "Revoked support session");
        crate::audit::record(
            store,
            Some(&actor.id),
            "session.revoke",
            session_id,
            serde_json::json!({}),
        )
        .await?;
        at
    } else {
        view.session.revoked_at.unwrap_or(at)
    };
    let info = info_from_view(&view).ok_or(TokenError::SessionNotFound)?;
    Ok((info, revoked_at))
}

/// The agent's sessions that have not expired yet.
pub async fn active_sessions(
    store: &dyn Store,
    agent: &Staff,
) -> Result<Vec<(SessionInfo, Option<UnixTime>)>, TokenError> {
    Ok(store
        .active_sessions_for_agent(&agent.id, now())
        .await?
        .iter()
        .filter_map(|v| Some((info_from_view(v)?, v.session.revoked_at)))
        .collect())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Footer {
    #[serde(rename = "kid")]
    _kid: String,
}

/// The exact footer bytes we sign. Verification requires the presented footer to be byte-for-byte
/// this canonical form, so a token cannot carry extra footer fields.
pub fn footer_for(kid: &str) -> String {
    format!(r#"{{"kid":"{kid}"}}"#)
}

/// Pure verification of a token string: signature, key, claims and time, but not revocation.
/// Usable offline with any [`KeyLookup`], e.g. the published key set.
pub fn check_token(
    keys: &dyn KeyLookup,
    issuer: &str,
    skew_secs: u32,
    token: &str,
    at: UnixTime,
) -> Verdict {
    match check_signature(keys, issuer, token, at) {
        Ok(v) => time_verdict(v.info, at, skew_secs),
        Err(r) => r.into(),
    }
}

/// Why a token proves nothing: the verdicts that carry no session. Small, so the hot path passes
/// it around by value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejected {
    Forged(ForgeryReason),
    Malformed(&'static str),
}

impl From<Rejected> for Verdict {
    fn from(r: Rejected) -> Verdict {
        match r {
            Rejected::Forged(f) => Verdict::Forged(f),
            Rejected::Malformed(m) => Verdict::Malformed(m),
        }
    }
}

/// What a valid signature proved about a token: the part of verification that never changes for
/// the same token bytes, and so the part the signature cache keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedSession {
    /// The key that signed it: still checked on every use, because keys retire.
    pub kid: String,
    pub info: Arc<SessionInfo>,
}

/// The lean verification path: split and base64-decode into a stack buffer laid out as the PAE,
/// read the kid from the footer without a JSON parser, one Ed25519 verify, then the claims with
/// borrowed deserialisation. Time and revocation are the caller's.
pub fn check_signature(
    keys: &dyn KeyLookup,
    issuer: &str,
    token: &str,
    at: UnixTime,
) -> Result<SignedSession, Rejected> {
    let mut stack = [0u8; paseto::STACK_BUFFER];
    let mut heap = Vec::new();
    let needed = paseto::buffer_len(token, IMPLICIT_ASSERTION.len());
    let buf: &mut [u8] = if needed <= stack.len() {
        &mut stack
    } else {
        heap.resize(needed, 0);
        &mut heap
    };
    let decoded = paseto::decode(token, IMPLICIT_ASSERTION, buf).map_err(decode_verdict)?;
    let kid = kid_of(decoded.footer)?;
    let key = keys
        .key_for(kid, at)
        .ok_or(Rejected::Forged(ForgeryReason::UnknownKey))?;
    decoded
        .verify(key)
        .map_err(|_| Rejected::Forged(ForgeryReason::BadSignature))?;
    let info = Arc::new(info_from_message(decoded.message, issuer)?);
    Ok(SignedSession {
        kid: kid.to_owned(),
        info,
    })
}

/// [`check_signature`] for many tokens at once, one result per token in order. Signatures whose
/// key and framing check out are verified together with Ed25519 batch verification (about half
/// the cost per signature at 64); if the batch fails, each is verified alone so that one forgery
/// spoils no other token's verdict.
///
/// Batch verification accepts what [`ed25519_dalek::VerifyingKey::verify`] accepts for keys of
/// full order, which ours always are (weak keys are refused when parsed).
pub fn check_signatures(
    keys: &dyn KeyLookup,
    issuer: &str,
    tokens: &[&str],
    at: UnixTime,
) -> Vec<Result<SignedSession, Rejected>> {
    let mut bufs: Vec<Vec<u8>> = tokens
        .iter()
        .map(|t| vec![0u8; paseto::buffer_len(t, IMPLICIT_ASSERTION.len())])
        .collect();
    let mut out: Vec<Option<Result<SignedSession, Rejected>>> =
        (0..tokens.len()).map(|_| None).collect();
    let mut candidates = Vec::with_capacity(tokens.len());
    for (i, (token, buf)) in tokens.iter().zip(bufs.iter_mut()).enumerate() {
        let framed = paseto::decode(token, IMPLICIT_ASSERTION, buf)
            .map_err(decode_verdict)
            .and_then(|d| {
                let kid = kid_of(d.footer)?;
                let key = keys
                    .key_for(kid, at)
                    .ok_or(Rejected::Forged(ForgeryReason::UnknownKey))?;
                Ok((d, kid, *key))
            });
        match framed {
            Ok(c) => candidates.push((i, c)),
            Err(v) => out[i] = Some(Err(v)),
        }
    }
    // Batch verification decodes R without insisting on its canonical encoding, which the single
    // check does: a batch holding a non-canonical R goes one by one. (A torsion component in R is
    // the other difference; only the private key's holder can make such a signature.)
    let all_valid = candidates.len() > 1
        && candidates
            .iter()
            .all(|(_, (d, _, _))| canonical_r(&d.signature))
        && {
            let msgs: Vec<&[u8]> = candidates.iter().map(|(_, (d, _, _))| d.pae).collect();
            let sigs: Vec<ed25519_dalek::Signature> = candidates
                .iter()
                .map(|(_, (d, _, _))| d.signature)
                .collect();
            let vks: Vec<ed25519_dalek::VerifyingKey> =
                candidates.iter().map(|(_, (_, _, k))| *k).collect();
            ed25519_dalek::verify_batch(&msgs, &sigs, &vks).is_ok()
        };
    for (i, (d, kid, key)) in candidates {
        out[i] = Some(if all_valid || d.verify(&key).is_ok() {
            info_from_message(d.message, issuer).map(|info| SignedSession {
                kid: kid.to_owned(),
                info: Arc::new(info),
            })
        } else {
            Err(Rejected::Forged(ForgeryReason::BadSignature))
        });
    }
    out.into_iter()
        .map(|r| {
            r.unwrap_or(Err(Rejected::Malformed(
                "the token is damaged or incomplete",
            )))
        })
        .collect()
}

/// Whether the signature's R is a canonically encoded field element (y < 2^255 - 19).
fn canonical_r(sig: &ed25519_dalek::Signature) -> bool {
    let r = sig.r_bytes();
    // Non-canonical encodings are exactly y in [p, 2^255): 0xED..=0xFF, then 30 × 0xFF, then 0x7F
    // (ignoring the sign bit).
    !(r[0] >= 0xED && r[1..31].iter().all(|&b| b == 0xFF) && r[31] & 0x7F == 0x7F)
}

/// Verdict for a token that cannot even be taken apart.
fn decode_verdict(e: paseto::PasetoError) -> Rejected {
    match e {
        paseto::PasetoError::WrongHeader => {
            Rejected::Malformed("only v4.public session tokens are accepted")
        }
        _ => Rejected::Malformed("the token is damaged or incomplete"),
    }
}

/// The kid from a footer in the one canonical form we sign (see [`footer_for`]). Anything else
/// is refused before a key is looked up, so a token cannot carry extra, unauthenticated-looking
/// footer fields.
fn kid_of(footer: &[u8]) -> Result<&str, Rejected> {
    let kid = footer
        .strip_prefix(br#"{"kid":""#)
        .and_then(|f| f.strip_suffix(br#""}"#))
        .filter(|k| !k.is_empty() && !k.iter().any(|&b| b == b'"' || b == b'\\' || b < 0x20))
        .and_then(|k| std::str::from_utf8(k).ok());
    match kid {
        Some(kid) => Ok(kid),
        None if serde_json::from_slice::<Footer>(footer).is_ok() => Err(Rejected::Malformed(
            "the token's footer is not in canonical form",
        )),
        None => Err(Rejected::Malformed("the token has no key id")),
    }
}

/// Who an *unverified* token claims to be: agent name and channel, read without checking the
/// signature. Only for describing a forgery ("it claimed to be agent Alice on @acme_support"),
/// never for deciding anything. `None` for anything that is not a readable v4.public token.
pub fn claimed_identity(token: &str) -> Option<(String, ChannelKind, String)> {
    #[derive(serde::Deserialize)]
    struct Claimed<'a> {
        #[serde(borrow)]
        agent_name: Cow<'a, str>,
        #[serde(borrow)]
        channel_kind: Cow<'a, str>,
        #[serde(borrow)]
        channel_handle: Cow<'a, str>,
    }
    if token.len() > paseto::MAX_TOKEN_LEN {
        return None;
    }
    let mut buf = vec![0u8; paseto::buffer_len(token, 0)];
    let d = paseto::decode(token, &[], &mut buf).ok()?;
    let c: Claimed<'_> = serde_json::from_slice(d.message).ok()?;
    // The same bound a report puts on an agent name, so a prefill always posts back.
    let printable = |s: &str| s.chars().count() <= 100 && !s.chars().any(char::is_control);
    if !printable(&c.agent_name) || !printable(&c.channel_handle) {
        return None;
    }
    Some((
        c.agent_name.into_owned(),
        ChannelKind::parse(&c.channel_kind)?,
        c.channel_handle.into_owned(),
    ))
}

/// Claims from a verified message, held to this verifier's issuer and audience.
fn info_from_message(message: &[u8], issuer: &str) -> Result<SessionInfo, Rejected> {
    const UNREADABLE: Rejected = Rejected::Malformed("the token's claims are unreadable");
    let c = claims::ClaimsRef::parse(message).map_err(|_| UNREADABLE)?;
    // Signed by our key but not a session for this verifier: never genuine.
    if c.aud != AUDIENCE || c.iss != issuer {
        return Err(Rejected::Malformed(
            "the token was not issued for this verifier",
        ));
    }
    let time = |s: &str| claims::parse_time(s).ok_or(UNREADABLE);
    Ok(SessionInfo {
        session_id: c.jti.into_owned(),
        agent_id: c.sub.into_owned(),
        agent_name: c.agent_name.into_owned(),
        channel_kind: ChannelKind::parse(&c.channel_kind).ok_or(UNREADABLE)?,
        channel_handle: c.channel_handle.into_owned(),
        issued_at: time(&c.iat)?,
        not_before: time(&c.nbf)?,
        expires_at: time(&c.exp)?,
        user_ref_last4: c.user_ref_last4.map(Cow::into_owned),
    })
}

pub(crate) fn time_verdict(info: Arc<SessionInfo>, at: UnixTime, skew_secs: u32) -> Verdict {
    if at >= info.expires_at {
        Verdict::Expired(info)
    } else if at + i64::from(skew_secs) < info.not_before {
        Verdict::NotYetValid(info)
    } else {
        Verdict::Genuine(info)
    }
}

pub(crate) fn info_from_view(v: &SessionView) -> Option<SessionInfo> {
    let s = &v.session;
    Some(SessionInfo {
        session_id: s.jti.clone(),
        agent_id: s.agent_id.clone(),
        agent_name: v.agent_name.clone(),
        channel_kind: ChannelKind::parse(&s.channel_kind)?,
        channel_handle: s.channel_value.clone(),
        issued_at: s.issued_at,
        not_before: s.issued_at,
        expires_at: s.expires_at,
        user_ref_last4: s.user_ref_last4.clone(),
    })
}

/// A new session code from the OS RNG, canonical form (no dashes).
fn new_code() -> String {
    let mut rng = rand::rngs::OsRng;
    (0..input::CODE_LEN)
        .map(|_| input::CODE_ALPHABET[rng.gen_range(0..input::CODE_ALPHABET.len())] as char)
        .collect()
}

pub(crate) fn code_digest(code: &str) -> String {
    crate::staff::hex(&Sha256::digest(code.as_bytes()))
}

// ---------------------------------------------------------------------------------------------
// Published keys: what anyone fetches from /.well-known/trustdesk-keys to verify offline.

/// One public key as published.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublishedKey {
    /// PASERK `k4.pid` of the key; tokens name it in their footer.
    pub kid: String,
    /// PASERK `k4.public`.
    pub paserk: String,
    pub state: KeyState,
    /// RFC 3339 moment after which tokens naming this key are no longer genuine; absent for the
    /// active key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
}

/// The published key set.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublishedKeySet {
    pub issuer: String,
    pub audience: String,
    /// Always `v4.public`: there is no algorithm negotiation.
    pub purpose: String,
    /// The PASETO implicit assertion every signature binds.
    pub implicit_assertion: String,
    pub keys: Vec<PublishedKey>,
}

/// Builds the public key set: active and verify-only keys (retired keys verify nothing, so they
/// are not published).
pub fn published_keys(keys: &KeySet, issuer: &str, at: UnixTime) -> PublishedKeySet {
    PublishedKeySet {
        issuer: issuer.to_owned(),
        audience: AUDIENCE.to_owned(),
        purpose: "v4.public".to_owned(),
        implicit_assertion: String::from_utf8_lossy(IMPLICIT_ASSERTION).into_owned(),
        keys: keys
            .metas()
            .iter()
            .filter_map(|m| {
                let state = keys.state_of(m, at);
                (state != KeyState::Retired).then(|| PublishedKey {
                    kid: m.kid.clone(),
                    paserk: m.public.clone(),
                    state,
                    not_after: m.retire_after.map(rfc3339),
                })
            })
            .collect(),
    }
}

/// A published key set loaded by an offline verifier.
pub struct OfflineKeys {
    pub issuer: String,
    keys: std::collections::HashMap<String, (ed25519_dalek::VerifyingKey, Option<UnixTime>)>,
}

impl OfflineKeys {
    /// Parses a published key set, checking every kid against its key.
    pub fn from_published(set: &PublishedKeySet) -> Result<OfflineKeys, String> {
        if set.purpose != "v4.public" || set.implicit_assertion.as_bytes() != IMPLICIT_ASSERTION {
            return Err("key set is not for Trustdesk v4.public session tokens".into());
        }
        let mut keys = std::collections::HashMap::new();
        for k in &set.keys {
            let vk =
                paserk::public_from_paserk(&k.paserk).map_err(|e| format!("{}: {e}", k.kid))?;
            if paserk::pid(&vk) != k.kid {
                return Err(format!("kid {} does not match its key", k.kid));
            }
            let until = match &k.not_after {
                Some(t) => Some(claims::parse_time(t).ok_or("bad not_after")?),
                None => None,
            };
            keys.insert(k.kid.clone(), (vk, until));
        }
        Ok(OfflineKeys {
            issuer: set.issuer.clone(),
            keys,
        })
    }
}

impl KeyLookup for OfflineKeys {
    fn key_for(&self, kid: &str, at: UnixTime) -> Option<&ed25519_dalek::VerifyingKey> {
        match self.keys.get(kid) {
            Some((k, None)) => Some(k),
            Some((k, Some(until))) if at < *until => Some(k),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> TokenSettings {
        TokenSettings {
            issuer: "https://trust.example".into(),
            default_ttl_secs: 1800,
            max_ttl_secs: 7200,
            clock_skew_secs: 60,
        }
    }

    fn sign_claims(set: &KeySet, claims: &SessionClaims) -> String {
        let payload = serde_json::to_vec(claims).unwrap();
        paseto::sign(
            set.signing_key(),
            &payload,
            footer_for(set.active_kid()).as_bytes(),
            IMPLICIT_ASSERTION,
        )
    }

    fn claims(iat: i64, exp: i64) -> SessionClaims {
        SessionClaims {
            iss: "https://trust.example".into(),
            aud: AUDIENCE.into(),
            sub: "agent-1".into(),
            jti: "s-1".into(),
            iat: rfc3339(iat),
            nbf: rfc3339(iat),
            exp: rfc3339(exp),
            agent_name: "Alice".into(),
            channel_kind: "telegram".into(),
            channel_handle: "acme_support".into(),
            user_ref_last4: None,
        }
    }

    #[test]
    fn check_token_gives_each_time_verdict_and_rejects_foreign_issuers() {
        let dir = tempfile::tempdir().unwrap();
        let ring = Keyring::load_or_create(dir.path()).unwrap();
        let set = ring.current();
        let s = settings();
        let t = now();
        let cases = [
            (claims(t, t + 600), "genuine"),
            (claims(t - 1200, t - 600), "expired"),
            (claims(t + 600, t + 1200), "not_yet_valid"),
            (
                SessionClaims {
                    iss: "https://evil.example".into(),
                    ..claims(t, t + 600)
                },
                "malformed",
            ),
        ];
        for (c, want) in cases {
            let tok = sign_claims(&set, &c);
            assert_eq!(
                check_token(&*set, &s.issuer, 60, &tok, t).kind(),
                want,
                "{want}"
            );
        }
    }

    #[test]
    fn foreign_key_and_tampering_are_forged() {
        let dir = tempfile::tempdir().unwrap();
        let ours = Keyring::load_or_create(&dir.path().join("a"))
            .unwrap()
            .current();
        let theirs = Keyring::load_or_create(&dir.path().join("b"))
            .unwrap()
            .current();
        let t = now();
        let tok = sign_claims(&theirs, &claims(t, t + 600));
        assert_eq!(
            check_token(&*ours, "https://trust.example", 60, &tok, t),
            Verdict::Forged(ForgeryReason::UnknownKey)
        );
        // A foreign key claiming our kid: signature fails.
        let payload = serde_json::to_vec(&claims(t, t + 600)).unwrap();
        let spoof = paseto::sign(
            theirs.signing_key(),
            &payload,
            footer_for(ours.active_kid()).as_bytes(),
            IMPLICIT_ASSERTION,
        );
        assert_eq!(
            check_token(&*ours, "https://trust.example", 60, &spoof, t),
            Verdict::Forged(ForgeryReason::BadSignature)
        );
    }

    #[test]
    fn batch_signature_checks_match_single_checks_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let set = Keyring::load_or_create(dir.path()).unwrap().current();
        let other = Keyring::load_or_create(&dir.path().join("o"))
            .unwrap()
            .current();
        let t = now();
        let good: Vec<String> = (0..5)
            .map(|i| {
                let mut c = claims(t, t + 600);
                c.jti = format!("s-{i}");
                sign_claims(&set, &c)
            })
            .collect();
        let mut tampered = good[1].clone().into_bytes();
        let at = good[1].rfind('.').unwrap() - 30;
        tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        let mixes: Vec<Vec<String>> = vec![
            good.clone(),
            vec![
                good[0].clone(),
                tampered,
                sign_claims(&other, &claims(t, t + 600)),
                "v4.public.AAAA".into(),
                "v3.public.AAAA".into(),
                good[4].clone(),
            ],
        ];
        for mix in mixes {
            let refs: Vec<&str> = mix.iter().map(String::as_str).collect();
            let batch = check_signatures(&*set, "https://trust.example", &refs, t);
            assert_eq!(batch.len(), mix.len());
            for (tok, got) in refs.iter().zip(batch) {
                assert_eq!(got, check_signature(&*set, "https://trust.example", tok, t));
            }
        }
    }

    #[test]
    fn only_canonical_r_encodings_pass_the_batch_precheck() {
        let mut sig = [0u8; 64];
        assert!(canonical_r(&ed25519_dalek::Signature::from_bytes(&sig)));
        // y = p = 2^255 - 19, with and without the sign bit: non-canonical.
        sig[0] = 0xED;
        sig[1..31].fill(0xFF);
        sig[31] = 0x7F;
        assert!(!canonical_r(&ed25519_dalek::Signature::from_bytes(&sig)));
        sig[31] = 0xFF;
        assert!(!canonical_r(&ed25519_dalek::Signature::from_bytes(&sig)));
        // y = p - 1: canonical.
        sig[0] = 0xEC;
        assert!(canonical_r(&ed25519_dalek::Signature::from_bytes(&sig)));
    }
}
