//! Recovery codes: how many are left, making new ones.

use velum_core::Actor;
use velum_core::audit::AuditAction;
use velum_core::client::FieldErrors;
use velum_crypto::password;
use velum_store::staff;

use crate::{App, AppError};

use super::*;

impl App {
    /// How many of the actor's recovery codes are unused (for their account
    /// page).
    ///
    /// # Errors
    /// Database errors.
    pub async fn recovery_codes_left(&self, actor: &Actor) -> Result<i64, AppError> {
        let actor = &self.staff_of(actor).await?;
        let mut tx = self.store().begin_read().await?;
        Ok(staff::recovery_codes_left(&mut tx, &actor.scope(), actor.staff_id).await?)
    }

    /// Make new recovery codes for oneself, after entering one's password
    /// and a current TOTP code again (DOMAIN F37: changing MFA needs full
    /// re-authentication). The old codes stop working. A wrong password or
    /// code counts as a failed sign-in.
    ///
    /// # Errors
    /// A field error on `current_password` or `code`.
    pub async fn regenerate_recovery_codes(
        &self,
        actor: &Actor,
        current_password: &str,
        code: &str,
    ) -> Result<Vec<String>, AppError> {
        let actor = &self.staff_of(actor).await?;
        let scope = actor.scope();
        let mut tx = self.store().begin_read().await?;
        let s = staff::get(&mut tx, &scope, actor.staff_id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        drop(tx);
        let hash = s
            .password_hash
            .clone()
            .unwrap_or_else(|| password::dummy_hash().to_owned());
        let mut missing = FieldErrors::new();
        if current_password.is_empty() {
            missing.add("current_password", EMPTY_CURRENT_PASSWORD);
        }
        if code.trim().is_empty() {
            missing.add("code", "is empty. Enter the code your authenticator app shows now");
        }
        if !missing.is_empty() {
            return Err(AppError::Validation(missing));
        }
        let source = actor.source.map(|a| a.to_string());
        // Checked like a sign-in: through the same counters, and refused
        // while this source is locked out of the account.
        let attempt = self.admit(&s.email, source.as_deref()).await?;
        let pw = current_password.to_owned();
        let matches = self.argon2(move || password::verify_password(&hash, &pw)).await?;
        let mut tx = self.begin().await?;
        // A TOTP code only: a recovery code cannot make new recovery codes.
        let code_ok = matches && self.use_totp_code(&mut tx, &s, code).await?;
        if !code_ok {
            let reason = if matches {
                "wrong_code"
            } else {
                "wrong_current_password"
            };
            match self.fail(tx, Some(&s), Some(&attempt), source.as_deref(), reason).await {
                AppError::BadCredentials => {}
                e => return Err(e),
            }
            return Err(AppError::Validation(if matches {
                FieldErrors::single("code", "was not accepted: enter the newest code from your app")
            } else {
                FieldErrors::single("current_password", "is not your current password")
            }));
        }
        self.release(&mut tx, &attempt, true).await?;
        let codes = self.new_recovery_codes(&mut tx, &s).await?;
        self.audit(
            &mut tx,
            crate::event(actor, AuditAction::RecoveryCodesRegenerated, None, &[], None),
        )
        .await?;
        tx.commit().await?;
        Ok(codes)
    }
}
