//! Support access: an operator asks, the owner grants or refuses, the
//! operator enters and leaves.

use crate::extract::{CsrfForm, NoFields, PageId, PageIds};
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use uuid::Uuid;
use velum_app::AppError;
use velum_app::platform::{DEFAULT_GRANT_MINUTES, Decision};
use velum_core::ClinicId;
use velum_core::client::FieldErrors;

use crate::AppState;
use crate::error::PageError;
use crate::extract::StaffSession;
use crate::pages::{Errors, Nav, ok, render};

use super::*;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/platform/clinics/{id}/support", get(request_form).post(request))
        .route("/platform/clinics/{id}/support/{grant}/enter", post(enter))
        .route("/platform/leave", post(leave))
        .route("/support", get(grants))
        .route("/support/{grant}", post(decide))
}

#[derive(Default, Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    minutes: String,
}

#[derive(Template)]
#[template(path = "support_request.html")]
struct RequestPage {
    nav: Option<Nav>,
    clinic_id: ClinicId,
    clinic: String,
    v: RequestForm,
    errors: Errors,
}

pub(super) async fn request_page(
    state: &AppState,
    s: &StaffSession,
    id: ClinicId,
    v: RequestForm,
    errors: Errors,
    status: StatusCode,
) -> Result<Response, PageError> {
    let clinic = state
        .app
        .clinic_usage(&s.actor)
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or(AppError::NotFound)?;
    Ok(render(
        status,
        &RequestPage {
            nav: Some(Nav::of(s)),
            clinic_id: id,
            clinic: clinic.name,
            v,
            errors,
        },
    ))
}

pub async fn request_form(
    State(state): State<AppState>,
    s: StaffSession,
    PageId(id): PageId<ClinicId>,
) -> Result<Response, PageError> {
    let v = RequestForm {
        minutes: DEFAULT_GRANT_MINUTES.to_string(),
        ..RequestForm::default()
    };
    request_page(&state, &s, id, v, Errors::default(), StatusCode::OK).await
}

pub async fn request(
    State(state): State<AppState>,
    s: StaffSession,
    PageId(clinic): PageId<ClinicId>,
    CsrfForm(f): CsrfForm<RequestForm>,
) -> Result<Response, PageError> {
    match state.app.request_support(&s.actor, clinic, &f.reason, &f.minutes).await {
        Ok(_) => Ok(Redirect::to("/platform").into_response()),
        Err(AppError::Validation(e)) => {
            request_page(&state, &s, clinic, f, Errors(e), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn enter(
    State(state): State<AppState>,
    s: StaffSession,
    PageIds(clinic, grant): PageIds<ClinicId, Uuid>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    state.app.enter_support(&s.actor, &s.token, clinic, grant).await?;
    Ok(Redirect::to("/clients").into_response())
}

pub async fn leave(
    State(state): State<AppState>,
    s: StaffSession,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    state.app.leave_support(&s.token).await?;
    Ok(Redirect::to("/").into_response())
}

#[derive(Template)]
#[template(path = "support.html")]
struct GrantsPage {
    nav: Option<Nav>,
    grants: Vec<GrantLine>,
    errors: Errors,
}

pub async fn grants(State(state): State<AppState>, s: StaffSession) -> Result<Response, PageError> {
    let grants = state.app.clinic_support_grants(&s.actor).await?;
    Ok(ok(&GrantsPage {
        nav: Some(Nav::of(&s)),
        grants: grants.into_iter().map(GrantLine::from).collect(),
        errors: Errors::default(),
    }))
}

#[derive(Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    decision: String,
}

pub async fn decide(
    State(state): State<AppState>,
    s: StaffSession,
    PageId(grant): PageId<Uuid>,
    CsrfForm(f): CsrfForm<DecideForm>,
) -> Result<Response, PageError> {
    let decision = match f.decision.as_str() {
        "grant" => Decision::Grant,
        "deny" => Decision::Deny,
        "revoke" => Decision::Revoke,
        _ => return Err(AppError::Validation(FieldErrors::single("decision", "must be grant, deny or revoke")).into()),
    };
    match state.app.decide_support(&s.actor, grant, decision).await {
        Ok(()) => Ok(Redirect::to("/support").into_response()),
        Err(AppError::Conflict(e)) => {
            let grants = state.app.clinic_support_grants(&s.actor).await?;
            Ok(render(
                StatusCode::CONFLICT,
                &GrantsPage {
                    nav: Some(Nav::of(&s)),
                    grants: grants.into_iter().map(GrantLine::from).collect(),
                    errors: Errors(e),
                },
            ))
        }
        Err(e) => Err(e.into()),
    }
}
