//! A card's change history and access history.

use jiff::Timestamp;
use velum_core::actor::Access;
use velum_core::audit::AuditAction;
use velum_core::policy::{self};
use velum_core::{Actor, ClientId, Section};
use velum_crypto::Aad;
use velum_store::ClinicScope;
use velum_store::clients;

use crate::{App, AppError, event};

use super::*;

/// One change in a card's history (the previous value stays sealed).
#[derive(Clone, Debug)]
pub struct Change {
    pub section: String,
    pub at: Timestamp,
    pub by: Option<String>,
    pub first: bool,
}

pub(crate) fn history_aad(scope: &ClinicScope, client: ClientId, id: uuid::Uuid) -> Aad {
    Aad::record("client.history", &[scope.clinic_id().as_uuid(), client.as_uuid(), id])
}

/// One line of a client's access history (the app's own view: the web
/// layer never sees a store type).
#[derive(Clone, Debug)]
pub struct AccessEntry {
    pub seq: i64,
    pub at: jiff::Timestamp,
    /// `None` for events recorded before the kind was.
    pub actor_kind: Option<velum_core::ActorKind>,
    pub actor_id: Option<velum_core::StaffId>,
    pub actor_name: Option<String>,
    pub action: AuditAction,
    pub sections: Vec<Section>,
    pub purpose: String,
}

impl From<velum_store::audit::AccessEntry> for AccessEntry {
    fn from(e: velum_store::audit::AccessEntry) -> Self {
        Self {
            seq: e.seq,
            at: e.at,
            actor_kind: e.actor_kind,
            actor_id: e.actor_id,
            actor_name: e.actor_name,
            action: e.action,
            sections: e.sections,
            purpose: e.purpose,
        }
    }
}

impl App {
    /// Who opened or changed this card, newest first (the "Access history"
    /// tab). Reading it is itself recorded.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`.
    pub async fn access_log(
        &self,
        actor: &Actor,
        id: ClientId,
        cursor: Option<&str>,
    ) -> Result<(CardHeader, Page<AccessEntry>), AppError> {
        let sections = [Section::AccessHistory];
        let actor = &self.card_access(actor, id, Access::Read, &sections).await?;
        let before = parse_cursor::<i64>(cursor)?;
        self.in_card(actor, id, &sections, async |c| {
            // Record this read first, so the page shows it at the top.
            self.audit(&mut c.tx, event(c.actor, AuditAction::Read, Some(id), &sections, None))
                .await?;
            let events = velum_store::audit::client_access_log(&mut c.tx, &c.scope, id, before, PAGE_SIZE + 1).await?;
            let events = events.into_iter().map(AccessEntry::from).collect();
            Ok(Done::unaudited((
                header(&c.card),
                Page::cut(events, |e| e.seq.to_string()),
            )))
        })
        .await
    }

    /// The card's change history: which section, who, when. Previous values
    /// stay sealed.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`.
    pub async fn client_changes(&self, actor: &Actor, id: ClientId) -> Result<(CardHeader, Vec<Change>), AppError> {
        self.with_card(actor, id, Access::Read, &[Section::Contact], async |c| {
            let rows = clients::history(&mut c.tx, &c.scope, id).await?;
            // Only changes to sections this role may read (reception does not
            // learn when the medical summary changed); a row of a section
            // Velum does not know is shown to nobody.
            let changes = rows
                .into_iter()
                .filter(|h| policy::may_see_stored_change(c.actor.role, &h.section))
                .map(|h| Change {
                    first: h.previous_sealed.is_none(),
                    section: h.section,
                    at: h.changed_at,
                    by: h.changed_by_name,
                })
                .collect();
            Ok(Done::audited_with(
                AuditAction::Read,
                "history".into(),
                (header(&c.card), changes),
            ))
        })
        .await
    }
}
