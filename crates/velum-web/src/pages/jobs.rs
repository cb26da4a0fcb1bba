//! The owner's page of failed background jobs (`/jobs`): what each was
//! doing, how many attempts it took and why it failed; never its data.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use super::{Nav, ok};
use crate::AppState;
use crate::error::PageError;
use crate::extract::StaffSession;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/jobs", get(failed))
}

struct Row {
    what: String,
    attempts: i64,
    error: String,
    queued: String,
    failed: String,
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    nav: Option<Nav>,
    rows: Vec<Row>,
}

pub async fn failed(State(state): State<AppState>, s: StaffSession) -> Result<Response, PageError> {
    let jobs = state.app.failed_jobs(&s.actor).await?;
    Ok(ok(&JobsPage {
        nav: Some(Nav::of(&s)),
        rows: jobs
            .into_iter()
            .map(|j| Row {
                what: j.description,
                attempts: j.attempts,
                error: j.error.unwrap_or_default(),
                queued: s.info.time_zone.show(j.created_at),
                failed: j.failed_at.map(|t| s.info.time_zone.show(t)).unwrap_or_default(),
            })
            .collect(),
    }))
}
