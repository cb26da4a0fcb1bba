//! The clinic's audit trail, for owners, managers and auditors: who did
//! what to which record, when, from where and why. Never a clinical value.
//! Reading the trail is itself recorded.

use velum_core::Actor;
use velum_core::audit::AuditAction;
use velum_store::ClinicScope;

pub use velum_store::audit::TrailEntry;

use crate::clients::{PAGE_SIZE, Page};
use crate::{App, AppError, event};

impl App {
    /// A page of the clinic's audit trail, newest first.
    ///
    /// # Errors
    /// `Forbidden` for roles other than owner, manager and auditor; a field
    /// error on a bad `cursor`.
    pub async fn audit_trail(&self, actor: &Actor, cursor: Option<&str>) -> Result<Page<TrailEntry>, AppError> {
        if !actor.role.may_read_audit() {
            return Err(self.deny(actor, None, &[], "read_audit").await);
        }
        let before = match cursor.map(str::trim).filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => Some(
                c.parse::<i64>()
                    .map_err(|_| AppError::field("cursor", "is not a cursor from a previous page"))?,
            ),
        };
        let scope = ClinicScope::new(actor.clinic_id);
        let mut tx = self.begin().await?;
        self.audit(
            &mut tx,
            event(actor, AuditAction::Read, None, &[], Some("audit_trail".into())),
        )
        .await?;
        let mut items = velum_store::audit::clinic_trail(&mut tx, &scope, before, PAGE_SIZE + 1).await?;
        tx.commit().await?;
        let limit = usize::try_from(PAGE_SIZE).unwrap_or(usize::MAX);
        let more = items.len() > limit;
        items.truncate(limit);
        let next = if more {
            items.last().map(|e| e.seq.to_string())
        } else {
            None
        };
        Ok(Page { items, next })
    }
}
