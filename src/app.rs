//! Builds the service from a [`Config`] and runs it: the testable start-up seam.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::http::{self, AppState};
use crate::storage::{self, Store};
use crate::tokens::{Keyring, TokenSettings};

pub struct App {
    listener: TcpListener,
    state: AppState,
}

impl App {
    /// Opens the database (migrating it), loads or creates the keys, binds the listener. Binding
    /// first means a test can ask for port 0 and know the port before serving.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        if config.token_ttl_secs < 60 || config.token_ttl_secs > config.max_token_ttl_secs {
            anyhow::bail!("token TTL must be at least 60 s and at most the maximum TTL");
        }
        // The sweeper removes temporary files older than the cleanup interval: it must never
        // catch an upload that may still be running.
        if config.cleanup_interval_secs < config.upload_timeout_secs {
            anyhow::bail!("the cleanup interval must be at least the upload timeout");
        }
        let store = storage::open(&config.database_url.0)
            .await
            .with_context(|| format!("opening database {:?}", config.database_url))?;
        let keys = Keyring::load_or_create(&config.keys_dir)
            .with_context(|| format!("loading keys from {}", config.keys_dir.display()))?;
        let blobs = crate::storage::blobs::LocalBlobs::open(&config.attachments_dir).with_context(
            || {
                format!(
                    "opening attachment storage {}",
                    config.attachments_dir.display()
                )
            },
        )?;
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("binding {}", config.bind))?;
        let tokens = TokenSettings {
            issuer: config.issuer().to_owned(),
            default_ttl_secs: config.token_ttl_secs,
            max_ttl_secs: config.max_token_ttl_secs,
            clock_skew_secs: config.clock_skew_secs,
        };
        let reports = crate::reports::ReportSettings {
            sla_secs: [config.sla_p1_secs, config.sla_p2_secs, config.sla_p3_secs],
        };
        let attachment_limits = crate::reports::AttachmentLimits {
            max_count: config.max_attachments,
            max_file_bytes: config.max_attachment_bytes,
            max_total_bytes: config.max_report_bytes,
        };
        let queue = crate::escalations::QueueSettings {
            base_url: config.issuer().to_owned(),
            lease_secs: config.lease_secs,
            sla_secs: [config.sla_p1_secs, config.sla_p2_secs, config.sla_p3_secs],
        };
        config
            .tlp()
            .map_err(|e| anyhow::anyhow!("TRUSTDESK_FEED_TLP: {e}"))?;
        let specs = crate::ratelimit::parse_specs(&config.rate_limits)
            .map_err(|e| anyhow::anyhow!("TRUSTDESK_RATE_LIMITS: {e}"))?;
        let trusted = crate::http::limits::parse_trusted(&config.trusted_proxies)
            .map_err(|e| anyhow::anyhow!("TRUSTDESK_TRUSTED_PROXIES: {e}"))?;
        let live = Arc::new(
            crate::tokens::LiveSessions::load(store.as_ref())
                .await
                .context("loading the session index")?,
        );
        let keys = Arc::new(keys);
        let tokens = Arc::new(tokens);
        let verifier = Arc::new(crate::tokens::Verifier::new(
            tokens.clone(),
            keys.clone(),
            store.clone(),
            live,
            config.verify_cache_entries,
        ));
        let policies = Arc::new(
            crate::channels::policy::PolicyBook::load(store.as_ref())
                .await
                .context("loading contact policies")?,
        );
        // A mail setting that cannot work must stop the start: otherwise victims would be told
        // that notifications are on while none is ever sent.
        if let Some(url) = &config.smtp_url {
            lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(&url.0)
                .map_err(|e| anyhow::anyhow!("TRUSTDESK_SMTP_URL is not usable: {e}"))?;
            config
                .mail_from
                .parse::<lettre::message::Mailbox>()
                .map_err(|e| anyhow::anyhow!("TRUSTDESK_MAIL_FROM is not a mailbox: {e}"))?;
        }
        let contact_cipher = Arc::new(
            crate::followup::ContactCipher::load_or_create(&config.keys_dir)
                .context("loading keys/contact.key")?,
        );
        let state = AppState::new(crate::http::state::Services {
            contact_cipher,
            estimates: Arc::new(crate::followup::Estimates::new(
                config.estimate_refresh_secs,
            )),
            policies,
            verifier,
            limiter: Arc::new(crate::ratelimit::RateLimiter::new(specs)),
            trusted_proxies: Arc::new(trusted),
            queue: Arc::new(queue),
            blobs: Arc::new(blobs),
            reports: Arc::new(reports),
            attachment_limits,
            store,
            keys,
            tokens,
            edge: crate::http::edge::Edge::new(config.max_concurrent_requests, config.hsts),
            config: Arc::new(config),
            metrics: crate::telemetry::metrics_handle(),
        });
        Ok(App { listener, state })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.state.store.clone()
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish (bounded by the
    /// configured grace period) and closes the database.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let App { listener, state } = self;
        let addr = listener.local_addr()?;
        let background = spawn_background(&state);
        let store = state.store.clone();
        let grace = Duration::from_secs(u64::from(state.config.shutdown_grace_secs));
        tracing::info!(%addr, engine = store.engine(), "Trustdesk listening");

        let header_timeout =
            Duration::from_secs(u64::from(state.config.header_read_timeout_secs.max(1)));
        let connections = Arc::new(tokio::sync::Semaphore::new(
            state.config.max_connections.max(1),
        ));
        let router = http::router(state);
        // Our own accept loop (rather than `axum::serve`) so that hyper gets a timer and a
        // header-read timeout: a client that trickles its headers is cut off.
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(x) => x,
                        Err(e) => {
                            // Out of file descriptors and the like: back off, keep serving.
                            tracing::warn!(error = %e, "Accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    // Bounded connections: past the cap a new connection is closed at once, so
                    // idle or slow clients cannot exhaust file descriptors.
                    let Ok(permit) = connections.clone().try_acquire_owned() else {
                        drop(stream);
                        continue;
                    };
                    let svc = tower::ServiceExt::map_request(
                        router.clone(),
                        move |mut req: axum::http::Request<hyper::body::Incoming>| {
                            req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                            req
                        },
                    );
                    let mut builder = hyper::server::conn::http1::Builder::new();
                    builder
                        // One timer entry per connection, not one per request (see the module).
                        .timer(http::header_timer::HeaderTimer::for_connection())
                        .header_read_timeout(header_timeout)
                        // hyper's read buffer grows to ~400 KiB on a large upload; 128 KiB
                        // reads keep an upload's memory small whatever the file size.
                        .max_buf_size(READ_BUFFER_MAX);
                    let conn = builder
                        .serve_connection(
                            hyper_util::rt::TokioIo::new(stream),
                            hyper_util::service::TowerToHyperService::new(svc),
                        );
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        let _ = conn.await;
                        drop(permit);
                    });
                }
                _ = &mut shutdown => break,
            }
        }
        drop(listener);
        tracing::info!("Shutting down: finishing in-flight requests");
        tokio::select! {
            _ = graceful.shutdown() => {}
            _ = tokio::time::sleep(grace) => {
                tracing::warn!("Grace period over; dropping remaining connections");
            }
        }
        for task in background {
            task.abort();
        }
        store.close().await;
        tracing::info!("Stopped");
        Ok(())
    }
}

/// Most a connection's read buffer grows to (hyper's own default is ~400 KiB).
const READ_BUFFER_MAX: usize = 128 * 1024;

fn spawn_background(state: &AppState) -> Vec<tokio::task::JoinHandle<()>> {
    let keys = state.keys.clone();
    let every = Duration::from_secs(u64::from(state.config.key_reload_secs.max(1)));
    let reload = tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let k = keys.clone();
            match tokio::task::spawn_blocking(move || k.reload_if_changed()).await {
                Ok(Ok(true)) => tracing::info!("Reloaded signing keys"),
                Ok(Ok(false)) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "Key reload failed; keeping previous keys")
                }
                Err(e) => tracing::error!(error = %e, "Key reload task failed"),
            }
        }
    });
    let metrics = state.metrics.clone();
    let upkeep = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        loop {
            tick.tick().await;
            metrics.run_upkeep();
        }
    });
    let (store, blobs) = (state.store.clone(), state.blobs.clone());
    let age = Duration::from_secs(u64::from(state.config.cleanup_interval_secs.max(1)));
    let sweeper = tokio::spawn(async move {
        let mut tick = tokio::time::interval(age.min(Duration::from_secs(600)));
        loop {
            tick.tick().await;
            match crate::reports::sweep_orphans(store.as_ref(), blobs.as_ref(), age).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "Removed files left by interrupted uploads"),
                Err(e) => tracing::warn!(error = %e, "Orphan sweep failed"),
            }
        }
    });
    let store = state.store.clone();
    let breaches = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(15));
        loop {
            tick.tick().await;
            if let Ok(n) = store.count_breached(crate::types::now()).await {
                metrics::gauge!("trustdesk_escalations_sla_breached").set(n as f64);
            }
        }
    });
    let limiter = state.limiter.clone();
    let purge = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        loop {
            tick.tick().await;
            limiter.purge();
            metrics::gauge!("trustdesk_ratelimit_tracked_keys").set(limiter.tracked_keys() as f64);
        }
    });
    let (verifier, store) = (state.verifier.clone(), state.store.clone());
    let every = Duration::from_millis(state.config.session_sync_ms);
    let sessions = tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tick.tick().await;
            let live = verifier.live();
            match live.refresh(store.as_ref()).await {
                Ok(_) if failing => {
                    failing = false;
                    tracing::info!("Session index in sync again");
                }
                Ok(_) => {}
                // Logged once per outage: revocations from other instances wait until it ends.
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "Session index refresh failed; revocations made on other instances are delayed");
                }
                Err(_) => {}
            }
            let at = crate::types::now();
            metrics::gauge!("trustdesk_session_index_age_seconds")
                .set(live.staleness(at).min(i64::from(u32::MAX)) as f64);
            metrics::gauge!("trustdesk_session_index_sessions").set(live.len() as f64);
            metrics::gauge!("trustdesk_verify_cache_entries")
                .set(verifier.cached_signatures() as f64);
        }
    });
    let (book, store) = (state.policies.clone(), state.store.clone());
    let policies = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tick.tick().await;
            match book.refresh(store.as_ref()).await {
                Ok(()) => failing = false,
                // Once per outage: answers keep quoting the last policies loaded.
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "Contact policy refresh failed; serving the last loaded policies");
                }
                Err(_) => {}
            }
        }
    });
    let mut tasks = vec![reload, upkeep, sweeper, breaches, purge, sessions, policies];
    if let Some(url) = &state.config.webhook_url {
        let settings = crate::notify::WebhookSettings {
            url: url.clone(),
            max_attempts: state.config.webhook_max_attempts.max(1),
            backoff_secs: state.config.webhook_backoff_secs,
        };
        tasks.push(tokio::spawn(crate::notify::run(
            settings,
            state.store.clone(),
            state.keys.clone(),
        )));
    }
    if let Some(url) = &state.config.smtp_url {
        let settings = crate::followup::mail::MailSettings {
            smtp_url: url.0.clone(),
            from: state.config.mail_from.clone(),
            base_url: state.base_url().to_owned(),
            warn_secs: i64::from(state.config.sla_warning_secs),
            poll: Duration::from_millis(state.config.mail_poll_ms.max(10)),
            // Ten polls, at least a second: 10 s in production, 1 s in tests.
            retry_base_secs: i64::try_from(state.config.mail_poll_ms / 100)
                .unwrap_or(3600)
                .max(1),
        };
        tasks.push(tokio::spawn(crate::followup::mail::run(
            settings,
            state.store.clone(),
            state.contact_cipher.clone(),
        )));
    }
    tasks
}

/// Completes on SIGTERM or Ctrl-C.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    // Installed now, before the server answers its first request: a handler installed lazily (on
    // the future's first poll) leaves a window in which SIGTERM would kill the process outright.
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let term = async move {
            match term {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {},
            _ = term => {},
        }
    }
}
