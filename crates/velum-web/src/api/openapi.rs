//! The OpenAPI 3.1 document, generated from the handlers and types above
//! (pinned by a snapshot test).

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{audit, auth, clients, jobs, platform, staff, support};
use crate::error::{ErrorBody, ErrorItem};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Velum API",
        version = "1",
        description = "Practice management for UK aesthetic clinics. Every read of a client's record is recorded in its access history.",
        license(name = "AGPL-3.0-or-later")
    ),
    paths(
        auth::login, auth::logout, auth::password_reset,
        clients::list, clients::search, clients::create, clients::get, clients::update,
        clients::get_medical, clients::put_medical, clients::access_log,
        audit::trail, audit::head,
        platform::clinics, platform::create_clinic, platform::suspend, platform::resume,
        platform::health, platform::request_support, platform::my_grants,
        support::grants, support::grant, support::refuse, support::revoke,
        staff::totp_reset,
        jobs::failed, jobs::counts
    ),
    components(schemas(ErrorBody, ErrorItem)),
    modifiers(&BearerAuth),
    tags((name = "auth", description = "Signing in"), (name = "clients", description = "Client cards"), (name = "audit", description = "The clinic's audit trail"),
        (name = "platform", description = "Hosted mode, for platform operators: clinics, usage, health, asking for support access"),
        (name = "support", description = "Break-glass support access, decided by the clinic's owner"),
        (name = "staff", description = "Staff administration, for owners and managers"),
        (name = "jobs", description = "Background jobs that failed, for the clinic's owner"))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as JSON text.
#[must_use]
pub fn openapi_json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
