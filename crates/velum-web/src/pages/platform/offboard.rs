//! Offboarding a clinic (approvals, the certificate, the archive) and the
//! owner's "Leaving your provider" page.

use crate::extract::{CsrfForm, NoFields, PageId};
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use velum_app::AppError;
use velum_app::offboard::{LeaveInput, OffboardError, OffboardRequest, Offboarding};
use velum_core::ClinicId;
use velum_core::client::FieldErrors;
use velum_core::clinic::ClinicStatus;

use crate::AppState;
use crate::error::PageError;
use crate::extract::StaffSession;
use crate::pages::clients::when;
use crate::pages::{Errors, Nav, ok, render};

use super::*;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/platform/clinics/{id}/offboard", get(offboard_form).post(offboard))
        .route("/platform/clinics/{id}/certificate", get(certificate))
        .route("/platform/clinics/{id}/archive", get(archive))
        .route("/platform/clinics/{id}/archive/delete", post(drop_archive))
        .route("/leaving", get(leaving_form).post(leave_provider))
}

#[derive(Default, Deserialize)]
pub struct OffboardForm {
    #[serde(default)]
    confirm_name: String,
    #[serde(default)]
    reason: String,
}

#[derive(Template)]
#[template(path = "offboard.html")]
struct OffboardPage {
    nav: Option<Nav>,
    clinic_id: ClinicId,
    clinic: String,
    status: ClinicStatus,
    /// When the owner asked to leave, and why.
    owner_asked: Option<(String, String)>,
    /// Operators who approved so far (without the owner's request).
    approvals: Vec<String>,
    notice: Option<String>,
    v: OffboardForm,
    errors: Errors,
}

pub(super) async fn offboard_page(
    state: &AppState,
    s: &StaffSession,
    id: ClinicId,
    v: OffboardForm,
    errors: Errors,
    notice: Option<String>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let c = clinic_line(state, s, id).await?;
    let st = state.app.offboarding_state(&s.actor, c.id).await?;
    let me = s.account.staff_id;
    Ok(render(
        status,
        &OffboardPage {
            nav: Some(Nav::of(s)),
            clinic_id: c.id,
            clinic: c.name,
            status: c.status,
            owner_asked: st.owner_asked.map(|l| (when(l.requested_at), l.reason)),
            approvals: st
                .approvals
                .iter()
                .map(|a| {
                    let who = if a.operator_id == me {
                        "you".to_owned()
                    } else {
                        format!("operator {}", a.operator_id)
                    };
                    format!("{who}, {}: {}", when(a.approved_at), a.reason)
                })
                .collect(),
            notice,
            v,
            errors,
        },
    ))
}

pub async fn offboard_form(
    State(state): State<AppState>,
    s: StaffSession,
    PageId(id): PageId<ClinicId>,
) -> Result<Response, PageError> {
    offboard_page(
        &state,
        &s,
        id,
        OffboardForm::default(),
        Errors::default(),
        None,
        StatusCode::OK,
    )
    .await
}

#[derive(Template)]
#[template(path = "offboarded.html")]
struct OffboardedPage {
    nav: Option<Nav>,
    clinic_id: ClinicId,
    clinic: String,
    /// The sealed archive's size and SHA-256, when one was made.
    archive: Option<(u64, String)>,
    certificate_sha256: String,
}

/// Offboard a suspended clinic once the operator has typed its name and a
/// reason: done at once when the owner asked to leave (the archive, sealed
/// to the owner's passphrase, waits for download; see
/// `velum_app::offboard::ARCHIVE_WAIT`), else recorded as the first of two
/// operators' approvals, or done at the second. No key is ever shown.
pub async fn offboard(
    State(state): State<AppState>,
    s: StaffSession,
    PageId(clinic): PageId<ClinicId>,
    CsrfForm(f): CsrfForm<OffboardForm>,
) -> Result<Response, PageError> {
    let request = OffboardRequest {
        clinic,
        confirm_name: Some(&f.confirm_name),
        reason: &f.reason,
        keep_for_download: true,
    };
    // Page wording: each message follows its field's label in the summary.
    let refused = |field: &str, e: &OffboardError| {
        let message = match e {
            OffboardError::NameMismatch => "does not match the clinic's name; nothing was changed".to_owned(),
            OffboardError::NotSuspended { status, .. } => {
                format!("is {status}, not suspended: suspend it first; nothing was changed")
            }
            OffboardError::AlreadyOffboarded(_) => "has been offboarded already".to_owned(),
            OffboardError::SameOperator => {
                "has your approval already: a second, different operator must approve; nothing was changed".to_owned()
            }
            other => format!("was not offboarded: {other}"),
        };
        Errors(FieldErrors::single(field, message))
    };
    let result = state.app.offboard_clinic(Some(&s.actor), request, |_| Ok(())).await;
    match result {
        Ok(Offboarding::Done(done)) => {
            let name = clinic_line(&state, &s, clinic).await?.name;
            Ok(render(
                StatusCode::OK,
                &OffboardedPage {
                    nav: Some(Nav::of(&s)),
                    clinic_id: clinic,
                    clinic: name,
                    archive: done.archive.map(|a| (a.bytes, a.sha256)),
                    certificate_sha256: done.certificate_sha256,
                },
            ))
        }
        Ok(Offboarding::Approved) => {
            let notice = "Your approval is recorded and the owner has been emailed. A second, different operator \
                          must approve before the clinic is offboarded.";
            offboard_page(
                &state,
                &s,
                clinic,
                OffboardForm::default(),
                Errors::default(),
                Some(notice.to_owned()),
                StatusCode::OK,
            )
            .await
        }
        Err(e @ OffboardError::NameMismatch) => {
            let errors = refused("confirm_name", &e);
            offboard_page(&state, &s, clinic, f, errors, None, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(OffboardError::App(AppError::Validation(e))) => {
            offboard_page(&state, &s, clinic, f, Errors(e), None, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(
            e @ (OffboardError::NotSuspended { .. }
            | OffboardError::AlreadyOffboarded(_)
            | OffboardError::SameOperator
            | OffboardError::Changed
            | OffboardError::Blobs { .. }),
        ) => {
            let errors = refused("clinic", &e);
            offboard_page(&state, &s, clinic, f, errors, None, StatusCode::CONFLICT).await
        }
        Err(OffboardError::NotAnOperator) => Err(AppError::Forbidden.into()),
        Err(OffboardError::UnknownClinic(_) | OffboardError::PlatformRow) => Err(AppError::NotFound.into()),
        Err(OffboardError::App(e)) => Err(e.into()),
        Err(e @ (OffboardError::Save(_) | OffboardError::OwnerHasNotAsked(_))) => {
            Err(AppError::Internal(e.to_string()).into())
        }
    }
}

#[derive(Template)]
#[template(path = "certificate.html")]
struct CertificatePage {
    nav: Option<Nav>,
    clinic_id: ClinicId,
    clinic: String,
    at: String,
    certificate: String,
    /// Checked against the platform's chain: the event number, or why not.
    checked: Result<i64, String>,
    archive_waiting: bool,
}

pub async fn certificate(
    State(state): State<AppState>,
    s: StaffSession,
    PageId(id): PageId<ClinicId>,
) -> Result<Response, PageError> {
    let c = clinic_line(&state, &s, id).await?;
    let row = state
        .app
        .offboarding(Some(&s.actor), c.id)
        .await?
        .ok_or(AppError::NotFound)?;
    let checked = match state.app.verify_certificate(&row.certificate).await {
        Ok(file) => Ok(file.recorded_in.seq),
        Err(AppError::Validation(e)) => Err(e.as_slice().first().map(|f| f.message.clone()).unwrap_or_default()),
        Err(e) => return Err(e.into()),
    };
    Ok(ok(&CertificatePage {
        nav: Some(Nav::of(&s)),
        clinic_id: c.id,
        clinic: c.name,
        at: when(row.at),
        certificate: row.certificate,
        checked,
        archive_waiting: row.archive_waiting,
    }))
}

/// The sealed archive, as a download, while it waits, streamed from the
/// blob store as it is read. It is ciphertext sealed to the owner's
/// passphrase; the file name carries the clinic id only.
pub async fn archive(
    State(state): State<AppState>,
    s: StaffSession,
    PageId(clinic): PageId<ClinicId>,
) -> Result<Response, PageError> {
    let stream = state.app.offboarding_archive_stream(&s.actor, clinic).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"clinic-{clinic}.velum-archive\""),
            ),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}

pub async fn drop_archive(
    State(state): State<AppState>,
    s: StaffSession,
    PageId(clinic): PageId<ClinicId>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    state.app.drop_offboarding_archive(&s.actor, clinic).await?;
    Ok(Redirect::to(&format!("/platform/clinics/{clinic}/certificate")).into_response())
}

#[derive(Template)]
#[template(path = "leaving.html")]
struct LeavingPage {
    nav: Option<Nav>,
    /// When the owner asked, and why.
    asked: Option<(String, String)>,
    reason: String,
    errors: Errors,
}

pub(super) async fn leaving_page(
    state: &AppState,
    s: &StaffSession,
    reason: String,
    errors: Errors,
    status: StatusCode,
) -> Result<Response, PageError> {
    let asked = state
        .app
        .leaving(&s.actor)
        .await?
        .map(|l| (when(l.requested_at), l.reason));
    Ok(render(
        status,
        &LeavingPage {
            nav: Some(Nav::of(s)),
            asked,
            reason,
            errors,
        },
    ))
}

/// The owner's "Leaving" page: ask to leave the provider, choosing the
/// archive's passphrase.
pub async fn leaving_form(State(state): State<AppState>, s: StaffSession) -> Result<Response, PageError> {
    leaving_page(&state, &s, String::new(), Errors::default(), StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct LeavingForm {
    #[serde(flatten)]
    input: LeaveInput,
}

pub async fn leave_provider(
    State(state): State<AppState>,
    s: StaffSession,
    CsrfForm(f): CsrfForm<LeavingForm>,
) -> Result<Response, PageError> {
    match state.app.request_leaving(&s.actor, &f.input).await {
        Ok(()) => Ok(Redirect::to("/leaving").into_response()),
        Err(AppError::Validation(e) | AppError::Conflict(e)) => {
            leaving_page(&state, &s, f.input.reason, Errors(e), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e.into()),
    }
}
