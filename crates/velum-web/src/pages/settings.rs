//! The clinic's settings page: the owner changes them, a manager reads them.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use velum_app::AppError;
use velum_core::settings::{Regulator, SettingsInput};

use super::{Errors, Nav, render};
use crate::AppState;
use crate::error::PageError;
use crate::extract::{CsrfForm, StaffSession};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/settings", get(form).post(save))
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    nav: Option<Nav>,
    v: SettingsInput,
    errors: Errors,
    /// What was just done, said back.
    notice: String,
    can_edit: bool,
    regulators: Vec<(&'static str, &'static str)>,
}

fn page(s: &StaffSession, v: SettingsInput, errors: Errors, notice: &str, status: StatusCode) -> Response {
    render(
        status,
        &SettingsPage {
            nav: Some(Nav::of(s)),
            v,
            errors,
            notice: notice.to_owned(),
            can_edit: velum_app::settings::may_change(s.account.role),
            regulators: Regulator::ALL.iter().map(|r| (r.as_str(), r.label())).collect(),
        },
    )
}

pub async fn form(State(state): State<AppState>, s: StaffSession) -> Result<Response, PageError> {
    let settings = state.app.clinic_settings(&s.actor).await?;
    Ok(page(
        &s,
        SettingsInput::from_settings(&settings),
        Errors::default(),
        "",
        StatusCode::OK,
    ))
}

pub async fn save(
    State(state): State<AppState>,
    s: StaffSession,
    CsrfForm(input): CsrfForm<SettingsInput>,
) -> Result<Response, PageError> {
    match state.app.update_clinic_settings(&s.actor, &input).await {
        Ok(saved) => Ok(page(
            &s,
            SettingsInput::from_settings(&saved),
            Errors::default(),
            "Settings saved.",
            StatusCode::OK,
        )),
        Err(AppError::Validation(errors) | AppError::Conflict(errors)) => {
            Ok(page(&s, input, Errors(errors), "", StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(e) => Err(e.into()),
    }
}
