//! Hosted mode pages: the operator's clinic list (usage, suspend, new
//! clinic, asking for support access, support visits, offboarding and its
//! certificate) and the owner's "Support access" page (grant, refuse, end).

use axum::Router;
use uuid::Uuid;
use velum_app::platform::SupportGrant;
use velum_core::ClinicId;
use velum_core::clinic::ClinicStatus;
use velum_core::support::GrantState;

use super::clients::when;
use crate::AppState;
use crate::error::PageError;
use crate::extract::StaffSession;

mod clinics;
mod offboard;
mod support;

/// The operator's pages and the owner's support and leaving pages.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .merge(clinics::routes())
        .merge(support::routes())
        .merge(offboard::routes())
}

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

/// The clinic as the operator's list shows it (an unknown id is not found).
async fn clinic_line(
    state: &AppState,
    s: &StaffSession,
    id: ClinicId,
) -> Result<velum_app::platform::ClinicUsage, PageError> {
    Ok(state.app.one_clinic_usage(&s.actor, id).await?)
}
