//! The HTTP layer: every route in one list, grouped by audience, and the middleware stack.
//! Handlers are thin: extract, call one domain function, present the result.

pub mod api;
pub mod edge;
pub mod error;
pub mod extract;
pub mod header_timer;
pub mod i18n;
pub mod limits;
pub mod openapi;
pub mod ops;
pub mod pages;
pub mod state;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use axum::Router;

use error::ApiError;
pub use state::AppState;

pub fn router(state: AppState) -> Router {
    let body_limit = state.config.max_json_bytes;

    let public_api = Router::new()
        .route("/v1/verify", post(api::verify::verify))
        .route(
            "/v1/verify/batch",
            // 64 links of a few hundred bytes each, with room for the messages around them.
            post(api::verify::verify_batch).layer(DefaultBodyLimit::max(
                body_limit.max(tokens_batch_body_limit()),
            )),
        )
        .route("/v1/channels/check", get(api::channels::check))
        .route(
            "/v1/policies",
            get(api::policies::list).post(api::policies::create),
        )
        .route("/v1/policies/{id}", delete(api::policies::delete))
        .route("/v1/feeds/stix", get(api::feeds::stix_bundle))
        .route("/v1/feeds/scammers", get(api::feeds::scammers))
        .route("/.well-known/trustdesk-keys", get(api::keys::published));

    let upload_limit = usize::try_from(state.config.max_report_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(1024 * 1024);
    let reports_api = Router::new()
        .route(
            "/v1/reports",
            // The multipart reader enforces this limit as it streams, answering with a problem
            // response; per-file and per-report limits apply inside it.
            post(api::reports::submit)
                .layer(DefaultBodyLimit::max(upload_limit))
                .get(api::reports::list),
        )
        .route("/v1/reports/{id}", get(api::reports::status))
        .route(
            "/v1/reports/{id}/contact",
            delete(api::reports::forget_contact),
        )
        .route("/v1/reports/{id}/rating", post(api::reports::rate))
        .route(
            "/v1/reports/{id}/contact/confirm",
            post(api::reports::confirm_contact),
        )
        .route("/v1/ratings", get(api::reports::ratings))
        .route(
            "/v1/reports/{id}/transition",
            post(api::escalations::transition),
        )
        .route("/v1/escalations", get(api::escalations::list))
        .route("/v1/escalations/claim", post(api::escalations::claim))
        .route(
            "/v1/escalations/{id}/heartbeat",
            post(api::escalations::heartbeat),
        )
        .route(
            "/v1/escalations/{id}/release",
            post(api::escalations::release),
        )
        .route(
            "/v1/escalations/{id}/resolve",
            post(api::escalations::resolve),
        )
        .route("/v1/audit", get(api::escalations::audit))
        .route("/v1/reports/{id}/priority", post(api::triage::set_priority))
        .route("/v1/reports/{id}/merge", post(api::triage::merge))
        .route("/v1/reports/{id}/xarf", get(api::feeds::xarf_export))
        .route(
            "/v1/escalation-rules",
            get(api::triage::get_rules).put(api::triage::put_rules),
        )
        .route(
            "/v1/reports/{id}/attachments/{index}",
            get(api::reports::download),
        );

    let staff_api = Router::new()
        .route(
            "/v1/sessions",
            post(api::sessions::issue).get(api::sessions::list_mine),
        )
        .route(
            "/v1/sessions/{session_id}/revoke",
            post(api::sessions::revoke),
        )
        .route(
            "/v1/channels",
            post(api::channels::create).get(api::channels::list),
        )
        .route("/v1/channels/{id}", delete(api::channels::delete))
        .route("/v1/keys", get(api::keys::list))
        .route("/v1/keys/rotate", post(api::keys::rotate))
        .route("/v1/keys/{kid}/retire", post(api::keys::retire));

    let pages = Router::new()
        .route("/", get(pages::public::home))
        .route("/check", get(pages::public::check))
        .route(
            "/report",
            // Streamed like `POST /v1/reports`, under the same limits.
            get(pages::public::report_form)
                .post(pages::public::report_submit)
                .layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/assets/report.js", get(pages::public::report_script))
        .route("/v/{token}", get(pages::verify_link))
        .route(
            "/verify",
            get(pages::verify_form).post(pages::verify_submit),
        )
        .route(
            "/r/{id}",
            get(pages::report_status_form).post(pages::report_status_submit),
        )
        .route("/r/{id}/forget", post(pages::report_forget))
        .route("/r/{id}/rate", post(pages::report_rate))
        .route("/r/{id}/confirm", post(pages::report_confirm))
        .route("/assets/style.css", get(pages::stylesheet))
        .route("/assets/console.js", get(pages::console::script))
        .route(
            "/console/login",
            get(pages::console::login_form).post(pages::console::login),
        )
        .route("/console/logout", post(pages::console::logout))
        .route("/console", get(pages::console::home))
        .route("/console/sessions", post(pages::console::issue))
        .route(
            "/console/sessions/{id}/revoke",
            post(pages::console::revoke),
        )
        .route(
            "/console/escalations/claim",
            post(pages::console_staff::claim),
        )
        .route(
            "/console/escalations/{id}",
            post(pages::console_staff::item),
        )
        .route("/console/reports/{id}", get(pages::console_staff::report))
        .route(
            "/console/reports/{id}/transition",
            post(pages::console_staff::transition),
        )
        .route(
            "/console/reports/{id}/attachments/{index}",
            get(pages::console_staff::attachment),
        )
        .route("/console/audit", get(pages::console_staff::audit))
        .route("/console/ratings", get(pages::console_staff::ratings));

    let ops = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi));

    Router::new()
        .merge(public_api)
        .merge(staff_api)
        .merge(reports_api)
        .merge(pages)
        .merge(ops)
        .fallback(|| async { ApiError::not_found("not_found", "no such resource") })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        // One stack, so that axum boxes it once per route: each separate `Router::layer` costs
        // every request another boxed clone of the route. Outermost first.
        .layer(
            tower::ServiceBuilder::new()
                .layer(edge::EdgeLayer(state.clone()))
                .layer(DefaultBodyLimit::max(body_limit)),
        )
        .with_state(state)
}

/// A full batch of maximal tokens, JSON-quoted.
const fn tokens_batch_body_limit() -> usize {
    crate::tokens::verifier::MAX_BATCH * (crate::tokens::paseto::MAX_TOKEN_LEN + 16) + 1024
}
