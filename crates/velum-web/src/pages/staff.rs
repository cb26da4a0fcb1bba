//! Staff administration (owners and managers).

use crate::extract::Form;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use velum_app::AppError;
use velum_app::staff::{InviteInput, StaffView};
use velum_core::StaffId;

use super::{Errors, Nav, render, role_options};
use crate::AppState;
use crate::error::PageError;
use crate::extract::{PageId, StaffSession};

#[derive(Template)]
#[template(path = "staff.html")]
struct StaffPage {
    nav: Option<Nav>,
    staff: Vec<StaffView>,
    me: StaffId,
    /// Only owners may make or change owners.
    is_owner: bool,
    roles: Vec<(&'static str, &'static str)>,
    v: InviteInput,
    errors: Errors,
    invited: String,
}

async fn page(
    state: &AppState,
    s: &StaffSession,
    v: InviteInput,
    errors: Errors,
    invited: String,
    status: StatusCode,
) -> Result<Response, PageError> {
    let staff = state.app.list_staff(&s.actor).await?;
    Ok(render(
        status,
        &StaffPage {
            nav: Some(Nav::of(s)),
            staff,
            me: s.actor.staff_id,
            is_owner: s.actor.role == velum_core::Role::Owner,
            roles: role_options()
                .into_iter()
                .filter(|(r, _)| *r != "owner" || s.actor.role == velum_core::Role::Owner)
                .collect(),
            v,
            errors,
            invited,
        },
    ))
}

pub async fn list(State(state): State<AppState>, s: StaffSession) -> Result<Response, PageError> {
    page(
        &state,
        &s,
        InviteInput {
            role: "practitioner".into(),
            ..InviteInput::default()
        },
        Errors::default(),
        String::new(),
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: String,
}

pub async fn invite(
    State(state): State<AppState>,
    s: StaffSession,
    Form(f): Form<InviteForm>,
) -> Result<Response, PageError> {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let input = InviteInput {
        email: f.email,
        display_name: f.display_name,
        role: f.role,
    };
    match state.app.invite_staff(&s.actor, &input).await {
        Ok(v) => {
            page(
                &state,
                &s,
                InviteInput {
                    role: "practitioner".into(),
                    ..InviteInput::default()
                },
                Errors::default(),
                v.display_name,
                StatusCode::OK,
            )
            .await
        }
        Err(AppError::Validation(errors) | AppError::Conflict(errors)) => {
            page(
                &state,
                &s,
                input,
                Errors(errors),
                String::new(),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
}

pub async fn role(
    State(state): State<AppState>,
    s: StaffSession,
    PageId(id): PageId<StaffId>,
    Form(f): Form<RoleForm>,
) -> Result<Response, PageError> {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    state.app.change_role(&s.actor, id, &f.role).await?;
    Ok(Redirect::to("/staff").into_response())
}

#[derive(Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    disabled: String,
}

pub async fn status(
    State(state): State<AppState>,
    s: StaffSession,
    PageId(id): PageId<StaffId>,
    Form(f): Form<StatusForm>,
) -> Result<Response, PageError> {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    state.app.set_staff_disabled(&s.actor, id, f.disabled == "true").await?;
    Ok(Redirect::to("/staff").into_response())
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    csrf: String,
}

pub async fn totp_reset(
    State(state): State<AppState>,
    s: StaffSession,
    PageId(id): PageId<StaffId>,
    Form(f): Form<ResetForm>,
) -> Result<Response, PageError> {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    state.app.reset_staff_totp(&s.actor, id).await?;
    Ok(Redirect::to("/staff").into_response())
}
