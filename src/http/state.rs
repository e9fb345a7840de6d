//! Shared state handed to every handler.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::config::Config;
use crate::reports::{AttachmentLimits, ReportSettings};
use crate::storage::blobs::BlobStore;
use crate::storage::Store;
use crate::tokens::{Keyring, TokenSettings, Verifier};

/// Cloned for every request by the router and each middleware, so it is one `Arc`: a single
/// reference count per clone instead of one per service, which two cores would bounce between
/// their caches on every request.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> AppState {
        AppState(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// Everything a handler may need.
pub struct Services {
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
    /// Published contact policies, in memory.
    pub policies: Arc<crate::channels::policy::PolicyBook>,
    /// Seals victims' notification addresses and phrases.
    pub contact_cipher: Arc<crate::followup::ContactCipher>,
    /// Handling history behind victims' next-step estimates, refreshed periodically.
    pub estimates: Arc<crate::followup::Estimates>,
    /// The in-flight bound and request metrics of the edge middleware.
    pub edge: crate::http::edge::Edge,
}

impl Services {
    /// `{public_base_url}` without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.config.issuer()
    }

    /// The receipt holder's view of a report, with this instance's estimate cache.
    pub async fn victim_view(
        &self,
        id: &str,
        receipt: &str,
        locale: crate::types::Locale,
    ) -> Result<crate::reports::VictimView, crate::reports::ReportError> {
        crate::reports::status_for_victim(self.store.as_ref(), &self.estimates, id, receipt, locale)
            .await
    }

    /// Whether victims can opt in to e-mail notifications (an SMTP server is configured).
    pub fn notifications_enabled(&self) -> bool {
        self.config.smtp_url.is_some()
    }
}
