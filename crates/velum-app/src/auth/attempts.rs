//! Sign-in throttling: attempts counted per account and per source, and
//! the summary of anonymous failures.

use velum_core::audit::AuditAction;
use velum_store::staff::StaffRow;
use velum_store::{Tx, throttle};

use crate::{App, AppError, platform_event};

use super::*;

impl App {
    /// Let an attempt at `email` from `source` through, or refuse it. The
    /// attempt is counted before anything is checked, so guesses sent in
    /// parallel each see the ones before them: past [`LOCK_AFTER`] attempts
    /// at this account from this source, or [`SOURCE_LIMIT`] from this
    /// source, the answer is `TooManyAttempts` until the window ends. Past
    /// [`SLOW_AFTER`] failures at the account from anywhere, the attempt
    /// waits a little (never refused: that would let anyone lock the real
    /// user out).
    ///
    /// At most [`crate::SIGN_INS_IN_PROGRESS_PER_CORE`] per core attempts are
    /// in progress at once in this process; past that, the answer is
    /// `TooManyAttempts` (retry after a second) before anything else, so a
    /// flood of sign-ins cannot hold unbounded memory while it waits for
    /// Argon2.
    pub(crate) async fn admit(&self, email: &str, source: Option<&str>) -> Result<Attempt, AppError> {
        let slot = self
            .sign_in_slot()
            .ok_or(AppError::TooManyAttempts { retry_after_secs: 1 })?;
        let now = self.now();
        let account = account_key(email);
        let mut attempt = Attempt {
            _slot: slot,
            source: None,
            pair: None,
            account: format!("acct:{account}"),
            pair_count: 0,
        };
        let mut tx = self.begin().await?;
        let mut refuse = None;
        if let Some(src) = source.map(source_key) {
            let by_source = throttle::hit(&mut tx, &format!("src:{src}"), now, window_micros()).await?;
            let pair_key = format!("pair:{account}:{src}");
            let by_pair = throttle::hit(&mut tx, &pair_key, now, window_micros()).await?;
            attempt.source = Some(format!("src:{src}"));
            attempt.pair = Some(pair_key);
            attempt.pair_count = by_pair.count;
            if by_pair.count > LOCK_AFTER {
                refuse = Some(by_pair);
            } else if by_source.count > SOURCE_LIMIT {
                refuse = Some(by_source);
            }
        }
        let failures = throttle::peek(&mut tx, &attempt.account, now, window_micros())
            .await?
            .map_or(0, |c| c.count);
        tx.commit().await?;
        if let Some(c) = refuse {
            let ends = c.window_start.saturating_add(THROTTLE_WINDOW).unwrap_or(now);
            let secs = ends.duration_since(now).as_secs().max(1);
            return Err(AppError::TooManyAttempts {
                retry_after_secs: u64::try_from(secs).unwrap_or(1),
            });
        }
        if failures > SLOW_AFTER {
            let steps = u32::try_from(failures - SLOW_AFTER).unwrap_or(u32::MAX);
            tokio::time::sleep(SLOW_STEP.saturating_mul(steps).min(SLOW_MAX)).await;
        }
        Ok(attempt)
    }

    /// A correct password or a completed sign-in: take the attempt back
    /// off its source's count, and when `done`, forget this source's
    /// attempts at the account.
    pub(crate) async fn release(&self, tx: &mut Tx, attempt: &Attempt, done: bool) -> Result<(), AppError> {
        if let Some(src) = &attempt.source {
            throttle::forgive(tx, src).await?;
        }
        if done && let Some(pair) = &attempt.pair {
            throttle::clear(tx, pair).await?;
        }
        Ok(())
    }

    /// Record a failed attempt: count it against the account (which only
    /// slows further attempts), audit it (and the lock of this source out of
    /// the account when it is reached), email the account holder once per
    /// window when their account is being guessed at, commit, and answer
    /// `BadCredentials`.
    pub(crate) async fn fail(
        &self,
        mut tx: Tx,
        account: Option<&StaffRow>,
        attempt: Option<&Attempt>,
        source: Option<&str>,
        reason: &str,
    ) -> AppError {
        let result: Result<(), AppError> = async {
            let now = self.now();
            let failures = match attempt {
                Some(a) => throttle::hit(&mut tx, &a.account, now, window_micros()).await?.count,
                None => 0,
            };
            match account {
                Some(s) => {
                    self.audit(&mut tx, staff_event(s, AuditAction::SignInFailed, source, Some(reason)))
                        .await?;
                    if attempt.is_some_and(|a| a.pair_count == LOCK_AFTER) {
                        self.audit(
                            &mut tx,
                            staff_event(s, AuditAction::AccountLocked, source, Some("source_locked_out")),
                        )
                        .await?;
                    }
                    // A disabled account has no one to warn (and its
                    // holder may have left the clinic).
                    if failures == LOCK_AFTER && !s.disabled {
                        self.warn_holder(&mut tx, s).await?;
                    }
                }
                // No account: the platform's chain gets one summary event per
                // source and window, written when the window has ended (here,
                // at the source's next failure, or by the background worker).
                None => match source.map(source_key) {
                    Some(src) => {
                        if let Some(ended) =
                            throttle::record_anonymous_failure(&mut tx, &src, now, window_micros()).await?
                        {
                            self.audit(&mut tx, anonymous_summary(&src, ended)).await?;
                        }
                    }
                    None => {
                        self.audit(
                            &mut tx,
                            platform_event(SIGN_IN_JOB, AuditAction::SignInFailed, None, Some(reason.to_owned())),
                        )
                        .await?;
                    }
                },
            }
            tx.commit().await?;
            Ok(())
        }
        .await;
        match result {
            Ok(()) => AppError::BadCredentials,
            Err(e) => e,
        }
    }

    /// The background worker's part of counting failed sign-ins with
    /// unknown emails: every source whose window has ended gets its one
    /// summary event in the platform's chain. Returns how many.
    ///
    /// # Errors
    /// Database errors.
    pub async fn summarise_anonymous_failures(&self) -> Result<usize, AppError> {
        let mut tx = self.begin().await?;
        let ended = throttle::take_ended_anonymous(&mut tx, self.now(), window_micros()).await?;
        for (src, window) in &ended {
            self.audit(&mut tx, anonymous_summary(src, *window)).await?;
        }
        tx.commit().await?;
        Ok(ended.len())
    }
}
