//! Failed sign-ins per source address, kept in the database so every app
//! server sees the same counts.

use jiff::Timestamp;

use crate::{StoreError, Tx, micros};

/// Record a failure from `source` and return the failures in the current
/// window (which restarts after `window_micros`).
///
/// # Errors
/// Database errors.
pub async fn record_failure(tx: &mut Tx, source: &str, now: Timestamp, window_micros: i64) -> Result<i64, StoreError> {
    let now = micros(now);
    let n: i64 = on_tx!(tx, |c| sqlx::query_scalar(
        "INSERT INTO login_throttle (source, failures, window_start) VALUES ($1, 1, $2) \
         ON CONFLICT (source) DO UPDATE SET \
           failures = CASE WHEN login_throttle.window_start < $3 THEN 1 ELSE login_throttle.failures + 1 END, \
           window_start = CASE WHEN login_throttle.window_start < $3 THEN $2 ELSE login_throttle.window_start END \
         RETURNING failures",
    )
    .bind(source)
    .bind(now)
    .bind(now - window_micros)
    .fetch_one(c)
    .await)?;
    Ok(n)
}

/// Failures from `source` in the current window.
///
/// # Errors
/// Database errors.
pub async fn failures(tx: &mut Tx, source: &str, now: Timestamp, window_micros: i64) -> Result<i64, StoreError> {
    let n: Option<i64> = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT failures FROM login_throttle WHERE source = $1 AND window_start >= $2"
    )
    .bind(source)
    .bind(micros(now) - window_micros)
    .fetch_optional(c)
    .await)?;
    Ok(n.unwrap_or(0))
}

/// Housekeeping: delete sources whose window started before `before` (their
/// count no longer applies). Returns how many.
///
/// # Errors
/// Database errors.
pub async fn delete_stale(tx: &mut Tx, before: Timestamp) -> Result<u64, StoreError> {
    let done = on_tx!(tx, |c| sqlx::query(
        "DELETE FROM login_throttle WHERE window_start < $1"
    )
    .bind(micros(before))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done)
}
