//! Enrolling an authenticator app at the second sign-in step.

use velum_core::audit::AuditAction;
use velum_crypto::TotpSecret;
use velum_store::{sessions, staff};

use crate::{App, AppError};

use super::*;

impl App {
    /// The TOTP set-up page for a pending session: makes (once per session)
    /// and shows the secret. The secret is the session's own: it is kept,
    /// sealed, on the session row with associated data naming that session,
    /// so another set-up session shows (and can confirm) only its own, and
    /// an account that has confirmed a secret shows none again.
    ///
    /// # Errors
    /// `Unauthenticated` without a pending set-up session, or once the
    /// account has two-step sign-in set up.
    pub async fn web_enrolment(&self, pending: &str) -> Result<Enrolment, AppError> {
        let (tref, s) = self.pending(pending, Stage::Enrol).await?;
        if s.totp_confirmed {
            return Err(AppError::Unauthenticated);
        }
        let scope = crate::visitor_scope(s.clinic_id);
        let mut tx = self.begin().await?;
        let (_, clinic_key) = self.clinic_key(&mut tx, &scope).await?;
        let aad = pending_totp_aad(&tref, s.id);
        let sealed = match sessions::totp_pending(&mut tx, &tref.scope(), &tref.hash).await? {
            Some(sealed) => sealed,
            None => {
                let secret = TotpSecret::generate();
                let sealed = clinic_key.seal(secret.as_bytes(), &aad);
                sessions::set_totp_pending(&mut tx, &tref.scope(), &tref.hash, &sealed).await?;
                // Two requests at once: show whichever was stored first.
                sessions::totp_pending(&mut tx, &tref.scope(), &tref.hash)
                    .await?
                    .ok_or(AppError::Unauthenticated)?
            }
        };
        let secret = TotpSecret::from_bytes(clinic_key.open(&sealed, &aad)?)?;
        tx.commit().await?;
        let uri = secret.otpauth_uri("Velum", &s.email);
        Ok(Enrolment {
            secret_base32: secret.to_base32(),
            qr_svg: velum_crypto::totp::qr_svg(&uri),
            otpauth_uri: uri,
        })
    }

    /// Confirm TOTP set-up with a first code from this session's own secret,
    /// and complete the sign-in. Every other set-up session of the account
    /// ends with it.
    ///
    /// # Errors
    /// `Unauthenticated` without a pending set-up session (or when the
    /// account has confirmed a secret meanwhile); a field error on `code`
    /// for a wrong code.
    pub async fn web_confirm_enrolment(
        &self,
        pending: &str,
        code: &str,
        source: Option<&str>,
    ) -> Result<IssuedSession, AppError> {
        let (tref, s) = self.pending(pending, Stage::Enrol).await?;
        if s.totp_confirmed {
            return Err(AppError::Unauthenticated);
        }
        let scope = crate::visitor_scope(s.clinic_id);
        let mut tx = self.begin().await?;
        let Some(pending_sealed) = sessions::totp_pending(&mut tx, &tref.scope(), &tref.hash).await? else {
            // This session never showed a secret, so there is nothing to confirm.
            return Err(wrong_enrolment_code());
        };
        let (_, clinic_key) = self.clinic_key(&mut tx, &scope).await?;
        let secret = TotpSecret::from_bytes(clinic_key.open(&pending_sealed, &pending_totp_aad(&tref, s.id))?)?;
        let Some(step) = secret.check(code.trim(), unix_seconds(self.now())) else {
            return Err(wrong_enrolment_code());
        };
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        if !staff::accept_totp_step(&mut tx, &scope, s.id, step).await? {
            return Err(wrong_enrolment_code());
        }
        let sealed = clinic_key.seal(secret.as_bytes(), &totp_aad(s.clinic_id, s.id));
        if !staff::confirm_totp(&mut tx, &scope, s.id, &sealed, self.now()).await? {
            return Err(AppError::Unauthenticated);
        }
        self.audit(&mut tx, staff_event(&s, AuditAction::TotpEnrolled, source, None))
            .await?;
        let codes = self.new_recovery_codes(&mut tx, &s).await?;
        sessions::delete_stage_for(&mut tx, &scope, s.id, Stage::Enrol.as_str()).await?;
        let mut issued = self.signed_in(tx, &s, "web", source, None).await?;
        issued.recovery_codes = codes;
        Ok(issued)
    }
}
