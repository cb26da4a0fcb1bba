//! Outgoing email, written in the same transaction as the action that sends
//! it (the outbox pattern), with the job that sends it ([`crate::jobs`],
//! kind [`JOB_KIND`]): a worker claims that job with a lease, so two app
//! servers never send the same message twice at once.
//!
//! A queued message is sealed: recipient, subject and body are one
//! AES-256-GCM value under the key of the clinic it belongs to (the
//! platform's key when that clinic has no key left, e.g. after offboarding),
//! bound to the message's clinic and id, so set-up and reset links never sit
//! readable in the database. Once the message is sent or given up, the sealed
//! value is cleared as well.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use velum_core::ClinicId;
use velum_crypto::{Aad, ClinicKey, MasterKey, WrappedKey};
use zeroize::Zeroizing;

use crate::platform::platform_id;
use crate::{StoreError, Tx, from_micros, micros};

/// A message claimed for delivery.
#[derive(Debug)]
pub struct Message {
    pub clinic_id: ClinicId,
    pub id: Uuid,
    /// Attempts so far, this one included.
    pub attempts: i64,
    pub created_at: Timestamp,
    /// What to send; `None` when it cannot be opened any more (the key that
    /// sealed it is gone, or the bytes were altered): give it up.
    pub mail: Option<Mail>,
}

/// An opened message. Its `Debug` shows no address and no text.
#[derive(Clone, Serialize, Deserialize)]
pub struct Mail {
    pub to_addr: String,
    pub subject: String,
    /// The text part.
    pub body: String,
    /// The HTML part, sent with the text part as `multipart/alternative`
    /// (absent in mail queued before there was one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

impl fmt::Debug for Mail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Mail(<redacted>)")
    }
}

/// Associated data of a sealed message: the message's own clinic and id.
///
/// **NEVER CHANGE THIS.** Queued messages were sealed with it.
fn aad(clinic: ClinicId, id: Uuid) -> Aad {
    Aad::record("outbox.mail", &[clinic.as_uuid(), id])
}

fn master(tx: &Tx) -> Result<std::sync::Arc<MasterKey>, StoreError> {
    tx.keys.clone().ok_or(StoreError::Corrupt(
        "the outbox needs the master key (Store::with_master_key)",
    ))
}

/// The key that seals new mail of `clinic`: its current key, or the
/// platform's when it has none (the platform's row and key are made if they
/// do not exist yet). Returns the key's owner, id and the key.
pub(crate) async fn sealing_key(
    tx: &mut Tx,
    clinic: ClinicId,
    now: Timestamp,
) -> Result<(ClinicId, i64, ClinicKey), StoreError> {
    let master = master(tx)?;
    for owner in [clinic, platform_id()] {
        let row: Option<(i64, Vec<u8>)> = on_tx!(tx, |c| sqlx::query_as(
            "SELECT key_id, wrapped FROM clinic_keys WHERE clinic_id = $1 ORDER BY key_id DESC LIMIT 1"
        )
        .bind(owner.as_uuid())
        .fetch_optional(c)
        .await)?;
        if let Some((key_id, wrapped)) = row {
            let key = master.unwrap_clinic_key(&WrappedKey::from_bytes(wrapped), owner)?;
            return Ok((owner, key_id, key));
        }
    }
    let key = ClinicKey::generate();
    let wrapped = master.wrap_clinic_key(&key, platform_id());
    if !crate::platform::ensure_platform(tx, &wrapped, now).await? {
        return Err(StoreError::Corrupt("the platform's row has no key"));
    }
    Ok((platform_id(), 1, key))
}

/// Queue a message for `clinic` (the platform's id for mail that belongs to
/// no clinic), sealed under that clinic's key.
///
/// # Errors
/// Database errors; `Crypto` if the clinic key does not unwrap; `Corrupt`
/// if the store was opened without the master key.
pub async fn enqueue(
    tx: &mut Tx,
    clinic: ClinicId,
    to_addr: &str,
    subject: &str,
    body: &str,
    now: Timestamp,
) -> Result<Uuid, StoreError> {
    let mail = Mail {
        to_addr: to_addr.to_owned(),
        subject: subject.to_owned(),
        body: body.to_owned(),
        html: None,
    };
    enqueue_mail(tx, clinic, &mail, now).await
}

/// Queue `mail` for `clinic` (as [`enqueue`]), with its HTML part if it
/// has one.
///
/// # Errors
/// As [`enqueue`].
pub async fn enqueue_mail(tx: &mut Tx, clinic: ClinicId, mail: &Mail, now: Timestamp) -> Result<Uuid, StoreError> {
    let id = Uuid::now_v7();
    let (key_clinic, key_id, sealed) = seal(tx, clinic, id, mail, now).await?;
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO outbox (id, clinic_id, to_addr, subject, body, sealed, key_clinic_id, key_id, \
                             created_at, next_attempt_at) \
         VALUES ($1, $2, '', '', '', $3, $4, $5, $6, $6)",
    )
    .bind(id)
    .bind(clinic.as_uuid())
    .bind(sealed)
    .bind(key_clinic.as_uuid())
    .bind(key_id)
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    queue_job(tx, clinic, id, now, now).await?;
    Ok(id)
}

async fn seal(
    tx: &mut Tx,
    clinic: ClinicId,
    id: Uuid,
    mail: &Mail,
    now: Timestamp,
) -> Result<(ClinicId, i64, Vec<u8>), StoreError> {
    let (key_clinic, key_id, key) = sealing_key(tx, clinic, now).await?;
    let plain = Zeroizing::new(serde_json::to_vec(mail).map_err(|_| StoreError::Corrupt("mail does not encode"))?);
    Ok((key_clinic, key_id, key.seal(&plain, &aad(clinic, id))))
}

/// Seal every queued message still held in plaintext (queued before
/// migration 0013), and queue the job that sends it if it has none.
/// Returns how many were sealed.
///
/// # Errors
/// As [`enqueue`].
pub async fn seal_plaintext(tx: &mut Tx, now: Timestamp) -> Result<u64, StoreError> {
    let rows: Vec<(Uuid, Uuid, String, String, String, i64)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT clinic_id, id, to_addr, subject, body, next_attempt_at FROM outbox \
         WHERE sealed IS NULL AND sent_at IS NULL AND failed_at IS NULL"
    )
    .fetch_all(c)
    .await)?;
    let mut done = 0;
    for (clinic, id, to_addr, subject, body, next_attempt_at) in rows {
        let clinic = ClinicId::from_uuid(clinic);
        queue_job(tx, clinic, id, from_micros(next_attempt_at)?, now).await?;
        let mail = Mail {
            to_addr,
            subject,
            body,
            html: None,
        };
        let (key_clinic, key_id, sealed) = seal(tx, clinic, id, &mail, now).await?;
        done += on_tx!(tx, |c| sqlx::query(
            "UPDATE outbox SET sealed = $3, key_clinic_id = $4, key_id = $5, to_addr = '', subject = '', body = '' \
             WHERE clinic_id = $1 AND id = $2 AND sealed IS NULL"
        )
        .bind(clinic.as_uuid())
        .bind(id)
        .bind(sealed)
        .bind(key_clinic.as_uuid())
        .bind(key_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    }
    Ok(done)
}

/// The kind of the job that sends one queued message (see [`crate::jobs`]);
/// the job has the message's id.
pub const JOB_KIND: &str = "mail";

/// Queue the job that sends message `id` of `clinic`, at `run_at`; nothing
/// if it is queued already.
async fn queue_job(
    tx: &mut Tx,
    clinic: ClinicId,
    id: Uuid,
    run_at: Timestamp,
    now: Timestamp,
) -> Result<(), StoreError> {
    let key = format!("{JOB_KIND}:{}", id.simple());
    let job = crate::jobs::NewJob {
        kind: JOB_KIND,
        clinic,
        unique_key: Some(&key),
        payload: None,
        run_at,
        // Retried until the message is too old to matter (the app gives it
        // up then), not for a number of attempts.
        max_attempts: 1000,
        backoff: jiff::SignedDuration::from_mins(1),
    };
    crate::jobs::enqueue(tx, &job, Some(id), now).await?;
    Ok(())
}

type PendingRow = (
    i64,
    i64,
    Option<Vec<u8>>,
    Option<Uuid>,
    Option<i64>,
    String,
    String,
    String,
);

/// Take message `id` of `clinic` for one delivery attempt (its job was
/// claimed): count the attempt and open it. `None` when it is not waiting
/// any more (sent, given up, or deleted with its clinic).
///
/// # Errors
/// Database errors; `Corrupt` if the store was opened without the master
/// key.
pub async fn take(tx: &mut Tx, clinic: ClinicId, id: Uuid) -> Result<Option<Message>, StoreError> {
    let row: Option<PendingRow> = on_tx!(tx, |c| sqlx::query_as(
        "UPDATE outbox SET attempts = attempts + 1 \
         WHERE clinic_id = $1 AND id = $2 AND sent_at IS NULL AND failed_at IS NULL \
         RETURNING attempts, created_at, sealed, key_clinic_id, key_id, to_addr, subject, body",
    )
    .bind(clinic.as_uuid())
    .bind(id)
    .fetch_optional(c)
    .await)?;
    let Some((attempts, created_at, sealed, key_clinic, key_id, to_addr, subject, body)) = row else {
        return Ok(None);
    };
    let mail = match (sealed, key_clinic, key_id) {
        (Some(sealed), Some(key_clinic), Some(key_id)) => opening_key(tx, ClinicId::from_uuid(key_clinic), key_id)
            .await?
            .and_then(|key| key.open(&sealed, &aad(clinic, id)).ok())
            .and_then(|plain| serde_json::from_slice::<Mail>(&Zeroizing::new(plain)).ok()),
        // Queued before mail was sealed and not sealed since (the app
        // seals such rows when it starts).
        (None, _, _) if !to_addr.is_empty() => Some(Mail {
            to_addr,
            subject,
            body,
            html: None,
        }),
        _ => None,
    };
    Ok(Some(Message {
        clinic_id: clinic,
        id,
        attempts,
        created_at: from_micros(created_at)?,
        mail,
    }))
}

/// The clinic key row `key_id` of `clinic`, unwrapped; `None` if it is gone
/// or does not unwrap.
pub(crate) async fn opening_key(tx: &mut Tx, clinic: ClinicId, key_id: i64) -> Result<Option<ClinicKey>, StoreError> {
    let master = master(tx)?;
    let wrapped: Option<Vec<u8>> = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT wrapped FROM clinic_keys WHERE clinic_id = $1 AND key_id = $2"
    )
    .bind(clinic.as_uuid())
    .bind(key_id)
    .fetch_optional(c)
    .await)?;
    Ok(wrapped.and_then(|w| master.unwrap_clinic_key(&WrappedKey::from_bytes(w), clinic).ok()))
}

/// # Errors
/// Database errors.
pub async fn mark_sent(tx: &mut Tx, m: &Message, now: Timestamp) -> Result<(), StoreError> {
    // Nothing of the message is kept once sent: the body may hold a
    // single-use link, the recipient is personal data.
    on_tx!(tx, |c| sqlx::query(
        "UPDATE outbox SET sent_at = $2, claimed_until = NULL, last_error = NULL, sealed = NULL, \
                to_addr = '', subject = '', body = '' \
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

/// Record a failed attempt and when to try again. `error` must hold no
/// personal data (no address, no server reply text).
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

/// Give a message up for good: it is never tried again, and nothing of it
/// is kept but its ids, times and `error` (which must hold no personal
/// data).
///
/// # Errors
/// Database errors.
pub async fn mark_given_up(tx: &mut Tx, m: &Message, error: &str, now: Timestamp) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(
        "UPDATE outbox SET failed_at = $2, claimed_until = NULL, last_error = $3, sealed = NULL, \
                to_addr = '', subject = '', body = '' \
         WHERE clinic_id = $4 AND id = $1"
    )
    .bind(m.id)
    .bind(micros(now))
    .bind(error)
    .bind(m.clinic_id.as_uuid())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Messages waiting to be sent (neither sent nor given up).
///
/// # Errors
/// Database errors.
pub async fn pending_count(tx: &mut Tx) -> Result<i64, StoreError> {
    let n: i64 = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL"
    )
    .fetch_one(c)
    .await)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::Store;

    /// Mail of a clinic with no key (none made, or destroyed at
    /// offboarding) is sealed under the platform's key, whose row is made
    /// if it does not exist yet; it opens again for delivery.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mail_of_a_clinic_without_a_key_is_sealed_under_the_platform_key() {
        let dir = tempfile::tempdir().unwrap();
        let master = MasterKey::generate();
        let store = Store::open_sqlite(
            &dir.path().join("t.db"),
            &master.sqlcipher_key(),
            &master.fingerprint(),
            master.audit_chain_key(),
        )
        .await
        .unwrap();
        let now = Timestamp::from_second(1_000).unwrap();
        let clinic = ClinicId::from_uuid(Uuid::from_u128(5));

        let mut tx = store.begin().await.unwrap();
        let refused = enqueue(&mut tx, clinic, "a@b.example", "S", "B", now).await;
        assert!(matches!(refused, Err(StoreError::Corrupt(_))), "no master key, no mail");
        drop(tx);

        let store = store.with_master_key(Arc::new(master));
        let mut tx = store.begin().await.unwrap();
        let mut ids = Vec::new();
        for n in 0..2 {
            ids.push(
                enqueue(&mut tx, clinic, "a@b.example", "S", &format!("B{n}"), now)
                    .await
                    .unwrap(),
            );
        }
        let owners: Vec<(Option<Uuid>, Option<i64>)> = on_tx!(tx, |c| sqlx::query_as(
            "SELECT key_clinic_id, key_id FROM outbox ORDER BY id"
        )
        .fetch_all(c)
        .await)
        .unwrap();
        assert_eq!(owners, [(Some(Uuid::nil()), Some(1)), (Some(Uuid::nil()), Some(1))]);
        let mut bodies = Vec::new();
        for id in ids {
            let m = take(&mut tx, clinic, id).await.unwrap().expect("waiting");
            bodies.push(m.mail.expect("opens").body);
        }
        bodies.sort();
        assert_eq!(bodies, ["B0", "B1"]);
        tx.commit().await.unwrap();
        store.close().await;
    }
}
