//! Signing in: password, second factor, the session issued.

use velum_core::audit::AuditAction;
use velum_crypto::{TotpSecret, password, recovery, token};
use velum_store::staff::StaffRow;
use velum_store::{Tx, clinics, sessions, staff};

use crate::{App, AppError};

use super::*;

impl App {
    /// Tell the account holder that their account is being guessed at (once
    /// per window: called when the account's failures reach [`LOCK_AFTER`]).
    pub(super) async fn warn_holder(&self, tx: &mut Tx, s: &StaffRow) -> Result<(), AppError> {
        let email = crate::email::Guessing {
            attempts: LOCK_AFTER,
            minutes: THROTTLE_WINDOW.as_mins(),
        };
        self.queue_email(tx, s.clinic_id, &s.email, &email).await?;
        Ok(())
    }

    /// Check email and password. On success returns the account; every
    /// failure is counted, audited and answered with `BadCredentials`. A
    /// correct password for a suspended clinic is audited and answered
    /// `ClinicSuspended`.
    pub(super) async fn check_password(
        &self,
        email: &str,
        password: &str,
        source: Option<&str>,
    ) -> Result<(StaffRow, Attempt), AppError> {
        let attempt = self.admit(email, source).await?;
        let email = email.trim().to_lowercase();
        let mut tx = self.store().begin_read().await?;
        let account = staff::find_for_sign_in(&mut tx, &email).await?;
        drop(tx);
        // Argon2 runs off the async threads, and runs even for unknown
        // emails so the timing does not tell which emails have accounts.
        let hash = account
            .as_ref()
            .and_then(|s| s.password_hash.clone())
            .unwrap_or_else(|| password::dummy_hash().to_owned());
        let pw = password.to_owned();
        let matches = self.argon2(move || password::verify_password(&hash, &pw)).await?;
        let mut tx = self.begin().await?;
        let Some(s) = account else {
            return Err(self.fail(tx, None, Some(&attempt), source, "unknown_account").await);
        };
        // Decide on the account as it is now, inside the write transaction:
        // guesses sent all at once each see the failures recorded before them.
        let Some(s) = staff::get(&mut tx, &crate::visitor_scope(s.clinic_id), s.id).await? else {
            return Err(self.fail(tx, None, Some(&attempt), source, "unknown_account").await);
        };
        if s.disabled {
            return Err(self.fail(tx, Some(&s), Some(&attempt), source, "disabled").await);
        }
        if s.password_hash.is_none() || !matches {
            return Err(self.fail(tx, Some(&s), Some(&attempt), source, "wrong_password").await);
        }
        let clinic = clinics::get(&mut tx, &crate::visitor_scope(s.clinic_id)).await?;
        if clinic.is_none_or(|c| !c.status.is_active()) {
            // The password was right, so this is no guess: it is audited
            // but not counted towards a lock, and the answer says why.
            self.audit(
                &mut tx,
                staff_event(&s, AuditAction::SignInFailed, source, Some("clinic_suspended")),
            )
            .await?;
            self.release(&mut tx, &attempt, true).await?;
            tx.commit().await?;
            return Err(AppError::ClinicSuspended);
        }
        drop(tx);
        Ok((s, attempt))
    }

    /// Check a TOTP code against the account's confirmed secret and use it
    /// up. `Ok(false)` for a wrong or replayed code.
    pub(crate) async fn use_totp_code(&self, tx: &mut Tx, s: &StaffRow, code: &str) -> Result<bool, AppError> {
        let Some(sealed) = &s.totp_sealed else { return Ok(false) };
        let scope = crate::visitor_scope(s.clinic_id);
        let (_, clinic_key) = self.clinic_key(tx, &scope).await?;
        let secret = TotpSecret::from_bytes(clinic_key.open(sealed, &totp_aad(s.clinic_id, s.id))?)?;
        let Some(step) = secret.check(code.trim(), unix_seconds(self.now())) else {
            return Ok(false);
        };
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        Ok(staff::accept_totp_step(tx, &scope, s.id, step).await?)
    }

    /// Check the second step of a sign-in: a TOTP code, or one of the
    /// account's recovery codes (told apart by their shape). A recovery code
    /// is used up, audited, and reported to the account holder by email
    /// through the outbox, all in `tx`.
    pub(super) async fn use_second_factor(
        &self,
        tx: &mut Tx,
        s: &StaffRow,
        code: &str,
        source: Option<&str>,
    ) -> Result<SecondFactor, AppError> {
        let Some(code) = recovery::normalise(code) else {
            return Ok(if self.use_totp_code(tx, s, code).await? {
                SecondFactor::Totp
            } else {
                SecondFactor::Refused
            });
        };
        let scope = crate::visitor_scope(s.clinic_id);
        let hash = recovery::hash(s.clinic_id.as_uuid(), s.id.as_uuid(), &code);
        if !s.totp_confirmed || !staff::use_recovery_code(tx, &scope, s.id, &hash, self.now()).await? {
            return Ok(SecondFactor::Refused);
        }
        let left = staff::recovery_codes_left(tx, &scope, s.id).await?;
        self.audit(
            tx,
            staff_event(s, AuditAction::RecoveryCodeUsed, source, Some(&format!("left:{left}"))),
        )
        .await?;
        self.queue_email(tx, s.clinic_id, &s.email, &crate::email::RecoveryCodeUsed { left })
            .await?;
        Ok(SecondFactor::Recovery { left })
    }

    /// Make a new set of recovery codes for `s` (the old ones end) and
    /// return them, to show once.
    pub(super) async fn new_recovery_codes(&self, tx: &mut Tx, s: &StaffRow) -> Result<Vec<String>, AppError> {
        let codes: Vec<String> = (0..recovery::COUNT).map(|_| recovery::generate()).collect();
        let hashes: Vec<[u8; 32]> = codes
            .iter()
            .filter_map(|c| recovery::normalise(c))
            .map(|c| recovery::hash(s.clinic_id.as_uuid(), s.id.as_uuid(), &c))
            .collect();
        staff::replace_recovery_codes(tx, &crate::visitor_scope(s.clinic_id), s.id, &hashes, self.now()).await?;
        Ok(codes)
    }

    pub(super) async fn issue(
        &self,
        tx: &mut Tx,
        s: &StaffRow,
        kind: &str,
        stage: Stage,
    ) -> Result<IssuedSession, AppError> {
        let now = self.now();
        let (token, tref) = TokenRef::issue(s.clinic_id);
        let (csrf, _) = token::new_token();
        let lifetime = if stage == Stage::Full {
            ABSOLUTE_TIMEOUT
        } else {
            PENDING_TIMEOUT
        };
        let expires_at = now.saturating_add(lifetime).unwrap_or(now);
        sessions::insert(
            tx,
            &sessions::NewSession {
                token_hash: tref.hash,
                clinic_id: s.clinic_id,
                staff_id: s.id,
                kind,
                stage: stage.as_str(),
                csrf_token: &csrf,
                now,
                expires_at,
            },
        )
        .await?;
        Ok(IssuedSession {
            token,
            stage,
            expires_at,
            recovery_codes: Vec::new(),
            recovery_codes_left: None,
        })
    }

    /// Complete a sign-in: clear failures, audit, issue the full session.
    pub(super) async fn signed_in(
        &self,
        mut tx: Tx,
        s: &StaffRow,
        kind: &str,
        source: Option<&str>,
        attempt: Option<&Attempt>,
    ) -> Result<IssuedSession, AppError> {
        let scope = crate::visitor_scope(s.clinic_id);
        staff::clear_failures(&mut tx, &scope, s.id, self.now()).await?;
        if let Some(a) = attempt {
            self.release(&mut tx, a, true).await?;
        }
        self.audit(&mut tx, staff_event(s, AuditAction::SignIn, source, Some(kind)))
            .await?;
        let issued = self.issue(&mut tx, s, kind, Stage::Full).await?;
        tx.commit().await?;
        Ok(issued)
    }

    /// API sign-in: email, password and TOTP code at once. Accounts must
    /// have set up TOTP (in the web app) first.
    ///
    /// # Errors
    /// `BadCredentials` for any failure; `ClinicSuspended` after a correct
    /// password when the clinic is suspended.
    pub async fn api_sign_in(
        &self,
        email: &str,
        password: &str,
        code: &str,
        source: Option<&str>,
    ) -> Result<IssuedSession, AppError> {
        let (s, attempt) = self.check_password(email, password, source).await?;
        let mut tx = self.begin().await?;
        let s = staff::get(&mut tx, &crate::visitor_scope(s.clinic_id), s.id)
            .await?
            .ok_or(AppError::BadCredentials)?;
        let factor = if s.totp_confirmed {
            self.use_second_factor(&mut tx, &s, code, source).await?
        } else {
            SecondFactor::Refused
        };
        if factor == SecondFactor::Refused {
            return Err(self.fail(tx, Some(&s), Some(&attempt), source, "wrong_code").await);
        }
        let mut issued = self.signed_in(tx, &s, "api", source, Some(&attempt)).await?;
        if let SecondFactor::Recovery { left } = factor {
            issued.recovery_codes_left = Some(left);
        }
        Ok(issued)
    }

    /// Web sign-in, first step: email and password. Returns a short-lived
    /// pending session whose next step is the code (or TOTP set-up).
    ///
    /// # Errors
    /// `BadCredentials` for any failure; `ClinicSuspended` after a correct
    /// password when the clinic is suspended.
    pub async fn web_sign_in(
        &self,
        email: &str,
        password: &str,
        source: Option<&str>,
    ) -> Result<IssuedSession, AppError> {
        let (s, attempt) = self.check_password(email, password, source).await?;
        let mut tx = self.begin().await?;
        // The password was right: this attempt no longer counts against the
        // source (the code step is counted on its own).
        self.release(&mut tx, &attempt, false).await?;
        let stage = if s.totp_confirmed { Stage::Totp } else { Stage::Enrol };
        let issued = self.issue(&mut tx, &s, "web", stage).await?;
        tx.commit().await?;
        Ok(issued)
    }

    /// Web sign-in, second step: the code. Ends the pending session and
    /// issues a new token (ASVS 7.2.4).
    ///
    /// # Errors
    /// `Unauthenticated` without a pending session; `BadCredentials` for a
    /// wrong or replayed code.
    pub async fn web_verify_totp(
        &self,
        pending: &str,
        code: &str,
        source: Option<&str>,
    ) -> Result<IssuedSession, AppError> {
        let (tref, s) = self.pending(pending, Stage::Totp).await?;
        let attempt = self.admit(&s.email, source).await?;
        let mut tx = self.begin().await?;
        let s = staff::get(&mut tx, &crate::visitor_scope(s.clinic_id), s.id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let factor = self.use_second_factor(&mut tx, &s, code, source).await?;
        if factor == SecondFactor::Refused {
            return Err(self.fail(tx, Some(&s), Some(&attempt), source, "wrong_code").await);
        }
        sessions::delete(&mut tx, &tref.scope(), &tref.hash).await?;
        let mut issued = self.signed_in(tx, &s, "web", source, Some(&attempt)).await?;
        if let SecondFactor::Recovery { left } = factor {
            issued.recovery_codes_left = Some(left);
        }
        Ok(issued)
    }

    pub(super) async fn pending(&self, token: &str, stage: Stage) -> Result<(TokenRef, StaffRow), AppError> {
        let tref = TokenRef::parse(token).ok_or(AppError::Unauthenticated)?;
        let mut tx = self.store().begin_read().await?;
        let row = sessions::find(&mut tx, &tref.scope(), &tref.hash)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        if Stage::parse(&row.stage) != Some(stage) || row.expires_at <= self.now() {
            return Err(AppError::Unauthenticated);
        }
        let s = staff::get(&mut tx, &crate::visitor_scope(row.clinic_id), row.staff_id)
            .await?
            .filter(|s| !s.disabled)
            .ok_or(AppError::Unauthenticated)?;
        Ok((tref, s))
    }
}
