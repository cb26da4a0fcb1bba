//! Clinics (the tenants) and their wrapped keys.

use jiff::Timestamp;
use uuid::Uuid;
use velum_core::ClinicId;
use velum_core::clinic::ClinicStatus;
use velum_crypto::WrappedKey;

use crate::bind::BindScope;
use crate::transfer::{Kind, ONE_CLINIC, Table, col};
use crate::{ClinicScope, Store, StoreError, Tx, from_micros, micros};

/// The clinic tables this module owns (`clinics`, `clinic_keys`), with every column and
/// its kind, in foreign-key order: their part of
/// [`crate::transfer::CLINIC_TABLES`].
pub const TABLES: &[Table] = &[
    Table {
        name: "clinics",
        clinic_column: "id",
        order_by: "id",
        columns: &[
            col("id", Kind::Id).left_out("the clinic's id is the archive's `clinic.id`"),
            col("name", Kind::Text),
            col("status", Kind::Text),
            col("created_at", Kind::Int).instant(),
            col("kind", Kind::Text).left_out("always a clinic here (the platform's own row is never offboarded)"),
        ],
    },
    Table {
        name: "clinic_keys",
        clinic_column: "clinic_id",
        order_by: "key_id",
        columns: &[
            col("clinic_id", Kind::Id).left_out(ONE_CLINIC),
            col("key_id", Kind::Int).key(),
            col("wrapped", Kind::Bytes).key(),
            col("created_at", Kind::Int).left_out("the clinic's key is destroyed at offboarding"),
        ],
    },
];

#[derive(Clone, Debug)]
pub struct ClinicRow {
    pub id: ClinicId,
    pub name: String,
    pub status: ClinicStatus,
    pub created_at: Timestamp,
}

/// Create a clinic with its first wrapped key (key id 1).
///
/// # Errors
/// `Conflict` if a clinic that has not been offboarded has the name
/// (compared in lower case: the `clinics_live_name` index); database errors.
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
    .map(|r| r.rows_affected()))
    .map_err(StoreError::from_sqlx)?;
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

/// The names of the clinics (not the platform's row) that have not been
/// offboarded: the ones a new clinic's name must differ from.
///
/// # Errors
/// Database errors.
pub async fn live_names(tx: &mut Tx) -> Result<Vec<String>, StoreError> {
    let names: Vec<String> = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT name FROM clinics WHERE kind = 'clinic' AND status <> 'offboarded'"
    )
    .fetch_all(c)
    .await)?;
    Ok(names)
}

/// How many clinics there are (not the platform's row; offboarded ones
/// count: their tombstones stay).
///
/// # Errors
/// Database errors.
pub async fn count(tx: &mut Tx) -> Result<i64, StoreError> {
    let n: i64 = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM clinics WHERE kind = 'clinic'"
    )
    .fetch_one(c)
    .await)?;
    Ok(n)
}

/// Record that the installation's first run has created its first clinic.
/// The mark is a primary key in `meta`, so it can be written once: of two
/// first runs at once, the second gets `Conflict`.
///
/// # Errors
/// `Conflict` if the mark exists; database errors.
pub async fn mark_first_run(tx: &mut Tx) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO meta (key, value) VALUES ('first_run', 'done')"
    )
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
    .map_err(StoreError::from_sqlx)?;
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
    .bind_scope(scope)
    .fetch_optional(c)
    .await)?;
    let (id, bytes) = row.ok_or(StoreError::Corrupt("clinic has no key"))?;
    Ok((id, WrappedKey::from_bytes(bytes)))
}

/// The clinic key row `key_id` names (a client key records which clinic key
/// wraps it, so it is opened with that one, not the newest).
///
/// # Errors
/// `Corrupt` if the clinic has no such key.
pub async fn key(tx: &mut Tx, scope: &ClinicScope, key_id: i64) -> Result<WrappedKey, StoreError> {
    let row: Option<Vec<u8>> = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT wrapped FROM clinic_keys WHERE clinic_id = $1 AND key_id = $2"
    )
    .bind_scope(scope)
    .bind(key_id)
    .fetch_optional(c)
    .await)?;
    row.map(WrappedKey::from_bytes).ok_or(StoreError::Corrupt(
        "a client key names a clinic key that does not exist",
    ))
}

/// The ids of the clinic's key rows, oldest first. More than one means a
/// rotation has not finished.
///
/// # Errors
/// Database errors.
pub async fn key_ids(tx: &mut Tx, scope: &ClinicScope) -> Result<Vec<i64>, StoreError> {
    let ids: Vec<i64> = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT key_id FROM clinic_keys WHERE clinic_id = $1 ORDER BY key_id"
    )
    .bind_scope(scope)
    .fetch_all(c)
    .await)?;
    Ok(ids)
}

/// Add a new clinic key, one above the highest id so far; it becomes the
/// current key. Returns its id.
///
/// # Errors
/// Database errors (`Conflict` if another rotation added one at once).
pub async fn add_key(
    tx: &mut Tx,
    scope: &ClinicScope,
    wrapped: &WrappedKey,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let id: i64 = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT COALESCE(MAX(key_id), 0) + 1 FROM clinic_keys WHERE clinic_id = $1"
    )
    .bind_scope(scope)
    .fetch_one(c)
    .await)?;
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO clinic_keys (clinic_id, key_id, wrapped, created_at) VALUES ($1, $2, $3, $4)"
    )
    .bind_scope(scope)
    .bind(id)
    .bind(wrapped.as_bytes())
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(id)
}

/// Delete the clinic's key rows older than `current` that no client key,
/// no mail still waiting to be sent and no job still waiting to run is
/// sealed under (the end of a rotation; a key still sealing queued mail or
/// a queued job's payload goes at a later run, once that mail has left or
/// that job has finished: sent or given-up mail and done or failed jobs
/// keep no sealed bytes). Returns how many went.
///
/// # Errors
/// Database errors.
pub async fn retire_unused_keys(tx: &mut Tx, scope: &ClinicScope, current: i64) -> Result<u64, StoreError> {
    let n = on_tx!(tx, |c| sqlx::query(
        "DELETE FROM clinic_keys WHERE clinic_id = $1 AND key_id < $2 AND NOT EXISTS ( \
           SELECT 1 FROM client_keys k WHERE k.clinic_id = clinic_keys.clinic_id AND k.key_id = clinic_keys.key_id) \
         AND NOT EXISTS ( \
           SELECT 1 FROM outbox o WHERE o.key_clinic_id = clinic_keys.clinic_id AND o.key_id = clinic_keys.key_id \
             AND o.sealed IS NOT NULL) \
         AND NOT EXISTS ( \
           SELECT 1 FROM jobs j WHERE j.key_clinic_id = clinic_keys.clinic_id AND j.key_id = clinic_keys.key_id \
             AND j.payload IS NOT NULL)",
    )
    .bind_scope(scope)
    .bind(current)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n)
}

/// # Errors
/// Database errors.
pub async fn get(tx: &mut Tx, scope: &ClinicScope) -> Result<Option<ClinicRow>, StoreError> {
    let row: Option<(Uuid, String, String, i64)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT id, name, status, created_at FROM clinics WHERE id = $1"
    )
    .bind_scope(scope)
    .fetch_optional(c)
    .await)?;
    row.map(to_row).transpose()
}

fn to_row((id, name, status, created_at): (Uuid, String, String, i64)) -> Result<ClinicRow, StoreError> {
    Ok(ClinicRow {
        id: ClinicId::from_uuid(id),
        name,
        status: parse_status(&status)?,
        created_at: from_micros(created_at)?,
    })
}

/// A stored clinic status, parsed: anything else is corrupt, never a default.
pub(crate) fn parse_status(s: &str) -> Result<ClinicStatus, StoreError> {
    s.parse().map_err(|_| StoreError::Corrupt("clinic status"))
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
