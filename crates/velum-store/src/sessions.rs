//! Server-side sessions, for browser cookies and API bearer tokens alike.
//! Only a SHA-256 of each token is stored, so a copy of the database does not
//! hand out live sessions.

use jiff::Timestamp;
use uuid::Uuid;
use velum_core::{ClinicId, Role, StaffId};

use crate::bind::BindScope;
use crate::{ClinicScope, StoreError, Tx, from_micros, micros};

#[derive(Clone, Debug)]
pub struct NewSession<'a> {
    pub token_hash: [u8; 32],
    pub clinic_id: ClinicId,
    pub staff_id: StaffId,
    /// "web" or "api".
    pub kind: &'a str,
    /// "totp", "enrol" or "full".
    pub stage: &'a str,
    pub csrf_token: &'a str,
    pub now: Timestamp,
    pub expires_at: Timestamp,
}

/// A session joined with the current state of its account.
#[derive(Clone, Debug)]
pub struct SessionRow {
    pub clinic_id: ClinicId,
    pub staff_id: StaffId,
    pub kind: String,
    pub stage: String,
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
    pub role: Role,
    pub display_name: String,
    pub staff_disabled: bool,
    pub clinic_active: bool,
    /// The clinic's time zone (its settings'; Europe/London until chosen).
    pub time_zone: velum_core::settings::ClinicTimeZone,
    /// An operator's support visit: the clinic and the grant it rests on.
    pub support: Option<(ClinicId, Uuid)>,
}

/// # Errors
/// Database errors.
pub async fn insert(tx: &mut Tx, s: &NewSession<'_>) -> Result<(), StoreError> {
    on_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO sessions (token_hash, clinic_id, staff_id, kind, stage, csrf_token, created_at, last_seen_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
    )
    .bind(s.token_hash.as_slice())
    .bind(s.clinic_id.as_uuid())
    .bind(s.staff_id.as_uuid())
    .bind(s.kind)
    .bind(s.stage)
    .bind(s.csrf_token)
    .bind(micros(s.now))
    .bind(micros(s.expires_at))
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    clinic_id: Uuid,
    staff_id: Uuid,
    kind: String,
    stage: String,
    csrf_token: String,
    created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    role: String,
    display_name: String,
    disabled: bool,
    clinic_status: String,
    time_zone: Option<String>,
    support_clinic_id: Option<Uuid>,
    support_grant_id: Option<Uuid>,
}

/// Look a session up by the clinic its token names and the token's hash.
///
/// # Errors
/// Database errors.
pub async fn find(tx: &mut Tx, scope: &ClinicScope, token_hash: &[u8; 32]) -> Result<Option<SessionRow>, StoreError> {
    let row: Option<Row> = on_tx!(tx, |c| {
        sqlx::query_as(
        "SELECT s.clinic_id, s.staff_id, s.kind, s.stage, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at, \
                st.role, st.display_name, st.disabled, c.status AS clinic_status, cs.time_zone, \
                s.support_clinic_id, s.support_grant_id \
         FROM sessions s \
         JOIN staff st ON st.clinic_id = s.clinic_id AND st.id = s.staff_id \
         JOIN clinics c ON c.id = s.clinic_id \
         LEFT JOIN clinic_settings cs ON cs.clinic_id = s.clinic_id \
         WHERE s.clinic_id = $1 AND s.token_hash = $2",
    )
    .bind_scope(scope)
    .bind(token_hash.as_slice())
    .fetch_optional(c)
    .await
    })?;
    row.map(|r| {
        Ok(SessionRow {
            clinic_id: ClinicId::from_uuid(r.clinic_id),
            staff_id: StaffId::from_uuid(r.staff_id),
            kind: r.kind,
            stage: r.stage,
            csrf_token: r.csrf_token,
            created_at: from_micros(r.created_at)?,
            last_seen_at: from_micros(r.last_seen_at)?,
            expires_at: from_micros(r.expires_at)?,
            role: Role::from_stored(&r.role).map_err(|_| StoreError::Corrupt("staff role"))?,
            display_name: r.display_name,
            staff_disabled: r.disabled,
            clinic_active: crate::clinics::parse_status(&r.clinic_status)?.is_active(),
            time_zone: r
                .time_zone
                .as_deref()
                .map(velum_core::settings::ClinicTimeZone::from_stored)
                .unwrap_or_default(),
            support: r
                .support_clinic_id
                .zip(r.support_grant_id)
                .map(|(c, g)| (ClinicId::from_uuid(c), g)),
        })
    })
    .transpose()
}

/// Mark the session as used now (for the idle timeout).
///
/// # Errors
/// Database errors.
pub async fn touch(tx: &mut Tx, scope: &ClinicScope, token_hash: &[u8; 32], now: Timestamp) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(
        "UPDATE sessions SET last_seen_at = $3 WHERE clinic_id = $1 AND token_hash = $2"
    )
    .bind_scope(scope)
    .bind(token_hash.as_slice())
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// # Errors
/// Database errors.
pub async fn delete(tx: &mut Tx, scope: &ClinicScope, token_hash: &[u8; 32]) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(
        "DELETE FROM sessions WHERE clinic_id = $1 AND token_hash = $2"
    )
    .bind_scope(scope)
    .bind(token_hash.as_slice())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// End every session of one account (disabled, password changed).
///
/// # Errors
/// Database errors.
pub async fn delete_all_for(tx: &mut Tx, scope: &ClinicScope, staff: StaffId) -> Result<u64, StoreError> {
    let done = on_tx!(tx, |c| sqlx::query(
        "DELETE FROM sessions WHERE clinic_id = $1 AND staff_id = $2"
    )
    .bind_scope(scope)
    .bind(staff.as_uuid())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done)
}

/// Remove sessions past their absolute expiry or idle for longer than
/// `idle_micros`.
///
/// # Errors
/// Database errors.
pub async fn delete_expired(tx: &mut Tx, now: Timestamp, idle_micros: i64) -> Result<u64, StoreError> {
    let now = micros(now);
    let done = on_tx!(tx, |c| sqlx::query(
        "DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2"
    )
    .bind(now)
    .bind(now - idle_micros)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done)
}

/// The sealed TOTP secret this enrolment session shows, if it has made one.
///
/// # Errors
/// Database errors.
pub async fn totp_pending(
    tx: &mut Tx,
    scope: &ClinicScope,
    token_hash: &[u8; 32],
) -> Result<Option<Vec<u8>>, StoreError> {
    let row: Option<(Option<Vec<u8>>,)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT totp_pending FROM sessions WHERE clinic_id = $1 AND token_hash = $2"
    )
    .bind_scope(scope)
    .bind(token_hash.as_slice())
    .fetch_optional(c)
    .await)?;
    Ok(row.and_then(|(s,)| s))
}

/// Give an enrolment session its own sealed TOTP secret, unless it has one
/// already (two requests at once keep the first). Returns whether it was set.
///
/// # Errors
/// Database errors.
pub async fn set_totp_pending(
    tx: &mut Tx,
    scope: &ClinicScope,
    token_hash: &[u8; 32],
    sealed: &[u8],
) -> Result<bool, StoreError> {
    let done = on_tx!(tx, |c| sqlx::query(
        "UPDATE sessions SET totp_pending = $3 WHERE clinic_id = $1 AND token_hash = $2 AND totp_pending IS NULL"
    )
    .bind_scope(scope)
    .bind(token_hash.as_slice())
    .bind(sealed)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// End every session of one account at one stage (the other set-up
/// sessions, once one of them has confirmed a secret).
///
/// # Errors
/// Database errors.
pub async fn delete_stage_for(
    tx: &mut Tx,
    scope: &ClinicScope,
    staff: StaffId,
    stage: &str,
) -> Result<u64, StoreError> {
    let done = on_tx!(tx, |c| sqlx::query(
        "DELETE FROM sessions WHERE clinic_id = $1 AND staff_id = $2 AND stage = $3"
    )
    .bind_scope(scope)
    .bind(staff.as_uuid())
    .bind(stage)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done)
}

/// Drop every set-up secret waiting on the clinic's sign-in sessions (a
/// clinic-key rotation is about to delete the key they are sealed under);
/// each such session is shown a new secret at its next page. Returns how
/// many were dropped.
///
/// # Errors
/// Database errors.
pub async fn clear_totp_pending(tx: &mut Tx, scope: &ClinicScope) -> Result<u64, StoreError> {
    let n = on_tx!(tx, |c| sqlx::query(
        "UPDATE sessions SET totp_pending = NULL WHERE clinic_id = $1 AND totp_pending IS NOT NULL"
    )
    .bind_scope(scope)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n)
}
