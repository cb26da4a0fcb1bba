//! Hosted mode pages: the operator's clinic list (usage, suspend, new
//! clinic, asking for support access, support visits, offboarding and its
//! certificate) and the owner's "Support access" page (grant, refuse, end).

use crate::extract::{CsrfForm, NoFields, PageId, PageIds};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;
use velum_app::AppError;
use velum_app::offboard::{LeaveInput, OffboardError, OffboardRequest, Offboarding};
use velum_app::platform::{DEFAULT_GRANT_MINUTES, Decision, SupportGrant};
use velum_core::ClinicId;
use velum_core::client::FieldErrors;
use velum_core::clinic::ClinicStatus;
use velum_core::support::GrantState;

use super::clients::when;
use super::{Errors, Nav, ok, render};
use crate::AppState;
use crate::error::PageError;
use crate::extract::StaffSession;

/// A support grant, ready to show.
struct GrantLine {
    id: Uuid,
    clinic_id: ClinicId,
    clinic: String,
    operator: String,
    reason: String,
    minutes: i64,
    state: GrantState,
    requested: String,
    window: String,
    actions: String,
}

impl From<SupportGrant> for GrantLine {
    fn from(g: SupportGrant) -> Self {
        let window = match (g.decided_at, g.expires_at, g.state) {
            (_, _, GrantState::Requested) => format!("asks for {} minutes", g.minutes),
            (Some(from), Some(until), s) if s.was_open() => format!("{} to {}", when(from), when(until)),
            (Some(at), _, _) => format!("refused {}", when(at)),
            _ => String::new(),
        };
        GrantLine {
            id: g.id,
            clinic_id: g.clinic_id,
            clinic: g.clinic_name,
            operator: g.operator_name,
            reason: g.reason,
            minutes: g.minutes,
            state: g.state,
            requested: when(g.requested_at),
            window,
            actions: g.actions.map(|n| n.to_string()).unwrap_or_default(),
        }
    }
}

struct ClinicLine {
    id: ClinicId,
    name: String,
    status: ClinicStatus,
    active: bool,
    /// The owner has asked to leave (and it is not offboarded yet).
    leaving: bool,
    created: String,
    clients: i64,
    staff: i64,
    events: i64,
    last: String,
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

async fn platform_page(
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

async fn request_page(
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

/// The clinic as the operator's list shows it (an unknown id is not found).
async fn clinic_line(
    state: &AppState,
    s: &StaffSession,
    id: ClinicId,
) -> Result<velum_app::platform::ClinicUsage, PageError> {
    Ok(state.app.one_clinic_usage(&s.actor, id).await?)
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

async fn offboard_page(
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

/// The sealed archive, as a download, while it waits. It is ciphertext
/// under the key shown once; the file name carries the clinic id only.
pub async fn archive(
    State(state): State<AppState>,
    s: StaffSession,
    PageId(clinic): PageId<ClinicId>,
) -> Result<Response, PageError> {
    let bytes = state.app.offboarding_archive(&s.actor, clinic).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"clinic-{clinic}.velum-archive\""),
            ),
        ],
        bytes,
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

#[derive(Template)]
#[template(path = "leaving.html")]
struct LeavingPage {
    nav: Option<Nav>,
    /// When the owner asked, and why.
    asked: Option<(String, String)>,
    reason: String,
    errors: Errors,
}

async fn leaving_page(
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
