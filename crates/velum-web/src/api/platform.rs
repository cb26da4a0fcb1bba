//! `/api/v1/platform`: hosted mode for platform operators. Clinics with
//! their usage (counts, never contents), creating, suspending and resuming
//! them, one clinic's audit-chain health, and asking a clinic for support
//! access. Everyone but an operator gets 403, and the refusal is audited.
//!
//! Beginning a support visit stays in the web app: a visit changes what
//! the whole session may do, with a banner on every page and a button to
//! leave, which a bearer token used by a program would not show.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use velum_app::platform::{ClinicHealth, ClinicUsage};
use velum_core::ClinicId;

use super::support::SupportGrantListJson;
use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiActor, ApiId, ApiJson};

api_routes! {
    get "/platform/clinics" => clinics;
    post "/platform/clinics" => create_clinic;
    post "/platform/clinics/{id}/suspend" => suspend;
    post "/platform/clinics/{id}/resume" => resume;
    get "/platform/clinics/{id}/health" => health;
    post "/platform/clinics/{id}/support" => request_support;
    get "/platform/support" => my_grants;
}

/// A hosted clinic as its operator sees it: counts and activity.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlatformClinicJson {
    pub id: String,
    pub name: String,
    /// "active" or "suspended".
    pub status: String,
    /// "clinic".
    pub kind: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub usage: UsageJson,
}

/// How much a clinic holds and when it was last used. Never contents.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageJson {
    pub clients: i64,
    /// Accounts not disabled.
    pub active_staff: i64,
    /// Events in the clinic's audit chain.
    pub audit_events: i64,
    /// The newest audit event's time (RFC 3339, UTC), if any.
    pub last_activity: Option<String>,
}

fn clinic_json(c: ClinicUsage) -> PlatformClinicJson {
    PlatformClinicJson {
        id: c.id.to_string(),
        name: c.name,
        status: c.status.as_str().to_owned(),
        kind: c.kind,
        created_at: c.created_at.to_string(),
        usage: UsageJson {
            clients: c.clients,
            active_staff: c.active_staff,
            audit_events: c.audit_events,
            last_activity: c.last_activity.map(|t| t.to_string()),
        },
    }
}

/// Every hosted clinic, by name (one page).
#[derive(Debug, Serialize, ToSchema)]
pub struct PlatformClinicListJson {
    pub items: Vec<PlatformClinicJson>,
    /// Always `null`: the list comes whole.
    pub next_cursor: Option<String>,
}

/// Every hosted clinic with its usage (operators only).
#[utoipa::path(get, path = "/api/v1/platform/clinics", tag = "platform", security(("bearer" = [])),
    responses((status = 200, body = PlatformClinicListJson), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn clinics(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
) -> Result<Json<PlatformClinicListJson>, ApiError> {
    let clinics = state.app.clinic_usage(&actor).await?;
    Ok(Json(PlatformClinicListJson {
        items: clinics.into_iter().map(clinic_json).collect(),
        next_cursor: None,
    }))
}

/// A new clinic and its first owner.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClinicJson {
    /// The clinic's name (1 to 200 characters).
    #[serde(default)]
    pub name: String,
    /// The owner's email: the account's set-up link is for them.
    #[serde(default)]
    pub owner_email: String,
}

velum_core::debug_redacted!(NewClinicJson { name, owner_email });

/// The clinic just created.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedClinicJson {
    pub id: String,
    pub owner_id: String,
}

/// Create a clinic with its owner's account (operators only). The owner's
/// one-time set-up link is emailed to the owner; the answer carries ids only.
#[utoipa::path(post, path = "/api/v1/platform/clinics", request_body = NewClinicJson, tag = "platform", security(("bearer" = [])),
    responses((status = 201, body = CreatedClinicJson), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_clinic(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiJson(body): ApiJson<NewClinicJson>,
) -> Result<Response, ApiError> {
    let c = state
        .app
        .operator_create_clinic(&actor, &body.name, &body.owner_email)
        .await?;
    let json = CreatedClinicJson {
        id: c.clinic_id.to_string(),
        owner_id: c.owner_id.to_string(),
    };
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

/// Why a clinic is suspended.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuspendJson {
    /// Why (10 to 500 characters): emailed to the clinic's owner.
    #[serde(default)]
    pub reason: String,
}

async fn set_suspended(
    state: &AppState,
    actor: &velum_core::Actor,
    id: ClinicId,
    on: bool,
    reason: &str,
) -> Result<Response, ApiError> {
    state.app.set_clinic_suspended(Some(actor), id, on, reason).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Suspend a clinic: its staff cannot sign in, and live sessions end at
/// their next request (operators only). The reason is required and is
/// emailed to the clinic's owner.
#[utoipa::path(post, path = "/api/v1/platform/clinics/{id}/suspend", request_body = SuspendJson, tag = "platform", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn suspend(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId<ClinicId>,
    ApiJson(body): ApiJson<SuspendJson>,
) -> Result<Response, ApiError> {
    set_suspended(&state, &actor, id, true, &body.reason).await
}

/// Make a suspended clinic active again (operators only).
#[utoipa::path(post, path = "/api/v1/platform/clinics/{id}/resume", tag = "platform", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn resume(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId<ClinicId>,
) -> Result<Response, ApiError> {
    set_suspended(&state, &actor, id, false, "").await
}

/// A clinic's health: its usage and its audit chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClinicHealthJson {
    pub clinic: PlatformClinicJson,
    pub chain: ChainJson,
}

/// What verifying the clinic's audit chain found: counts and hashes only.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChainJson {
    /// Every event links to the one before and matches its hash, with no
    /// gaps, up to the recorded head.
    pub intact: bool,
    /// Events checked (up to the first break).
    pub events: u64,
    /// The recorded head's sequence number (0 for an empty chain).
    pub head_seq: i64,
    /// The recorded head's hash (hex).
    pub head_hash: Option<String>,
    pub first_break: Option<ChainBreakJson>,
}

/// Where the chain first fails to hold.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChainBreakJson {
    pub seq: i64,
    /// What failed, e.g. "contents do not match its hash".
    pub reason: String,
}

fn health_json(h: ClinicHealth) -> ClinicHealthJson {
    ClinicHealthJson {
        clinic: clinic_json(h.usage),
        chain: ChainJson {
            intact: h.chain.first_break.is_none(),
            events: h.chain.events,
            head_seq: h.chain.head_seq,
            head_hash: h.chain.head_hash.map(hex::encode),
            first_break: h.chain.first_break.map(|b| ChainBreakJson {
                seq: b.seq,
                reason: b.reason.to_owned(),
            }),
        },
    }
}

/// Verify one clinic's audit chain now and report it with the clinic's
/// usage (operators only). The check is recorded in the platform's chain.
#[utoipa::path(get, path = "/api/v1/platform/clinics/{id}/health", tag = "platform", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ClinicHealthJson), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn health(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId<ClinicId>,
) -> Result<Json<ClinicHealthJson>, ApiError> {
    let h = state.app.clinic_health(&actor, id).await?;
    Ok(Json(health_json(h)))
}

/// Asking a clinic's owner for support access.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupportRequestJson {
    /// Why support needs access (10 to 500 characters); the owner reads it.
    #[serde(default)]
    pub reason: String,
    /// How long the visit may last once granted: 5 to 480 (default 60).
    #[serde(default)]
    pub minutes: Option<i64>,
}

velum_core::debug_redacted!(SupportRequestJson { reason; shown: minutes });

/// A support request just made.
#[derive(Debug, Serialize, ToSchema)]
pub struct SupportRequestedJson {
    /// The grant's id; its state is "requested" until the owner decides.
    pub id: String,
}

/// Ask a clinic's owner for support access (operators only).
#[utoipa::path(post, path = "/api/v1/platform/clinics/{id}/support", request_body = SupportRequestJson, tag = "platform", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 201, body = SupportRequestedJson), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn request_support(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId<ClinicId>,
    ApiJson(body): ApiJson<SupportRequestJson>,
) -> Result<Response, ApiError> {
    let minutes = body.minutes.map(|m| m.to_string()).unwrap_or_default();
    let grant = state.app.request_support(&actor, id, &body.reason, &minutes).await?;
    let json = SupportRequestedJson { id: grant.to_string() };
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

/// The operator's own support requests across clinics, newest first.
#[utoipa::path(get, path = "/api/v1/platform/support", tag = "platform", security(("bearer" = [])),
    responses((status = 200, body = SupportGrantListJson), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn my_grants(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
) -> Result<Json<SupportGrantListJson>, ApiError> {
    let grants = state.app.my_support_grants(&actor).await?;
    Ok(Json(SupportGrantListJson::all(grants)))
}
