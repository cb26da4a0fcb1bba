//! The clinic's audit trail page (owners, managers, auditors).

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use velum_app::audit::TrailEntry;

use super::{Nav, ok};
use crate::AppState;
use crate::error::PageError;
use crate::extract::StaffSession;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/audit", get(trail))
        .route("/audit/head", get(head))
}

struct Row {
    at: String,
    who: String,
    /// The kind of actor ("Staff", "System (mail job)"); empty for events
    /// recorded before the kind was.
    kind: String,
    action: &'static str,
    client_id: String,
    client: String,
    sections: String,
    purpose: String,
    source: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    nav: Option<Nav>,
    rows: Vec<Row>,
    next: String,
}

#[derive(Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    cursor: Option<String>,
}

fn row(e: &TrailEntry, tz: &velum_core::settings::ClinicTimeZone) -> Row {
    Row {
        at: tz.show(e.at),
        who: e.actor_name.clone().unwrap_or_else(|| {
            if e.purpose == velum_core::actor::Purpose::Support.as_str() {
                "Platform support".into()
            } else {
                "System".into()
            }
        }),
        kind: e
            .actor_kind
            .as_ref()
            .map(velum_core::ActorKind::label)
            .unwrap_or_default(),
        action: e.action.label(),
        client_id: e.client_id.map(|c| c.to_string()).unwrap_or_default(),
        client: e.client_name.clone().unwrap_or_default(),
        sections: e.sections.iter().map(|s| s.label()).collect::<Vec<_>>().join(", "),
        purpose: e.purpose.replace('_', " "),
        source: e.source.clone().unwrap_or_default(),
        detail: e.detail.clone().unwrap_or_default(),
    }
}

pub async fn trail(
    State(state): State<AppState>,
    s: StaffSession,
    Query(q): Query<AuditQuery>,
) -> Result<Response, PageError> {
    let page = state.app.audit_trail(&s.actor, q.cursor.as_deref()).await?;
    Ok(ok(&AuditPage {
        nav: Some(Nav::of(&s)),
        rows: page.items.iter().map(|e| row(e, &s.info.time_zone)).collect(),
        next: page.next.unwrap_or_default(),
    }))
}

/// "Download signed head": the clinic chain's head, signed, as a text file
/// to keep elsewhere (owners, managers, auditors; reading it is recorded).
pub async fn head(State(state): State<AppState>, s: StaffSession) -> Result<Response, PageError> {
    let h = state.app.audit_head(&s.actor).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"velum-audit-head-{}-{}.txt\"",
                    h.clinic_id, h.seq
                ),
            ),
        ],
        h.to_text(),
    )
        .into_response())
}
