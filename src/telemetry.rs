//! Logging and metrics set-up. Log lines carry the request span (method, route template,
//! request id); never tokens, keys, e-mail addresses or bodies.

pub mod histogram;

use std::sync::OnceLock;

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
            // The request-duration histogram is our own (`histogram`), rendered next to this
            // recorder's text by `GET /metrics`; the recorder holds counters and gauges.
            let builder = PrometheusBuilder::new();
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (embedding); then ours only renders.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// One counter over a fixed set of label values, its handles resolved on first use: for the hot
/// path, where going through the registry (hashing the key, locking a shard) on every increment
/// is measurable. Declared as a `static`; the process-wide recorder is installed before any
/// request is served, so the handles are the recorder's.
pub struct CounterSet {
    name: &'static str,
    label: &'static str,
    values: &'static [&'static str],
    handles: OnceLock<Vec<metrics::Counter>>,
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
            handles: OnceLock::new(),
        }
    }

    /// Adds one to the series `label=value`; a value outside the set goes through the registry.
    pub fn increment(&self, value: &'static str) {
        let handles = self.handles.get_or_init(|| {
            self.values
                .iter()
                .map(|v| metrics::counter!(self.name, self.label => *v))
                .collect()
        });
        match self.values.iter().position(|v| *v == value) {
            Some(i) => handles[i].increment(1),
            None => metrics::counter!(self.name, self.label => value).increment(1),
        }
    }
}
