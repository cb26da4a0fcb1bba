//! Moving one clinic between installations, for example from the embedded
//! file to PostgreSQL and back (`velum export`, `velum import`). Run by the
//! operator, not by a staff member, so there is no actor: both ends record a
//! system event in the clinic's own audit chain.
//!
//! # The export file
//!
//! ```text
//! VELUM CLINIC EXPORT\n
//! {"format":2,"clinic_id":…,"exported_at":…,"master_key_fingerprint":…,
//!  "clinic_key":{"key_id":1,"wrapped":"<base64>"},"rows":{"clients":20,…}}\n
//! <sealed body>
//! ```
//!
//! The header is plaintext JSON on one line: what the file is, whose it is,
//! and which master key can open it, with nothing personal in it. The body
//! is JSON lines, one `{"table":…,"row":{…}}` per row (see
//! [`velum_store::transfer`] for the value encoding), sealed with AES-256-GCM
//! under the clinic's own key ([`ClinicKey::seal`]). Its associated data
//! names the format version, the clinic id and the SHA-256 of the exact
//! header bytes, so a body cannot be paired with an edited header or moved
//! under another clinic's header. The clinic key travels wrapped, exactly as
//! stored, so only the same master key (same fingerprint) opens the file:
//! the operator moving a clinic between their own backends holds it.
//!
//! Format 1 files (written by earlier builds) have the same layout and still
//! import: their body's associated data names `v1`, and their rows may lack
//! the columns added since (`audit_events.actor_kind`), which import as NULL
//! (events stored before that column existed have it NULL anyway, and their
//! links verify without it). Format 2 rows carry every column.
//!
//! The body is sealed in one piece, in memory; that is fine at today's sizes
//! (100,000 clients is some tens of megabytes). For much larger clinics
//! (photos, years of audit events) the body would be sealed in chunks with
//! a streaming AEAD construction (each chunk's index and a last-chunk flag in
//! its associated data, as in the STREAM construction), rows would be read
//! and inserted in pages rather than all at once, and the format version
//! would go to 2.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use velum_core::ClinicId;
use velum_core::actor::Purpose;
use velum_core::audit::{AuditAction, NewAuditEvent};
use velum_crypto::{Aad, ClinicKey, MasterKey, WrappedKey};
use velum_store::transfer::{self, CLINIC_TABLES, TableRows};
use velum_store::{StoreError, audit, clinics, staff};

use crate::sealed_file::{CLINIC_EXPORT, FrameError};
use crate::{App, AppError};

/// The export format this build writes. Bump it for any change to the
/// layout, the header or the body encoding, or to the columns a file
/// carries. Format 2 is format 1 with every column of today's schema
/// required; a format-1 file may lack the columns added since
/// (`audit_events.actor_kind`, see
/// [`velum_store::transfer::Column::since_format`]), which import as NULL.
pub const FORMAT_VERSION: u32 = 2;

/// Every format this build reads.
pub const FORMATS_READ: &[u32] = &[1, FORMAT_VERSION];

/// The file's first line.
#[cfg(test)]
const MAGIC: &[u8] = CLINIC_EXPORT.marker;

/// Why an export or import did not happen. Every message is one line, names
/// the cause, and carries no personal data (ids and counts only).
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("not a Velum clinic export (the file does not start with the export marker)")]
    NotAnExport,
    #[error("unsupported export format version {found} (this Velum reads versions 1 and {FORMAT_VERSION})")]
    UnsupportedVersion { found: String },
    #[error("the export file is damaged or was altered: {0}; nothing was imported")]
    Damaged(&'static str),
    #[error(
        "the export was made under another master key (file fingerprint {file}, this installation's {ours}); \
         import with the master key of the installation it came from"
    )]
    WrongMasterKey { file: String, ours: String },
    #[error("clinic {0} already exists here; nothing was imported")]
    ClinicExists(ClinicId),
    #[error(
        "a staff email in the export already has an account here (sign-in emails are unique per installation); \
         nothing was imported"
    )]
    StaffEmailTaken,
    #[error("the audit chain in the export does not verify at event #{seq} ({reason}); nothing was imported")]
    ChainBroken { seq: i64, reason: &'static str },
    #[error("there is no clinic {0} here")]
    NoSuchClinic(ClinicId),
    #[error("clinic {0} has been offboarded: its data and keys are gone, there is nothing to export")]
    Offboarded(ClinicId),
    #[error("the clinic changed while it was being exported; nothing was written, run the export again")]
    ChangedDuringExport,
    #[error("cannot write the export: {0}")]
    Save(std::io::Error),
    #[error(transparent)]
    App(#[from] AppError),
}

impl From<StoreError> for TransferError {
    fn from(e: StoreError) -> Self {
        if e.is_serialization_failure() {
            TransferError::ChangedDuringExport
        } else {
            TransferError::App(e.into())
        }
    }
}

/// What moved: the clinic and its row count per table, in
/// [`CLINIC_TABLES`] order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferSummary {
    pub clinic_id: ClinicId,
    pub exported_at: Timestamp,
    pub rows: Vec<(&'static str, u64)>,
}

impl TransferSummary {
    /// All rows.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.rows.iter().map(|(_, n)| n).sum()
    }

    /// `clinics 1, clinic_keys 1, staff 6, …`, for the one-line summary.
    #[must_use]
    pub fn counts(&self) -> String {
        self.rows
            .iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The plaintext header. Its exact bytes are hashed into the body's
/// associated data: any edit makes the body refuse to open.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: u32,
    clinic_id: ClinicId,
    exported_at: Timestamp,
    master_key_fingerprint: String,
    clinic_key: HeaderKey,
    rows: BTreeMap<String, u64>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderKey {
    key_id: i64,
    /// The clinic key wrapped by the master key, base64, as stored in
    /// `clinic_keys`.
    wrapped: String,
}

/// One line of the body.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BodyLine<'a> {
    table: &'a str,
    row: serde_json::Map<String, serde_json::Value>,
}

/// Associated data of the body: format version, header digest, clinic id.
/// NEVER CHANGE THIS for a written format: it is bound into every export
/// file.
fn body_aad(format: u32, header_bytes: &[u8], clinic: ClinicId) -> Aad {
    CLINIC_EXPORT.aad(format, header_bytes, clinic)
}

/// An export file that opened: its header and its rows.
struct Opened {
    header: Header,
    tables: Vec<TableRows>,
}

impl Opened {
    fn summary(&self) -> TransferSummary {
        TransferSummary {
            clinic_id: self.header.clinic_id,
            exported_at: self.header.exported_at,
            rows: self.tables.iter().map(|t| (t.table, t.rows.len() as u64)).collect(),
        }
    }
}

/// Check an export file against `master` without touching any database:
/// the marker, the format version, the master-key fingerprint, the sealed
/// body and its row counts. `velum import` runs this before it opens the
/// target, so a bad file creates and changes nothing.
///
/// # Errors
/// The [`TransferError`] naming what is wrong with the file.
pub fn check_export(file: &[u8], master: &MasterKey) -> Result<TransferSummary, TransferError> {
    open_file(file, master).map(|o| o.summary())
}

fn open_file(file: &[u8], master: &MasterKey) -> Result<Opened, TransferError> {
    let framing = |e| match e {
        FrameError::NoMarker => TransferError::NotAnExport,
        FrameError::Unsupported { found } => TransferError::UnsupportedVersion { found },
        FrameError::Damaged(what) => TransferError::Damaged(what),
    };
    let frame = CLINIC_EXPORT.split(file, FORMATS_READ).map_err(framing)?;
    let header: Header = frame.header().map_err(framing)?;
    let (header_bytes, sealed) = (frame.header_bytes, frame.sealed);
    let ours = master.fingerprint();
    if header.master_key_fingerprint != ours {
        return Err(TransferError::WrongMasterKey {
            file: header.master_key_fingerprint.chars().take(32).collect(),
            ours,
        });
    }
    let wrapped = B64
        .decode(&header.clinic_key.wrapped)
        .map_err(|_| TransferError::Damaged("the clinic key in the header is not readable"))?;
    let clinic_key = master
        .unwrap_clinic_key(&WrappedKey::from_bytes(wrapped), header.clinic_id)
        .map_err(|_| TransferError::Damaged("the clinic key in the header does not unwrap"))?;
    let body = clinic_key
        .open(sealed, &body_aad(frame.format, header_bytes, header.clinic_id))
        .map_err(|_| TransferError::Damaged("the sealed body does not open with this header"))?;
    // Past this point the body is authentic: what follows catches a file
    // written by a faulty exporter, not an attacker without the key.
    let tables = parse_body(&body)?;
    let counts: BTreeMap<String, u64> = tables
        .iter()
        .map(|t| (t.table.to_owned(), t.rows.len() as u64))
        .collect();
    if counts != header.rows {
        return Err(TransferError::Damaged("the row counts differ from the header"));
    }
    let key_row_matches = tables
        .iter()
        .filter(|t| t.table == "clinic_keys")
        .flat_map(|t| &t.rows)
        .any(|r| {
            r.get("key_id").and_then(serde_json::Value::as_i64) == Some(header.clinic_key.key_id)
                && r.get("wrapped").and_then(serde_json::Value::as_str) == Some(header.clinic_key.wrapped.as_str())
        });
    if !key_row_matches {
        return Err(TransferError::Damaged(
            "the header's clinic key is not among the clinic's keys",
        ));
    }
    Ok(Opened { header, tables })
}

fn parse_body(body: &[u8]) -> Result<Vec<TableRows>, TransferError> {
    let mut tables: Vec<TableRows> = CLINIC_TABLES
        .iter()
        .map(|t| TableRows {
            table: t.name,
            rows: Vec::new(),
        })
        .collect();
    for line in body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let parsed: BodyLine<'_> =
            serde_json::from_slice(line).map_err(|_| TransferError::Damaged("a row of the body is not readable"))?;
        let slot = tables
            .iter_mut()
            .find(|t| t.table == parsed.table)
            .ok_or(TransferError::Damaged("the body names a table that does not move"))?;
        slot.rows.push(parsed.row);
    }
    Ok(tables)
}

fn encode_file(header: &Header, tables: &[TableRows], clinic_key: &ClinicKey) -> Result<Vec<u8>, AppError> {
    let json = |_: serde_json::Error| AppError::Internal("export encoding: cannot encode".into());
    let header_bytes = serde_json::to_vec(header).map_err(json)?;
    let mut body = Vec::new();
    for t in tables {
        for row in &t.rows {
            serde_json::to_writer(
                &mut body,
                &BodyLine {
                    table: t.table,
                    row: row.clone(),
                },
            )
            .map_err(json)?;
            body.push(b'\n');
        }
    }
    let sealed = clinic_key.seal(&body, &body_aad(header.format, &header_bytes, header.clinic_id));
    Ok(CLINIC_EXPORT.assemble(&header_bytes, &sealed))
}

/// The job names `velum export` and `velum import` record as their actor.
const EXPORT_JOB: &str = "export";
const IMPORT_JOB: &str = "import";

/// An event of the export or import job (which one follows from `action`).
fn system_event(clinic_id: ClinicId, action: AuditAction, detail: String) -> NewAuditEvent {
    let job = if action == AuditAction::ClinicImported {
        IMPORT_JOB
    } else {
        EXPORT_JOB
    };
    NewAuditEvent {
        clinic_id,
        actor_kind: velum_core::SystemJob::for_clinic(job, clinic_id).kind(),
        actor_id: None,
        client_id: None,
        sections: Vec::new(),
        action,
        purpose: Purpose::Administration,
        source: None,
        detail: Some(detail),
    }
}

impl App {
    /// Export every row of `clinic` as an encrypted file and record a
    /// "clinic exported" event in its chain. `save` receives the file's
    /// bytes and must make them durable (the CLI writes a temporary file);
    /// it runs before the transaction commits, so:
    ///
    /// - the event is appended after the reads, in the same transaction as
    ///   them: it is recorded if and only if the data was read and handed
    ///   to `save`, and no change can slip in between the reading and the
    ///   record (SQLite holds the write lock; on PostgreSQL the reads share
    ///   one snapshot and the append fails if the chain moved since). The
    ///   file therefore holds the chain up to just before its own export
    ///   event; the source keeps that event, the target adds its own
    ///   "clinic imported".
    /// - if `save` fails, nothing is recorded; if the commit fails, the
    ///   caller discards what `save` wrote.
    ///
    /// # Errors
    /// `NoSuchClinic`; `ChangedDuringExport` when PostgreSQL saw a
    /// concurrent change; `Save` when `save` failed; store errors.
    pub async fn export_clinic<T>(
        &self,
        clinic: ClinicId,
        save: impl FnOnce(&[u8]) -> std::io::Result<T>,
    ) -> Result<(TransferSummary, T), TransferError> {
        let scope = crate::job_scope(EXPORT_JOB, clinic);
        let mut tx = self.store().begin_snapshot().await?;
        match clinics::get(&mut tx, &scope).await? {
            None => return Err(TransferError::NoSuchClinic(clinic)),
            Some(c) if c.status.is_offboarded() => return Err(TransferError::Offboarded(clinic)),
            Some(_) => {}
        }
        let tables = transfer::read_clinic(&mut tx, &scope).await?;
        let (key_id, wrapped) = clinics::current_key(&mut tx, &scope).await?;
        let clinic_key = self
            .master()
            .unwrap_clinic_key(&wrapped, clinic)
            .map_err(AppError::from)?;
        let header = Header {
            format: FORMAT_VERSION,
            clinic_id: clinic,
            exported_at: self.now(),
            master_key_fingerprint: self.master().fingerprint(),
            clinic_key: HeaderKey {
                key_id,
                wrapped: B64.encode(wrapped.as_bytes()),
            },
            rows: tables
                .iter()
                .map(|t| (t.table.to_owned(), t.rows.len() as u64))
                .collect(),
        };
        let file = encode_file(&header, &tables, &clinic_key)?;
        let opened = Opened { header, tables };
        let summary = opened.summary();
        audit::append(
            &mut tx,
            system_event(
                clinic,
                AuditAction::ClinicExported,
                format!("format:{FORMAT_VERSION} rows:{}", summary.total()),
            ),
            self.now(),
        )
        .await?;
        let saved = save(&file).map_err(TransferError::Save)?;
        tx.commit().await?;
        Ok((summary, saved))
    }

    /// Import a clinic from an export file made by [`App::export_clinic`]
    /// under the same master key: every row as it was (same ids, history and
    /// audit chain, so the chain still verifies), then a "clinic imported"
    /// event, all in one transaction. Refuses, changing nothing, a file
    /// that is damaged, altered, of an unknown format or from another master
    /// key, a clinic that exists here already, and staff emails that have
    /// accounts here.
    ///
    /// # Errors
    /// See [`TransferError`].
    pub async fn import_clinic(&self, file: &[u8]) -> Result<TransferSummary, TransferError> {
        let opened = open_file(file, self.master())?;
        let clinic = opened.header.clinic_id;
        let scope = crate::job_scope(IMPORT_JOB, clinic);
        let mut tx = self.begin().await?;
        if transfer::clinic_exists(&mut tx, &scope).await? {
            return Err(TransferError::ClinicExists(clinic));
        }
        for row in opened
            .tables
            .iter()
            .filter(|t| t.table == "staff")
            .flat_map(|t| &t.rows)
        {
            let email = row
                .get("email")
                .and_then(serde_json::Value::as_str)
                .ok_or(TransferError::Damaged("a staff row has no email"))?;
            if staff::find_for_sign_in(&mut tx, email).await?.is_some() {
                return Err(TransferError::StaffEmailTaken);
            }
        }
        transfer::write_clinic(&mut tx, &scope, &opened.tables, opened.header.format)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => TransferError::ClinicExists(clinic),
                StoreError::Corrupt(what) => TransferError::Damaged(what),
                other => other.into(),
            })?;
        let (_, first_break) = audit::verify_chain(&mut tx, clinic).await?;
        if let Some(b) = first_break {
            return Err(TransferError::ChainBroken {
                seq: b.seq,
                reason: b.reason,
            });
        }
        let summary = opened.summary();
        audit::append(
            &mut tx,
            system_event(
                clinic,
                AuditAction::ClinicImported,
                format!(
                    "format:{} rows:{} exported_at:{}",
                    opened.header.format,
                    summary.total(),
                    opened.header.exported_at
                ),
            ),
            self.now(),
        )
        .await?;
        tx.commit().await?;
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_aad_binds_the_header_bytes_and_the_clinic() {
        let clinic = ClinicId::from_uuid(uuid::Uuid::from_u128(1));
        let other = ClinicId::from_uuid(uuid::Uuid::from_u128(2));
        let a = body_aad(1, b"{\"format\":1}", clinic);
        assert_eq!(a, body_aad(1, b"{\"format\":1}", clinic));
        assert_ne!(a, body_aad(1, b"{\"format\":1 }", clinic));
        assert_ne!(a, body_aad(1, b"{\"format\":1}", other));
        assert_ne!(a, body_aad(2, b"{\"format\":1}", clinic));
    }

    #[test]
    fn files_without_the_marker_or_with_another_version_are_named_as_such() {
        let master = MasterKey::from_bytes(&[5; 32]).unwrap();
        assert!(matches!(
            check_export(b"hello", &master),
            Err(TransferError::NotAnExport)
        ));
        let v3 = [MAGIC, b"{\"format\":3}\nxyz"].concat();
        let err = check_export(&v3, &master).unwrap_err();
        assert!(matches!(err, TransferError::UnsupportedVersion { .. }));
        assert!(err.to_string().contains("version 3"), "{err}");
        let cut = [MAGIC, b"{\"format\":1"].concat();
        assert!(matches!(check_export(&cut, &master), Err(TransferError::Damaged(_))));
    }
}
