//! `POST /v1/verify`: is this contact genuine?

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::error::{ApiError, Problem};
use crate::http::extract::{AppJson, PreferredLocale};
use crate::http::i18n;
use crate::http::state::AppState;
use crate::tokens::{self, ForgeryReason, SessionInfo, Verdict};
use crate::types::{rfc3339, Locale};

mod json;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// A token, an identity link, a session code, or a whole pasted message containing one.
    #[serde(alias = "token")]
    #[schema(max_length = 16384)]
    pub input: String,
    /// `en` or `zh-CN`; defaults to `Accept-Language`.
    #[serde(default)]
    pub lang: Option<String>,
}

#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct ChannelRef {
    #[schema(value_type = String, example = "telegram")]
    pub kind: crate::channels::ChannelKind,
    pub handle: String,
}

#[derive(Serialize, ToSchema, Debug)]
pub struct SessionSummary {
    pub session_id: String,
    pub agent_name: String,
    pub channel: ChannelRef,
    pub issued_at: String,
    pub expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_ref_last4: Option<String>,
}

#[derive(Serialize, ToSchema, Debug)]
pub struct VerifyResponse {
    /// `genuine`, `forged`, `expired`, `not_yet_valid`, `revoked` or `malformed`.
    #[schema(example = "genuine")]
    pub verdict: &'static str,
    /// Why, for `forged` (`unknown_key`, `bad_signature`, `unknown_code`, `unknown_session`) and
    /// `malformed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub locale: Locale,
    pub title: &'static str,
    pub message: &'static str,
    /// For genuine sessions: only continue if the conversation is on this channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instruction: Option<String>,
    /// Present when the signature proved who issued the session (also for expired/revoked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionSummary>,
    /// Where to report this contact; absent only for genuine sessions. The link carries the
    /// pre-filled fields below as query parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_url: Option<String>,
    /// For `POST /v1/reports`: the fields this answer already knows (absent for genuine).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_prefill: Option<ReportPrefill>,
    /// Published contact policies that apply: for a genuine session, those about its channel
    /// kind; otherwise what the operator never asks for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<PolicyNote>,
}

/// Report fields pre-filled from a verdict or a channel check; the same names and shapes as the
/// `report` part of `POST /v1/reports`.
#[derive(Serialize, ToSchema, Default, Clone, Debug)]
pub struct ReportPrefill {
    /// The channel the scammer used (channel checks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scam_channel: Option<ChannelRef>,
    /// The token, link or message shown (verdicts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presented: Option<String>,
    /// Who the scammer posed as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed_entity: Option<ClaimedPrefill>,
}

#[derive(Serialize, ToSchema, Default, Clone, Debug)]
pub struct ClaimedPrefill {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<ChannelRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

impl ReportPrefill {
    /// The report link with these fields as query parameters (what the report form reads).
    pub fn url(&self, base_url: &str, source: (&str, &str)) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("source", source.0);
        q.append_pair(
            if source.0 == "check" {
                "result"
            } else {
                "verdict"
            },
            source.1,
        );
        if let Some(c) = &self.scam_channel {
            q.append_pair("scam_kind", c.kind.as_str());
            q.append_pair("scam_handle", &c.handle);
        }
        if let Some(p) = &self.presented {
            q.append_pair("presented", p);
        }
        if let Some(c) = &self.claimed_entity {
            if let Some(ch) = &c.channel {
                q.append_pair("claimed_kind", ch.kind.as_str());
                q.append_pair("claimed_handle", &ch.handle);
            }
            if let Some(a) = &c.agent {
                q.append_pair("claimed_agent", a);
            }
        }
        format!("{base_url}/report?{}", q.finish())
    }
}

/// A contact policy quoted in an answer.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct PolicyNote {
    /// `never_used`, `never_initiates` or `never_asks`.
    pub rule: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub channel_kind: Option<crate::channels::ChannelKind>,
    pub statement: String,
}

impl PolicyNote {
    pub fn new(p: &crate::channels::policy::Policy, l: Locale) -> PolicyNote {
        PolicyNote {
            rule: p.rule.as_str(),
            channel_kind: p.channel_kind,
            statement: p.statement(l).to_owned(),
        }
    }
}

/// Longest input echoed into a report link (URLs have practical length limits).
const MAX_PREFILL_INPUT: usize = 2048;

impl From<&SessionInfo> for SessionSummary {
    fn from(s: &SessionInfo) -> Self {
        SessionSummary {
            session_id: s.session_id.clone(),
            agent_name: s.agent_name.clone(),
            channel: ChannelRef {
                kind: s.channel_kind,
                handle: s.channel_handle.clone(),
            },
            issued_at: rfc3339(s.issued_at),
            expires_at: rfc3339(s.expires_at),
            user_ref_last4: s.user_ref_last4.clone(),
        }
    }
}

/// Builds the user-facing answer for a verdict; shared by the JSON API and the HTML page.
/// `input` is what the user pasted: a non-genuine answer pre-fills a report with it.
pub fn present(
    verdict: &Verdict,
    locale: Locale,
    base_url: &str,
    input: &str,
    policies: &[crate::channels::policy::Policy],
) -> VerifyResponse {
    use crate::channels::policy;
    let kind = verdict.kind();
    let text = i18n::verdict(kind, locale);
    let reason = match verdict {
        Verdict::Forged(r) => Some(
            match r {
                ForgeryReason::UnknownKey => "unknown_key",
                ForgeryReason::BadSignature => "bad_signature",
                ForgeryReason::UnknownCode => "unknown_code",
                ForgeryReason::UnknownSession => "unknown_session",
            }
            .to_owned(),
        ),
        Verdict::Malformed(why) => Some((*why).to_owned()),
        _ => None,
    };
    let (prefill, notes) = match verdict {
        Verdict::Genuine(s) => (
            None,
            policy::for_kind(policies, s.channel_kind)
                .into_iter()
                .map(|p| PolicyNote::new(p, locale))
                .collect(),
        ),
        _ => (
            Some(prefill_for(verdict, input)),
            policy::never_asks(policies)
                .into_iter()
                .map(|p| PolicyNote::new(p, locale))
                .collect(),
        ),
    };
    VerifyResponse {
        verdict: kind,
        reason,
        locale,
        title: text.title,
        message: text.message,
        instruction: match verdict {
            Verdict::Genuine(s) => {
                Some(i18n::instruction(s.channel_kind, &s.channel_handle, locale))
            }
            _ => None,
        },
        session: verdict.session().map(SessionSummary::from),
        report_url: prefill.as_ref().map(|p| p.url(base_url, ("verify", kind))),
        report_prefill: prefill,
        policies: notes,
    }
}

/// What a non-genuine verdict tells a report: the input shown, and who it claimed to be (the
/// signed claims of an expired or revoked session; for a forgery, what it claims unsigned).
fn prefill_for(verdict: &Verdict, input: &str) -> ReportPrefill {
    let input = input.trim();
    let presented =
        (!input.is_empty() && input.len() <= MAX_PREFILL_INPUT).then(|| input.to_owned());
    let claimed = match verdict.session() {
        Some(s) => Some(ClaimedPrefill {
            channel: Some(ChannelRef {
                kind: s.channel_kind,
                handle: s.channel_handle.clone(),
            }),
            agent: Some(s.agent_name.clone()),
        }),
        None => match tokens::input::extract(input) {
            tokens::input::Presented::Token(t) => {
                tokens::claimed_identity(t).map(|(agent, kind, handle)| ClaimedPrefill {
                    channel: crate::channels::ChannelHandle::parse(kind, &handle)
                        .ok()
                        .map(|h| ChannelRef {
                            kind,
                            handle: h.as_str().to_owned(),
                        }),
                    agent: Some(agent),
                })
            }
            _ => None,
        },
    };
    ReportPrefill {
        scam_channel: None,
        presented,
        claimed_entity: claimed,
    }
}

/// Verify a token, identity link, session code or pasted message.
#[utoipa::path(
    post, path = "/v1/verify", tag = "verify",
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "A verdict (every verdict, including forged, is a 200)", body = VerifyResponse),
        (status = 400, description = "Body is not valid JSON or has unknown fields", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited; see Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Overloaded; see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn verify(
    State(s): State<AppState>,
    PreferredLocale(header_locale): PreferredLocale,
    AppJson(req): AppJson<VerifyRequest>,
) -> Result<axum::response::Response, ApiError> {
    if req.input.len() > tokens::input::MAX_INPUT_LEN {
        return Err(ApiError::bad_request(
            "input_too_long",
            format!("input is limited to {} bytes", tokens::input::MAX_INPUT_LEN),
        ));
    }
    let locale = locale_of(req.lang.as_deref(), header_locale);
    let verdict = s.verifier.verify(&req.input).await?;
    VERDICTS.increment(verdict.kind());
    let policies = s.policies.get();
    let mut resp = json_answer(&present(
        &verdict,
        locale,
        s.base_url(),
        &req.input,
        &policies,
    ));
    mark_guess(&mut resp, &verdict);
    Ok(resp)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchVerifyRequest {
    /// 1 to 64 tokens, identity links or messages containing one. Session codes are refused in a
    /// batch (`malformed`): they are verified one at a time through `POST /v1/verify`.
    #[schema(min_items = 1, max_items = 64)]
    pub inputs: Vec<String>,
    /// `en` or `zh-CN`; defaults to `Accept-Language`.
    #[serde(default)]
    pub lang: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct BatchVerifyResponse {
    /// One verdict per input, in the order given.
    pub results: Vec<VerifyResponse>,
}

/// Verify up to 64 tokens at once (a messenger bot checking every link in a group).
///
/// Each answer is the one `POST /v1/verify` gives for that input alone; a broken or forged input
/// never spoils the others.
#[utoipa::path(
    post, path = "/v1/verify/batch", tag = "verify",
    request_body = BatchVerifyRequest,
    responses(
        (status = 200, description = "One verdict per input, in order", body = BatchVerifyResponse),
        (status = 400, description = "Not valid JSON, no inputs, more than 64, or one over 16 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited; see Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Overloaded; see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn verify_batch(
    State(s): State<AppState>,
    PreferredLocale(header_locale): PreferredLocale,
    AppJson(req): AppJson<BatchVerifyRequest>,
) -> Result<Json<BatchVerifyResponse>, ApiError> {
    let max = tokens::verifier::MAX_BATCH;
    if req.inputs.is_empty() || req.inputs.len() > max {
        return Err(ApiError::bad_request(
            "invalid_batch_size",
            format!("a batch holds 1 to {max} inputs"),
        ));
    }
    if req
        .inputs
        .iter()
        .any(|i| i.len() > tokens::input::MAX_INPUT_LEN)
    {
        return Err(ApiError::bad_request(
            "input_too_long",
            format!(
                "each input is limited to {} bytes",
                tokens::input::MAX_INPUT_LEN
            ),
        ));
    }
    let locale = locale_of(req.lang.as_deref(), header_locale);
    let verdicts = s.verifier.verify_batch(&req.inputs).await?;
    let base = s.base_url();
    let policies = s.policies.get();
    let results = verdicts
        .iter()
        .zip(&req.inputs)
        .map(|(v, input)| {
            VERDICTS.increment(v.kind());
            present(v, locale, base, input, &policies)
        })
        .collect();
    Ok(Json(BatchVerifyResponse { results }))
}

/// Verdicts given, by kind (`/metrics`): the API, identity links and the form.
pub(crate) static VERDICTS: crate::telemetry::CounterSet = crate::telemetry::CounterSet::new(
    "trustdesk_verdicts_total",
    "verdict",
    &[
        "genuine",
        "forged",
        "expired",
        "not_yet_valid",
        "revoked",
        "malformed",
    ],
);

/// A verdict as JSON ([`json::write`]), in a buffer sized for a typical answer (axum's `Json`
/// starts at 128 bytes and grows it several times for a ~1 KiB verdict).
fn json_answer(value: &VerifyResponse) -> axum::response::Response {
    let mut buf = Vec::with_capacity(1536);
    json::write(&mut buf, value);
    let mut resp = axum::response::Response::new(axum::body::Body::from(buf));
    // Room for the edge's security headers and request id from the start: growing the map there
    // costs a reallocation and a rehash on every verification.
    let headers = resp.headers_mut();
    *headers = axum::http::HeaderMap::with_capacity(RESPONSE_HEADERS);
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    resp
}

/// Headers a verdict answer ends up with: its content type, and those the edge adds.
const RESPONSE_HEADERS: usize = 8;

/// The `lang` field when it names a supported locale, else the `Accept-Language` choice.
fn locale_of(lang: Option<&str>, header_locale: Locale) -> Locale {
    lang.and_then(Locale::parse_tag).unwrap_or(header_locale)
}

/// An unknown session code is a guess: the rate-limit middleware counts it towards the lockout.
pub fn mark_guess(resp: &mut axum::response::Response, verdict: &Verdict) {
    if matches!(verdict, Verdict::Forged(ForgeryReason::UnknownCode)) {
        resp.extensions_mut()
            .insert(crate::http::limits::AuthFailed);
    }
}
