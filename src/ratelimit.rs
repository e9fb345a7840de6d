//! Abuse protection: keyed GCRA limiters (governor) per client and route class, and a lockout
//! for repeated authentication failures (receipts, API keys, session codes).
//!
//! Clients are keyed by IP; IPv6 by its /64 (one subscriber), so rotating addresses inside a
//! prefix buys nothing. Staff routes are keyed by API key. State is bounded: [`RateLimiter::purge`]
//! drops keys whose buckets are full again.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::Quota;

/// Route classes, each with its own limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LimitedAction {
    /// Token / link / code verification: generous, it is what every user calls.
    Verify,
    /// Batch verification (up to 64 tokens per request): its own, smaller budget of requests.
    VerifyBatch,
    /// Channel checks: generous.
    ChannelCheck,
    /// Report submission: strict, so spam cannot bury real reports.
    ReportSubmit,
    /// Reading a report's status with a receipt.
    ReportRead,
    /// Staff API, keyed per API key.
    Staff,
    /// Failed receipts, API keys and session codes: very strict, guessing must be hopeless.
    AuthFailure,
    /// Everything else that is public (pages, keys, OpenAPI).
    Public,
}

impl LimitedAction {
    pub const ALL: [LimitedAction; 8] = [
        LimitedAction::Verify,
        LimitedAction::VerifyBatch,
        LimitedAction::ChannelCheck,
        LimitedAction::ReportSubmit,
        LimitedAction::ReportRead,
        LimitedAction::Staff,
        LimitedAction::AuthFailure,
        LimitedAction::Public,
    ];

    pub fn name(self) -> &'static str {
        match self {
            LimitedAction::Verify => "verify",
            LimitedAction::VerifyBatch => "verify_batch",
            LimitedAction::ChannelCheck => "channel_check",
            LimitedAction::ReportSubmit => "report_submit",
            LimitedAction::ReportRead => "report_read",
            LimitedAction::Staff => "staff",
            LimitedAction::AuthFailure => "auth_failure",
            LimitedAction::Public => "public",
        }
    }

    /// Default limit: `burst` requests at once, then one more every `period`.
    pub fn default_spec(self) -> LimitSpec {
        let s = |burst, period_ms| LimitSpec {
            burst,
            period: Duration::from_millis(period_ms),
        };
        match self {
            LimitedAction::Verify => s(60, 500),        // 120/min sustained
            LimitedAction::VerifyBatch => s(10, 2_000), // 30 batches/min: ~32 tokens/s
            LimitedAction::ChannelCheck => s(60, 500),  // 120/min
            LimitedAction::ReportSubmit => s(3, 720_000), // 5/hour, burst 3
            LimitedAction::ReportRead => s(30, 2_000),  // 30/min
            LimitedAction::Staff => s(200, 50),         // 20/s per key
            LimitedAction::AuthFailure => s(5, 60_000), // 5 failures, then 1/min
            LimitedAction::Public => s(120, 250),       // 240/min
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|a| *a == self).unwrap_or(0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitSpec {
    pub burst: u32,
    pub period: Duration,
}

impl LimitSpec {
    /// `RateLimit-Policy` quota and window: `burst` requests per `burst * period`.
    pub fn window_secs(&self) -> u64 {
        (self.period.as_secs_f64() * f64::from(self.burst))
            .ceil()
            .max(1.0) as u64
    }
}

/// Parses `TRUSTDESK_RATE_LIMITS`: `off`, or comma-separated `class=BURST/PERIOD` overrides, the
/// period as `500ms`, `2s`, `1m` or `1h`: `report_submit=3/12m,verify=60/500ms`.
pub fn parse_specs(s: &str) -> Result<Option<HashMap<LimitedAction, LimitSpec>>, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let mut out: HashMap<LimitedAction, LimitSpec> = LimitedAction::ALL
        .iter()
        .map(|a| (*a, a.default_spec()))
        .collect();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, spec) = part
            .split_once('=')
            .ok_or(format!("expected class=BURST/PERIOD in {part:?}"))?;
        let action = LimitedAction::ALL
            .into_iter()
            .find(|a| a.name() == name.trim())
            .ok_or(format!("unknown rate-limit class {name:?}"))?;
        let (burst, period) = spec
            .split_once('/')
            .ok_or(format!("expected BURST/PERIOD in {part:?}"))?;
        let burst: u32 = burst
            .trim()
            .parse()
            .map_err(|_| format!("bad burst in {part:?}"))?;
        let period = parse_period(period.trim()).ok_or(format!("bad period in {part:?}"))?;
        if burst == 0 || period.is_zero() {
            return Err(format!("burst and period must be positive in {part:?}"));
        }
        out.insert(action, LimitSpec { burst, period });
    }
    Ok(Some(out))
}

fn parse_period(p: &str) -> Option<Duration> {
    let (num, unit): (String, String) = (
        p.chars().take_while(|c| c.is_ascii_digit()).collect(),
        p.chars().skip_while(|c| c.is_ascii_digit()).collect(),
    );
    let n: u64 = num.parse().ok()?;
    Some(match unit.as_str() {
        "ms" => Duration::from_millis(n),
        "s" | "" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return None,
    })
}

/// Who is asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientKey {
    V4(u32),
    /// The /64 prefix.
    V6(u64),
    /// First 16 bytes of SHA-256 of a staff API key.
    Staff([u8; 16]),
}

pub fn ip_key(ip: IpAddr) -> ClientKey {
    match ip {
        IpAddr::V4(v4) => ClientKey::V4(u32::from(v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => ClientKey::V4(u32::from(v4)),
            None => ClientKey::V6((u128::from(v6) >> 64) as u64),
        },
    }
}

/// Key for guessing (failures, lockout, secret checks in flight): IPv6 by /48, since one
/// subscriber easily holds a /48 and would otherwise get 65 536 lockout budgets.
pub fn guess_key(ip: IpAddr) -> ClientKey {
    match ip_key(ip) {
        ClientKey::V6(p64) => ClientKey::V6(p64 & !0xffff),
        other => other,
    }
}

pub fn staff_key(api_key: &str) -> ClientKey {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(api_key.as_bytes());
    let mut k = [0u8; 16];
    k.copy_from_slice(&d[..16]);
    ClientKey::Staff(k)
}

type Limiter = governor::RateLimiter<
    ClientKey,
    DefaultKeyedStateStore<ClientKey>,
    DefaultClock,
    StateInformationMiddleware,
>;

/// An allowed request: what is left of the budget.
#[derive(Clone, Copy, Debug)]
pub struct Allowed {
    pub spec: LimitSpec,
    pub remaining: u32,
}

/// A refused request.
#[derive(Clone, Copy, Debug)]
pub struct RateLimited {
    pub action: LimitedAction,
    pub spec: LimitSpec,
    pub retry_after: Duration,
}

/// Requests that check a secret (receipt, key, code) one client may have in flight at once.
pub const MAX_SECRET_CHECKS_IN_FLIGHT: u32 = 4;

type InFlight = std::sync::Arc<Mutex<HashMap<ClientKey, u32>>>;

pub struct RateLimiter {
    /// `None`: limiting is off (tests, or an operator who limits at the proxy).
    limiters: Option<Vec<(LimitSpec, Limiter)>>,
    clock: DefaultClock,
    lockouts: Mutex<HashMap<ClientKey, Instant>>,
    in_flight: InFlight,
}

/// Held while a secret-checking request runs; frees its slot when dropped.
pub struct SecretSlot {
    key: ClientKey,
    in_flight: InFlight,
}

impl Drop for SecretSlot {
    fn drop(&mut self) {
        let mut m = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.key);
            }
        }
    }
}

impl RateLimiter {
    pub fn new(specs: Option<HashMap<LimitedAction, LimitSpec>>) -> RateLimiter {
        let clock = DefaultClock::default();
        let limiters = specs.map(|specs| {
            LimitedAction::ALL
                .iter()
                .map(|a| {
                    let spec = specs.get(a).copied().unwrap_or(a.default_spec());
                    let burst = NonZeroU32::new(spec.burst).unwrap_or(NonZeroU32::MIN);
                    let quota = Quota::with_period(spec.period)
                        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
                        .allow_burst(burst);
                    let limiter: Limiter =
                        governor::RateLimiter::<
                            ClientKey,
                            DefaultKeyedStateStore<ClientKey>,
                            DefaultClock,
                        >::new(
                            quota, DefaultKeyedStateStore::default(), clock.clone()
                        )
                        .with_middleware::<StateInformationMiddleware>();
                    (spec, limiter)
                })
                .collect()
        });
        RateLimiter {
            limiters,
            clock,
            lockouts: Mutex::new(HashMap::new()),
            in_flight: InFlight::default(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.limiters.is_some()
    }

    /// Counts one request of `action` from `key`.
    pub fn check(
        &self,
        action: LimitedAction,
        key: &ClientKey,
    ) -> Result<Option<Allowed>, RateLimited> {
        let Some(limiters) = &self.limiters else {
            return Ok(None);
        };
        let (spec, limiter) = &limiters[action.index()];
        match limiter.check_key(key) {
            Ok(snapshot) => Ok(Some(Allowed {
                spec: *spec,
                remaining: snapshot.remaining_burst_capacity(),
            })),
            Err(not_until) => Err(RateLimited {
                action,
                spec: *spec,
                retry_after: not_until.wait_time_from(self.clock.now()),
            }),
        }
    }

    /// Refuses a client that is locked out after too many authentication failures.
    pub fn check_lockout(&self, key: &ClientKey) -> Result<(), RateLimited> {
        let Some(limiters) = &self.limiters else {
            return Ok(());
        };
        let locks = self.lockouts.lock().unwrap_or_else(|p| p.into_inner());
        match locks.get(key) {
            Some(until) if *until > Instant::now() => Err(RateLimited {
                action: LimitedAction::AuthFailure,
                spec: limiters[LimitedAction::AuthFailure.index()].0,
                retry_after: *until - Instant::now(),
            }),
            _ => Ok(()),
        }
    }

    /// Takes one of the client's few slots for a secret-checking request, or refuses (429, retry
    /// in a second) when all are busy: guesses cannot be fired in parallel past the lockout.
    pub fn secret_slot(&self, key: &ClientKey) -> Result<SecretSlot, RateLimited> {
        let mut m = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(*key).or_insert(0);
        if *n >= MAX_SECRET_CHECKS_IN_FLIGHT {
            return Err(RateLimited {
                action: LimitedAction::AuthFailure,
                spec: LimitedAction::AuthFailure.default_spec(),
                retry_after: Duration::from_secs(1),
            });
        }
        *n += 1;
        Ok(SecretSlot {
            key: *key,
            in_flight: self.in_flight.clone(),
        })
    }

    /// Records a failed receipt / API key / session code; past the budget the client is locked
    /// out until the budget refills.
    pub fn record_failure(&self, key: &ClientKey) {
        if let Err(limited) = self.check(LimitedAction::AuthFailure, key) {
            let mut locks = self.lockouts.lock().unwrap_or_else(|p| p.into_inner());
            locks.insert(
                *key,
                Instant::now() + limited.retry_after.max(Duration::from_secs(1)),
            );
        }
    }

    /// Forgets clients whose buckets are full again and expired lockouts, so memory does not
    /// grow with the number of distinct clients ever seen.
    pub fn purge(&self) {
        if let Some(limiters) = &self.limiters {
            for (_, l) in limiters {
                l.retain_recent();
                l.shrink_to_fit();
            }
        }
        let now = Instant::now();
        let mut locks = self.lockouts.lock().unwrap_or_else(|p| p.into_inner());
        locks.retain(|_, until| *until > now);
        locks.shrink_to_fit();
    }

    /// Keys currently tracked, across all classes (for tests and metrics).
    pub fn tracked_keys(&self) -> usize {
        let limiters = self
            .limiters
            .as_ref()
            .map_or(0, |ls| ls.iter().map(|(_, l)| l.len()).sum());
        limiters + self.lockouts.lock().map(|l| l.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_share_their_64_and_mapped_v4_is_v4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ip_key(a), ip_key(b));
        assert_ne!(ip_key(a), ip_key(c));
        let m: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(ip_key(m), ip_key("192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn specs_parse_overrides_and_off() {
        assert!(parse_specs("off").unwrap().is_none());
        let s = parse_specs("report_submit=2/10s, verify=5/100ms")
            .unwrap()
            .unwrap();
        assert_eq!(
            s[&LimitedAction::ReportSubmit],
            LimitSpec {
                burst: 2,
                period: Duration::from_secs(10)
            }
        );
        assert_eq!(s[&LimitedAction::Verify].period, Duration::from_millis(100));
        assert_eq!(
            s[&LimitedAction::Staff],
            LimitedAction::Staff.default_spec()
        );
        for bad in ["nope=1/1s", "verify=0/1s", "verify=1/1y", "verify"] {
            assert!(parse_specs(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn burst_then_limited_with_retry_after() {
        let mut specs = parse_specs("").unwrap().unwrap();
        specs.insert(
            LimitedAction::ReportSubmit,
            LimitSpec {
                burst: 2,
                period: Duration::from_secs(60),
            },
        );
        let rl = RateLimiter::new(Some(specs));
        let k = ip_key("10.0.0.1".parse().unwrap());
        assert!(rl.check(LimitedAction::ReportSubmit, &k).is_ok());
        assert!(rl.check(LimitedAction::ReportSubmit, &k).is_ok());
        let e = rl.check(LimitedAction::ReportSubmit, &k).unwrap_err();
        assert!(
            e.retry_after > Duration::from_secs(50) && e.retry_after <= Duration::from_secs(60)
        );
        let other = ip_key("10.0.0.2".parse().unwrap());
        assert!(
            rl.check(LimitedAction::ReportSubmit, &other).is_ok(),
            "other clients unaffected"
        );
    }

    #[test]
    fn failures_lock_a_client_out() {
        let mut specs = parse_specs("").unwrap().unwrap();
        specs.insert(
            LimitedAction::AuthFailure,
            LimitSpec {
                burst: 3,
                period: Duration::from_secs(60),
            },
        );
        let rl = RateLimiter::new(Some(specs));
        let k = ip_key("10.0.0.1".parse().unwrap());
        for _ in 0..3 {
            rl.record_failure(&k);
            assert!(rl.check_lockout(&k).is_ok());
        }
        rl.record_failure(&k);
        assert!(rl.check_lockout(&k).is_err());
    }

    #[test]
    fn secret_checks_in_flight_are_capped_and_released() {
        let rl = RateLimiter::new(parse_specs("").unwrap());
        let k = guess_key("2001:db8:1:2::1".parse().unwrap());
        assert_eq!(
            k,
            guess_key("2001:db8:1:ff00::1".parse().unwrap()),
            "same /48"
        );
        let slots: Vec<_> = (0..MAX_SECRET_CHECKS_IN_FLIGHT)
            .map(|_| rl.secret_slot(&k).unwrap())
            .collect();
        assert!(rl.secret_slot(&k).is_err());
        drop(slots);
        assert!(rl.secret_slot(&k).is_ok());
    }

    #[test]
    fn memory_stays_bounded_after_100k_distinct_clients() {
        let specs = parse_specs("public=1/1ms").unwrap();
        let rl = RateLimiter::new(specs);
        for i in 0..100_000u32 {
            let _ = rl.check(LimitedAction::Public, &ClientKey::V4(i));
        }
        assert!(rl.tracked_keys() >= 100_000);
        std::thread::sleep(Duration::from_millis(20));
        rl.purge();
        assert_eq!(rl.tracked_keys(), 0, "replenished keys are dropped");
    }
}
