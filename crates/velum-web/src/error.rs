//! The one place app errors become HTTP answers (G11).
//!
//! API errors are `{"errors":[{"field":…,"message":…}]}`. Internal errors
//! are logged here, once, with the request's span (ids only) and answered
//! with a generic message: no error text, stack or value ever reaches the
//! response.

use askama::Template;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Serialize;
use velum_app::AppError;

/// One error in the API envelope.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorItem {
    /// The field at fault, as named in the request; `null` when the error is
    /// about the request as a whole.
    pub field: Option<String>,
    pub message: String,
}

/// The API's error envelope.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub errors: Vec<ErrorItem>,
    /// With a 409 on client creation: the existing cards that look alike.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<Vec<crate::api::clients::DuplicateJson>>,
    /// A stable code for the few errors a program must tell apart:
    /// `clinic_suspended` (sign-in with a correct password to a clinic its
    /// provider has suspended); `too_many_attempts` (a 429: wait for the
    /// seconds in the `Retry-After` header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// The message a suspended clinic's staff see after a correct password.
pub const CLINIC_SUSPENDED: &str = "This clinic's account is suspended. Contact your provider.";

/// A 429 refusal: how long to wait, as the `Retry-After` header and in words.
fn too_many(retry_after_secs: u64, body: Response) -> Response {
    let mut res = body;
    *res.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    if let Ok(v) = axum::http::HeaderValue::from_str(&retry_after_secs.to_string()) {
        res.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
    }
    res
}

/// "in N minutes" (rounded up) for a wait of `secs` seconds.
fn wait_words(secs: u64) -> String {
    let mins = secs.div_ceil(60).max(1);
    if mins == 1 {
        "in a minute".to_owned()
    } else {
        format!("in {mins} minutes")
    }
}

/// An error answered as JSON.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError(e)
    }
}

/// A whole-request error in the envelope.
pub fn api_error(status: StatusCode, field: Option<&str>, message: &str) -> Response {
    (
        status,
        Json(ErrorBody {
            errors: vec![ErrorItem {
                field: field.map(str::to_owned),
                message: message.to_owned(),
            }],
            duplicates: None,
            code: None,
        }),
    )
        .into_response()
}

fn log_internal(e: &AppError) {
    // The app layer's internal messages carry no personal data (ids and
    // error kinds only); logged once, here.
    tracing::error!(error = %e, "internal error");
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self.0 {
            AppError::Validation(fields) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(ErrorBody {
                    errors: fields
                        .as_slice()
                        .iter()
                        .map(|f| ErrorItem {
                            field: Some(f.field.clone()),
                            message: f.message.clone(),
                        })
                        .collect(),
                    duplicates: None,
                    code: None,
                }),
            )
                .into_response(),
            AppError::Conflict(fields) => (
                StatusCode::CONFLICT,
                Json(ErrorBody {
                    errors: fields
                        .as_slice()
                        .iter()
                        .map(|f| ErrorItem {
                            field: Some(f.field.clone()),
                            message: f.message.clone(),
                        })
                        .collect(),
                    duplicates: None,
                    code: None,
                }),
            )
                .into_response(),
            AppError::Duplicate(matches) => (
                StatusCode::CONFLICT,
                Json(ErrorBody {
                    errors: vec![ErrorItem {
                        field: None,
                        message: "a client with the same name and date of birth, email or mobile already exists; \
                                  open that card, or repeat the request with allow_duplicate=true"
                            .into(),
                    }],
                    duplicates: Some(matches.into_iter().map(Into::into).collect()),
                    code: None,
                }),
            )
                .into_response(),
            AppError::BadCredentials => {
                api_error(StatusCode::UNAUTHORIZED, None, "email, password or code not recognised")
            }
            AppError::ClinicSuspended => (
                StatusCode::FORBIDDEN,
                Json(ErrorBody {
                    errors: vec![ErrorItem {
                        field: None,
                        message: CLINIC_SUSPENDED.into(),
                    }],
                    duplicates: None,
                    code: Some("clinic_suspended".into()),
                }),
            )
                .into_response(),
            AppError::TooManyAttempts { retry_after_secs } => too_many(
                retry_after_secs,
                Json(ErrorBody {
                    errors: vec![ErrorItem {
                        field: None,
                        message: format!(
                            "too many attempts; try again {} (see Retry-After)",
                            wait_words(retry_after_secs)
                        ),
                    }],
                    duplicates: None,
                    code: Some("too_many_attempts".into()),
                })
                .into_response(),
            ),
            AppError::Unauthenticated => api_error(
                StatusCode::UNAUTHORIZED,
                None,
                "sign in first: send Authorization: Bearer <token>",
            ),
            AppError::Forbidden => api_error(StatusCode::FORBIDDEN, None, "your role does not allow this"),
            AppError::NotFound => api_error(StatusCode::NOT_FOUND, None, "not found"),
            e @ AppError::Integrity => {
                log_internal(&e);
                api_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    None,
                    "the stored record failed its integrity check and is not shown; this has been recorded",
                )
            }
            e @ (AppError::Internal(_) | AppError::Startup(_)) => {
                log_internal(&e);
                api_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    None,
                    "something went wrong; the error has been logged",
                )
            }
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    nav: Option<crate::pages::Nav>,
    title: &'a str,
    message: &'a str,
    signed_in: bool,
}

/// An error answered as an HTML page.
#[derive(Debug)]
pub struct PageError(pub AppError);

impl From<AppError> for PageError {
    fn from(e: AppError) -> Self {
        PageError(e)
    }
}

/// A plain error page.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let page = ErrorPage {
        nav: None,
        title,
        message,
        signed_in: true,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, title.to_owned()).into_response(),
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self.0 {
            AppError::Unauthenticated => Redirect::to("/login").into_response(),
            AppError::Forbidden => error_page(
                StatusCode::FORBIDDEN,
                "Not available to your role",
                "Your role does not include this part of the record. The attempt has been recorded.",
            ),
            AppError::NotFound => error_page(
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing here. It may have been moved, or the link may be wrong.",
            ),
            AppError::BadCredentials => error_page(
                StatusCode::UNAUTHORIZED,
                "Not signed in",
                "Email, password or code not recognised.",
            ),
            AppError::ClinicSuspended => error_page(StatusCode::FORBIDDEN, "Clinic suspended", CLINIC_SUSPENDED),
            e @ AppError::Integrity => {
                log_internal(&e);
                error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Record failed its integrity check",
                    "The stored medical record does not match its version, so it is not shown. \
                     This has been recorded; ask the clinic's owner to contact the installation's administrator.",
                )
            }
            AppError::TooManyAttempts { retry_after_secs } => too_many(
                retry_after_secs,
                error_page(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many attempts",
                    &format!(
                        "There have been too many attempts from your network. Please try again {}.",
                        wait_words(retry_after_secs)
                    ),
                ),
            ),
            AppError::Validation(_) | AppError::Conflict(_) | AppError::Duplicate(_) => error_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Please check the form",
                "Some of what was entered could not be accepted. Go back and check it.",
            ),
            e @ (AppError::Internal(_) | AppError::Startup(_)) => {
                log_internal(&e);
                error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "Nothing was saved. The error has been logged; please try again.",
                )
            }
        }
    }
}
