//! Service configuration: every setting is a flag and a `TRUSTDESK_*` environment variable, with a
//! default that works on a fresh machine.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `TRUSTDESK_BIND` | `127.0.0.1:8080` | listen address |
//! | `TRUSTDESK_DATABASE_URL` | `sqlite://data/trustdesk.db` | `sqlite://…` or `postgres://…` |
//! | `TRUSTDESK_KEYS_DIR` | `keys` | signing keys (created on first run) |
//! | `TRUSTDESK_PUBLIC_BASE_URL` | `http://127.0.0.1:8080` | base of identity links; token issuer |
//! | `TRUSTDESK_TOKEN_TTL_SECS` | `1800` | default session lifetime |
//! | `TRUSTDESK_MAX_TOKEN_TTL_SECS` | `7200` | longest session an agent may ask for |
//! | `TRUSTDESK_CLOCK_SKEW_SECS` | `60` | tolerated clock difference for `nbf` |
//! | `TRUSTDESK_KEY_RELOAD_SECS` | `5` | how often a running server re-reads `keys/` |
//! | `TRUSTDESK_REQUEST_TIMEOUT_SECS` | `15` | whole-request timeout |
//! | `TRUSTDESK_HEADER_READ_TIMEOUT_SECS` | `10` | time to send request headers |
//! | `TRUSTDESK_MAX_JSON_BYTES` | `65536` | JSON body limit |
//! | `TRUSTDESK_LOG_FORMAT` | `text` | `text` or `json` |
//! | `TRUSTDESK_SHUTDOWN_GRACE_SECS` | `20` | time in-flight requests get after SIGTERM |
//! | `TRUSTDESK_ATTACHMENTS_DIR` | `data/attachments` | content-addressed evidence files |
//! | `TRUSTDESK_MAX_ATTACHMENTS` | `10` | files per report |
//! | `TRUSTDESK_MAX_ATTACHMENT_BYTES` | `10485760` | bytes per file (10 MiB) |
//! | `TRUSTDESK_MAX_REPORT_BYTES` | `26214400` | bytes of attachments per report (25 MiB) |
//! | `TRUSTDESK_UPLOAD_TIMEOUT_SECS` | `300` | whole-request timeout for report uploads |
//! | `TRUSTDESK_CLEANUP_INTERVAL_SECS` | `3600` | orphan files older than this are removed |
//! | `TRUSTDESK_WEBHOOK_URL` | unset | receiver of new P1 escalations |
//! | `TRUSTDESK_WEBHOOK_MAX_ATTEMPTS` / `_BACKOFF_SECS` | `12` / `5` | webhook retries |
//! | `TRUSTDESK_RATE_LIMITS` | built-in defaults | `off` or `class=BURST/PERIOD,…` |
//! | `TRUSTDESK_TRUSTED_PROXIES` | none | proxies whose forwarding headers are believed |
//! | `TRUSTDESK_MAX_CONCURRENT_REQUESTS` | `512` | load shedding threshold |
//! | `TRUSTDESK_MAX_CONNECTIONS` | `4096` | open connections; more are closed at accept |
//! | `TRUSTDESK_HSTS` | `false` | send Strict-Transport-Security |
//! | `TRUSTDESK_LEASE_SECS` | `300` | escalation lease without heartbeat |
//! | `TRUSTDESK_SLA_P1_SECS` / `_P2_` / `_P3_` | `900` / `14400` / `86400` | first-response targets |

use std::net::SocketAddr;
use std::path::PathBuf;

/// Settings shared by every subcommand that touches the service's state.
#[derive(Clone, Debug, clap::Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_BIND",
        default_value = "127.0.0.1:8080"
    )]
    pub bind: SocketAddr,

    /// Database URL: `sqlite://path` (embedded default) or `postgres://…`.
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_DATABASE_URL",
        default_value = "sqlite://data/trustdesk.db"
    )]
    pub database_url: DatabaseUrl,

    /// Directory holding the signing keys; created with a fresh key on first run.
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_KEYS_DIR",
        default_value = "keys"
    )]
    pub keys_dir: PathBuf,

    /// Public base URL of this service: identity links are `{base}/v/{token}` and tokens carry it
    /// as their issuer.
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_PUBLIC_BASE_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub public_base_url: String,

    /// Who "we" are in contact policies and feeds (e.g. "Acme Exchange"). Default:
    /// "Trustdesk's operator".
    #[arg(long, global = true, env = "TRUSTDESK_OPERATOR_NAME")]
    pub operator_name: Option<String>,

    /// TLP marking of the scam-intelligence feed: `clear` (public, the default), `green` or
    /// `amber` (then put the feed behind your own access control).
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_FEED_TLP",
        default_value = "clear"
    )]
    pub feed_tlp: String,

    /// The abuse-desk address X-ARF exports name as the reporter's contact. Default:
    /// `security@` the public host.
    #[arg(long, global = true, env = "TRUSTDESK_ABUSE_CONTACT")]
    pub abuse_contact: Option<String>,

    /// Default lifetime of a support session token, in seconds.
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_TOKEN_TTL_SECS",
        default_value_t = 1800
    )]
    pub token_ttl_secs: u32,

    /// Longest lifetime an agent may request, in seconds. Also bounds how long a rotated-out key
    /// keeps verifying.
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_MAX_TOKEN_TTL_SECS",
        default_value_t = 7200
    )]
    pub max_token_ttl_secs: u32,

    /// Tolerated clock difference between instances, for `nbf` and key retirement.
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_CLOCK_SKEW_SECS",
        default_value_t = 60
    )]
    pub clock_skew_secs: u32,

    /// How often a running server re-reads the key directory (picks up `keys rotate`).
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_KEY_RELOAD_SECS",
        default_value_t = 5
    )]
    pub key_reload_secs: u32,

    /// Whole-request timeout, in seconds.
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_REQUEST_TIMEOUT_SECS",
        default_value_t = 15
    )]
    pub request_timeout_secs: u32,

    /// Time a client gets to send a request's headers (slow-header attacks), in seconds.
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_HEADER_READ_TIMEOUT_SECS",
        default_value_t = 10
    )]
    pub header_read_timeout_secs: u32,

    /// Largest accepted JSON request body, in bytes.
    #[arg(long, global = true, env = "TRUSTDESK_MAX_JSON_BYTES", default_value_t = 64 * 1024)]
    pub max_json_bytes: usize,

    /// Log output format.
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: LogFormat,

    /// Seconds in-flight requests get to finish after SIGTERM / Ctrl-C.
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_SHUTDOWN_GRACE_SECS",
        default_value_t = 20
    )]
    pub shutdown_grace_secs: u32,

    /// Where evidence files live, named by their SHA-256.
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_ATTACHMENTS_DIR",
        default_value = "data/attachments"
    )]
    pub attachments_dir: PathBuf,

    /// Most files one report may carry.
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_MAX_ATTACHMENTS",
        default_value_t = 10
    )]
    pub max_attachments: usize,

    /// Largest single attachment, in bytes.
    #[arg(long, global = true, env = "TRUSTDESK_MAX_ATTACHMENT_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_attachment_bytes: u64,

    /// Largest total of attachments in one report, in bytes.
    #[arg(long, global = true, env = "TRUSTDESK_MAX_REPORT_BYTES", default_value_t = 25 * 1024 * 1024)]
    pub max_report_bytes: u64,

    /// Whole-request timeout for report uploads (slow mobile connections), in seconds.
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_UPLOAD_TIMEOUT_SECS",
        default_value_t = 300
    )]
    pub upload_timeout_secs: u32,

    /// Files left behind by interrupted uploads are removed once older than this, in seconds.
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_CLEANUP_INTERVAL_SECS",
        default_value_t = 3600
    )]
    pub cleanup_interval_secs: u32,

    /// Webhook that receives new P1 escalations (JSON, Ed25519-signed). Unset: none are sent
    /// (they stay in the outbox and go out once a URL is configured).
    #[arg(long, global = true, env = "TRUSTDESK_WEBHOOK_URL")]
    pub webhook_url: Option<String>,

    /// SMTP server for victims' opt-in notifications: `smtp://host:port` (plain, loopback relays),
    /// `smtp://host?tls=required` (STARTTLS) or `smtps://host` (TLS), with `user:password@` if the relay
    /// needs it. Unset: the report form and API do not offer notifications.
    #[arg(long, global = true, env = "TRUSTDESK_SMTP_URL")]
    pub smtp_url: Option<SmtpUrl>,

    /// Sender of notifications, e.g. `Acme Security <security@acme.example>`.
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_MAIL_FROM",
        default_value = "Trustdesk <trustdesk@localhost>"
    )]
    pub mail_from: String,

    /// Send a "still working on it" notice when the first-response deadline of a report that
    /// nobody has answered yet is this close, in seconds.
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_SLA_WARNING_SECS",
        default_value_t = 3600
    )]
    pub sla_warning_secs: u32,

    /// How often the notification sender looks for work, in milliseconds.
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_MAIL_POLL_MS",
        default_value_t = 1000
    )]
    pub mail_poll_ms: u64,

    /// How long the handling history behind victims' "next step expected by" estimates is
    /// reused before it is read again, in seconds. The read scans recent report events, so it
    /// must not run on every status request; an estimate a minute old is as good.
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_ESTIMATE_REFRESH_SECS",
        default_value_t = 60
    )]
    pub estimate_refresh_secs: u32,

    /// Delivery attempts per webhook message before giving up.
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_WEBHOOK_MAX_ATTEMPTS",
        default_value_t = 12
    )]
    pub webhook_max_attempts: u32,

    /// First webhook retry delay in seconds; doubles per attempt, capped at one hour.
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_WEBHOOK_BACKOFF_SECS",
        default_value_t = 5
    )]
    pub webhook_backoff_secs: u32,

    /// Rate limits: `off`, or overrides like `report_submit=3/12m,verify=60/500ms` (burst, then
    /// one request per period). Classes: verify, channel_check, report_submit, report_read,
    /// staff, auth_failure, public. Empty: the built-in defaults.
    #[arg(long, global = true, env = "TRUSTDESK_RATE_LIMITS", default_value = "")]
    pub rate_limits: String,

    /// Proxies whose `X-Forwarded-For` / `Forwarded` headers are believed (comma-separated IPs
    /// or CIDRs). From anyone else those headers are ignored.
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_TRUSTED_PROXIES",
        default_value = ""
    )]
    pub trusted_proxies: String,

    /// Requests served at once; beyond this, new requests get 503 + Retry-After at once
    /// instead of queueing without bound.
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_MAX_CONCURRENT_REQUESTS",
        default_value_t = 512
    )]
    pub max_concurrent_requests: usize,

    /// Open client connections at once; further connections are closed at accept.
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_MAX_CONNECTIONS",
        default_value_t = 4096
    )]
    pub max_connections: usize,

    /// Send `Strict-Transport-Security` (set when the public URL is served over HTTPS).
    #[arg(long, global = true, env = "TRUSTDESK_HSTS", default_value_t = false)]
    pub hsts: bool,

    /// How long a claimed escalation stays leased without a heartbeat, in seconds.
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_LEASE_SECS",
        default_value_t = 300
    )]
    pub lease_secs: u32,

    /// Target time to first response for P1 reports, in seconds.
    #[arg(long, global = true, env = "TRUSTDESK_SLA_P1_SECS", default_value_t = 15 * 60)]
    pub sla_p1_secs: u32,

    /// Target time to first response for P2 reports, in seconds.
    #[arg(long, global = true, env = "TRUSTDESK_SLA_P2_SECS", default_value_t = 4 * 3600)]
    pub sla_p2_secs: u32,

    /// Target time to first response for P3 reports, in seconds.
    #[arg(long, global = true, env = "TRUSTDESK_SLA_P3_SECS", default_value_t = 24 * 3600)]
    pub sla_p3_secs: u32,

    /// Verified-signature cache size in tokens (about 400 bytes each); 0 turns the cache off.
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_VERIFY_CACHE_ENTRIES",
        default_value_t = 100_000
    )]
    pub verify_cache_entries: u64,

    /// How often the in-memory session index re-reads sessions issued or revoked elsewhere: the
    /// bound on how late another instance honours a revocation.
    #[arg(
        long,
        global = true,
        env = "TRUSTDESK_SESSION_SYNC_MS",
        default_value_t = 1000,
        value_parser = clap::value_parser!(u64).range(50..=60_000)
    )]
    pub session_sync_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// A database URL. Its `Debug` hides any password so that configuration can be logged.
#[derive(Clone)]
pub struct DatabaseUrl(pub String);

impl std::str::FromStr for DatabaseUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.starts_with("sqlite:")
            || s.starts_with("postgres://")
            || s.starts_with("postgresql://")
        {
            Ok(DatabaseUrl(s.to_owned()))
        } else {
            Err("expected sqlite://… or postgres://…".into())
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_redacted(f, &self.0)
    }
}

fn write_redacted(f: &mut std::fmt::Formatter<'_>, raw: &str) -> std::fmt::Result {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("redacted"));
            write!(f, "{u}")
        }
        _ => write!(f, "{raw}"),
    }
}

/// An SMTP URL; its password never appears in `Debug` output (the config is logged at start).
#[derive(Clone)]
pub struct SmtpUrl(pub String);

impl std::str::FromStr for SmtpUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.starts_with("smtp://") || s.starts_with("smtps://") {
            Ok(SmtpUrl(s.to_owned()))
        } else {
            Err("expected smtp://… or smtps://…".into())
        }
    }
}

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_redacted(f, &self.0)
    }
}

impl Config {
    /// Who "we" are, per language.
    pub fn operator(&self) -> crate::channels::policy::Operator {
        match self.operator_name.as_deref().map(str::trim) {
            Some(n) if !n.is_empty() => crate::channels::policy::Operator {
                en: n.to_owned(),
                zh: n.to_owned(),
            },
            _ => crate::channels::policy::Operator {
                en: "Trustdesk's operator".into(),
                zh: "Trustdesk 运营方".into(),
            },
        }
    }

    /// The feed's TLP marking.
    pub fn tlp(&self) -> Result<crate::feeds::Tlp, String> {
        self.feed_tlp.parse()
    }

    /// The public host name (for X-ARF's reporter domain).
    pub fn public_host(&self) -> String {
        url::Url::parse(&self.public_base_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "localhost".into())
    }

    /// The issuer claim every token carries: the public base URL without a trailing slash.
    pub fn issuer(&self) -> &str {
        self.public_base_url.trim_end_matches('/')
    }

    /// A configuration for tests and embedding: loopback on an ephemeral port, everything else
    /// at its default, state under `dir`.
    pub fn for_dir(dir: &std::path::Path) -> Config {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: DatabaseUrl(format!("sqlite://{}", dir.join("trustdesk.db").display())),
            keys_dir: dir.join("keys"),
            public_base_url: "http://127.0.0.1:8080".into(),
            operator_name: None,
            feed_tlp: "clear".into(),
            abuse_contact: None,
            token_ttl_secs: 1800,
            max_token_ttl_secs: 7200,
            clock_skew_secs: 60,
            key_reload_secs: 5,
            request_timeout_secs: 15,
            header_read_timeout_secs: 10,
            max_json_bytes: 64 * 1024,
            log_format: LogFormat::Text,
            shutdown_grace_secs: 5,
            attachments_dir: dir.join("attachments"),
            max_attachments: 10,
            max_attachment_bytes: 10 * 1024 * 1024,
            max_report_bytes: 25 * 1024 * 1024,
            upload_timeout_secs: 300,
            cleanup_interval_secs: 3600,
            // Tests that exercise limits turn them on; the rest must not trip over them.
            rate_limits: "off".into(),
            trusted_proxies: String::new(),
            max_concurrent_requests: 512,
            max_connections: 4096,
            hsts: false,
            webhook_url: None,
            smtp_url: None,
            mail_from: "Trustdesk <trustdesk@localhost>".into(),
            sla_warning_secs: 3600,
            mail_poll_ms: 100,
            // Tests change the history and read estimates straight away.
            estimate_refresh_secs: 0,
            webhook_max_attempts: 12,
            webhook_backoff_secs: 5,
            lease_secs: 300,
            sla_p1_secs: 15 * 60,
            sla_p2_secs: 4 * 3600,
            sla_p3_secs: 24 * 3600,
            verify_cache_entries: 10_000,
            session_sync_ms: 200,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_debug_redacts_password() {
        let u: DatabaseUrl = "postgres://app:hunter2@db/trustdesk".parse().unwrap();
        let shown = format!("{u:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn database_url_rejects_other_schemes() {
        assert!("mysql://x".parse::<DatabaseUrl>().is_err());
    }
}
