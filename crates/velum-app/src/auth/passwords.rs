//! Passwords: reset requests, set-up and reset links, changing one's own.

use jiff::SignedDuration;
use velum_core::Actor;
use velum_core::audit::AuditAction;
use velum_core::client::FieldErrors;
pub use velum_core::link::LinkPurpose;
use velum_core::text::PersonName;
use velum_crypto::password;
use velum_store::staff::StaffRow;
use velum_store::{Tx, sessions, staff, throttle};

use crate::{App, AppError};

use super::*;

impl App {
    /// "Forgot password": queue the request for the background worker and
    /// answer. The request does the same work whatever the email (two
    /// counter updates and one queued row), so neither its answer nor its
    /// time tells whether the email has an account; the worker looks the
    /// email up and mails a link ([`App::process_password_resets`]).
    ///
    /// Throttled per source: past [`RESET_SOURCE_LIMIT`] requests in a
    /// window the answer is `TooManyAttempts`. Per account (the email as
    /// typed): past [`RESET_ACCOUNT_LIMIT`] requests in a window, further
    /// ones are answered the same but not queued.
    ///
    /// # Errors
    /// `TooManyAttempts`; database errors.
    pub async fn request_password_reset(&self, email: &str, source: Option<&str>) -> Result<(), AppError> {
        let email = email.trim().to_lowercase();
        let now = self.now();
        let mut tx = self.begin().await?;
        if let Some(src) = source.map(source_key) {
            let c = throttle::hit(&mut tx, &format!("reset-src:{src}"), now, window_micros()).await?;
            if c.count > RESET_SOURCE_LIMIT {
                tx.commit().await?;
                let ends = c.window_start.saturating_add(THROTTLE_WINDOW).unwrap_or(now);
                let secs = ends.duration_since(now).as_secs().max(1);
                return Err(AppError::TooManyAttempts {
                    retry_after_secs: u64::try_from(secs).unwrap_or(1),
                });
            }
        }
        let key = format!("reset-acct:{}", account_key(&email));
        let c = throttle::hit(&mut tx, &key, now, window_micros()).await?;
        if c.count <= RESET_ACCOUNT_LIMIT {
            throttle::queue_reset(&mut tx, &email, source, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The background worker's part of "forgot password": take the queued
    /// requests; for each email with an active account, replace any earlier
    /// reset link with a new one and mail it (through the outbox). Emails
    /// without an account get nothing. Returns how many links were made.
    ///
    /// # Errors
    /// Database errors (the requests then stay queued).
    pub async fn process_password_resets(&self) -> Result<usize, AppError> {
        let mut made = 0;
        loop {
            let mut tx = self.begin().await?;
            let requests = throttle::take_resets(&mut tx, 50).await?;
            if requests.is_empty() {
                return Ok(made);
            }
            for r in &requests {
                let Some(s) = staff::find_for_sign_in(&mut tx, &r.email)
                    .await?
                    .filter(|s| !s.disabled)
                else {
                    continue;
                };
                let now = self.now();
                staff::revoke_links(
                    &mut tx,
                    &crate::visitor_scope(s.clinic_id),
                    s.id,
                    LinkPurpose::Reset,
                    now,
                )
                .await?;
                let link = self
                    .new_link(&mut tx, &s, LinkPurpose::Reset, RESET_LINK_LIFETIME)
                    .await?;
                self.queue_email(&mut tx, s.clinic_id, &s.email, &crate::email::PasswordReset { link })
                    .await?;
                self.audit(
                    &mut tx,
                    staff_event(&s, AuditAction::PasswordResetRequested, r.source.as_deref(), None),
                )
                .await?;
                made += 1;
            }
            tx.commit().await?;
        }
    }

    /// Make a single-use link for `s` and return its URL.
    pub(crate) async fn new_link(
        &self,
        tx: &mut Tx,
        s: &StaffRow,
        purpose: LinkPurpose,
        lifetime: SignedDuration,
    ) -> Result<String, AppError> {
        let now = self.now();
        let (token, tref) = TokenRef::issue(s.clinic_id);
        let expires = now.saturating_add(lifetime).unwrap_or(now);
        staff::insert_link(tx, &tref.scope(), s.id, &tref.hash, purpose, now, expires).await?;
        let path = purpose.as_str();
        Ok(format!("{}/{path}/{token}", self.settings().base_url))
    }

    /// Who a set-up or reset link is for (to greet them), if it is live.
    ///
    /// # Errors
    /// `NotFound` for a used, expired or unknown link.
    pub async fn link_account(&self, link_token: &str, purpose: LinkPurpose) -> Result<(String, String), AppError> {
        let tref = TokenRef::parse(link_token).ok_or(AppError::NotFound)?;
        let mut tx = self.store().begin_read().await?;
        let (clinic, staff_id) = staff::peek_link(&mut tx, &tref.scope(), &tref.hash, purpose, self.now())
            .await?
            .ok_or(AppError::NotFound)?;
        let s = staff::get(&mut tx, &crate::visitor_scope(clinic), staff_id)
            .await?
            .ok_or(AppError::NotFound)?;
        Ok((s.email, s.display_name))
    }

    /// Set a password through a set-up or reset link. Ends every session of
    /// the account (ASVS 7.4.3). TOTP is still required at the next
    /// sign-in: a reset never bypasses the second factor (ASVS 6.4.3).
    ///
    /// # Errors
    /// A field error on `password`; `NotFound` for a dead link.
    pub async fn set_password_with_link(
        &self,
        link_token: &str,
        purpose: LinkPurpose,
        display_name: Option<&str>,
        new_password: &str,
        source: Option<&str>,
    ) -> Result<(), AppError> {
        let (email, _) = self.link_account(link_token, purpose).await?;
        let mut errors = FieldErrors::new();
        let name = display_name.map(|n| errors.take("display_name", PersonName::parse(n)));
        let pw = errors.take(
            "password",
            password::check_new_password(new_password, &[email.as_str(), "velum"]),
        );
        let Some(pw) = pw.filter(|_| errors.is_empty()) else {
            return Err(AppError::Validation(errors));
        };
        let pw = pw.expose().to_owned();
        let hash = self.argon2(move || password::hash_password(&pw)).await?;
        let tref = TokenRef::parse(link_token).ok_or(AppError::NotFound)?;
        let mut tx = self.begin().await?;
        let (clinic, staff_id) = staff::use_link(&mut tx, &tref.scope(), &tref.hash, purpose, self.now())
            .await?
            .ok_or(AppError::NotFound)?;
        let scope = crate::visitor_scope(clinic);
        staff::set_password(&mut tx, &scope, staff_id, &hash, self.now()).await?;
        if let Some(Some(name)) = &name {
            staff::set_display_name(&mut tx, &scope, staff_id, name.as_str(), self.now()).await?;
        }
        sessions::delete_all_for(&mut tx, &scope, staff_id).await?;
        let s = staff::get(&mut tx, &scope, staff_id).await?.ok_or(AppError::NotFound)?;
        self.audit(
            &mut tx,
            staff_event(&s, AuditAction::PasswordChanged, source, Some(purpose.as_str())),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Change one's own password: the current password is required (ASVS
    /// 6.2.3), the new one must pass the password rules, and every session
    /// of the account ends, this one included (ASVS 7.4.3).
    ///
    /// The current password is checked like a sign-in: through the same
    /// attempt counters (refused with `TooManyAttempts` while this source is
    /// locked out of the account), and each wrong one counts as a failed
    /// sign-in. After [`CHANGE_PASSWORD_LIMIT`] wrong current passwords in a
    /// window, every session of the account ends (a stolen session cannot
    /// be told apart from the real one) and the answer is `Unauthenticated`.
    ///
    /// # Errors
    /// A field error on `current_password` or `password`;
    /// `TooManyAttempts`; `Unauthenticated` once the sessions were ended.
    pub async fn change_own_password(&self, actor: &Actor, current: &str, new_password: &str) -> Result<(), AppError> {
        let actor = &self.staff_of(actor).await?;
        let scope = actor.scope();
        let mut tx = self.store().begin_read().await?;
        let s = staff::get(&mut tx, &scope, actor.staff_id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        drop(tx);
        if current.is_empty() {
            // Nothing typed is not a wrong guess: say what is missing, with
            // the new password's problems too, and count nothing.
            let mut errors = FieldErrors::single("current_password", EMPTY_CURRENT_PASSWORD);
            let _ = errors.take(
                "password",
                password::check_new_password(new_password, &[s.email.as_str(), "velum"]),
            );
            return Err(AppError::Validation(errors));
        }
        let source = actor.source.map(|a| a.to_string());
        let attempt = self.admit(&s.email, source.as_deref()).await?;
        let hash = s
            .password_hash
            .clone()
            .unwrap_or_else(|| password::dummy_hash().to_owned());
        let cur = current.to_owned();
        let matches = self.argon2(move || password::verify_password(&hash, &cur)).await?;
        let wrong_key = format!("chpw:{}", s.id);
        let mut errors = FieldErrors::new();
        if matches {
            let mut tx = self.begin().await?;
            self.release(&mut tx, &attempt, true).await?;
            throttle::clear(&mut tx, &wrong_key).await?;
            tx.commit().await?;
        } else {
            // Counted like a failed sign-in, so a stolen session cannot guess
            // the password without limit.
            let mut tx = self.begin().await?;
            let wrong = throttle::hit(&mut tx, &wrong_key, self.now(), window_micros())
                .await?
                .count;
            match self
                .fail(
                    tx,
                    Some(&s),
                    Some(&attempt),
                    source.as_deref(),
                    "wrong_current_password",
                )
                .await
            {
                AppError::BadCredentials => {}
                e => return Err(e),
            }
            if wrong >= CHANGE_PASSWORD_LIMIT {
                let mut tx = self.begin().await?;
                let ended = sessions::delete_all_for(&mut tx, &scope, actor.staff_id).await?;
                throttle::clear(&mut tx, &wrong_key).await?;
                self.audit(
                    &mut tx,
                    crate::event(
                        actor,
                        AuditAction::SignOut,
                        None,
                        &[],
                        Some(format!("wrong_current_password_limit sessions_ended:{ended}")),
                    ),
                )
                .await?;
                tx.commit().await?;
                return Err(AppError::Unauthenticated);
            }
            errors.add("current_password", "is not your current password");
        }
        let pw = errors.take(
            "password",
            password::check_new_password(new_password, &[s.email.as_str(), "velum"]),
        );
        let Some(pw) = pw.filter(|_| errors.is_empty()) else {
            return Err(AppError::Validation(errors));
        };
        let pw = pw.expose().to_owned();
        let new_hash = self.argon2(move || password::hash_password(&pw)).await?;
        let mut tx = self.begin().await?;
        staff::set_password(&mut tx, &scope, actor.staff_id, &new_hash, self.now()).await?;
        let ended = sessions::delete_all_for(&mut tx, &scope, actor.staff_id).await?;
        self.audit(
            &mut tx,
            crate::event(
                actor,
                AuditAction::PasswordChanged,
                None,
                &[],
                Some(format!("self sessions_ended:{ended}")),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
