//! A clinic's own settings (time zone, public slug, display name, address,
//! regulator, notice periods, longer retention): read by its owner and
//! managers, changed by its owner only. A change is audited with the names
//! of the fields changed, never their values.

use jiff::civil::Date;
use velum_core::audit::AuditAction;
use velum_core::client::FieldErrors;
use velum_core::settings::{ClinicSettings, SettingsInput};
use velum_store::settings::{self, SLUG_TAKEN};
use velum_store::{ClinicScope, StoreError};

use crate::{Actor, App, AppError, Role, event};

/// Who may read a clinic's settings: its owner and managers. Pages ask
/// this to offer the link.
#[must_use]
pub const fn may_read(role: Role) -> bool {
    velum_core::policy::may_read_settings(role)
}

/// Who may change them: the owner. Pages ask this to offer the form.
#[must_use]
pub const fn may_change(role: Role) -> bool {
    velum_core::policy::may_change_settings(role)
}

impl App {
    /// The actor's clinic's settings (the defaults if never saved).
    ///
    /// # Errors
    /// `Forbidden` (audited) unless owner or manager.
    pub async fn clinic_settings(&self, actor: &Actor) -> Result<ClinicSettings, AppError> {
        let actor = &self.staff_of(actor).await?;
        if !may_read(actor.role) {
            return Err(self.deny(actor, None, &[], "read_settings").await);
        }
        let mut tx = self.store().begin_read().await?;
        Ok(settings::get(&mut tx, &actor.scope()).await?)
    }

    /// Replace the actor's clinic's settings with `input`. Nothing is
    /// changed unless every field parses and the slug is free.
    ///
    /// # Errors
    /// `Forbidden` (audited) unless owner; `Validation` naming every bad
    /// field; `Conflict` on `public_slug` when another clinic has it.
    pub async fn update_clinic_settings(
        &self,
        actor: &Actor,
        input: &SettingsInput,
    ) -> Result<ClinicSettings, AppError> {
        let actor = &self.staff_of(actor).await?;
        if !may_change(actor.role) {
            return Err(self.deny(actor, None, &[], "change_settings").await);
        }
        let new = input.parse().map_err(AppError::Validation)?;
        let scope = actor.scope();
        let mut tx = self.begin().await?;
        let before = settings::get(&mut tx, &scope).await?;
        match settings::put(&mut tx, &scope, &new, actor.staff_id, self.now()).await {
            Err(StoreError::Conflict(c)) if c == SLUG_TAKEN => {
                return Err(AppError::Conflict(FieldErrors::single(
                    "public_slug",
                    "is taken by another clinic; choose another",
                )));
            }
            r => r?,
        }
        let changed = new.changed_fields(&before);
        let detail = if changed.is_empty() {
            "fields:none".to_owned()
        } else {
            format!("fields:{}", changed.join(","))
        };
        self.audit(
            &mut tx,
            event(actor, AuditAction::SettingsChanged, None, &[], Some(detail)),
        )
        .await?;
        tx.commit().await?;
        Ok(new)
    }

    /// Today's date at the actor's clinic, in its time zone (Europe/London
    /// until the owner chooses another).
    ///
    /// # Errors
    /// `Forbidden` for an actor of no clinic; store errors.
    pub async fn clinic_today(&self, actor: &Actor) -> Result<Date, AppError> {
        let scope = actor.scope().ok_or(AppError::Forbidden)?;
        self.today_in(&scope).await
    }

    /// Today's date in the scope's clinic, in its time zone.
    pub(crate) async fn today_in(&self, scope: &ClinicScope) -> Result<Date, AppError> {
        let mut tx = self.store().begin_read().await?;
        let s = settings::get(&mut tx, scope).await?;
        Ok(s.time_zone.date_at(self.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_change_and_managers_only_read() {
        for role in Role::ALL {
            assert_eq!(may_change(role), role == Role::Owner, "{role:?}");
            assert_eq!(may_read(role), matches!(role, Role::Owner | Role::Manager), "{role:?}");
        }
    }
}
