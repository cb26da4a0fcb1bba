//! Staff administration through the API (owners and managers).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use velum_core::StaffId;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiActor, ApiId};

api_routes! {
    post "/staff/{id}/totp-reset" => totp_reset;
}

/// Reset another member of staff's two-step sign-in (a lost phone): their
/// TOTP secret and recovery codes are removed, their sessions end, they are
/// emailed, and they set it up again at their next web sign-in. Owners and
/// managers only; a manager cannot reset an owner's; nobody can reset their
/// own (403, audited).
#[utoipa::path(post, path = "/api/v1/staff/{id}/totp-reset", tag = "staff", security(("bearer" = [])), params(("id" = uuid::Uuid, Path, description = "The staff member's id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn totp_reset(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId<StaffId>,
) -> Result<Response, ApiError> {
    state.app.reset_staff_totp(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
