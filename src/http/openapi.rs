//! The OpenAPI document, generated from the handlers' own types (utoipa).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{api, error, ops};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Trustdesk",
        description = "Verify support contacts, report impersonation fraud, escalate confirmed fraud. \
                       Every error is RFC 9457 application/problem+json with a stable `code`."
    ),
    paths(
        api::verify::verify,
        api::verify::verify_batch,
        api::channels::check,
        api::channels::create,
        api::channels::list,
        api::channels::delete,
        api::sessions::issue,
        api::sessions::revoke,
        api::sessions::list_mine,
        api::reports::submit,
        api::reports::status,
        api::reports::list,
        api::reports::download,
        api::reports::forget_contact,
        api::reports::confirm_contact,
        api::reports::rate,
        api::reports::ratings,
        api::escalations::transition,
        api::escalations::claim,
        api::escalations::heartbeat,
        api::escalations::release,
        api::escalations::resolve,
        api::escalations::list,
        api::escalations::audit,
        api::policies::list,
        api::policies::create,
        api::policies::delete,
        api::feeds::stix_bundle,
        api::feeds::scammers,
        api::feeds::xarf_export,
        api::triage::get_rules,
        api::triage::put_rules,
        api::triage::set_priority,
        api::triage::merge,
        api::keys::published,
        api::keys::list,
        api::keys::rotate,
        api::keys::retire,
        ops::healthz,
        ops::readyz,
        ops::metrics,
    ),
    components(schemas(error::Problem)),
    modifiers(&BearerAuth, &CommonProblems),
    tags(
        (name = "verify", description = "Is this contact genuine?"),
        (name = "channels", description = "Official-channel registry"),
        (name = "sessions", description = "Signed support sessions"),
        (name = "reports", description = "Fraud reports with evidence"),
        (name = "escalations", description = "Review workflow, escalation queue, audit trail"),
        (name = "keys", description = "Public keys and rotation"),
        (name = "policies", description = "What the operator never does (contact policies)"),
        (name = "feeds", description = "Scam-intelligence feed for other platforms (STIX 2.1, JSON)"),
        (name = "ops", description = "Health, readiness, metrics"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme(
                "api_key",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some("Staff API key from `trustdesk staff add`"))
                        .build(),
                ),
            );
            c.add_security_scheme(
                "receipt",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some("Report receipt (tdr_…) returned once at submission"))
                        .build(),
                ),
            );
        }
    }
}

/// Documents, on every operation, the problem responses the shared layers can give, so a client
/// (and schemathesis' status-code check) sees every status the service may really answer:
/// rate limiting, load shedding, timeouts and database outages on every route; a full disk on
/// every write; malformed bodies,
/// size limits and media types on routes with a body; bad or missing credentials on secured
/// routes; malformed identifiers on routes with path parameters. A handler's own, more specific
/// description of the same status wins.
struct CommonProblems;

impl Modify for CommonProblems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                (item.get.as_mut(), false),
                (item.put.as_mut(), true),
                (item.post.as_mut(), true),
                (item.delete.as_mut(), true),
            ];
            for (op, writes) in ops.into_iter().filter_map(|(op, w)| Some((op?, w))) {
                let params = op.parameters.as_deref().unwrap_or_default();
                let has_path = params.iter().any(|p| p.parameter_in == ParameterIn::Path);
                let has_query = params.iter().any(|p| p.parameter_in == ParameterIn::Query);
                let schemes: Vec<String> = op
                    .security
                    .iter()
                    .flatten()
                    .filter_map(|s| serde_json::to_value(s).ok())
                    .filter_map(|v| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()))
                    .flatten()
                    .collect();
                let mut add: Vec<(u16, &str)> = vec![
                    (408, "The request took too long"),
                    (
                        429,
                        "Over a rate limit; `Retry-After` says when to come back",
                    ),
                    (
                        500,
                        "Internal error (logged with its cause, answered opaquely)",
                    ),
                    (
                        503,
                        "Overloaded, or the database is unavailable; retry shortly",
                    ),
                ];
                if writes {
                    add.push((507, "The disk under the database or the evidence is full"));
                }
                if op.request_body.is_some() {
                    add.push((400, "Malformed or invalid request body"));
                    add.push((413, "Request body over its limit"));
                    add.push((415, "Unsupported content type"));
                }
                if has_path || has_query {
                    add.push((400, "Malformed parameter"));
                }
                if has_path {
                    add.push((404, "No such resource"));
                }
                if !schemes.is_empty() {
                    add.push((401, "Missing or invalid credentials"));
                }
                if schemes.iter().any(|s| s == "api_key") {
                    add.push((403, "The staff role may not do this"));
                }
                for (status, description) in add {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| problem_response(description));
                }
            }
        }
    }
}

fn problem_response(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
        .into()
}

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
