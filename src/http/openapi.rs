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
    modifiers(&BearerAuth),
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

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
