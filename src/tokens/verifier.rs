//! The verification hot path: what `POST /v1/verify`, `GET /v/{token}` and the batch endpoint
//! run for every pasted token.
//!
//! A token costs, in order of preference:
//! - a SHA-256 and a cache lookup, when the same bytes were verified before (a victim refreshing
//!   the page, a link posted in a group where hundreds check it);
//! - one lean Ed25519 verification ([`super::check_signature`]), otherwise.
//!
//! Expiry, key retirement and revocation are checked on every request, cached or not, against
//! memory only ([`LiveSessions`]). The database is asked only about a validly signed session this
//! instance has not seen yet (issued on another instance since the last sync pass; the answer is
//! then kept) and for session codes, which are guessable and lock out instead.

use quick_cache::sync::Cache;
use sha2::{Digest, Sha256};
use std::sync::Arc;

use super::input::{self, Presented};
use super::live::{self, LiveSessions, Lookup};
use super::{
    check_signature, check_signatures, code_digest, info_from_view, time_verdict, ForgeryReason,
    KeySet, Keyring, Rejected, SignedSession, TokenSettings, Verdict,
};
use crate::storage::{LiveSessionRow, StorageError, Store};
use crate::types::{now, UnixTime};

/// Largest batch `POST /v1/verify/batch` takes: the size at which Ed25519 batch verification has
/// paid off (see `docs/performance.md`), small enough that one request stays short.
pub const MAX_BATCH: usize = 64;

/// How many session ids a stolen key named are remembered as unknown.
const UNKNOWN_SESSIONS: usize = 10_000;

type Digest32 = [u8; 32];

/// Signature cache hits and misses (`/metrics`).
static CACHE_LOOKUPS: crate::telemetry::CounterSet =
    crate::telemetry::CounterSet::new("trustdesk_verify_cache_total", "result", &["hit", "miss"]);

/// Verifies tokens and session codes; one per process, shared by every handler.
pub struct Verifier {
    settings: Arc<TokenSettings>,
    keys: Arc<Keyring>,
    store: Arc<dyn Store>,
    live: Arc<LiveSessions>,
    /// Token SHA-256 → what its valid signature proved. An entry is never used past its token's
    /// expiry: it is dropped when met then, and otherwise evicted like any other.
    signed: Option<Cache<Digest32, Arc<SignedSession>>>,
    /// Token SHA-256 of recent bad signatures: a forgery pasted again costs a lookup, and never
    /// drags a batch back to one-by-one verification. A bad signature under a given kid stays bad
    /// for ever (the kid is the key's hash), so only the capacity bounds this.
    forged: Option<Cache<Digest32, ()>>,
    /// Session ids that validly signed tokens named but the database does not have (a stolen
    /// key). Final: a session is committed before its token is handed out.
    unknown_sessions: Cache<Box<str>, ()>,
    /// Doorkeeper in front of the signature cache: a token enters the cache on its second sighting.
    /// A wave of distinct tokens (each seen once) then costs no cache insertions and evicts
    /// nothing; a shared link is cached from its second check on.
    seen: Doorkeeper,
}

/// Direct-mapped "seen recently" filter: slots holding a 64-bit tag of a token's hash. A
/// collision only delays or advances caching by a sighting; it never changes a verdict. So the
/// hash need not resist collisions: foldhash (seeded per process), which lets a token's first
/// sighting skip the cache key's SHA-256 too.
///
/// Overwritten slots are what it forgets, so its size is its memory: about eight sightings per
/// cache entry (1 Ki to 64 Ki slots, 8 to 512 KiB). A token seen again only after many more
/// distinct tokens than the cache holds would be evicted before its next use, so caching it on
/// that sighting would cost a SHA-256 and an insertion and save nothing.
struct Doorkeeper {
    slots: Box<[std::sync::atomic::AtomicU64]>,
    hasher: foldhash::fast::RandomState,
}

impl Doorkeeper {
    const MIN_SLOTS: usize = 1 << 10;
    const MAX_SLOTS: usize = 1 << 16;
    const SLOTS_PER_ENTRY: usize = 8;

    fn new(cache_entries: usize) -> Doorkeeper {
        let slots = cache_entries
            .saturating_mul(Self::SLOTS_PER_ENTRY)
            .clamp(Self::MIN_SLOTS, Self::MAX_SLOTS)
            .next_power_of_two();
        Doorkeeper {
            slots: (0..slots)
                .map(|_| std::sync::atomic::AtomicU64::new(0))
                .collect(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    /// Whether `token` was seen since its slot was last overwritten; marks it seen.
    fn check_and_mark(&self, token: &str) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let h = std::hash::BuildHasher::hash_one(&self.hasher, token.as_bytes());
        // A power of two: the mask picks the slot from the low bits, the tag is the high ones.
        let slot = (h as usize) & (self.slots.len() - 1);
        let tag = (h >> 16) | 1;
        self.slots[slot].swap(tag, Relaxed) == tag
    }
}

impl Verifier {
    /// `cache_entries` bounds the signature cache (0 disables both caches).
    pub fn new(
        settings: Arc<TokenSettings>,
        keys: Arc<Keyring>,
        store: Arc<dyn Store>,
        live: Arc<LiveSessions>,
        cache_entries: u64,
    ) -> Verifier {
        // quick_cache rather than moka: its insertions cost a fraction (no per-entry timers, no
        // maintenance queue), which a wave of distinct tokens pays on every request.
        let entries = usize::try_from(cache_entries).unwrap_or(usize::MAX);
        let (signed, forged) = if entries == 0 {
            (None, None)
        } else {
            (
                Some(Cache::new(entries)),
                Some(Cache::new(entries.div_ceil(4))),
            )
        };
        Verifier {
            settings,
            keys,
            store,
            live,
            signed,
            forged,
            unknown_sessions: Cache::new(UNKNOWN_SESSIONS),
            seen: Doorkeeper::new(entries),
        }
    }

    /// The session index this verifier consults (issuing and revoking update it).
    pub fn live(&self) -> &Arc<LiveSessions> {
        &self.live
    }

    /// Tokens whose verified signature is cached right now (approximate, for metrics).
    pub fn cached_signatures(&self) -> u64 {
        self.signed.as_ref().map_or(0, |c| c.len() as u64)
    }

    /// What the service answers for anything a user pasted: token, link, code or message.
    pub async fn verify(&self, input: &str) -> Result<Verdict, StorageError> {
        let at = now();
        match input::extract(input) {
            Presented::Token(token) => {
                // The key guard is dropped before the await below (it must not cross one).
                let signed = self.signed_session(&self.keys.load(), token, at);
                self.finish(signed, at).await
            }
            Presented::Code(code) => self.verify_code(&code, at).await,
            other => Ok(not_a_token(&other)),
        }
    }

    /// One verdict per input, in order: the same verdict [`Verifier::verify`] gives each token.
    /// Signatures not found in the cache are checked together with Ed25519 batch verification;
    /// a bad one only costs the batch its speed-up, never another token's verdict. Session codes
    /// are refused (`malformed`): guessing them must stay one at a time.
    pub async fn verify_batch(&self, inputs: &[String]) -> Result<Vec<Verdict>, StorageError> {
        let at = now();
        let presented: Vec<Presented<'_>> = inputs.iter().map(|i| input::extract(i)).collect();

        let mut signed: Vec<Option<Result<Arc<SignedSession>, Rejected>>> =
            (0..inputs.len()).map(|_| None).collect();
        // The key guard lives in this block only: it must not cross the awaits below.
        {
            let keys = self.keys.load();
            // Each token with its cache key, when it has one (see `signed_session`).
            let mut to_check: Vec<(usize, &str, Option<Digest32>)> = Vec::new();
            for (i, p) in presented.iter().enumerate() {
                if let Presented::Token(t) = p {
                    match self.sighting(t) {
                        Some(digest) => match self.cached(&keys, &digest, at) {
                            Some(r) => signed[i] = Some(r),
                            None => to_check.push((i, t, Some(digest))),
                        },
                        None => to_check.push((i, t, None)),
                    }
                }
            }
            let tokens: Vec<&str> = to_check.iter().map(|(_, t, _)| *t).collect();
            let results = check_signatures(&**keys, &self.settings.issuer, &tokens, at);
            for ((i, token, digest), r) in to_check.into_iter().zip(results) {
                signed[i] = Some(self.remember(token, digest, r, at));
            }
        }

        let mut out = Vec::with_capacity(inputs.len());
        for (p, s) in presented.iter().zip(signed) {
            out.push(match (p, s) {
                (_, Some(s)) => self.finish(s, at).await?,
                // A code is a short secret: checked one at a time, where the lockout counts.
                (Presented::Code(_), None) => {
                    Verdict::Malformed("session codes are verified one at a time, not in a batch")
                }
                (other, None) => not_a_token(other),
            });
        }
        Ok(out)
    }

    /// Signature check through the caches.
    fn signed_session(
        &self,
        keys: &KeySet,
        token: &str,
        at: UnixTime,
    ) -> Result<Arc<SignedSession>, Rejected> {
        let digest = self.sighting(token);
        if let Some(d) = &digest {
            if let Some(hit) = self.cached(keys, d, at) {
                return hit;
            }
        }
        let r = check_signature(keys, &self.settings.issuer, token, at);
        self.remember(token, digest, r, at)
    }

    /// The doorkeeper's word on this sighting of `token`: its cache key if it was seen before,
    /// `None` for a first sighting (or with the caches off). A token the doorkeeper has not seen
    /// since its slot was last taken is in neither cache, which are filled only by sightings it
    /// marks (and by forgeries, which it marks too), so a wave of distinct tokens costs neither
    /// the cache key's SHA-256 nor the lookups. A slot taken by another token in between only
    /// costs a signature check.
    fn sighting(&self, token: &str) -> Option<Digest32> {
        self.signed.as_ref()?;
        if self.seen.check_and_mark(token) {
            Some(digest(token))
        } else {
            CACHE_LOOKUPS.increment("miss");
            None
        }
    }

    /// The cached outcome for a token's cache key, if any.
    fn cached(
        &self,
        keys: &KeySet,
        digest: &Digest32,
        at: UnixTime,
    ) -> Option<Result<Arc<SignedSession>, Rejected>> {
        use super::KeyLookup as _;
        if self.forged.as_ref().is_some_and(|c| c.contains_key(digest)) {
            return Some(Err(Rejected::Forged(ForgeryReason::BadSignature)));
        }
        let signed = self.signed.as_ref()?;
        let hit = match signed.get(digest) {
            // Past its token's expiry an entry is dropped, never used.
            Some(hit) if hit.info.expires_at <= at => {
                signed.remove(digest);
                None
            }
            other => other,
        };
        let Some(hit) = hit else {
            CACHE_LOOKUPS.increment("miss");
            return None;
        };
        CACHE_LOOKUPS.increment("hit");
        // The key may have retired since: then the token is no longer genuine.
        Some(if keys.key_for(&hit.kid, at).is_some() {
            Ok(hit)
        } else {
            Err(Rejected::Forged(ForgeryReason::UnknownKey))
        })
    }

    /// Caches a valid signature from its second sighting (when [`Verifier::sighting`] gave a
    /// cache key) until its token expires, and a bad signature from its first sighting for a
    /// while; every other outcome (unknown key, malformed) is cheap to recompute and is not kept.
    fn remember(
        &self,
        token: &str,
        key: Option<Digest32>,
        r: Result<SignedSession, Rejected>,
        at: UnixTime,
    ) -> Result<Arc<SignedSession>, Rejected> {
        match r {
            Ok(s) => {
                let s = Arc::new(s);
                if let (Some(c), Some(key)) = (&self.signed, key) {
                    if s.info.expires_at > at {
                        c.insert(key, s.clone());
                    }
                }
                Ok(s)
            }
            Err(v) => {
                if let (Some(c), Rejected::Forged(ForgeryReason::BadSignature)) = (&self.forged, &v)
                {
                    c.insert(key.unwrap_or_else(|| digest(token)), ());
                }
                Err(v)
            }
        }
    }

    /// Expiry and revocation: checked on every request, cached signature or not.
    async fn finish(
        &self,
        signed: Result<Arc<SignedSession>, Rejected>,
        at: UnixTime,
    ) -> Result<Verdict, StorageError> {
        let s = match signed {
            Ok(s) => s,
            Err(r) => return Ok(r.into()),
        };
        let info = &s.info;
        // Long expired: the index no longer holds it, and "expired" is the whole answer.
        if info.expires_at + live::RETENTION_SECS <= at {
            return Ok(Verdict::Expired(info.clone()));
        }
        let skew = self.settings.clock_skew_secs;
        Ok(match self.live.lookup(info) {
            Lookup::Live => time_verdict(info.clone(), at, skew),
            Lookup::Revoked => Verdict::Revoked(info.clone()),
            Lookup::Mismatch => Verdict::Forged(ForgeryReason::UnknownSession),
            Lookup::Missing => {
                if self.unknown_sessions.contains_key(info.session_id.as_str()) {
                    return Ok(Verdict::Forged(ForgeryReason::UnknownSession));
                }
                let Some(view) = self.store.session_by_jti(&info.session_id).await? else {
                    self.unknown_sessions
                        .insert(info.session_id.as_str().into(), ());
                    return Ok(Verdict::Forged(ForgeryReason::UnknownSession));
                };
                let row = LiveSessionRow {
                    jti: view.session.jti,
                    agent_id: view.session.agent_id,
                    channel_kind: view.session.channel_kind,
                    channel_value: view.session.channel_value,
                    expires_at: view.session.expires_at,
                    revoked_at: view.session.revoked_at,
                };
                let verdict = if !live::matches_row(&row, info) {
                    Verdict::Forged(ForgeryReason::UnknownSession)
                } else if row.revoked_at.is_some() {
                    Verdict::Revoked(info.clone())
                } else {
                    time_verdict(info.clone(), at, skew)
                };
                self.live.note_row(row);
                verdict
            }
        })
    }

    /// Session codes are looked up in the database: they are short, guessable secrets, and the
    /// rate limiter's lockout (not speed) is what protects them.
    async fn verify_code(&self, code: &str, at: UnixTime) -> Result<Verdict, StorageError> {
        use super::KeyLookup as _;
        let Some(view) = self.store.session_by_code_hash(&code_digest(code)).await? else {
            return Ok(Verdict::Forged(ForgeryReason::UnknownCode));
        };
        // A code is only as good as the key its session was signed with: retiring a key (e.g.
        // after a compromise) ends its codes too.
        if self.keys.current().key_for(&view.session.kid, at).is_none() {
            return Ok(Verdict::Forged(ForgeryReason::UnknownKey));
        }
        let Some(info) = info_from_view(&view).map(Arc::new) else {
            return Ok(Verdict::Malformed("session record unreadable"));
        };
        Ok(if view.session.revoked_at.is_some() {
            Verdict::Revoked(info)
        } else {
            time_verdict(info, at, self.settings.clock_skew_secs)
        })
    }
}

fn digest(token: &str) -> Digest32 {
    Sha256::digest(token.as_bytes()).into()
}

fn not_a_token(p: &Presented<'_>) -> Verdict {
    match p {
        Presented::ForeignToken => {
            Verdict::Malformed("not a Trustdesk token: only v4.public session tokens are accepted")
        }
        _ => Verdict::Malformed("no token, identity link or session code found in the input"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_doorkeeper_admits_a_token_on_its_second_sighting() {
        let d = Doorkeeper::new(10_000);
        let (a, b) = ("v4.public.a", "v4.public.b");
        assert!(!d.check_and_mark(a));
        assert!(!d.check_and_mark(b));
        assert!(d.check_and_mark(a));
        assert!(d.check_and_mark(a));
        assert!(d.check_and_mark(b));
    }

    #[test]
    fn the_doorkeeper_is_sized_to_the_cache_and_forgets_what_the_cache_could_not_keep() {
        assert_eq!(Doorkeeper::new(0).slots.len(), 1 << 10);
        assert_eq!(Doorkeeper::new(1_000).slots.len(), 1 << 13);
        assert_eq!(Doorkeeper::new(10_000).slots.len(), 1 << 16);
        assert_eq!(Doorkeeper::new(usize::MAX).slots.len(), 1 << 16);
        // A 16-entry cache: after 20 000 other tokens (a wave of distinct ones), a token is
        // a first sighting again (its slot survives with probability about e^-19.5).
        let d = Doorkeeper::new(16);
        assert!(!d.check_and_mark("v4.public.first"));
        assert!(d.check_and_mark("v4.public.first"));
        for i in 0..20_000 {
            d.check_and_mark(&format!("v4.public.{i}"));
        }
        assert!(!d.check_and_mark("v4.public.first"));
    }

    /// What a verifier is built from, on a fresh SQLite store kept alive by the directory.
    async fn parts() -> (
        tempfile::TempDir,
        Arc<dyn Store>,
        Arc<Keyring>,
        Arc<LiveSessions>,
        Arc<TokenSettings>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = crate::storage::open(&url).await.unwrap();
        let keys = Arc::new(Keyring::load_or_create(&dir.path().join("keys")).unwrap());
        let live = Arc::new(LiveSessions::load(store.as_ref()).await.unwrap());
        let settings = Arc::new(TokenSettings {
            issuer: "https://trustdesk.test".into(),
            default_ttl_secs: 600,
            max_ttl_secs: 3600,
            clock_skew_secs: 0,
        });
        (dir, store, keys, live, settings)
    }

    /// A cached signature never outlives its token: met at or past the token's expiry, the entry
    /// is removed and the lookup misses (the verdict is then `expired` from the signature check).
    #[tokio::test]
    async fn a_cached_signature_met_past_its_expiry_is_dropped_not_used() {
        let (_dir, store, keys, live, settings) = parts().await;
        let v = Verifier::new(settings, keys.clone(), store, live, 16);
        let at = now();
        let info = Arc::new(crate::tokens::SessionInfo {
            session_id: "s-1".into(),
            agent_id: "agent-1".into(),
            agent_name: "Alice".into(),
            channel_kind: crate::channels::ChannelKind::Telegram,
            channel_handle: "acme_support".into(),
            issued_at: at - 10,
            not_before: at - 10,
            expires_at: at + 60,
            user_ref_last4: None,
        });
        let signed = || {
            Ok(SignedSession {
                kid: keys.current().active_kid().to_owned(),
                info: info.clone(),
            })
        };
        let token = "v4.public.example";
        let d = digest(token);
        let key_set = keys.current();
        // The doorkeeper admits a token on its second sighting: the first gets no cache key.
        assert_eq!(v.sighting(token), None);
        v.remember(token, None, signed(), at).unwrap();
        assert_eq!(v.cached_signatures(), 0);
        assert_eq!(v.sighting(token), Some(d));
        assert!(v.cached(&key_set, &d, at).is_none());
        v.remember(token, Some(d), signed(), at).unwrap();
        assert_eq!(v.cached_signatures(), 1);

        assert!(matches!(v.cached(&key_set, &d, at + 59), Some(Ok(_))));
        assert!(v.cached(&key_set, &d, at + 60).is_none());
        assert_eq!(v.cached_signatures(), 0, "the expired entry was removed");
        assert!(
            v.cached(&key_set, &d, at).is_none(),
            "and is not found again"
        );

        // A token remembered at or past its expiry is not cached at all.
        let late = "v4.public.late";
        v.remember(late, Some(digest(late)), signed(), at + 60)
            .unwrap();
        assert_eq!(v.cached_signatures(), 0);
    }

    /// A bad signature is remembered from its first sighting (under its SHA-256, computed then),
    /// and found from its second; the caches off, nothing is hashed or kept.
    #[tokio::test]
    async fn a_forgery_is_remembered_from_its_first_sighting() {
        let (_dir, store, keys, live, settings) = parts().await;
        let bad = || Err(Rejected::Forged(ForgeryReason::BadSignature));
        let token = "v4.public.forged";
        let at = now();
        let key_set = keys.current();

        let v = Verifier::new(
            settings.clone(),
            keys.clone(),
            store.clone(),
            live.clone(),
            16,
        );
        assert_eq!(v.sighting(token), None);
        assert!(v.remember(token, None, bad(), at).is_err());
        let d = v.sighting(token).expect("seen once already");
        assert!(matches!(
            v.cached(&key_set, &d, at),
            Some(Err(Rejected::Forged(ForgeryReason::BadSignature)))
        ));

        let off = Verifier::new(settings, keys.clone(), store, live, 0);
        assert_eq!(off.sighting(token), None);
        assert_eq!(off.sighting(token), None, "no cache, no cache key");
        assert!(off.remember(token, None, bad(), at).is_err());
        assert_eq!(off.cached_signatures(), 0);
    }
}
