//! The in-memory session index: which sessions exist and which are revoked, so verifying a token
//! never waits for the database.
//!
//! Loaded in full at start. Every pass (default each second) then re-reads the sessions issued
//! since the previous pass minus [`ISSUED_OVERLAP_SECS`] and the sessions revoked since the
//! previous pass minus [`OVERLAP_SECS`] (both stamped by the clock of the instance that wrote
//! them), and every [`FULL_PASS_SECS`] seconds it re-reads
//! every unexpired revocation, which involves no clock at all. The instance that issues or
//! revokes a session updates its own index at once; every other instance sees a revocation after
//! its next pass, so it is honoured everywhere within one interval plus one query (documented as
//! ≤ 2 s) while the instances' clocks agree within [`OVERLAP_SECS`], and within a minute plus one
//! interval in any case. Re-reading every revocation at every pass, as this index first did, cost 30 % of a core
//! on an idle server with 20 000 unexpired revocations (`scripts/load/system.sh`, data ×10); now
//! 0.2 %.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::RwLock;

use crate::storage::{LiveSessionRow, SessionRecord, StorageError, Store};
use crate::types::{now, UnixTime};

use super::SessionInfo;

/// Re-read window behind the previous pass for revocations, which are stamped with the revoking
/// instance's clock before they commit: a revocation that slips past it waits for the full pass.
pub const OVERLAP_SECS: i64 = 30;

/// Re-read window behind the previous pass for new sessions: enough for the time between stamping
/// and committing. Missing one costs nothing but a query: a session this index lacks is fetched
/// on first use. It was [`OVERLAP_SECS`] at first, which made every pass re-read the last 30 s of
/// issuance, i.e. each issued session about 30 times on every instance.
pub const ISSUED_OVERLAP_SECS: i64 = 5;

/// How long an expired session stays known, so an expired-but-revoked or expired-but-forged token
/// still gets its precise answer for a day; after that every expired token is simply `expired`.
pub const RETENTION_SECS: i64 = 24 * 3600;

/// At least this often (by this instance's clock, whatever the sync interval) a pass re-reads
/// every unexpired revocation, whatever the other instances' clocks say, and drops expired
/// entries (which walks the whole index).
pub const FULL_PASS_SECS: i64 = 60;

/// One session, in one allocation: the id and the three fields a token must agree with sit back
/// to back in `text`, so a lookup touches the table slot and one string rather than four
/// separately allocated ones (each a likely cache miss: the index is far larger than the cache,
/// and a wave of distinct tokens hits it at random).
#[derive(Clone, Debug)]
struct Entry {
    /// `jti`, `agent_id`, `channel_kind`, `channel_value`, concatenated.
    text: Box<str>,
    /// Where the first three end in `text`.
    ends: [u32; 3],
    expires_at: UnixTime,
    revoked_at: Option<UnixTime>,
}

impl Entry {
    /// `None` only for fields of 4 GiB or more, which no database row holds.
    fn new(row: LiveSessionRow) -> Option<Entry> {
        let mut text = String::with_capacity(
            row.jti.len() + row.agent_id.len() + row.channel_kind.len() + row.channel_value.len(),
        );
        let mut ends = [0u32; 3];
        for (end, part) in ends
            .iter_mut()
            .zip([&row.jti, &row.agent_id, &row.channel_kind])
        {
            text.push_str(part);
            *end = u32::try_from(text.len()).ok()?;
        }
        text.push_str(&row.channel_value);
        u32::try_from(text.len()).ok()?;
        Some(Entry {
            text: text.into_boxed_str(),
            ends,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
        })
    }

    fn part(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        let end = self.ends.get(i).map_or(self.text.len(), |&e| e as usize);
        self.text.get(start..end).unwrap_or("")
    }

    fn jti(&self) -> &str {
        self.part(0)
    }

    fn agent_id(&self) -> &str {
        self.part(1)
    }

    fn channel_kind(&self) -> &str {
        self.part(2)
    }

    fn channel_value(&self) -> &str {
        self.part(3)
    }

    /// Whether upserting `row` would change nothing.
    fn holds(&self, row: &LiveSessionRow) -> bool {
        self.agent_id() == row.agent_id
            && self.channel_kind() == row.channel_kind
            && self.channel_value() == row.channel_value
            && self.expires_at == row.expires_at
            && (self.revoked_at.is_some() || row.revoked_at.is_none())
    }
}

/// What the index says about the session a verified token names.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    Live,
    Revoked,
    /// A session with this id exists but was issued for another agent, channel or lifetime: the
    /// token was signed by someone other than this service's issuing code.
    Mismatch,
    /// Not in the index: issued on another instance since the last pass, or never issued at all.
    /// Only this case asks the database.
    Missing,
}

/// Session ids with what is needed to match a token to its session. Bounded by the sessions
/// issued in the last `max_ttl + RETENTION_SECS`; expired entries are pruned every
/// [`FULL_PASS_SECS`] seconds.
///
/// Looked up on every verification. The ids looked up come from validly signed tokens and the
/// stored ones are ours, so foldhash (seeded per process) replaces SipHash's flooding resistance
/// at a fraction of the cost. A `HashTable` because the key lives inside the entry's one string.
#[derive(Default)]
struct SessionMap {
    table: hashbrown::HashTable<Entry>,
    hasher: foldhash::fast::RandomState,
}

impl SessionMap {
    fn hash(&self, jti: &str) -> u64 {
        std::hash::BuildHasher::hash_one(&self.hasher, jti)
    }

    fn get(&self, jti: &str) -> Option<&Entry> {
        self.table.find(self.hash(jti), |e| e.jti() == jti)
    }

    fn get_mut(&mut self, jti: &str) -> Option<&mut Entry> {
        let hash = self.hash(jti);
        self.table.find_mut(hash, |e| e.jti() == jti)
    }

    fn insert(&mut self, entry: Entry) {
        let hash = self.hash(entry.jti());
        let hasher = &self.hasher;
        match self.table.entry(
            hash,
            |e| e.jti() == entry.jti(),
            |e| std::hash::BuildHasher::hash_one(hasher, e.jti()),
        ) {
            hashbrown::hash_table::Entry::Occupied(mut o) => *o.get_mut() = entry,
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert(entry);
            }
        }
    }

    fn retain(&mut self, keep: impl FnMut(&mut Entry) -> bool) {
        self.table.retain(keep);
    }

    fn len(&self) -> usize {
        self.table.len()
    }
}

pub struct LiveSessions {
    map: RwLock<SessionMap>,
    /// Start of the last successful pass; the next one re-reads from here minus the overlap.
    last_pass: AtomicI64,
    /// Start of the last successful full pass.
    last_full: AtomicI64,
}

impl Default for LiveSessions {
    fn default() -> Self {
        LiveSessions {
            map: RwLock::new(SessionMap::default()),
            last_pass: AtomicI64::new(i64::MIN),
            last_full: AtomicI64::new(i64::MIN),
        }
    }
}

impl LiveSessions {
    /// Loads every session still worth knowing.
    pub async fn load(store: &dyn Store) -> Result<LiveSessions, StorageError> {
        let live = LiveSessions::default();
        live.refresh(store).await?;
        Ok(live)
    }

    /// One pass: re-reads what changed since the last pass (everything, the first time) and
    /// prunes what expired. Returns how many rows were read.
    pub async fn refresh(&self, store: &dyn Store) -> Result<usize, StorageError> {
        let started = now();
        let last = self.last_pass.load(Ordering::Acquire);
        let (issued_since, since) = if last == i64::MIN {
            (i64::MIN, i64::MIN)
        } else {
            (last - ISSUED_OVERLAP_SECS, last - OVERLAP_SECS)
        };
        // A full pass is due by this instance's clock alone (a clock that went back counts as
        // due), and stays due until one succeeds.
        let last_full = self.last_full.load(Ordering::Acquire);
        let full =
            last_full == i64::MIN || started < last_full || started - last_full >= FULL_PASS_SECS;
        let revoked_since = if full { i64::MIN } else { since };
        let rows = store
            .live_sessions_since(issued_since, revoked_since, started - RETENTION_SECS)
            .await?;
        let n = rows.len();
        // Most rows are ones the index already holds (the overlap, and the full passes). Sort out
        // the few that change something under the read lock, so that verifications are not
        // stopped while thousands of unchanged rows are compared.
        let changed: Vec<LiveSessionRow> = {
            let map = match self.map.read() {
                Ok(m) => m,
                Err(p) => p.into_inner(),
            };
            rows.into_iter()
                .filter(|r| !map.get(r.jti.as_str()).is_some_and(|e| e.holds(r)))
                .collect()
        };
        if !changed.is_empty() || full {
            let mut map = self.write();
            for row in changed {
                upsert(&mut map, row);
            }
            if full {
                map.retain(|e| e.expires_at + RETENTION_SECS > started);
            }
        }
        if full {
            self.last_full.store(started, Ordering::Release);
        }
        self.last_pass.store(started, Ordering::Release);
        Ok(n)
    }

    /// Seconds since the last successful pass: exported as a metric, since a stale index delays
    /// revocations from other instances.
    pub fn staleness(&self, at: UnixTime) -> i64 {
        match self.last_pass.load(Ordering::Acquire) {
            i64::MIN => i64::MAX,
            t => at - t,
        }
    }

    /// Records a session this instance just committed.
    pub fn note_issued(&self, rec: &SessionRecord) {
        upsert(
            &mut self.write(),
            LiveSessionRow {
                jti: rec.jti.clone(),
                agent_id: rec.agent_id.clone(),
                channel_kind: rec.channel_kind.clone(),
                channel_value: rec.channel_value.clone(),
                expires_at: rec.expires_at,
                revoked_at: rec.revoked_at,
            },
        );
    }

    /// Records a revocation this instance just committed.
    pub fn note_revoked(&self, jti: &str, at: UnixTime) {
        if let Some(e) = self.write().get_mut(jti) {
            e.revoked_at.get_or_insert(at);
        }
    }

    /// Records a session the database confirmed (after [`Lookup::Missing`]).
    pub fn note_row(&self, row: LiveSessionRow) {
        upsert(&mut self.write(), row);
    }

    /// Matches a token's signed claims against the session it names.
    pub fn lookup(&self, info: &SessionInfo) -> Lookup {
        let map = match self.map.read() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        match map.get(info.session_id.as_str()) {
            Some(e) if !matches(e, info) => Lookup::Mismatch,
            Some(e) if e.revoked_at.is_some() => Lookup::Revoked,
            Some(_) => Lookup::Live,
            None => Lookup::Missing,
        }
    }

    /// Sessions held in memory.
    #[cfg(test)]
    fn read_entry(&self, jti: &str) -> Option<Entry> {
        self.map.read().ok()?.get(jti).cloned()
    }

    pub fn len(&self) -> usize {
        self.map.read().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, SessionMap> {
        match self.map.write() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        }
    }
}

/// The fields the token signs that the database also holds: a validly signed token whose session
/// disagrees on any of them was not issued by us.
pub fn matches_row(row: &LiveSessionRow, info: &SessionInfo) -> bool {
    row.agent_id == info.agent_id
        && row.channel_kind == info.channel_kind.as_str()
        && row.channel_value == info.channel_handle
        && row.expires_at == info.expires_at
}

fn matches(e: &Entry, info: &SessionInfo) -> bool {
    e.agent_id() == info.agent_id
        && e.channel_kind() == info.channel_kind.as_str()
        && e.channel_value() == info.channel_handle
        && e.expires_at == info.expires_at
}

fn upsert(map: &mut SessionMap, row: LiveSessionRow) {
    let known_revoked = map.get(row.jti.as_str()).and_then(|e| e.revoked_at);
    let Some(mut entry) = Entry::new(row) else {
        // Not representable (a field of 4 GiB): left out, so the session is looked up in the
        // database when a token names it, like any session this index lacks.
        return;
    };
    // A revocation is final: a row read before the revocation committed never un-revokes.
    entry.revoked_at = entry.revoked_at.or(known_revoked);
    map.insert(entry);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::ChannelKind;

    fn info(jti: &str, issued_at: i64) -> SessionInfo {
        SessionInfo {
            session_id: jti.into(),
            agent_id: "agent-1".into(),
            agent_name: "Alice".into(),
            channel_kind: ChannelKind::Telegram,
            channel_handle: "acme_support".into(),
            issued_at,
            not_before: issued_at,
            expires_at: issued_at + 600,
            user_ref_last4: None,
        }
    }

    fn record(i: &SessionInfo) -> SessionRecord {
        SessionRecord {
            jti: i.session_id.clone(),
            agent_id: i.agent_id.clone(),
            kid: "k".into(),
            channel_kind: i.channel_kind.as_str().into(),
            channel_value: i.channel_handle.clone(),
            user_ref_last4: None,
            code_hash: "h".into(),
            issued_at: i.issued_at,
            expires_at: i.expires_at,
            revoked_at: None,
            revoked_by: None,
        }
    }

    #[test]
    fn issued_then_revoked_and_revocation_survives_a_stale_row() {
        let live = LiveSessions::default();
        let s = info("s-1", 1_000);
        assert_eq!(live.lookup(&s), Lookup::Missing);
        live.note_issued(&record(&s));
        assert_eq!(live.lookup(&s), Lookup::Live);
        live.note_revoked("s-1", 1_100);
        assert_eq!(live.lookup(&s), Lookup::Revoked);
        // A pass that read the row before the revocation committed must not un-revoke it.
        live.note_row(LiveSessionRow {
            jti: "s-1".into(),
            agent_id: "agent-1".into(),
            channel_kind: "telegram".into(),
            channel_value: "acme_support".into(),
            expires_at: 1_600,
            revoked_at: None,
        });
        assert_eq!(live.lookup(&s), Lookup::Revoked);
    }

    /// The four fields share one string: where one ends and the next begins is kept, so ids and
    /// fields that concatenate alike are not confused.
    #[test]
    fn fields_sharing_one_string_stay_apart() {
        let live = LiveSessions::default();
        let row = |jti: &str, agent: &str| LiveSessionRow {
            jti: jti.into(),
            agent_id: agent.into(),
            channel_kind: "telegram".into(),
            channel_value: "acme_support".into(),
            expires_at: 1_600,
            revoked_at: None,
        };
        live.note_row(row("s-1", "agent-1"));
        live.note_row(row("s-", "1agent-1"));
        let e = live.read_entry("s-1").unwrap();
        assert_eq!(
            (e.jti(), e.agent_id(), e.channel_kind(), e.channel_value()),
            ("s-1", "agent-1", "telegram", "acme_support")
        );
        assert_eq!(live.read_entry("s-").unwrap().agent_id(), "1agent-1");
        assert!(live.read_entry("s").is_none());
        assert_eq!(live.len(), 2);
        // Upserting the same id replaces its entry rather than adding one.
        live.note_row(LiveSessionRow {
            revoked_at: Some(1_100),
            ..row("s-1", "agent-1")
        });
        assert_eq!(live.len(), 2);
        assert_eq!(live.read_entry("s-1").unwrap().revoked_at, Some(1_100));
    }

    #[test]
    fn a_token_that_disagrees_with_its_session_is_a_mismatch() {
        let live = LiveSessions::default();
        let s = info("s-1", 1_000);
        live.note_issued(&record(&s));
        for other in [
            SessionInfo {
                agent_id: "agent-2".into(),
                ..s.clone()
            },
            SessionInfo {
                channel_handle: "acme_supp0rt".into(),
                ..s.clone()
            },
            SessionInfo {
                expires_at: s.expires_at + 1,
                ..s.clone()
            },
        ] {
            assert_eq!(live.lookup(&other), Lookup::Mismatch);
        }
    }

    #[test]
    fn an_entry_holds_a_row_only_if_upserting_it_would_change_nothing() {
        let live = LiveSessions::default();
        let s = info("s-1", 1_000);
        live.note_issued(&record(&s));
        let row = LiveSessionRow {
            jti: "s-1".into(),
            agent_id: "agent-1".into(),
            channel_kind: "telegram".into(),
            channel_value: "acme_support".into(),
            expires_at: s.expires_at,
            revoked_at: None,
        };
        let holds = |r: &LiveSessionRow| live.read_entry("s-1").is_some_and(|e| e.holds(r));
        assert!(holds(&row), "the same session, not revoked");
        // A revocation read from the database is a change that must be applied.
        let revoked = LiveSessionRow {
            revoked_at: Some(1_100),
            ..row.clone()
        };
        assert!(!holds(&revoked));
        live.note_row(revoked.clone());
        assert_eq!(live.lookup(&s), Lookup::Revoked);
        assert!(
            holds(&revoked),
            "re-reading a known revocation changes nothing"
        );
        assert!(
            holds(&row),
            "nor does a stale unrevoked row (a revocation is final)"
        );
        let other_channel = LiveSessionRow {
            channel_value: "acme_supp0rt".into(),
            ..row
        };
        assert!(!holds(&other_channel));
    }

    /// A fresh SQLite store (kept alive by the returned directory) holding one agent.
    async fn store_with_agent() -> (
        tempfile::TempDir,
        std::sync::Arc<dyn Store>,
        crate::staff::Staff,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = crate::storage::open(&url).await.unwrap();
        let (agent, _) = crate::staff::create(store.as_ref(), "Alice", crate::types::Role::Agent)
            .await
            .unwrap();
        (dir, store, agent)
    }

    /// Frequent passes read the sessions issued since the previous one (plus a few seconds), not
    /// the last half minute of issuance again and again.
    #[tokio::test]
    async fn a_frequent_pass_does_not_re_read_sessions_it_already_read() {
        let (_dir, store, agent) = store_with_agent().await;
        let t = now();
        let earlier = SessionInfo {
            agent_id: agent.id.clone(),
            ..info("s-1", t - 20)
        };
        store.insert_session(&record(&earlier)).await.unwrap();
        let live = LiveSessions::load(store.as_ref()).await.unwrap();
        live.last_full.store(t, Ordering::Release);
        assert_eq!(
            live.refresh(store.as_ref()).await.unwrap(),
            0,
            "issued 20 s before the last pass: not read again"
        );
        // Issued just now on another instance: the next pass picks it up.
        let fresh = SessionInfo {
            agent_id: agent.id.clone(),
            ..info("s-2", now())
        };
        store
            .insert_session(&SessionRecord {
                code_hash: "h2".into(),
                ..record(&fresh)
            })
            .await
            .unwrap();
        assert_eq!(live.refresh(store.as_ref()).await.unwrap(), 1);
        assert_eq!(live.lookup(&fresh), Lookup::Live);
        assert_eq!(live.lookup(&earlier), Lookup::Live);
    }

    /// A revocation stamped by a clock far behind this instance's is missed by the frequent
    /// passes (they read only recent stamps) and caught by the next full pass.
    #[tokio::test]
    async fn a_revocation_from_a_skewed_clock_is_caught_by_the_full_pass() {
        let (_dir, store, agent) = store_with_agent().await;
        let t = now();
        // Issued ten minutes ago: older than the overlap, so frequent passes do not re-read it.
        let s = SessionInfo {
            agent_id: agent.id.clone(),
            expires_at: t + 600,
            ..info("s-1", t - 600)
        };
        store.insert_session(&record(&s)).await.unwrap();
        let live = LiveSessions::load(store.as_ref()).await.unwrap();
        assert_eq!(live.lookup(&s), Lookup::Live);
        // Another instance, its clock an hour behind, revokes the session.
        assert!(store
            .revoke_session("s-1", &agent.id, t - 3600)
            .await
            .unwrap());
        live.refresh(store.as_ref()).await.unwrap();
        assert_eq!(
            live.lookup(&s),
            Lookup::Live,
            "a frequent pass reads recent stamps only"
        );
        // A minute later by this instance's clock, the full pass re-reads every revocation.
        live.last_full
            .store(t - FULL_PASS_SECS - 1, Ordering::Release);
        live.refresh(store.as_ref()).await.unwrap();
        assert_eq!(live.lookup(&s), Lookup::Revoked);
    }
}
