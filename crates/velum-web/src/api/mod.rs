//! The JSON API under `/api/v1`. Every handler calls the same use case as
//! the matching page; there is no second code path. Conventions (error
//! envelope, pagination, versioning) are in docs/API.md.

pub mod audit;
pub mod auth;
pub mod clients;
pub mod jobs;
pub mod openapi;
pub mod platform;
pub mod staff;
pub mod support;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};

use crate::AppState;
use crate::error::api_error;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/password-reset", post(auth::password_reset))
        .route("/clients", get(clients::list).post(clients::create))
        .route("/clients/search", post(clients::search))
        .route("/clients/{id}", get(clients::get).patch(clients::update))
        .route(
            "/clients/{id}/medical",
            get(clients::get_medical).put(clients::put_medical),
        )
        .route("/clients/{id}/access-log", get(clients::access_log))
        .route("/audit", get(audit::trail))
        .route("/audit/head", get(audit::head))
        .route(
            "/platform/clinics",
            get(platform::clinics).post(platform::create_clinic),
        )
        .route("/platform/clinics/{id}/suspend", post(platform::suspend))
        .route("/platform/clinics/{id}/resume", post(platform::resume))
        .route("/platform/clinics/{id}/health", get(platform::health))
        .route("/platform/clinics/{id}/support", post(platform::request_support))
        .route("/platform/support", get(platform::my_grants))
        .route("/staff/{id}/totp-reset", post(staff::totp_reset))
        .route("/jobs/failed", get(jobs::failed))
        .route("/platform/jobs", get(jobs::counts))
        .route("/support", get(support::grants))
        .route("/support/{id}/grant", post(support::grant))
        .route("/support/{id}/refuse", post(support::refuse))
        .route("/support/{id}/revoke", post(support::revoke))
        .route("/openapi.json", get(openapi::serve))
        .fallback(|| async { api_error(StatusCode::NOT_FOUND, None, "no such API endpoint") })
}
