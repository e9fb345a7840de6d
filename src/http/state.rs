//! Shared state handed to every handler.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::config::Config;
use crate::reports::{AttachmentLimits, ReportSettings};
use crate::storage::blobs::BlobStore;
use crate::storage::Store;
use crate::tokens::{Keyring, TokenSettings, Verifier};

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub keys: Arc<Keyring>,
    pub tokens: Arc<TokenSettings>,
    /// The verification hot path: caches, in-memory sessions.
    pub verifier: Arc<Verifier>,
    pub config: Arc<Config>,
    pub metrics: PrometheusHandle,
    pub blobs: Arc<dyn BlobStore>,
    pub reports: Arc<ReportSettings>,
    pub attachment_limits: AttachmentLimits,
    pub queue: Arc<crate::escalations::QueueSettings>,
    pub limiter: Arc<crate::ratelimit::RateLimiter>,
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
}

impl AppState {
    /// `{public_base_url}` without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.config.issuer()
    }
}
