//! Attempt counters for sign-in, password change and password reset, kept
//! in the database so every app server sees the same counts. Each counter
//! has a key (what is counted: a source address, an account, an account
//! from one source) and a fixed window that restarts once it has passed.

use jiff::Timestamp;

use crate::{StoreError, Tx, from_micros, micros};

/// A counter's value in its current window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counter {
    pub count: i64,
    pub window_start: Timestamp,
}

/// Count one more under `key` and return the counter in the current window
/// (which restarts after `window_micros`).
///
/// # Errors
/// Database errors.
pub async fn hit(tx: &mut Tx, key: &str, now: Timestamp, window_micros: i64) -> Result<Counter, StoreError> {
    let now = micros(now);
    let (n, start): (i64, i64) = on_tx!(tx, |c| sqlx::query_as(
        "INSERT INTO login_throttle (source, failures, window_start) VALUES ($1, 1, $2) \
         ON CONFLICT (source) DO UPDATE SET \
           failures = CASE WHEN login_throttle.window_start < $3 THEN 1 ELSE login_throttle.failures + 1 END, \
           window_start = CASE WHEN login_throttle.window_start < $3 THEN $2 ELSE login_throttle.window_start END \
         RETURNING failures, window_start",
    )
    .bind(key)
    .bind(now)
    .bind(now - window_micros)
    .fetch_one(c)
    .await)?;
    Ok(Counter {
        count: n,
        window_start: from_micros(start)?,
    })
}

/// Record a failure from `source` and return the failures in the current
/// window.
///
/// # Errors
/// Database errors.
pub async fn record_failure(tx: &mut Tx, source: &str, now: Timestamp, window_micros: i64) -> Result<i64, StoreError> {
    Ok(hit(tx, source, now, window_micros).await?.count)
}

/// The counter under `key` in the current window, if it has one.
///
/// # Errors
/// Database errors.
pub async fn peek(tx: &mut Tx, key: &str, now: Timestamp, window_micros: i64) -> Result<Option<Counter>, StoreError> {
    let row: Option<(i64, i64)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT failures, window_start FROM login_throttle WHERE source = $1 AND window_start >= $2"
    )
    .bind(key)
    .bind(micros(now) - window_micros)
    .fetch_optional(c)
    .await)?;
    row.map(|(n, start)| {
        Ok(Counter {
            count: n,
            window_start: from_micros(start)?,
        })
    })
    .transpose()
}

/// Failures from `source` in the current window.
///
/// # Errors
/// Database errors.
pub async fn failures(tx: &mut Tx, source: &str, now: Timestamp, window_micros: i64) -> Result<i64, StoreError> {
    Ok(peek(tx, source, now, window_micros).await?.map_or(0, |c| c.count))
}

/// Take back one count under `key` (an attempt counted in advance that
/// turned out to succeed). Never goes below zero.
///
/// # Errors
/// Database errors.
pub async fn forgive(tx: &mut Tx, key: &str) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(
        "UPDATE login_throttle SET failures = CASE WHEN failures > 0 THEN failures - 1 ELSE 0 END WHERE source = $1"
    )
    .bind(key)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Forget the counter under `key`.
///
/// # Errors
/// Database errors.
pub async fn clear(tx: &mut Tx, key: &str) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query("DELETE FROM login_throttle WHERE source = $1")
        .bind(key)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// A password-reset request waiting for the background worker.
#[derive(Clone, Debug)]
pub struct ResetRequest {
    pub email: String,
    pub source: Option<String>,
    pub requested_at: Timestamp,
}

/// Queue a password-reset request for the worker.
///
/// # Errors
/// Database errors.
pub async fn queue_reset(tx: &mut Tx, email: &str, source: Option<&str>, now: Timestamp) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO password_reset_requests (id, email, source, requested_at) VALUES ($1, $2, $3, $4)"
    )
    .bind(uuid::Uuid::now_v7())
    .bind(email)
    .bind(source)
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Take (delete and return) up to `limit` queued reset requests, oldest
/// first. Several workers never take the same request; if the transaction
/// rolls back, the requests are queued again.
///
/// # Errors
/// Database errors.
pub async fn take_resets(tx: &mut Tx, limit: i64) -> Result<Vec<ResetRequest>, StoreError> {
    let rows: Vec<(String, Option<String>, i64)> = on_tx!(tx, |c| sqlx::query_as(
        "DELETE FROM password_reset_requests WHERE id IN \
           (SELECT id FROM password_reset_requests ORDER BY requested_at, id LIMIT $1) \
         RETURNING email, source, requested_at"
    )
    .bind(limit)
    .fetch_all(c)
    .await)?;
    let mut out = rows
        .into_iter()
        .map(|(email, source, at)| {
            Ok(ResetRequest {
                email,
                source,
                requested_at: from_micros(at)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    out.sort_by_key(|r| r.requested_at);
    Ok(out)
}

/// Count a failed sign-in with an unknown email from `source`. When the
/// source's previous window has ended, returns it (failures, window start)
/// so it can be summarised; the count then restarts at one.
///
/// # Errors
/// Database errors.
pub async fn record_anonymous_failure(
    tx: &mut Tx,
    source: &str,
    now: Timestamp,
    window_micros: i64,
) -> Result<Option<Counter>, StoreError> {
    let cutoff = micros(now) - window_micros;
    let old: Option<(i64, i64)> = on_tx!(tx, |c| sqlx::query_as(
        "DELETE FROM anonymous_sign_in_failures WHERE source = $1 AND window_start < $2 \
         RETURNING failures, window_start"
    )
    .bind(source)
    .bind(cutoff)
    .fetch_optional(c)
    .await)?;
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO anonymous_sign_in_failures (source, failures, window_start) VALUES ($1, 1, $2) \
         ON CONFLICT (source) DO UPDATE SET failures = anonymous_sign_in_failures.failures + 1"
    )
    .bind(source)
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    old.map(|(n, start)| {
        Ok(Counter {
            count: n,
            window_start: from_micros(start)?,
        })
    })
    .transpose()
}

/// Take (delete and return) every source's ended window of unknown-email
/// failures, to be summarised.
///
/// # Errors
/// Database errors.
pub async fn take_ended_anonymous(
    tx: &mut Tx,
    now: Timestamp,
    window_micros: i64,
) -> Result<Vec<(String, Counter)>, StoreError> {
    let rows: Vec<(String, i64, i64)> = on_tx!(tx, |c| sqlx::query_as(
        "DELETE FROM anonymous_sign_in_failures WHERE window_start < $1 RETURNING source, failures, window_start"
    )
    .bind(micros(now) - window_micros)
    .fetch_all(c)
    .await)?;
    let mut out = rows
        .into_iter()
        .map(|(source, n, start)| {
            Ok((
                source,
                Counter {
                    count: n,
                    window_start: from_micros(start)?,
                },
            ))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    out.sort_by_key(|(_, c)| c.window_start);
    Ok(out)
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
