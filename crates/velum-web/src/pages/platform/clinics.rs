//! The operator's clinic list: adding a clinic, suspending and resuming
//! one, a clinic's health (its audit chain verified).

use crate::extract::{CsrfForm, NoFields, PageId};
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use velum_app::AppError;
use velum_core::ClinicId;

use crate::AppState;
use crate::error::PageError;
use crate::extract::StaffSession;
use crate::pages::clients::when;
use crate::pages::{Errors, Nav, ok, render};

use super::*;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/platform", get(home))
        .route("/platform/clinics", post(create_clinic))
        .route("/platform/clinics/{id}/status", post(clinic_status))
        .route("/platform/clinics/{id}/verify", post(verify_chain))
}

#[derive(Default, Deserialize)]
pub struct NewClinicForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    owner_email: String,
}

#[derive(Template)]
#[template(path = "platform.html")]
struct PlatformPage {
    nav: Option<Nav>,
    clinics: Vec<ClinicLine>,
    grants: Vec<GrantLine>,
    v: NewClinicForm,
    errors: Errors,
    /// The new clinic's name and its owner's email (the set-up link went
    /// there, not to this page).
    created: Option<(String, String)>,
    /// Background jobs by kind and state, across every clinic: counts only.
    jobs: Vec<velum_app::jobs::JobCount>,
}

pub(super) async fn platform_page(
    state: &AppState,
    s: &StaffSession,
    v: NewClinicForm,
    errors: Errors,
    created: Option<(String, String)>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let leaving = state.app.clinics_asking_to_leave(&s.actor).await?;
    let clinics = state
        .app
        .clinic_usage(&s.actor)
        .await?
        .into_iter()
        .map(|c| ClinicLine {
            id: c.id,
            leaving: !c.status.is_offboarded() && leaving.contains(&c.id),
            name: c.name,
            active: c.status.is_active(),
            status: c.status,
            created: when(c.created_at),
            clients: c.clients,
            staff: c.active_staff,
            events: c.audit_events,
            last: c.last_activity.map(when).unwrap_or_default(),
        })
        .collect();
    let grants = state
        .app
        .my_support_grants(&s.actor)
        .await?
        .into_iter()
        .map(GrantLine::from)
        .collect();
    Ok(render(
        status,
        &PlatformPage {
            nav: Some(Nav::of(s)),
            clinics,
            grants,
            v,
            errors,
            created,
            jobs: state.app.job_counts(&s.actor).await?,
        },
    ))
}

pub async fn home(State(state): State<AppState>, s: StaffSession) -> Result<Response, PageError> {
    platform_page(
        &state,
        &s,
        NewClinicForm::default(),
        Errors::default(),
        None,
        StatusCode::OK,
    )
    .await
}

pub async fn create_clinic(
    State(state): State<AppState>,
    s: StaffSession,
    CsrfForm(f): CsrfForm<NewClinicForm>,
) -> Result<Response, PageError> {
    match state
        .app
        .operator_create_clinic(&s.actor, &f.name, &f.owner_email)
        .await
    {
        Ok(_) => {
            let created = Some((f.name.trim().to_owned(), f.owner_email.trim().to_owned()));
            platform_page(
                &state,
                &s,
                NewClinicForm::default(),
                Errors::default(),
                created,
                StatusCode::OK,
            )
            .await
        }
        Err(AppError::Validation(e) | AppError::Conflict(e)) => {
            platform_page(&state, &s, f, Errors(e), None, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    suspended: String,
    /// Why (suspending only): emailed to the clinic's owner.
    #[serde(default)]
    reason: String,
}

pub async fn clinic_status(
    State(state): State<AppState>,
    s: StaffSession,
    PageId(id): PageId<ClinicId>,
    CsrfForm(f): CsrfForm<StatusForm>,
) -> Result<Response, PageError> {
    match state
        .app
        .set_clinic_suspended(Some(&s.actor), id, f.suspended == "true", &f.reason)
        .await
    {
        Ok(()) => Ok(Redirect::to("/platform").into_response()),
        Err(AppError::Validation(e)) => {
            platform_page(
                &state,
                &s,
                NewClinicForm::default(),
                Errors(e),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "clinic_health.html")]
struct HealthPage {
    nav: Option<Nav>,
    name: String,
    active: bool,
    clients: i64,
    staff: i64,
    audit_events: i64,
    last: String,
    events: u64,
    head_seq: i64,
    head_hash: String,
    /// The first broken event's sequence number and what failed.
    broken: Option<(i64, &'static str)>,
}

/// "Verify chain" on a clinic's row: check its audit chain now and show
/// the result (counts and hashes only).
pub async fn verify_chain(
    State(state): State<AppState>,
    s: StaffSession,
    PageId(id): PageId<ClinicId>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    let h = state.app.clinic_health(&s.actor, id).await?;
    let head_hash = h.chain.head_hash.map(hex::encode).unwrap_or_default();
    Ok(ok(&HealthPage {
        nav: Some(Nav::of(&s)),
        name: h.usage.name,
        active: h.usage.status.is_active(),
        clients: h.usage.clients,
        staff: h.usage.active_staff,
        audit_events: h.usage.audit_events,
        last: h.usage.last_activity.map(when).unwrap_or_default(),
        events: h.chain.events,
        head_seq: h.chain.head_seq,
        head_hash,
        broken: h.chain.first_break.map(|b| (b.seq, b.reason)),
    }))
}
