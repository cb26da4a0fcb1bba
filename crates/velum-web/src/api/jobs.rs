//! `/api/v1/jobs/failed`: the clinic's failed background jobs (owners), and
//! `/api/v1/platform/jobs`: job counts across the installation (operators).
//! Neither shows a job's payload or anything personal.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiActor;

api_routes! {
    get "/jobs/failed" => failed;
    get "/platform/jobs" => counts;
}

/// A job that failed for good: what it was doing and why, never its data.
#[derive(Debug, Serialize, ToSchema)]
pub struct FailedJobJson {
    pub id: String,
    /// The job's kind, e.g. `mail`.
    pub kind: String,
    /// What the job was doing, in words.
    pub description: String,
    pub attempts: i64,
    /// Why it failed (never personal data).
    pub error: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC.
    pub failed_at: Option<String>,
}

/// The clinic's failed jobs.
#[derive(Debug, Serialize, ToSchema)]
pub struct FailedJobsJson {
    pub jobs: Vec<FailedJobJson>,
}

/// How many jobs of one kind are in one state.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobCountJson {
    pub kind: String,
    /// `queued`, `running`, `done` or `failed`.
    pub state: String,
    pub count: i64,
}

/// Job counts across the installation.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobCountsJson {
    pub counts: Vec<JobCountJson>,
}

/// The clinic's failed background jobs, newest first (owners only).
#[utoipa::path(get, path = "/api/v1/jobs/failed", tag = "jobs", security(("bearer" = [])),
    responses((status = 200, description = "The clinic's failed jobs, newest first", body = FailedJobsJson),
        (status = 403, description = "Not an owner", body = ErrorBody)))]
pub async fn failed(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
) -> Result<Json<FailedJobsJson>, Response> {
    let jobs = state
        .app
        .failed_jobs(&actor)
        .await
        .map_err(|e| ApiError(e).into_response())?;
    Ok(Json(FailedJobsJson {
        jobs: jobs
            .into_iter()
            .map(|j| FailedJobJson {
                id: j.id.to_string(),
                kind: j.kind,
                description: j.description,
                attempts: j.attempts,
                error: j.error,
                created_at: j.created_at.to_string(),
                failed_at: j.failed_at.map(|t| t.to_string()),
            })
            .collect(),
    }))
}

/// How many jobs of each kind are in each state, across every clinic
/// (operators only): counts, nothing else.
#[utoipa::path(get, path = "/api/v1/platform/jobs", tag = "platform", security(("bearer" = [])),
    responses((status = 200, description = "Job counts by kind and state", body = JobCountsJson),
        (status = 403, description = "Not an operator", body = ErrorBody)))]
pub async fn counts(State(state): State<AppState>, ApiActor(actor): ApiActor) -> Result<Json<JobCountsJson>, Response> {
    let counts = state
        .app
        .job_counts(&actor)
        .await
        .map_err(|e| ApiError(e).into_response())?;
    Ok(Json(JobCountsJson {
        counts: counts
            .into_iter()
            .map(|c| JobCountJson {
                kind: c.kind,
                state: c.state.to_owned(),
                count: c.count,
            })
            .collect(),
    }))
}
