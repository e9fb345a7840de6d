//! Trustdesk: stops support-impersonation fraud.
//!
//! Crate map (imports only point down):
//! - [`app`] builds the service from a [`config::Config`] and runs it.
//! - [`http`] is the only layer that knows about HTTP: routes, extractors, problem responses, pages.
//! - Domain capabilities, free of axum and sqlx: [`tokens`] (PASETO sessions, keys, verdicts),
//!   [`channels`] (official-channel registry, lookalikes), [`staff`] (accounts, roles, API keys).
//!   [`reports`] (fraud reports, evidence, receipts), [`escalations`] (review workflow, queue),
//!   [`audit`] (hash-chained trail), [`notify`] (webhook outbox delivery).
//! - [`storage`] is one `Store` trait with an implementation per engine (SQLite, PostgreSQL),
//!   plus `storage::blobs` for content-addressed evidence files.
//! - [`types`] is shared vocabulary with no logic.
#![forbid(unsafe_code)]

pub mod app;
pub mod audit;
pub mod channels;
pub mod cli;
pub mod config;
pub mod escalations;
pub mod feeds;
pub mod followup;
pub mod http;
pub mod notify;
pub mod ratelimit;
pub mod reports;
pub mod staff;
pub mod storage;
pub mod telemetry;
pub mod tokens;
pub mod types;
