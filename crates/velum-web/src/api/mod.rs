//! The JSON API under `/api/v1`. Every handler calls the same use case as
//! the matching page; there is no second code path. Conventions (error
//! envelope, pagination, versioning) are in docs/API.md.

pub mod audit;
pub mod auth;
pub mod clients;
pub mod openapi;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};

use crate::AppState;
use crate::error::api_error;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/clients", get(clients::list).post(clients::create))
        .route("/clients/{id}", get(clients::get).patch(clients::update))
        .route(
            "/clients/{id}/medical",
            get(clients::get_medical).put(clients::put_medical),
        )
        .route("/clients/{id}/access-log", get(clients::access_log))
        .route("/audit", get(audit::trail))
        .route("/openapi.json", get(openapi::serve))
        .fallback(|| async { api_error(StatusCode::NOT_FOUND, None, "no such API endpoint") })
}
