//! `/api/v1/support`: the clinic owner's side of break-glass support
//! access (see the grants, grant, refuse, end early). The operator's side is
//! under `/api/v1/platform`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;
use velum_app::platform::{Decision, SupportGrant};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiActor, ApiId};

api_routes! {
    get "/support" => grants;
    post "/support/{id}/grant" => grant;
    post "/support/{id}/refuse" => refuse;
    post "/support/{id}/revoke" => revoke;
}

/// A support grant: who asked, why, for how long, and where it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct SupportGrantJson {
    pub id: String,
    pub clinic_id: String,
    pub clinic_name: String,
    pub operator_name: String,
    /// Why support needs access, as the operator gave it.
    pub reason: String,
    /// The length asked for (5 to 480).
    pub minutes: i64,
    /// "requested", "granted" (live), "expired", "denied" or "revoked".
    pub state: String,
    /// RFC 3339, UTC.
    pub requested_at: String,
    pub decided_at: Option<String>,
    /// When a granted visit ends (or ended).
    pub expires_at: Option<String>,
    /// Audit events the operator wrote in the clinic under the grant (the
    /// clinic's view only; `null` for the operator's own list).
    pub actions: Option<i64>,
}

impl From<SupportGrant> for SupportGrantJson {
    fn from(g: SupportGrant) -> Self {
        SupportGrantJson {
            id: g.id.to_string(),
            clinic_id: g.clinic_id.to_string(),
            clinic_name: g.clinic_name,
            operator_name: g.operator_name,
            reason: g.reason,
            minutes: g.minutes,
            state: g.state.as_str().to_owned(),
            requested_at: g.requested_at.to_string(),
            decided_at: g.decided_at.map(|t| t.to_string()),
            expires_at: g.expires_at.map(|t| t.to_string()),
            actions: g.actions,
        }
    }
}

/// Support grants, newest first (the last 100, in one page).
#[derive(Debug, Serialize, ToSchema)]
pub struct SupportGrantListJson {
    pub items: Vec<SupportGrantJson>,
    /// Always `null`: the list comes whole.
    pub next_cursor: Option<String>,
}

impl SupportGrantListJson {
    pub fn all(grants: Vec<SupportGrant>) -> Self {
        SupportGrantListJson {
            items: grants.into_iter().map(Into::into).collect(),
            next_cursor: None,
        }
    }
}

/// The clinic's support grants, newest first, with what was done under
/// each (the clinic's owner only).
#[utoipa::path(get, path = "/api/v1/support", tag = "support", security(("bearer" = [])),
    responses((status = 200, body = SupportGrantListJson), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn grants(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
) -> Result<Json<SupportGrantListJson>, ApiError> {
    let grants = state.app.clinic_support_grants(&actor).await?;
    Ok(Json(SupportGrantListJson::all(grants)))
}

async fn decide(state: &AppState, actor: &velum_core::Actor, grant: Uuid, d: Decision) -> Result<Response, ApiError> {
    state.app.decide_support(actor, grant, d).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Grant a requested visit: it is live from now for the minutes asked.
#[utoipa::path(post, path = "/api/v1/support/{id}/grant", tag = "support", security(("bearer" = [])), params(("id" = uuid::Uuid, Path, description = "The grant's id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn grant(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(grant): ApiId<Uuid>,
) -> Result<Response, ApiError> {
    decide(&state, &actor, grant, Decision::Grant).await
}

/// Refuse a requested visit.
#[utoipa::path(post, path = "/api/v1/support/{id}/refuse", tag = "support", security(("bearer" = [])), params(("id" = uuid::Uuid, Path, description = "The grant's id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn refuse(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(grant): ApiId<Uuid>,
) -> Result<Response, ApiError> {
    decide(&state, &actor, grant, Decision::Deny).await
}

/// End a live grant now.
#[utoipa::path(post, path = "/api/v1/support/{id}/revoke", tag = "support", security(("bearer" = [])), params(("id" = uuid::Uuid, Path, description = "The grant's id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(grant): ApiId<Uuid>,
) -> Result<Response, ApiError> {
    decide(&state, &actor, grant, Decision::Revoke).await
}
