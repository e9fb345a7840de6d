//! Logging and metrics set-up. Log lines carry the request span (method, route template,
//! request id); never tokens, keys, e-mail addresses or bodies.

pub mod counter;
pub mod histogram;

use std::sync::OnceLock;

use counter::ShardedCounter;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global log subscriber. `RUST_LOG` overrides the default filter. Safe to call
/// more than once (later calls do nothing), which tests rely on.
/// Logs go to stderr so that command output on stdout (an API key, a verdict) stays clean.
pub fn init_logging(format: LogFormat, default_level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{default_level},sqlx=warn,tower_http=warn")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// The process-wide Prometheus recorder. Installed once; every `App` in the process (tests start
/// many) shares it.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            // The request-duration histogram and the hot path's counters are our own
            // (`histogram`, `counter`), rendered next to this recorder's text by `GET /metrics`;
            // the recorder holds the other counters and gauges.
            let builder = PrometheusBuilder::new();
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (embedding); then ours only renders.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Every [`CounterSet`] incremented so far, in the order of their first increments.
static COUNTER_SETS: std::sync::Mutex<Vec<&'static CounterSet>> = std::sync::Mutex::new(Vec::new());

/// Appends every counter set used so far to the Prometheus text of `/metrics`, by name.
pub fn render_counter_sets(out: &mut String) {
    let mut sets = COUNTER_SETS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    sets.sort_unstable_by_key(|s| s.name);
    for set in sets {
        set.render(out);
    }
}

/// One counter over a fixed set of label values, for the hot path: each value's count is a
/// [`ShardedCounter`] (no cache line shared by the cores, no registry lookup), rendered into
/// `GET /metrics` by [`CounterSet::render`]. Declared as a `static`, so its counts are
/// process-wide like the recorder's. A value outside the set counts as `other`.
pub struct CounterSet {
    name: &'static str,
    label: &'static str,
    values: &'static [&'static str],
    /// One per value, then `other`; created on the first increment, so a metric never used is
    /// not rendered.
    counts: OnceLock<Box<[ShardedCounter]>>,
}

impl CounterSet {
    pub const fn new(
        name: &'static str,
        label: &'static str,
        values: &'static [&'static str],
    ) -> CounterSet {
        CounterSet {
            name,
            label,
            values,
            counts: OnceLock::new(),
        }
    }

    /// Adds one to the series `label=value`. The first increment registers the set for
    /// [`render_counter_sets`], so no set can be left out of `/metrics`.
    pub fn increment(&'static self, value: &str) {
        let counts = self.counts.get_or_init(|| {
            COUNTER_SETS
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(self);
            (0..=self.values.len())
                .map(|_| ShardedCounter::default())
                .collect()
        });
        let i = self
            .values
            .iter()
            .position(|v| *v == value)
            .unwrap_or(self.values.len());
        counts[i].increment();
    }

    /// Appends the metric in the Prometheus text format (`TYPE` line and one series per value;
    /// `other` only once it counted something). Nothing before the first increment.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write as _;
        let Some(counts) = self.counts.get() else {
            return;
        };
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        let _ = writeln!(out, "# TYPE {} counter", self.name);
        for (value, c) in self
            .values
            .iter()
            .chain(["other"].iter())
            .zip(counts.iter())
        {
            let n = c.get();
            if *value == "other" && n == 0 {
                continue;
            }
            let _ = writeln!(out, "{}{{{}=\"{}\"}} {n}", self.name, self.label, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_set_renders_every_value_once_used_and_other_only_when_counted() {
        static SET: CounterSet = CounterSet::new("t_total", "kind", &["a", "b"]);
        let mut out = String::new();
        SET.render(&mut out);
        assert_eq!(out, "", "nothing before the first increment");
        SET.increment("a");
        SET.increment("a");
        let mut out = String::from("x 1");
        SET.render(&mut out);
        assert_eq!(
            out,
            "x 1\n# TYPE t_total counter\nt_total{kind=\"a\"} 2\nt_total{kind=\"b\"} 0\n"
        );
        SET.increment("zzz");
        let mut out = String::new();
        SET.render(&mut out);
        assert!(out.ends_with("t_total{kind=\"other\"} 1\n"), "{out}");
        // Registered by its first increment: `/metrics` renders it without being told.
        let mut all = String::new();
        render_counter_sets(&mut all);
        assert!(all.contains(&out), "{all}");
    }
}
