//! `/api/v1/audit`: the clinic's audit trail (owners, managers, auditors).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::clients::CursorQuery;
use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiActor;

/// A page of the trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrailJson {
    pub events: Vec<TrailEventJson>,
    pub next_cursor: Option<String>,
}

/// One event: never a clinical value.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrailEventJson {
    /// Position in the clinic's hash chain.
    pub seq: i64,
    /// RFC 3339, UTC.
    pub at: String,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    pub client_id: Option<String>,
    pub action: String,
    pub sections: Vec<String>,
    pub purpose: String,
    /// The source address of the request.
    pub source: Option<String>,
    /// A non-personal detail: a reason code, a role change, a staff id.
    pub detail: Option<String>,
}

/// The clinic's audit trail, newest first.
#[utoipa::path(get, path = "/api/v1/audit", params(CursorQuery), tag = "audit", security(("bearer" = [])),
    responses((status = 200, body = TrailJson), (status = 403, body = ErrorBody)))]
pub async fn trail(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    query: Result<Query<CursorQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<TrailJson>, Response> {
    let Query(q) = query.map_err(|_| {
        crate::error::api_error(
            StatusCode::BAD_REQUEST,
            None,
            "unknown or malformed query parameter (cursor)",
        )
    })?;
    let page = state
        .app
        .audit_trail(&actor, q.cursor.as_deref())
        .await
        .map_err(|e| ApiError(e).into_response())?;
    Ok(Json(TrailJson {
        events: page
            .items
            .iter()
            .map(|e| TrailEventJson {
                seq: e.seq,
                at: e.at.to_string(),
                actor_id: e.actor_id.map(|a| a.to_string()),
                actor_name: e.actor_name.clone(),
                client_id: e.client_id.map(|c| c.to_string()),
                action: e.action.as_str().to_owned(),
                sections: e.sections.iter().map(|s| s.as_str().to_owned()).collect(),
                purpose: e.purpose.clone(),
                source: e.source.clone(),
                detail: e.detail.clone(),
            })
            .collect(),
        next_cursor: page.next,
    }))
}
