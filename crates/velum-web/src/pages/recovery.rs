//! Recovery codes: shown once when two-step sign-in is set up, and made
//! again by their owner on their account page (after password and code).

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use velum_app::AppError;

use super::{Errors, Nav, render};
use crate::AppState;
use crate::error::PageError;
use crate::extract::{CsrfForm, StaffSession};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/account/recovery-codes", get(page).post(regenerate))
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct CodesPage {
    nav: Option<Nav>,
    title: String,
    codes: Vec<String>,
}

/// The page that shows new recovery codes, once (every page is `no-store`).
pub(super) fn codes_page(nav: Option<Nav>, title: &str, codes: Vec<String>) -> Response {
    render(
        StatusCode::OK,
        &CodesPage {
            nav,
            title: title.to_owned(),
            codes,
        },
    )
}

#[derive(Template)]
#[template(path = "recovery.html")]
struct RecoveryPage {
    nav: Option<Nav>,
    left: i64,
    just_used: bool,
    errors: Errors,
}

#[derive(Deserialize)]
pub struct RecoveryQuery {
    #[serde(default)]
    used: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    session: StaffSession,
    Query(q): Query<RecoveryQuery>,
) -> Result<Response, PageError> {
    let left = state.app.recovery_codes_left(&session.actor).await?;
    Ok(render(
        StatusCode::OK,
        &RecoveryPage {
            nav: Some(Nav::of(&session)),
            left,
            just_used: q.used.is_some(),
            errors: Errors::default(),
        },
    ))
}

#[derive(Deserialize)]
pub struct RegenerateForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    code: String,
}

pub async fn regenerate(
    State(state): State<AppState>,
    session: StaffSession,
    CsrfForm(form): CsrfForm<RegenerateForm>,
) -> Result<Response, PageError> {
    match state
        .app
        .regenerate_recovery_codes(&session.actor, &form.current_password, &form.code)
        .await
    {
        Ok(codes) => Ok(codes_page(Some(Nav::of(&session)), "Your new recovery codes", codes)),
        Err(AppError::Validation(errors)) => {
            let left = state.app.recovery_codes_left(&session.actor).await?;
            Ok(render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &RecoveryPage {
                    nav: Some(Nav::of(&session)),
                    left,
                    just_used: false,
                    errors: Errors(errors),
                },
            ))
        }
        Err(e) => Err(e.into()),
    }
}
