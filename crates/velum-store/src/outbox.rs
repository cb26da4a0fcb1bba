//! Outgoing email, written in the same transaction as the action that sends
//! it (the outbox pattern), then delivered by a worker with a lease so two
//! app servers never send the same message twice at once.

use jiff::Timestamp;
use uuid::Uuid;
use velum_core::ClinicId;

use crate::{StoreError, Tx, micros};

#[derive(Clone, Debug)]
pub struct Message {
    pub clinic_id: ClinicId,
    pub id: Uuid,
    pub to_addr: String,
    pub subject: String,
    pub body: String,
    pub attempts: i64,
}

/// Queue a message for `clinic` (the platform's id for mail that belongs to
/// no clinic).
///
/// # Errors
/// Database errors.
pub async fn enqueue(
    tx: &mut Tx,
    clinic: ClinicId,
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
    .bind(clinic.as_uuid())
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
    let rows: Vec<(Uuid, Uuid, String, String, String, i64)> = on_tx!(tx, |c| sqlx::query_as(
        "UPDATE outbox SET claimed_until = $2, attempts = attempts + 1 \
         WHERE (clinic_id, id) IN (SELECT clinic_id, id FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= $1 \
                      AND (claimed_until IS NULL OR claimed_until <= $1) ORDER BY next_attempt_at LIMIT $3) \
           AND sent_at IS NULL AND (claimed_until IS NULL OR claimed_until <= $1) \
         RETURNING clinic_id, id, to_addr, subject, body, attempts",
    )
    .bind(now)
    .bind(now + lease_micros)
    .bind(limit)
    .fetch_all(c)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(clinic_id, id, to_addr, subject, body, attempts)| Message {
            clinic_id: ClinicId::from_uuid(clinic_id),
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
pub async fn mark_sent(tx: &mut Tx, m: &Message, now: Timestamp) -> Result<(), StoreError> {
    // The body (it may hold a single-use link) is not kept once sent.
    on_tx!(tx, |c| sqlx::query(
        "UPDATE outbox SET sent_at = $2, claimed_until = NULL, last_error = NULL, body = '' \
         WHERE clinic_id = $3 AND id = $1"
    )
    .bind(m.id)
    .bind(micros(now))
    .bind(m.clinic_id.as_uuid())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Record a failed attempt and when to try again.
///
/// # Errors
/// Database errors.
pub async fn mark_failed(tx: &mut Tx, m: &Message, error: &str, retry_at: Timestamp) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(
        "UPDATE outbox SET claimed_until = NULL, last_error = $2, next_attempt_at = $3 \
         WHERE clinic_id = $4 AND id = $1"
    )
    .bind(m.id)
    .bind(error)
    .bind(micros(retry_at))
    .bind(m.clinic_id.as_uuid())
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
