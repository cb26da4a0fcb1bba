//! Outgoing email, written in the same transaction as the action that sends
//! it (the outbox pattern), then delivered by a worker with a lease so two
//! app servers never send the same message twice at once.

use jiff::Timestamp;
use uuid::Uuid;
use velum_core::ClinicId;

use crate::{StoreError, Tx, micros};

#[derive(Clone, Debug)]
pub struct Message {
    pub id: Uuid,
    pub to_addr: String,
    pub subject: String,
    pub body: String,
    pub attempts: i64,
}

/// # Errors
/// Database errors.
pub async fn enqueue(
    tx: &mut Tx,
    clinic: Option<ClinicId>,
    to_addr: &str,
    subject: &str,
    body: &str,
    now: Timestamp,
) -> Result<Uuid, StoreError> {
    let id = Uuid::now_v7();
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO outbox (id, clinic_id, to_addr, subject, body, created_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(id)
    .bind(clinic.map(|c| c.as_uuid()))
    .bind(to_addr)
    .bind(subject)
    .bind(body)
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(id)
}

/// Claim up to `limit` due messages for `lease_micros`.
///
/// # Errors
/// Database errors.
pub async fn claim_due(tx: &mut Tx, now: Timestamp, lease_micros: i64, limit: i64) -> Result<Vec<Message>, StoreError> {
    let now = micros(now);
    let rows: Vec<(Uuid, String, String, String, i64)> = on_tx!(tx, |c| sqlx::query_as(
        "UPDATE outbox SET claimed_until = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= $1 \
                      AND (claimed_until IS NULL OR claimed_until <= $1) ORDER BY next_attempt_at LIMIT $3) \
           AND sent_at IS NULL AND (claimed_until IS NULL OR claimed_until <= $1) \
         RETURNING id, to_addr, subject, body, attempts",
    )
    .bind(now)
    .bind(now + lease_micros)
    .bind(limit)
    .fetch_all(c)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(id, to_addr, subject, body, attempts)| Message {
            id,
            to_addr,
            subject,
            body,
            attempts,
        })
        .collect())
}

/// # Errors
/// Database errors.
pub async fn mark_sent(tx: &mut Tx, id: Uuid, now: Timestamp) -> Result<(), StoreError> {
    // The body (it may hold a single-use link) is not kept once sent.
    on_tx!(tx, |c| sqlx::query(
        "UPDATE outbox SET sent_at = $2, claimed_until = NULL, last_error = NULL, body = '' WHERE id = $1"
    )
    .bind(id)
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Record a failed attempt and when to try again.
///
/// # Errors
/// Database errors.
pub async fn mark_failed(tx: &mut Tx, id: Uuid, error: &str, retry_at: Timestamp) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(
        "UPDATE outbox SET claimed_until = NULL, last_error = $2, next_attempt_at = $3 WHERE id = $1"
    )
    .bind(id)
    .bind(error)
    .bind(micros(retry_at))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Messages not yet sent.
///
/// # Errors
/// Database errors.
pub async fn pending_count(tx: &mut Tx) -> Result<i64, StoreError> {
    let n: i64 = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL"
    )
    .fetch_one(c)
    .await)?;
    Ok(n)
}
