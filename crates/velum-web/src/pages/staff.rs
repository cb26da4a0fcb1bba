//! Staff administration (owners and managers).

use crate::extract::CsrfForm;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use velum_app::AppError;
use velum_app::staff::{InviteInput, StaffView};
use velum_core::client::FieldErrors;
use velum_core::{Role, StaffId, policy};

use super::{Errors, Nav, render};
use crate::AppState;
use crate::error::PageError;
use crate::extract::{PageId, StaffSession};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff", get(list))
        .route("/staff/invite", post(invite))
        .route("/staff/{id}/role", post(role))
        .route("/staff/{id}/status", post(status))
        .route("/staff/{id}/totp-reset", post(totp_reset))
}

#[derive(Template)]
#[template(path = "staff.html")]
struct StaffPage {
    nav: Option<Nav>,
    staff: Vec<StaffView>,
    me: StaffId,
    /// Whose role and account the signed-in member may change.
    me_role: Role,
    /// The roles the signed-in member may give (only owners make owners).
    roles: Vec<(&'static str, &'static str)>,
    v: InviteInput,
    errors: Errors,
    /// What was just done, said back.
    notice: String,
    /// Why an action on the list was refused.
    problem: String,
}

impl StaffPage {
    /// May the signed-in member change this account (the policy's answer)?
    fn may_change(&self, s: &StaffView) -> bool {
        policy::may_change_staff(self.me_role, self.me, s.id, s.role, None)
    }
}

/// "Are you sure?" before an action on one member of staff, naming them.
#[derive(Template)]
#[template(path = "staff_confirm.html")]
struct ConfirmPage {
    nav: Option<Nav>,
    title: String,
    message: String,
    action: String,
    /// The status form's `disabled` value; empty for other actions.
    disabled: &'static str,
    button: &'static str,
}

async fn page(
    state: &AppState,
    s: &StaffSession,
    v: InviteInput,
    errors: Errors,
    notice: String,
    status: StatusCode,
) -> Result<Response, PageError> {
    page_with(state, s, v, errors, notice, String::new(), status).await
}

/// The staff list with a refusal of an action on it shown above.
async fn refused(state: &AppState, s: &StaffSession, problem: &str, status: StatusCode) -> Result<Response, PageError> {
    page_with(
        state,
        s,
        blank_invite(),
        Errors::default(),
        String::new(),
        problem.to_owned(),
        status,
    )
    .await
}

fn blank_invite() -> InviteInput {
    InviteInput {
        role: Role::Practitioner.as_str().into(),
        ..InviteInput::default()
    }
}

async fn page_with(
    state: &AppState,
    s: &StaffSession,
    v: InviteInput,
    errors: Errors,
    notice: String,
    problem: String,
    status: StatusCode,
) -> Result<Response, PageError> {
    let staff = state.app.list_staff(&s.actor).await?;
    Ok(render(
        status,
        &StaffPage {
            nav: Some(Nav::of(s)),
            staff,
            me: s.account.staff_id,
            me_role: s.account.role,
            roles: policy::assignable_roles(s.account.role)
                .into_iter()
                .map(|r| (r.as_str(), r.label()))
                .collect(),
            v,
            errors,
            notice,
            problem,
        },
    ))
}

pub async fn list(State(state): State<AppState>, s: StaffSession) -> Result<Response, PageError> {
    page(
        &state,
        &s,
        blank_invite(),
        Errors::default(),
        String::new(),
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
pub struct InviteForm {
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
    CsrfForm(f): CsrfForm<InviteForm>,
) -> Result<Response, PageError> {
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
                blank_invite(),
                Errors::default(),
                format!(
                    "Invitation sent to {}. The link in it works for 72 hours.",
                    v.display_name
                ),
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
    role: String,
}

pub async fn role(
    State(state): State<AppState>,
    s: StaffSession,
    PageId(id): PageId<StaffId>,
    CsrfForm(f): CsrfForm<RoleForm>,
) -> Result<Response, PageError> {
    let role: Role = f.role.parse().map_err(|e: velum_core::actor::UnknownRole| {
        AppError::Validation(FieldErrors::single("role", e.to_string()))
    })?;
    state.app.change_role(&s.actor, id, role).await?;
    Ok(Redirect::to("/staff").into_response())
}

/// The named member of staff of the signed-in person's clinic, for a
/// confirmation page.
async fn named(state: &AppState, s: &StaffSession, id: StaffId) -> Result<String, PageError> {
    let staff = state.app.list_staff(&s.actor).await?;
    staff
        .into_iter()
        .find(|v| v.id == id)
        .map(|v| v.display_name)
        .ok_or_else(|| AppError::NotFound.into())
}

#[derive(Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    disabled: String,
    /// "yes" once the person has confirmed on the confirmation page.
    #[serde(default)]
    confirm: String,
}

pub async fn status(
    State(state): State<AppState>,
    s: StaffSession,
    PageId(id): PageId<StaffId>,
    CsrfForm(f): CsrfForm<StatusForm>,
) -> Result<Response, PageError> {
    let disable = f.disabled == "true";
    if f.confirm != "yes" {
        let name = named(&state, &s, id).await?;
        let (title, message, button) = if disable {
            (
                format!("Disable {name}?"),
                format!("{name} will be signed out now and cannot sign in until an owner or manager re-enables them."),
                "Disable",
            )
        } else {
            (
                format!("Re-enable {name}?"),
                format!("{name} will be able to sign in again."),
                "Re-enable",
            )
        };
        return Ok(render(
            StatusCode::OK,
            &ConfirmPage {
                nav: Some(Nav::of(&s)),
                title,
                message,
                action: format!("/staff/{id}/status"),
                disabled: if disable { "true" } else { "false" },
                button,
            },
        ));
    }
    let v = state.app.set_staff_disabled(&s.actor, id, disable).await?;
    let notice = if disable {
        format!("{} is disabled and has been signed out.", v.display_name)
    } else {
        format!("{} can sign in again.", v.display_name)
    };
    page(&state, &s, blank_invite(), Errors::default(), notice, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct ResetForm {
    /// "yes" once the person has confirmed on the confirmation page.
    #[serde(default)]
    confirm: String,
}

pub async fn totp_reset(
    State(state): State<AppState>,
    s: StaffSession,
    PageId(id): PageId<StaffId>,
    CsrfForm(f): CsrfForm<ResetForm>,
) -> Result<Response, PageError> {
    if id == s.account.staff_id {
        // Refused (and audited) by the app; said plainly here.
        return match state.app.reset_staff_totp(&s.actor, id).await {
            Err(AppError::Forbidden) => {
                refused(
                    &state,
                    &s,
                    "You cannot reset your own two-step sign-in; ask another owner or manager.",
                    StatusCode::FORBIDDEN,
                )
                .await
            }
            Err(e) => Err(e.into()),
            Ok(_) => Err(AppError::Internal("own two-step reset allowed".into()).into()),
        };
    }
    if f.confirm != "yes" {
        let name = named(&state, &s, id).await?;
        return Ok(render(
            StatusCode::OK,
            &ConfirmPage {
                nav: Some(Nav::of(&s)),
                title: format!("Reset two-step sign-in for {name}?"),
                message: format!(
                    "For a lost phone. {name} will be signed out now and emailed, their recovery codes stop working, \
                     and they set up two-step sign-in again at their next sign-in."
                ),
                action: format!("/staff/{id}/totp-reset"),
                disabled: "",
                button: "Reset two-step",
            },
        ));
    }
    let v = state.app.reset_staff_totp(&s.actor, id).await?;
    let notice = format!(
        "Two-step sign-in reset for {}. They have been signed out and emailed, and set it up again at their next sign-in.",
        v.display_name
    );
    page(&state, &s, blank_invite(), Errors::default(), notice, StatusCode::OK).await
}
