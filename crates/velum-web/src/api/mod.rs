//! The JSON API under `/api/v1`. Every handler calls the same use case as
//! the matching page; there is no second code path. Conventions (error
//! envelope, pagination, versioning) are in docs/API.md.

/// One API module's lines of the route table: `api_routes!` in each module
/// (`auth`, `clients`, …) takes lines of a method, the path under `/api/v1`
/// and the handler, and makes from them, together, the module's axum router,
/// the paths of the OpenAPI document (each operation described by its
/// handler's `#[utoipa::path]`) and the list of what it routes, as the
/// module's `API`. [`MODULES`] holds every module's `API`, and [`routes`]
/// and the document are both made from it, so a route cannot be served
/// without being documented. The list of what is routed is for the test that
/// each handler's documented method and path are the ones it is served at.
macro_rules! api_routes {
    ($($method:ident $path:literal => $($handler:ident)::+;)*) => {
        /// This module's routes.
        fn routes() -> axum::Router<$crate::AppState> {
            axum::Router::new()
                $(.route($path, axum::routing::$method($($handler)::+)))*
        }

        /// This module's documented operations, one per line of its table.
        #[derive(utoipa::OpenApi)]
        #[openapi(paths($($($handler)::+),*))]
        struct ApiPaths;

        /// This module's lines of the API route table.
        pub(super) const API: super::ApiModule = super::ApiModule {
            routes,
            paths: <ApiPaths as utoipa::OpenApi>::openapi,
            routed: &[$((stringify!($method), $path)),*],
        };
    };
}

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

/// What `api_routes!` makes of a module's lines.
struct ApiModule {
    routes: fn() -> Router<AppState>,
    paths: fn() -> utoipa::openapi::OpenApi,
    /// `(method, path under /api/v1)` for each line.
    routed: &'static [(&'static str, &'static str)],
}

/// Every API module's table, one line each.
const MODULES: &[ApiModule] = &[
    auth::API,
    clients::API,
    audit::API,
    platform::API,
    settings::API,
    staff::API,
    jobs::API,
    support::API,
];

/// The API router: every module's routes, the OpenAPI document, and JSON
/// answers for an unknown path or a method a path does not take.
pub fn routes() -> Router<AppState> {
    MODULES
        .iter()
        .fold(Router::new(), |router, module| router.merge((module.routes)()))
        .route("/openapi.json", get(openapi::serve))
        .fallback(|| async { api_error(StatusCode::NOT_FOUND, None, "no such API endpoint") })
        .method_not_allowed_fallback(|| async {
            api_error(
                StatusCode::METHOD_NOT_ALLOWED,
                None,
                "this endpoint does not take that method",
            )
        })
}

/// The documented operations of every module's table.
fn paths() -> impl Iterator<Item = utoipa::openapi::OpenApi> {
    MODULES.iter().map(|module| (module.paths)())
}

/// `(method, path under /api/v1)` for each line of every module's table.
fn routed() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    MODULES.iter().flat_map(|module| module.routed)
}
