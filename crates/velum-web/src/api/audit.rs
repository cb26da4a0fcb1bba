//! `/api/v1/audit`: the clinic's audit trail (owners, managers, auditors).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::clients::CursorQuery;
use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiActor;

api_routes! {
    get "/audit" => trail;
    get "/audit/head" => head;
}

/// A page of the trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrailJson {
    pub events: Vec<TrailEventJson>,
    pub next_cursor: Option<String>,
}

/// One event: never a clinical value.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrailEventJson {
    /// Position in the clinic's hash chain.
    pub seq: i64,
    /// RFC 3339, UTC.
    pub at: String,
    /// Which kind of actor acted: `staff`, `client`, `public`, `operator`,
    /// or `system:<job>` (for example `system:export`). `null` for events
    /// recorded before the kind was.
    pub actor_kind: Option<String>,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    pub client_id: Option<String>,
    pub action: String,
    pub sections: Vec<String>,
    pub purpose: String,
    /// The source address of the request.
    pub source: Option<String>,
    /// A non-personal detail: a reason code, a role change, a staff id.
    pub detail: Option<String>,
}

/// The clinic's audit trail, newest first.
#[utoipa::path(get, path = "/api/v1/audit", params(CursorQuery), tag = "audit", security(("bearer" = [])),
    responses((status = 200, body = TrailJson), (status = 403, body = ErrorBody)))]
pub async fn trail(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    query: Result<Query<CursorQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<TrailJson>, Response> {
    let Query(q) = query.map_err(|_| {
        crate::error::api_error(
            StatusCode::BAD_REQUEST,
            None,
            "unknown or malformed query parameter (cursor)",
        )
    })?;
    let page = state
        .app
        .audit_trail(&actor, q.cursor.as_deref())
        .await
        .map_err(|e| ApiError(e).into_response())?;
    Ok(Json(TrailJson {
        events: page
            .items
            .iter()
            .map(|e| TrailEventJson {
                seq: e.seq,
                at: e.at.to_string(),
                actor_kind: e.actor_kind.as_ref().map(velum_core::ActorKind::to_stored),
                actor_id: e.actor_id.map(|a| a.to_string()),
                actor_name: e.actor_name.clone(),
                client_id: e.client_id.map(|c| c.to_string()),
                action: e.action.as_str().to_owned(),
                sections: e.sections.iter().map(|s| s.as_str().to_owned()).collect(),
                purpose: e.purpose.clone(),
                source: e.source.clone(),
                detail: e.detail.clone(),
            })
            .collect(),
        next_cursor: page.next,
    }))
}

/// The clinic chain's current head, signed with the installation's Ed25519
/// head key: keep `document` somewhere the server's database administrator
/// cannot write; `velum audit verify --against FILE` proves the chain still
/// holds it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedHeadJson {
    pub clinic_id: String,
    /// The head event's position in the chain (this request's own event).
    pub seq: i64,
    /// Its link, 64 lower-case hex digits.
    pub link: String,
    /// 2: HMAC-SHA-256 under the installation's chain key.
    pub link_version: i64,
    /// The head event's time, RFC 3339 UTC.
    pub event_at: String,
    /// When this was signed, RFC 3339 UTC.
    pub signed_at: String,
    /// The signing key, `ed25519:` and 64 hex digits.
    pub public_key: String,
    /// `ed25519:` and 128 hex digits, over every line of `document` before
    /// its `signature:` line.
    pub signature: String,
    /// The signed head as text, to save as a file.
    pub document: String,
}

/// The clinic's signed audit-chain head (owners, managers, auditors).
/// Reading it is recorded, and that event is the head returned.
#[utoipa::path(get, path = "/api/v1/audit/head", tag = "audit", security(("bearer" = [])),
    responses((status = 200, body = SignedHeadJson), (status = 403, body = ErrorBody)))]
pub async fn head(State(state): State<AppState>, ApiActor(actor): ApiActor) -> Result<Json<SignedHeadJson>, Response> {
    let h = state
        .app
        .audit_head(&actor)
        .await
        .map_err(|e| ApiError(e).into_response())?;
    Ok(Json(SignedHeadJson {
        clinic_id: h.clinic_id.to_string(),
        seq: h.seq,
        link: h.link_hex(),
        link_version: h.link_version,
        event_at: h.event_at.to_string(),
        signed_at: h.signed_at.to_string(),
        public_key: h.public_key_text(),
        signature: h.signature_text(),
        document: h.to_text(),
    }))
}
