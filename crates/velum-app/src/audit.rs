//! The clinic's audit trail, for owners, managers and auditors: who did
//! what to which record, when, from where and why. Never a clinical value.
//! Reading the trail is itself recorded.

use velum_core::Actor;
use velum_core::audit::AuditAction;
use velum_store::ClinicScope;

pub use velum_store::audit::TrailEntry;

use crate::clients::{PAGE_SIZE, Page, parse_cursor};
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
        let before = parse_cursor::<i64>(cursor)?;
        let scope = ClinicScope::new(actor.clinic_id);
        let mut tx = self.begin().await?;
        self.audit(
            &mut tx,
            event(actor, AuditAction::Read, None, &[], Some("audit_trail".into())),
        )
        .await?;
        let items = velum_store::audit::clinic_trail(&mut tx, &scope, before, PAGE_SIZE + 1).await?;
        tx.commit().await?;
        Ok(Page::cut(items, |e| e.seq.to_string()))
    }
}
