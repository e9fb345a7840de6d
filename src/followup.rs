//! Victim follow-up that cannot be imitated.
//!
//! "Recovery" scammers target people who were just defrauded, posing as the platform's security
//! team. So every notification quotes the anti-phishing phrase the victim chose when filing,
//! carries no link but the configured official base URL, asks for nothing, and says so. Sending
//! is driven by the report's own public timeline (see `migrations/*/0008_followup.sql`): a crash
//! after a commit loses no message, and a message the SMTP server accepted is not sent again.
//!
//! Also here: progress estimates learned from recent handling times, satisfaction ratings, and
//! "forget me".

pub mod cipher;
pub mod mail;

use crate::storage::{HandlingSample, StorageError, Store};
use crate::types::{now, UnixTime};

pub use cipher::ContactCipher;

/// Why a follow-up action was refused.
#[derive(Debug, thiserror::Error)]
pub enum FollowupError {
    #[error("{0}")]
    Invalid(&'static str),
    /// The report is not resolved (or dismissed) yet: nothing to rate.
    #[error("you can rate the handling once the report is closed")]
    NotClosed,
    #[error("this report was already rated")]
    AlreadyRated,
    /// Wrong or used confirmation code (a guess: counted towards the lockout).
    #[error("that confirmation code is not right")]
    WrongCode,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A fresh address-confirmation code, `XXXX-XXXX` in Crockford base32 (40 bits): mailed to the
/// address, typed on the status page by whoever also holds the receipt.
pub fn new_confirmation_code() -> String {
    crate::reports::receipt::random_pair()
}

/// SHA-256 of a code as typed: case, spaces and hyphens do not matter; O reads as 0, I and L as 1.
pub fn confirmation_hash(code: &str) -> String {
    use sha2::{Digest, Sha256};
    let norm: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect();
    let d = Sha256::digest(format!("trustdesk-confirm:{norm}").as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Turns notifications on: the code from the e-mail, entered by the receipt holder.
pub async fn confirm(store: &dyn Store, report_id: &str, code: &str) -> Result<(), FollowupError> {
    if code.len() > 32 {
        return Err(FollowupError::WrongCode);
    }
    if store
        .confirm_followup(report_id, &confirmation_hash(code), now())
        .await?
    {
        Ok(())
    } else {
        Err(FollowupError::WrongCode)
    }
}

/// How far back the estimate looks.
const ESTIMATE_WINDOW_SECS: i64 = 30 * 24 * 3600;
/// Fewer samples than this and the estimate falls back to the SLA.
const MIN_SAMPLES: usize = 3;

/// The expected time of a report's next step: the median time reports of the same priority
/// recently spent at the same step, counted from when this report reached it. `fallback` (the
/// promised first response, say) is used while there is too little history.
pub fn estimate_next_step(
    samples: &[HandlingSample],
    priority: &str,
    step: &str,
    step_started_at: UnixTime,
    fallback: Option<UnixTime>,
) -> Option<UnixTime> {
    let mut durations: Vec<i64> = samples
        .iter()
        .filter(|s| s.priority == priority && s.kind == step)
        .map(|s| (s.ended_at - s.started_at).max(0))
        .collect();
    if durations.len() < MIN_SAMPLES {
        return fallback;
    }
    durations.sort_unstable();
    let mid = durations.len() / 2;
    let median = if durations.len().is_multiple_of(2) {
        (durations[mid - 1] + durations[mid]) / 2
    } else {
        durations[mid]
    };
    Some(step_started_at + median)
}

/// Recent handling history for [`estimate_next_step`].
pub async fn recent_samples(store: &dyn Store) -> Result<Vec<HandlingSample>, StorageError> {
    store.handling_samples(now() - ESTIMATE_WINDOW_SECS).await
}

/// [`recent_samples`], read at most once per refresh interval and shared by every status
/// request meanwhile. Without it each victim's status page scanned the recent report events, a
/// cost that grew with the number of reports (10 ms per request at 5 000 reports).
pub struct Estimates {
    refresh_secs: i64,
    cached: std::sync::RwLock<Option<(i64, std::sync::Arc<Vec<HandlingSample>>)>>,
    /// One refresh at a time; the others serve the previous copy meanwhile.
    refreshing: tokio::sync::Mutex<()>,
}

impl Estimates {
    pub fn new(refresh_secs: u32) -> Estimates {
        Estimates {
            refresh_secs: i64::from(refresh_secs),
            cached: std::sync::RwLock::new(None),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    fn current(&self) -> Option<(i64, std::sync::Arc<Vec<HandlingSample>>)> {
        match self.cached.read() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The history, fresh within the refresh interval. While one request refreshes it, the
    /// others get the previous copy; if the refresh fails (the database is down) the previous
    /// copy is served, and only a first read with nothing to fall back on is an error.
    pub async fn samples(
        &self,
        store: &dyn Store,
    ) -> Result<std::sync::Arc<Vec<HandlingSample>>, StorageError> {
        if self.refresh_secs == 0 {
            return Ok(std::sync::Arc::new(recent_samples(store).await?));
        }
        let stale = match self.current() {
            Some((at, samples)) if now() - at < self.refresh_secs && now() >= at => {
                return Ok(samples)
            }
            other => other.map(|(_, s)| s),
        };
        let _refreshing = match (self.refreshing.try_lock(), &stale) {
            (Ok(guard), _) => guard,
            (Err(_), Some(s)) => return Ok(s.clone()),
            // Nothing to serve yet: wait for the refresh in flight, then use what it read.
            (Err(_), None) => {
                let guard = self.refreshing.lock().await;
                if let Some((_, s)) = self.current() {
                    return Ok(s);
                }
                guard
            }
        };
        match recent_samples(store).await {
            Ok(fresh) => {
                let fresh = std::sync::Arc::new(fresh);
                let mut c = match self.cached.write() {
                    Ok(c) => c,
                    Err(p) => p.into_inner(),
                };
                *c = Some((now(), fresh.clone()));
                Ok(fresh)
            }
            Err(e) => stale.ok_or(e),
        }
    }
}

/// Statuses after which there is nothing left to do (and the victim may rate the handling).
pub fn is_closed(status: &str) -> bool {
    matches!(status, "resolved" | "dismissed" | "duplicate")
}

/// Stores the victim's rating (1–5) and optional comment, once, after the report is closed.
pub async fn rate(
    store: &dyn Store,
    report_id: &str,
    status: &str,
    rating: i64,
    comment: Option<&str>,
) -> Result<(), FollowupError> {
    if !(1..=5).contains(&rating) {
        return Err(FollowupError::Invalid("rating must be 1 to 5"));
    }
    let comment = comment.map(str::trim).filter(|c| !c.is_empty());
    if let Some(c) = comment {
        if c.chars().count() > 2000 {
            return Err(FollowupError::Invalid(
                "the comment is limited to 2000 characters",
            ));
        }
        if c.chars()
            .any(|ch| ch.is_control() && ch != '\n' && ch != '\r')
        {
            return Err(FollowupError::Invalid(
                "the comment contains control characters",
            ));
        }
    }
    if !is_closed(status) {
        return Err(FollowupError::NotClosed);
    }
    match store.insert_rating(report_id, rating, comment, now()).await {
        Ok(()) => Ok(()),
        Err(StorageError::Conflict { .. }) => Err(FollowupError::AlreadyRated),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn estimates_read_the_history_once_per_refresh_interval() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = crate::storage::open(&url).await.unwrap();
        let cached = Estimates::new(3600);
        let a = cached.samples(store.as_ref()).await.unwrap();
        let b = cached.samples(store.as_ref()).await.unwrap();
        assert!(std::sync::Arc::ptr_eq(&a, &b), "reused within the interval");
        let fresh = Estimates::new(0);
        let a = fresh.samples(store.as_ref()).await.unwrap();
        let b = fresh.samples(store.as_ref()).await.unwrap();
        assert!(!std::sync::Arc::ptr_eq(&a, &b), "0 reads every time");
        // The store being gone: a cache with a copy serves it, an empty one reports the error.
        let stale = Estimates::new(1);
        let kept = stale.samples(store.as_ref()).await.unwrap();
        store.close().await;
        assert!(Estimates::new(60).samples(store.as_ref()).await.is_err());
        *stale.cached.write().unwrap() = Some((now() - 5, kept.clone()));
        let served = stale.samples(store.as_ref()).await.unwrap();
        assert!(
            std::sync::Arc::ptr_eq(&served, &kept),
            "stale copy during an outage"
        );
    }

    fn s(priority: &str, kind: &str, dur: i64) -> HandlingSample {
        HandlingSample {
            priority: priority.into(),
            kind: kind.into(),
            started_at: 1000,
            ended_at: 1000 + dur,
        }
    }

    #[test]
    fn confirmation_codes_survive_how_people_type_them() {
        let code = new_confirmation_code();
        assert_eq!(code.len(), 9);
        let typed = code.to_lowercase().replace('-', " ");
        assert_eq!(confirmation_hash(&code), confirmation_hash(&typed));
        assert_eq!(
            confirmation_hash("0I1L-ABCD"),
            confirmation_hash("oil1abcd")
        );
        assert_ne!(confirmation_hash(&code), confirmation_hash("AAAA-AAAA"));
    }

    #[test]
    fn the_estimate_is_the_median_for_the_same_priority_and_step_or_the_fallback() {
        let h = vec![
            s("P2", "received", 600),
            s("P2", "received", 1200),
            s("P2", "received", 60_000),
            s("P1", "received", 5),
            s("P2", "triaged", 9),
        ];
        assert_eq!(
            estimate_next_step(&h, "P2", "received", 10_000, Some(1)),
            Some(11_200)
        );
        // Too little history for P1 or for this step: the promise stands.
        assert_eq!(
            estimate_next_step(&h, "P1", "received", 0, Some(7)),
            Some(7)
        );
        assert_eq!(estimate_next_step(&h, "P2", "triaged", 0, None), None);
        let mut more = h.clone();
        more.push(s("P2", "received", 100));
        assert_eq!(
            estimate_next_step(&more, "P2", "received", 0, None),
            Some(900),
            "even count: mean of the middle two"
        );
    }
}
