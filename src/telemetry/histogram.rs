//! A fixed-bucket latency histogram for the request path, rendered as Prometheus text.
//!
//! The Prometheus exporter's histograms buffer every observation: each one pins an epoch, bumps
//! two counters shared by all cores in a block that every thread writes, and every 64th allocates
//! a new block, which upkeep later drains. On the verification hot path, replacing it with this
//! one saved about 3 % of a request's CPU (`scripts/load/ab.sh`, `docs/performance.md`). Here an
//! observation is two uncontended atomic additions: the counts live in per-thread shards, padded
//! apart, and are summed only when `/metrics` is scraped.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds, in seconds, of the request-duration buckets (Prometheus `le`, inclusive).
pub const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Threads are spread over this many shards; more threads than shards only share some.
pub(super) const SHARDS: usize = 8;

/// One thread's counts, on cache lines of their own.
#[repr(align(128))]
#[derive(Default)]
struct Shard {
    /// Observations per bucket, not cumulative; the last one is above every bound (`+Inf`).
    counts: [AtomicU64; BUCKETS.len() + 1],
    /// Sum of the observations in seconds, as `f64` bits.
    sum_bits: AtomicU64,
}

pub struct Histogram {
    shards: Box<[Shard]>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
        }
    }
}

/// What a scrape reads: cumulative bucket counts, as Prometheus wants them.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    /// Observations at or below each bound of [`BUCKETS`].
    pub cumulative: [u64; BUCKETS.len()],
    pub count: u64,
    pub sum_secs: f64,
}

impl Histogram {
    pub fn record(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|&bound| secs <= bound)
            .unwrap_or(BUCKETS.len());
        let shard = &self.shards[shard_index()];
        shard.counts[bucket].fetch_add(1, Relaxed);
        // Only this thread writes its shard as a rule, so the loop runs once.
        let _ = shard.sum_bits.fetch_update(Relaxed, Relaxed, |bits| {
            Some((f64::from_bits(bits) + secs).to_bits())
        });
    }

    /// The counts so far. Observations recorded meanwhile may be in some counts and not yet in
    /// others; a scrape is a moment's approximation, as with any Prometheus client.
    pub fn snapshot(&self) -> Snapshot {
        let mut per_bucket = [0u64; BUCKETS.len() + 1];
        let mut sum_secs = 0.0;
        for shard in self.shards.iter() {
            for (total, c) in per_bucket.iter_mut().zip(&shard.counts) {
                *total += c.load(Relaxed);
            }
            sum_secs += f64::from_bits(shard.sum_bits.load(Relaxed));
        }
        let mut cumulative = [0u64; BUCKETS.len()];
        let mut running = 0;
        for (c, n) in cumulative.iter_mut().zip(per_bucket) {
            running += n;
            *c = running;
        }
        Snapshot {
            cumulative,
            count: running + per_bucket[BUCKETS.len()],
            sum_secs,
        }
    }

    /// Appends this histogram's series to `out` in the Prometheus text format, the `TYPE` line
    /// excepted (it is written once per metric name). `labels` is `name="value"` pairs, already
    /// escaped (see [`label_value`]), without braces.
    pub fn render(&self, out: &mut String, name: &str, labels: &str) {
        let s = self.snapshot();
        for (bound, c) in BUCKETS.iter().zip(s.cumulative) {
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {c}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", s.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", s.sum_secs);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", s.count);
    }
}

/// A label value escaped for the Prometheus text format (backslash, quote and newline).
pub fn label_value(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// This thread's shard, handed out round robin on its first observation.
pub(super) fn shard_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Relaxed) % SHARDS;
    }
    SHARD.with(|s| *s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_fall_in_the_first_bucket_whose_bound_they_do_not_exceed() {
        let h = Histogram::default();
        h.record(Duration::from_micros(60)); // le 0.0005
        h.record(Duration::from_micros(500)); // exactly on the bound: le 0.0005
        h.record(Duration::from_micros(501)); // le 0.001
        h.record(Duration::from_millis(300)); // le 0.5
        h.record(Duration::from_secs(3)); // above every bound: +Inf only
        let s = h.snapshot();
        assert_eq!(s.cumulative[0], 2);
        assert_eq!(s.cumulative[1], 3);
        assert_eq!(s.cumulative[8], 3, "le 0.25");
        assert_eq!(s.cumulative[9], 4, "le 0.5");
        assert_eq!(s.cumulative[11], 4, "le 2.5");
        assert_eq!(s.count, 5);
        assert!((s.sum_secs - 3.301_061).abs() < 1e-9, "{}", s.sum_secs);
    }

    #[test]
    fn observations_from_many_threads_are_all_counted() {
        let h = std::sync::Arc::new(Histogram::default());
        let threads: Vec<_> = (0..12)
            .map(|_| {
                let h = h.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        h.record(Duration::from_millis(2));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let s = h.snapshot();
        assert_eq!(s.count, 12_000);
        assert_eq!(s.cumulative[1], 0, "le 0.001");
        assert_eq!(s.cumulative[2], 12_000, "le 0.0025");
        assert!((s.sum_secs - 24.0).abs() < 1e-6, "{}", s.sum_secs);
    }

    #[test]
    fn renders_cumulative_buckets_sum_and_count() {
        let h = Histogram::default();
        h.record(Duration::from_micros(250));
        h.record(Duration::from_millis(20));
        let mut out = String::new();
        h.render(&mut out, "x_seconds", r#"route="/v/{token}""#);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), BUCKETS.len() + 3);
        assert_eq!(
            lines[0],
            r#"x_seconds_bucket{route="/v/{token}",le="0.0005"} 1"#
        );
        assert_eq!(
            lines[4],
            r#"x_seconds_bucket{route="/v/{token}",le="0.01"} 1"#
        );
        assert_eq!(
            lines[5],
            r#"x_seconds_bucket{route="/v/{token}",le="0.025"} 2"#
        );
        assert_eq!(
            lines[10],
            r#"x_seconds_bucket{route="/v/{token}",le="1"} 2"#
        );
        assert_eq!(
            lines[12],
            r#"x_seconds_bucket{route="/v/{token}",le="+Inf"} 2"#
        );
        assert_eq!(lines[13], r#"x_seconds_sum{route="/v/{token}"} 0.02025"#);
        assert_eq!(lines[14], r#"x_seconds_count{route="/v/{token}"} 2"#);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label_value("a\"b\\c\nd"), r#"a\"b\\c\nd"#);
        assert_eq!(label_value("/v1/verify"), "/v1/verify");
    }
}
