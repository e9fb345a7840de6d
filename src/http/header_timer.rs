//! hyper's header-read timeout at a connection's cost instead of a request's.
//!
//! With a header-read timeout, hyper asks its [`Timer`] for a new sleep every time it starts
//! reading a request head (on a keep-alive connection: right after each answer) and drops it once
//! the head is parsed. hyper-util's `TokioTimer` makes each of those a new tokio timer entry:
//! a heap allocation, and a registration and a removal under the runtime's timer lock, shared by
//! every worker. Under distinct-token verify load, `perf` put about 1 % of the server's samples in
//! that timer work (what the change saved is in `docs/performance.md`: little).
//!
//! [`HeaderTimer`] keeps one tokio sleep per connection instead. Each head read moves its deadline
//! later, which tokio does without its lock (a registered entry whose deadline only grows is
//! re-filed when it fires, not when it moves); the sleeps hyper holds are thin handles on it. The
//! deadline is the one hyper asked for, so a client trickling its headers is cut off exactly as
//! before (`tests/api/limits.rs`).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};

/// One per connection (`http1::Builder::timer`).
#[derive(Clone)]
pub struct HeaderTimer(Arc<Mutex<Pin<Box<tokio::time::Sleep>>>>);

impl HeaderTimer {
    /// Must be called inside the tokio runtime (the sleep binds to its timer).
    pub fn for_connection() -> HeaderTimer {
        // Far in the future until a head read sets it; nothing is registered before the first poll.
        let idle = tokio::time::Instant::now() + Duration::from_secs(365 * 24 * 3600);
        HeaderTimer(Arc::new(Mutex::new(Box::pin(tokio::time::sleep_until(
            idle,
        )))))
    }
}

impl Timer for HeaderTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        self.sleep_until(self.now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(HeaderSleep {
            deadline: tokio::time::Instant::from_std(deadline),
            shared: self.0.clone(),
        })
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<HeaderSleep>() {
            Some(mut s) => s.deadline = tokio::time::Instant::from_std(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }

    /// tokio's clock, as hyper-util's `TokioTimer` uses (the same as `Instant::now` unless a test
    /// pauses time).
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

/// What hyper holds while it reads one request head: the deadline, and the connection's sleep.
struct HeaderSleep {
    deadline: tokio::time::Instant,
    shared: Arc<Mutex<Pin<Box<tokio::time::Sleep>>>>,
}

impl Future for HeaderSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Only this connection's task polls it, so the lock is never contended; a poisoned one
        // still holds a usable sleep.
        let mut sleep = match self.shared.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        if sleep.deadline() != self.deadline {
            sleep.as_mut().reset(self.deadline);
        }
        sleep.as_mut().poll(cx)
    }
}

impl Sleep for HeaderSleep {}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    async fn fires_within(s: &mut Pin<Box<dyn Sleep>>, within: Duration) -> bool {
        tokio::time::timeout(within, s.as_mut()).await.is_ok()
    }

    #[tokio::test]
    async fn each_sleep_fires_at_its_own_deadline_on_the_shared_entry() {
        let timer = HeaderTimer::for_connection();
        // A head read that finishes in time: its sleep is dropped unfired.
        let mut first = timer.sleep(ms(400));
        assert!(!fires_within(&mut first, ms(200)).await);
        drop(first);
        // The next head read gets the whole timeout again, counted from its own start (the
        // shared entry was registered for the first deadline, 200 ms from now).
        let started = Instant::now();
        let mut second = timer.sleep(ms(400));
        assert!(fires_within(&mut second, ms(5_000)).await);
        let waited = started.elapsed();
        assert!(
            waited >= ms(390),
            "fired after {waited:?}, before its deadline"
        );
        assert!(waited < ms(2_000), "fired after {waited:?}");
    }

    #[tokio::test]
    async fn reset_moves_the_deadline_either_way() {
        let timer = HeaderTimer::for_connection();
        let started = Instant::now();
        let mut s = timer.sleep(ms(5_000));
        assert!(!fires_within(&mut s, ms(100)).await);
        timer.reset(&mut s, timer.now() + ms(200));
        assert!(fires_within(&mut s, ms(3_000)).await);
        assert!(
            started.elapsed() < ms(3_000),
            "the earlier deadline was kept"
        );

        let started = Instant::now();
        let mut s = timer.sleep(ms(100));
        timer.reset(&mut s, timer.now() + ms(500));
        assert!(fires_within(&mut s, ms(5_000)).await);
        assert!(started.elapsed() >= ms(490), "the later deadline was kept");
    }
}
