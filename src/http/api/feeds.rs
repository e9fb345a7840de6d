//! The scam-intelligence feed (public) and X-ARF exports (staff).
//!
//! Feed documents are deterministic for the same data, so their `ETag` is a hash of the body and
//! a poller that already has the current version gets a `304` without a body.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::feeds::{self, stix, xarf, FeedEntry, Producer};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{AppPath, StaffUser};
use crate::http::state::AppState;
use crate::types::{rfc3339, Role};

#[derive(Serialize, ToSchema)]
pub struct ScammerEntry {
    /// `telegram`, `wechat`, `whatsapp`, `email`, `phone`, `x`, `website` or `crypto_address`.
    pub kind: String,
    /// Normalised value; `chain:address` for `crypto_address`.
    pub value: String,
    pub first_seen: String,
    pub last_seen: String,
    /// Confirmed reports naming it.
    pub confirmed_reports: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ScammerList {
    /// Who publishes the list.
    pub publisher: String,
    /// `clear`, `green` or `amber`.
    pub tlp: String,
    /// Newest first; at most 10 000.
    pub entries: Vec<ScammerEntry>,
}

/// Confirmed scammer identifiers as a plain JSON list (public; `ETag` / `If-None-Match`).
#[utoipa::path(
    get, path = "/v1/feeds/scammers", tag = "feeds",
    responses(
        (status = 200, body = ScammerList),
        (status = 304, description = "Unchanged since the ETag sent in If-None-Match"),
    )
)]
pub async fn scammers(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let entries = feeds::published(s.store.as_ref()).await?;
    let list = ScammerList {
        publisher: s.config.operator().en,
        tlp: tlp_name(&s),
        entries: entries
            .into_iter()
            .map(|e| ScammerEntry {
                kind: e.kind,
                value: e.value,
                first_seen: rfc3339(e.first_seen),
                last_seen: rfc3339(e.last_seen),
                confirmed_reports: e.confirmed_reports,
            })
            .collect(),
    };
    let body = serde_json::to_vec(&list)
        .map_err(|_| ApiError::Internal(anyhow::anyhow!("feed rendering failed")))?;
    Ok(conditional(
        &headers,
        body,
        "application/json",
        public_cache(&s),
    ))
}

/// Confirmed scammer identifiers as a STIX 2.1 bundle of indicators (public; `ETag` /
/// `If-None-Match`). Each indicator carries a pattern, a confidence and the TLP marking.
#[utoipa::path(
    get, path = "/v1/feeds/stix", tag = "feeds",
    responses(
        (status = 200, description = "A STIX 2.1 bundle", content_type = "application/stix+json;version=2.1", body = Object),
        (status = 304, description = "Unchanged since the ETag sent in If-None-Match"),
    )
)]
pub async fn stix_bundle(
    State(s): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let entries: Vec<FeedEntry> = feeds::published(s.store.as_ref()).await?;
    let tlp = s
        .config
        .tlp()
        .map_err(|_| ApiError::Internal(anyhow::anyhow!("feed rendering failed")))?;
    let bundle = stix::bundle(&entries, &producer(&s), tlp);
    let body = serde_json::to_vec(&bundle)
        .map_err(|_| ApiError::Internal(anyhow::anyhow!("feed rendering failed")))?;
    Ok(conditional(
        &headers,
        body,
        "application/stix+json;version=2.1",
        public_cache(&s),
    ))
}

/// Export a report as an X-ARF v4 fraud report for the abused platform's abuse desk (role
/// `security`). It carries the scammer's identifiers, who they posed as and evidence hashes;
/// never the reporter's contact or words.
#[utoipa::path(
    get, path = "/v1/reports/{id}/xarf", tag = "reports",
    params(("id" = String, Path)),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "X-ARF 4.2 content/fraud report", body = Object),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not confirmed fraud, or no scammer identifier to report", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn xarf_export(
    State(s): State<AppState>,
    user: StaffUser,
    AppPath(id): AppPath<String>,
) -> Result<Response, ApiError> {
    user.require(&[Role::Security])?;
    let v = crate::reports::staff_view(s.store.as_ref(), &id).await?;
    let r = &v.report;
    if r.confidence != "confirmed" {
        return Err(ApiError::Conflict {
            code: "not_confirmed",
            detail: "only confirmed fraud is exported: confirm the report first".into(),
        });
    }
    // Our own registered channels are never reported as the scammer (a compromised official
    // account is recovered, not reported to its platform as fraud).
    let official = crate::channels::list(s.store.as_ref()).await?;
    let scammer: Vec<(String, String)> = v
        .groups
        .iter()
        .filter(|g| {
            crate::channels::ChannelKind::parse(&g.kind)
                .and_then(|k| crate::channels::ChannelHandle::from_normalised(k, &g.value).ok())
                .is_none_or(|h| {
                    !official
                        .iter()
                        .any(|o| crate::channels::is_official_match(&h, &o.handle))
                })
        })
        .map(|g| (g.kind.clone(), g.value.clone()))
        .collect();
    if scammer.is_empty() {
        return Err(ApiError::Conflict {
            code: "nothing_to_report",
            detail: "the report names no scammer channel or address".into(),
        });
    }
    let official_impersonated = match (&r.claimed_channel_kind, &r.claimed_channel_value) {
        (Some(k), Some(v)) => Some(format!("{k} {v}")),
        _ => r.claimed_agent.as_ref().map(|a| format!("agent {a}")),
    };
    let host = s.config.public_host();
    let input = xarf::XarfInput {
        reporter_org: s.config.operator().en,
        reporter_email: s
            .config
            .abuse_contact
            .clone()
            .unwrap_or_else(|| format!("security@{host}")),
        reporter_domain: host,
        report_id: r.id.clone(),
        reported_at: r.created_at,
        occurred_at: r.occurred_at,
        category: r.category.clone(),
        scammer,
        official_impersonated,
        evidence_sha256: v.attachments.iter().map(|a| a.sha256.clone()).collect(),
        token_verdict: r.token_verdict.clone(),
    };
    let mut resp = Json(xarf::fraud_report(&input)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

fn producer(s: &AppState) -> Producer {
    Producer {
        name: s.config.operator().en,
        base_url: s.base_url().to_owned(),
    }
}

fn tlp_name(s: &AppState) -> String {
    match s.config.tlp() {
        Ok(feeds::Tlp::Green) => "green",
        Ok(feeds::Tlp::Amber) => "amber",
        _ => "clear",
    }
    .into()
}

/// Shared caches may keep a TLP:CLEAR feed; anything more restricted only the client itself.
fn public_cache(s: &AppState) -> bool {
    matches!(s.config.tlp(), Ok(feeds::Tlp::Clear))
}

/// A strong ETag from the body, and `304` when the client already holds it.
fn conditional(
    headers: &HeaderMap,
    body: Vec<u8>,
    content_type: &'static str,
    public: bool,
) -> Response {
    let digest = Sha256::digest(&body);
    let etag = format!("\"{}\"", &crate::staff::hex(&digest)[..32]);
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag);
    let etag_value = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\""));
    let cache = HeaderValue::from_static(if public {
        "public, max-age=300"
    } else {
        "private, max-age=300"
    });
    if matches {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag_value), (header::CACHE_CONTROL, cache)],
        )
            .into_response();
    }
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::ETAG, etag_value),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response()
}
