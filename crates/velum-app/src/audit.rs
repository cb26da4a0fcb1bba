//! The clinic's audit trail, for owners, managers and auditors: who did
//! what to which record, when, from where and why. Never a clinical value.
//! Reading the trail is itself recorded.

use velum_core::Actor;
use velum_core::audit::AuditAction;
use velum_store::ClinicScope;

pub use velum_store::audit::{TrailEntry, UpgradeReport};

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

    /// Re-link every audit chain that still ends in a plain SHA-256 (v1)
    /// link under the installation's key (`velum audit upgrade`), recording
    /// an "audit chain upgraded" event in each. Chains that do not verify
    /// are left as they are and reported.
    ///
    /// # Errors
    /// Database errors.
    pub async fn upgrade_audit_chains(&self) -> Result<UpgradeReport, AppError> {
        let mut tx = self.begin().await?;
        let report = velum_store::audit::upgrade_chains(&mut tx, self.now()).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// The upgrade migration 0009 asks for, done once on the first start
    /// after it (the marker it left is cleared in the same transaction).
    /// Later starts never upgrade on their own: a chain that ends in a v1
    /// link then fails verification until an operator runs
    /// `velum audit upgrade`.
    pub(crate) async fn upgrade_audit_chains_once(&self) -> Result<(), AppError> {
        let mut tx = self.begin().await?;
        if !velum_store::audit::chain_upgrade_pending(&mut tx).await? {
            return Ok(());
        }
        let report = velum_store::audit::upgrade_chains(&mut tx, self.now()).await?;
        tx.commit().await?;
        for b in &report.broken {
            tracing::warn!(
                clinic = %b.clinic_id,
                seq = b.seq,
                reason = b.reason,
                "audit chain does not verify; left unkeyed (velum audit verify names it)"
            );
        }
        if !report.upgraded.is_empty() {
            tracing::info!(
                chains = report.upgraded.len(),
                "audit chains re-linked under the key (v2)"
            );
        }
        Ok(())
    }
}
