//! Housekeeping run by the background worker about once a minute: rows that
//! can no longer be used are deleted, so the database keeps no more sign-in
//! state than it needs (expired sessions, spent links, stale throttle
//! counts).

use jiff::SignedDuration;
use velum_store::{sessions, staff, throttle};

use crate::auth::IDLE_TIMEOUT;
use crate::{App, AppError};

/// Throttle counts are kept this long after their window started: longer
/// than any window in `auth` (15 minutes), so no live count is deleted.
const THROTTLE_ROWS_KEPT: SignedDuration = SignedDuration::from_hours(1);

/// What one housekeeping run deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    /// Sessions past their absolute lifetime or idle too long.
    pub sessions: u64,
    /// Set-up and reset links used or expired.
    pub links: u64,
    /// Failed sign-in counts whose window has passed.
    pub throttle: u64,
}

impl App {
    /// Delete expired sessions, spent one-time links and stale throttle
    /// rows, in one transaction.
    ///
    /// # Errors
    /// Database errors.
    pub async fn housekeeping(&self) -> Result<Purged, AppError> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let purged = Purged {
            sessions: sessions::delete_expired(&mut tx, now, IDLE_TIMEOUT.as_micros() as i64).await?,
            links: staff::delete_spent_links(&mut tx, now).await?,
            throttle: throttle::delete_stale(&mut tx, now.saturating_sub(THROTTLE_ROWS_KEPT).unwrap_or(now)).await?,
        };
        tx.commit().await?;
        Ok(purged)
    }
}
