//! The JSON API under `/api/v1`. Every handler calls the same use case as
//! the matching page; there is no second code path. Conventions (error
//! envelope, pagination, versioning) are in docs/API.md.

pub mod audit;
pub mod auth;
pub mod clients;
pub mod jobs;
pub mod openapi;
pub mod platform;
pub mod settings;
pub mod staff;
pub mod support;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;

use crate::AppState;
use crate::error::api_error;

/// The one route table: each line is a method, the path under `/api/v1`
/// and the handler. It builds both the axum router ([`routes`]) and the
/// paths of the OpenAPI document ([`ApiPaths`], each operation described by
/// its handler's `#[utoipa::path]`), so a route cannot be served without
/// being documented. [`ROUTED`] lists the table for the test that each
/// handler's documented method and path are the ones it is served at.
macro_rules! api_routes {
    ($($method:ident $path:literal => $($handler:ident)::+;)*) => {
        pub fn routes() -> Router<AppState> {
            Router::new()
                $(.route($path, axum::routing::$method($($handler)::+)))*
                .route("/openapi.json", get(openapi::serve))
                .fallback(|| async { api_error(StatusCode::NOT_FOUND, None, "no such API endpoint") })
                .method_not_allowed_fallback(|| async {
                    api_error(StatusCode::METHOD_NOT_ALLOWED, None, "this endpoint does not take that method")
                })
        }

        /// The documented operations, one per line of the table.
        #[derive(utoipa::OpenApi)]
        #[openapi(paths($($($handler)::+),*))]
        pub struct ApiPaths;

        /// `(method, path under /api/v1)` for each line of the table.
        pub const ROUTED: &[(&str, &str)] = &[$((stringify!($method), $path)),*];
    };
}

api_routes! {
    post "/auth/login" => auth::login;
    post "/auth/logout" => auth::logout;
    post "/auth/password-reset" => auth::password_reset;
    get "/clients" => clients::list;
    post "/clients" => clients::create;
    post "/clients/search" => clients::search;
    get "/clients/{id}" => clients::get;
    patch "/clients/{id}" => clients::update;
    get "/clients/{id}/medical" => clients::get_medical;
    put "/clients/{id}/medical" => clients::put_medical;
    get "/clients/{id}/access-log" => clients::access_log;
    get "/audit" => audit::trail;
    get "/audit/head" => audit::head;
    get "/platform/clinics" => platform::clinics;
    post "/platform/clinics" => platform::create_clinic;
    post "/platform/clinics/{id}/suspend" => platform::suspend;
    post "/platform/clinics/{id}/resume" => platform::resume;
    get "/platform/clinics/{id}/health" => platform::health;
    post "/platform/clinics/{id}/support" => platform::request_support;
    get "/platform/support" => platform::my_grants;
    get "/settings" => settings::get;
    put "/settings" => settings::put;
    post "/staff/{id}/totp-reset" => staff::totp_reset;
    get "/jobs/failed" => jobs::failed;
    get "/platform/jobs" => jobs::counts;
    get "/support" => support::grants;
    post "/support/{id}/grant" => support::grant;
    post "/support/{id}/refuse" => support::refuse;
    post "/support/{id}/revoke" => support::revoke;
}
