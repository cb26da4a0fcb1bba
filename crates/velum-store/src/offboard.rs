//! Offboarding a clinic: every row of it in every clinic table is deleted,
//! its keys first among them (crypto-shredding whatever copies remain in
//! backups), and its `clinics` row stays as a tombstone with status
//! `offboarded`, beside the offboarding certificate in
//! `clinic_offboardings`.
//!
//! What is deleted is not listed here: it is every table of
//! [`CLINIC_TABLES`] (in reverse, so foreign keys hold) but `clinics`, and
//! every table of [`NOT_MOVED`] but [`KEPT`], before them (they point at
//! staff). The schema test in [`crate::transfer`] makes every table with a
//! `clinic_id` appear in one of those lists, so a clinic table added later is
//! deleted here too, or named in [`KEPT`] on purpose.

use jiff::Timestamp;
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::transfer::{CLINIC_TABLES, NOT_MOVED};
use velum_core::StaffId;

use crate::bind::BindScope;
use crate::{ClinicScope, StoreError, Tx, from_micros, micros};

/// Tables with clinic rows that offboarding keeps, and why.
pub const KEPT: &[(&str, &str)] = &[
    (
        "clinics",
        "the tombstone: the id is never reused and sign-in to it is refused",
    ),
    (
        "clinic_offboardings",
        "the offboarding certificate (ids, counts and hashes; nothing personal beyond the clinic's name)",
    ),
];

fn kept(table: &str) -> bool {
    KEPT.iter().any(|(t, _)| *t == table)
}

/// The tables offboarding empties of a clinic's rows, in the order it
/// deletes them, with the column naming the clinic.
#[must_use]
pub fn deletion_order() -> Vec<(&'static str, &'static str)> {
    let not_moved = NOT_MOVED.iter().map(|(t, _)| (*t, "clinic_id"));
    let moved = CLINIC_TABLES.iter().rev().map(|t| (t.name, t.clinic_column));
    not_moved.chain(moved).filter(|(t, _)| !kept(t)).collect()
}

/// Delete every row of the clinic (see the module comment), mark its
/// `clinics` row `offboarded`, and take any operator's support visit out
/// of it. Returns the rows deleted per table, in [`deletion_order`].
///
/// Unscoped by actor on purpose: the app layer lets only an operator
/// offboard a suspended clinic, and records it in the platform's chain in
/// the same transaction.
///
/// # Errors
/// `Corrupt` if `scope` names no clinic (or the platform's own row), with
/// nothing deleted once the caller rolls back; database errors.
pub async fn delete_clinic(tx: &mut Tx, scope: &ClinicScope) -> Result<Vec<(&'static str, u64)>, StoreError> {
    let clinic = scope.clinic_id().as_uuid();
    let tombstoned = on_tx!(tx, |c| sqlx::query(
        "UPDATE clinics SET status = 'offboarded' WHERE id = $1 AND kind = 'clinic'"
    )
    .bind(clinic)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if tombstoned != 1 {
        return Err(StoreError::Corrupt("offboarding names no clinic"));
    }
    // Operators' sessions (rows of the platform) visiting this clinic.
    on_tx!(tx, |c| sqlx::query(
        "UPDATE sessions SET support_clinic_id = NULL, support_grant_id = NULL WHERE support_clinic_id = $1"
    )
    .bind(clinic)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    let mut counts = Vec::new();
    for (table, column) in deletion_order() {
        // Built from the constant table lists, never from input.
        let sql = format!("DELETE FROM {table} WHERE {column} = $1");
        let n = on_tx!(tx, |c| sqlx::query(AssertSqlSafe(sql.as_str()))
            .bind(clinic)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        counts.push((table, n));
    }
    Ok(counts)
}

/// Rows the clinic still has in each table with a `clinic_id` column
/// (`clinics` aside): the check after offboarding, for tests and
/// operators. Table names come from the schema itself, so a table no list
/// knows about is counted too.
///
/// # Errors
/// Database errors.
pub async fn remaining_rows(tx: &mut Tx, scope: &ClinicScope) -> Result<Vec<(String, i64)>, StoreError> {
    let tables: Vec<String> = match tx.backend() {
        crate::Backend::Sqlite => on_tx!(tx, |c| sqlx::query_scalar(
            "SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND p.name = 'clinic_id' ORDER BY m.name"
        )
        .fetch_all(c)
        .await)?,
        crate::Backend::Postgres => on_tx!(tx, |c| sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND column_name = 'clinic_id' ORDER BY table_name"
        )
        .fetch_all(c)
        .await)?,
    };
    let mut out = Vec::with_capacity(tables.len());
    for table in tables {
        // Names read from the schema catalogue, quoted as identifiers.
        let sql = format!(
            "SELECT COUNT(*) FROM \"{}\" WHERE clinic_id = $1",
            table.replace('"', "")
        );
        let n: i64 = on_tx!(tx, |c| sqlx::query_scalar(AssertSqlSafe(sql.as_str()))
            .bind_scope(scope)
            .fetch_one(c)
            .await)?;
        out.push((table, n));
    }
    Ok(out)
}

/// Where an archive kept for download waits: the blob store's id for it
/// (what this build writes), or the sealed bytes in the row (written by
/// earlier builds, and by this one when no blob store is configured).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WaitingArchive {
    Blob(Uuid),
    Stored(Vec<u8>),
}

/// Record an offboarding: its certificate and, when the operator will
/// download it from the web page, where the sealed archive waits until
/// `expires_at`.
///
/// # Errors
/// `Conflict` if the clinic was offboarded already; database errors.
pub async fn insert(
    tx: &mut Tx,
    scope: &ClinicScope,
    at: Timestamp,
    certificate: &str,
    archive: Option<(WaitingArchive, Timestamp)>,
) -> Result<(), StoreError> {
    let (bytes, blob) = match archive.as_ref().map(|(a, _)| a) {
        Some(WaitingArchive::Stored(b)) => (Some(b.as_slice()), None),
        Some(WaitingArchive::Blob(id)) => (None, Some(*id)),
        None => (None, None),
    };
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO clinic_offboardings (clinic_id, at, certificate, archive, archive_blob, archive_expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)"
    )
    .bind_scope(scope)
    .bind(micros(at))
    .bind(certificate)
    .bind(bytes)
    .bind(blob)
    .bind(archive.as_ref().map(|(_, t)| micros(*t)))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
    .map_err(StoreError::from_sqlx)?;
    Ok(())
}

/// An offboarding as recorded.
#[derive(Clone, Debug)]
pub struct OffboardingRow {
    pub at: Timestamp,
    pub certificate: String,
    /// Whether a sealed archive still waits for download.
    pub archive_waiting: bool,
}

/// The clinic's offboarding record, if it was offboarded. An archive past
/// its expiry counts as gone.
///
/// # Errors
/// Database errors.
pub async fn get(tx: &mut Tx, scope: &ClinicScope, now: Timestamp) -> Result<Option<OffboardingRow>, StoreError> {
    let row: Option<(i64, String, bool)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT at, certificate, \
         ((archive IS NOT NULL OR archive_blob IS NOT NULL) AND archive_expires_at > $2) \
         FROM clinic_offboardings WHERE clinic_id = $1"
    )
    .bind_scope(scope)
    .bind(micros(now))
    .fetch_optional(c)
    .await)?;
    row.map(|(at, certificate, archive_waiting)| {
        Ok(OffboardingRow {
            at: from_micros(at)?,
            certificate,
            archive_waiting,
        })
    })
    .transpose()
}

/// Where the sealed archive waiting for download is, unless it has expired.
///
/// # Errors
/// Database errors.
pub async fn archive(tx: &mut Tx, scope: &ClinicScope, now: Timestamp) -> Result<Option<WaitingArchive>, StoreError> {
    let row: Option<(Option<Uuid>, Option<Vec<u8>>)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT archive_blob, archive FROM clinic_offboardings WHERE clinic_id = $1 AND archive_expires_at > $2"
    )
    .bind_scope(scope)
    .bind(micros(now))
    .fetch_optional(c)
    .await)?;
    Ok(row.and_then(|(blob, bytes)| match (blob, bytes) {
        (Some(id), _) => Some(WaitingArchive::Blob(id)),
        (None, Some(b)) => Some(WaitingArchive::Stored(b)),
        (None, None) => None,
    }))
}

/// The blob-store archives [`drop_archives`] with the same arguments will
/// drop, as (clinic, archive id): delete them from the store first.
///
/// # Errors
/// Database errors.
pub async fn archive_blobs_to_drop(
    tx: &mut Tx,
    clinic: Option<&ClinicScope>,
    now: Timestamp,
) -> Result<Vec<(Uuid, Uuid)>, StoreError> {
    let rows: Vec<(Uuid, Uuid)> = match clinic {
        Some(scope) => on_tx!(tx, |c| sqlx::query_as(
            "SELECT clinic_id, archive_blob FROM clinic_offboardings \
             WHERE clinic_id = $1 AND archive_blob IS NOT NULL"
        )
        .bind_scope(scope)
        .fetch_all(c)
        .await)?,
        None => on_tx!(tx, |c| sqlx::query_as(
            "SELECT clinic_id, archive_blob FROM clinic_offboardings \
             WHERE archive_blob IS NOT NULL AND archive_expires_at <= $1 ORDER BY clinic_id"
        )
        .bind(micros(now))
        .fetch_all(c)
        .await)?,
    };
    Ok(rows)
}

/// Drop the waiting archive of one clinic (`Some`) or every expired one
/// (`None`): the stored value, or the blob-store id (delete the object
/// first, [`archive_blobs_to_drop`]). Returns how many were dropped.
///
/// # Errors
/// Database errors.
pub async fn drop_archives(tx: &mut Tx, clinic: Option<&ClinicScope>, now: Timestamp) -> Result<u64, StoreError> {
    let n = match clinic {
        Some(scope) => on_tx!(tx, |c| sqlx::query(
            "UPDATE clinic_offboardings SET archive = NULL, archive_blob = NULL, archive_expires_at = NULL \
             WHERE clinic_id = $1 AND (archive IS NOT NULL OR archive_blob IS NOT NULL)"
        )
        .bind_scope(scope)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?,
        None => on_tx!(tx, |c| sqlx::query(
            "UPDATE clinic_offboardings SET archive = NULL, archive_blob = NULL, archive_expires_at = NULL \
             WHERE (archive IS NOT NULL OR archive_blob IS NOT NULL) AND archive_expires_at <= $1"
        )
        .bind(micros(now))
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?,
    };
    Ok(n)
}

/// The head (sequence number and hash) of a clinic's audit chain.
///
/// # Errors
/// Database errors; `Corrupt` for a stored hash of the wrong length.
pub async fn chain_head(tx: &mut Tx, clinic: Uuid) -> Result<Option<(i64, [u8; 32])>, StoreError> {
    let row: Option<(i64, Vec<u8>)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT seq, hash FROM audit_heads WHERE clinic_id = $1"
    )
    .bind(clinic)
    .fetch_optional(c)
    .await)?;
    row.map(|(seq, hash)| {
        let hash: [u8; 32] = hash
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::Corrupt("audit hash length"))?;
        Ok((seq, hash))
    })
    .transpose()
}

/// One event of a chain, as stored: for checking a certificate against the
/// platform's chain.
///
/// # Errors
/// Database errors.
pub async fn chain_event(
    tx: &mut Tx,
    clinic: Uuid,
    seq: i64,
) -> Result<Option<(String, Option<String>, Vec<u8>)>, StoreError> {
    let row: Option<(String, Option<String>, Vec<u8>)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT action, detail, hash FROM audit_events WHERE clinic_id = $1 AND seq = $2"
    )
    .bind(clinic)
    .bind(seq)
    .fetch_optional(c)
    .await)?;
    Ok(row)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every clinic table is either emptied or kept on purpose, each once;
    /// and tables that point at `staff` (sessions, links) go before it.
    #[test]
    fn every_clinic_table_is_deleted_or_kept_on_purpose() {
        let order = deletion_order();
        let deleted: BTreeSet<&str> = order.iter().map(|(t, _)| *t).collect();
        assert_eq!(deleted.len(), order.len(), "a table is deleted twice");
        let all: BTreeSet<&str> = CLINIC_TABLES
            .iter()
            .map(|t| t.name)
            .chain(NOT_MOVED.iter().map(|(t, _)| *t))
            .collect();
        let kept_names: BTreeSet<&str> = KEPT.iter().map(|(t, _)| *t).collect();
        assert!(kept_names.is_subset(&all), "KEPT names a table no list knows");
        assert_eq!(deleted, all.difference(&kept_names).copied().collect());
        let pos = |name: &str| order.iter().position(|(t, _)| *t == name).unwrap();
        for child in ["sessions", "one_time_tokens"] {
            assert!(pos(child) < pos("staff"), "{child} before staff");
        }
        for child in ["client_keys", "client_medical", "client_history"] {
            assert!(pos(child) < pos("clients"), "{child} before clients");
        }
        assert!(order.iter().any(|(t, _)| *t == "clinic_keys"), "the keys are destroyed");
    }
}

/// The owner's request to leave: who, when, why, and what seals the archive
/// to their passphrase (salt and X25519 public key; never the passphrase).
#[derive(Clone, Debug)]
pub struct LeavingRow {
    pub requested_by: StaffId,
    pub requested_at: Timestamp,
    pub reason: String,
    pub archive_salt: Vec<u8>,
    pub archive_public: Vec<u8>,
}

/// Record the owner's request. Returns false if one is recorded already.
///
/// # Errors
/// Database errors.
pub async fn insert_leaving(tx: &mut Tx, scope: &ClinicScope, row: &LeavingRow) -> Result<bool, StoreError> {
    let n = on_tx!(tx, |c| sqlx::query(
        "INSERT INTO clinic_leaving (clinic_id, requested_by, requested_at, reason, archive_salt, archive_public) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (clinic_id) DO NOTHING"
    )
    .bind_scope(scope)
    .bind(row.requested_by.as_uuid())
    .bind(micros(row.requested_at))
    .bind(row.reason.as_str())
    .bind(row.archive_salt.as_slice())
    .bind(row.archive_public.as_slice())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// The owner's request to leave, if there is one.
///
/// # Errors
/// Database errors.
pub async fn leaving(tx: &mut Tx, scope: &ClinicScope) -> Result<Option<LeavingRow>, StoreError> {
    type Row = (Uuid, i64, String, Vec<u8>, Vec<u8>);
    let row: Option<Row> = on_tx!(tx, |c| {
        sqlx::query_as(
        "SELECT requested_by, requested_at, reason, archive_salt, archive_public FROM clinic_leaving WHERE clinic_id = $1"
    )
    .bind_scope(scope)
    .fetch_optional(c)
    .await
    })?;
    row.map(|(by, at, reason, salt, public)| {
        Ok(LeavingRow {
            requested_by: StaffId::from_uuid(by),
            requested_at: from_micros(at)?,
            reason,
            archive_salt: salt,
            archive_public: public,
        })
    })
    .transpose()
}

/// Every clinic whose owner has asked to leave (for the platform's list).
///
/// # Errors
/// Database errors.
pub async fn leaving_clinics(tx: &mut Tx) -> Result<Vec<Uuid>, StoreError> {
    let rows: Vec<(Uuid,)> = on_tx!(tx, |c| {
        sqlx::query_as("SELECT clinic_id FROM clinic_leaving ORDER BY clinic_id")
            .fetch_all(c)
            .await
    })?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// One operator's approval of an offboarding the owner did not ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    pub operator_id: StaffId,
    pub approved_at: Timestamp,
    pub reason: String,
}

/// Record `operator`'s approval. Returns false if they approved already.
///
/// # Errors
/// Database errors.
pub async fn insert_approval(tx: &mut Tx, scope: &ClinicScope, a: &Approval) -> Result<bool, StoreError> {
    let n = on_tx!(tx, |c| sqlx::query(
        "INSERT INTO offboarding_approvals (clinic_id, operator_id, approved_at, reason) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (clinic_id, operator_id) DO NOTHING"
    )
    .bind_scope(scope)
    .bind(a.operator_id.as_uuid())
    .bind(micros(a.approved_at))
    .bind(a.reason.as_str())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// The approvals recorded for the clinic, oldest first.
///
/// # Errors
/// Database errors.
pub async fn approvals(tx: &mut Tx, scope: &ClinicScope) -> Result<Vec<Approval>, StoreError> {
    let rows: Vec<(Uuid, i64, String)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT operator_id, approved_at, reason FROM offboarding_approvals WHERE clinic_id = $1 \
         ORDER BY approved_at, operator_id"
    )
    .bind_scope(scope)
    .fetch_all(c)
    .await)?;
    rows.into_iter()
        .map(|(op, at, reason)| {
            Ok(Approval {
                operator_id: StaffId::from_uuid(op),
                approved_at: from_micros(at)?,
                reason,
            })
        })
        .collect()
}

/// The email addresses of the clinic's owners whose accounts are enabled:
/// where notices about suspension and offboarding go.
///
/// # Errors
/// Database errors.
pub async fn owner_emails(tx: &mut Tx, scope: &ClinicScope) -> Result<Vec<String>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT email FROM staff WHERE clinic_id = $1 AND role = 'owner' AND NOT disabled ORDER BY email"
    )
    .bind_scope(scope)
    .fetch_all(c)
    .await)?)
}
