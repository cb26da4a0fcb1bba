//! Clinics (the tenants) and their wrapped keys.

use jiff::Timestamp;
use uuid::Uuid;
use velum_core::ClinicId;
use velum_crypto::WrappedKey;

use crate::{ClinicScope, Store, StoreError, Tx, from_micros, micros};

#[derive(Clone, Debug)]
pub struct ClinicRow {
    pub id: ClinicId,
    pub name: String,
    pub status: String,
    pub created_at: Timestamp,
}

/// Create a clinic with its first wrapped key (key id 1).
///
/// # Errors
/// Database errors.
pub async fn insert(
    tx: &mut Tx,
    id: ClinicId,
    name: &str,
    wrapped_key: &WrappedKey,
    now: Timestamp,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO clinics (id, name, status, created_at) VALUES ($1, $2, 'active', $3)"
    )
    .bind(id.as_uuid())
    .bind(name)
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO clinic_keys (clinic_id, key_id, wrapped, created_at) VALUES ($1, 1, $2, $3)"
    )
    .bind(id.as_uuid())
    .bind(wrapped_key.as_bytes())
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The clinic's current wrapped key and its id.
///
/// # Errors
/// `Corrupt` if the clinic has no key.
pub async fn current_key(tx: &mut Tx, scope: &ClinicScope) -> Result<(i64, WrappedKey), StoreError> {
    let row: Option<(i64, Vec<u8>)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT key_id, wrapped FROM clinic_keys WHERE clinic_id = $1 ORDER BY key_id DESC LIMIT 1"
    )
    .bind(scope.clinic_id().as_uuid())
    .fetch_optional(c)
    .await)?;
    let (id, bytes) = row.ok_or(StoreError::Corrupt("clinic has no key"))?;
    Ok((id, WrappedKey::from_bytes(bytes)))
}

/// # Errors
/// Database errors.
pub async fn get(tx: &mut Tx, scope: &ClinicScope) -> Result<Option<ClinicRow>, StoreError> {
    let row: Option<(Uuid, String, String, i64)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT id, name, status, created_at FROM clinics WHERE id = $1"
    )
    .bind(scope.clinic_id().as_uuid())
    .fetch_optional(c)
    .await)?;
    row.map(to_row).transpose()
}

fn to_row((id, name, status, created_at): (Uuid, String, String, i64)) -> Result<ClinicRow, StoreError> {
    Ok(ClinicRow {
        id: ClinicId::from_uuid(id),
        name,
        status,
        created_at: from_micros(created_at)?,
    })
}

impl Store {
    /// Every clinic (not the platform's own row), by name. For the CLI and
    /// start-up checks; not scoped
    /// because it reads no clinic data beyond names.
    ///
    /// # Errors
    /// Database errors.
    pub async fn list_clinics(&self) -> Result<Vec<ClinicRow>, StoreError> {
        let mut tx = self.begin_read().await?;
        let rows: Vec<(Uuid, String, String, i64)> = on_tx!(tx, |c| sqlx::query_as(
            "SELECT id, name, status, created_at FROM clinics WHERE kind = 'clinic' ORDER BY name"
        )
        .fetch_all(c)
        .await)?;
        rows.into_iter().map(to_row).collect()
    }
}
