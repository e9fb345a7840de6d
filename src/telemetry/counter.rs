//! A counter for the request path, rendered as Prometheus text by `GET /metrics`.
//!
//! The Prometheus exporter's counters are one atomic (and a generation beside it) that every
//! core adds to: on the verification path the two request counters moved that cache line between
//! the cores on every request (0.6 % of the samples in a `perf` profile, more than the claims
//! parser). Here, as in [`super::histogram`], each thread adds to its own padded shard and a
//! scrape sums them.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::histogram::{shard_index, SHARDS};

/// One thread's count, on a cache line of its own.
#[repr(align(128))]
#[derive(Default)]
struct Cell(AtomicU64);

pub struct ShardedCounter {
    cells: Box<[Cell]>,
}

impl Default for ShardedCounter {
    fn default() -> Self {
        ShardedCounter {
            cells: (0..SHARDS).map(|_| Cell::default()).collect(),
        }
    }
}

impl ShardedCounter {
    pub fn increment(&self) {
        self.cells[shard_index()].0.fetch_add(1, Relaxed);
    }

    /// The total so far (increments made meanwhile may or may not be in it).
    pub fn get(&self) -> u64 {
        self.cells.iter().map(|c| c.0.load(Relaxed)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increments_from_many_threads_all_count() {
        let c = std::sync::Arc::new(ShardedCounter::default());
        let threads: Vec<_> = (0..2 * SHARDS)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || (0..1000).for_each(|_| c.increment()))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(c.get(), 2000 * SHARDS as u64);
    }
}
