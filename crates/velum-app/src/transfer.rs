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
//! under the clinic's own key in chunks as it is written
//! ([`ClinicKey::seal_stream`], the STREAM construction of
//! [`velum_crypto::stream`]: each chunk's index and a last-chunk flag are in
//! its nonce and associated data, so a reordered, dropped or cut-off chunk
//! refuses to open). The associated data names the format version, the
//! clinic id and the SHA-256 of the exact header bytes, so a body cannot be
//! paired with an edited header or moved under another clinic's header. The
//! clinic key travels wrapped, exactly as stored, so only the same master
//! key (same fingerprint) opens the file: the operator moving a clinic
//! between their own backends holds it.
//!
//! Format 1 files (written by earlier builds) still import: their body is
//! sealed in one piece ([`ClinicKey::seal`]) under associated data naming
//! `v1`, and their rows may lack the columns added since
//! (`audit_events.actor_kind`), which import as NULL (events stored before
//! that column existed have it NULL anyway, and their links verify without
//! it). Format 2 rows carry every column.
//!
//! What is still whole in memory: the rows are read in one go
//! ([`velum_store::transfer::read_clinic`]; the file itself is sealed and
//! written to the caller's writer as it is encoded), and an import reads
//! the file and opens the body into memory before it writes the rows. Streaming those to and from disk, and
//! reading and inserting rows in pages, is what remains for very large
//! clinics; the file format needs no change for it.

use std::collections::BTreeMap;
use std::io::{Read, Write};

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
/// carries. Format 2 seals the body in chunks ([`velum_crypto::stream`])
/// and requires every column of today's schema; format 1 sealed it in one
/// piece, and a format-1 file may lack the columns added since
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
    let aad = body_aad(frame.format, header_bytes, header.clinic_id);
    let refused = || TransferError::Damaged("the sealed body does not open with this header");
    let body = if frame.format == 1 {
        // Format 1: the body sealed in one piece.
        clinic_key.open(sealed, &aad).map_err(|_| refused())?
    } else {
        let mut body = Vec::new();
        clinic_key
            .open_stream(&aad, sealed)
            .and_then(|mut r| r.read_to_end(&mut body))
            .map_err(|_| refused())?;
        body
    };
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

/// The file: marker, header, and the body lines sealed through a
/// [`velum_crypto::stream::SealWriter`] (format 2) as they are encoded,
/// written to `out` as they are sealed.
fn write_file(
    header: &Header,
    tables: &[TableRows],
    clinic_key: &ClinicKey,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let header_bytes = serde_json::to_vec(header)?;
    out.write_all(&CLINIC_EXPORT.assemble(&header_bytes, &[]))?;
    let aad = body_aad(header.format, &header_bytes, header.clinic_id);
    let mut body = std::io::BufWriter::new(clinic_key.seal_stream(&aad, out)?);
    for t in tables {
        for row in &t.rows {
            serde_json::to_writer(
                &mut body,
                &BodyLine {
                    table: t.table,
                    row: row.clone(),
                },
            )?;
            body.write_all(b"\n")?;
        }
    }
    body.into_inner()
        .map_err(std::io::IntoInnerError::into_error)?
        .finish()?;
    Ok(())
}

/// [`write_file`] into memory.
#[cfg(test)]
fn encode_file(header: &Header, tables: &[TableRows], clinic_key: &ClinicKey) -> Result<Vec<u8>, AppError> {
    let mut file = Vec::new();
    write_file(header, tables, clinic_key, &mut file)
        .map_err(|_| AppError::Internal("export encoding: cannot seal".into()))?;
    Ok(file)
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
    /// "clinic exported" event in its chain. `save` receives a function that
    /// writes the file, sealed as it goes, into the writer it is given; `save`
    /// must make what was written durable (the CLI writes a temporary file
    /// and syncs it). It runs before the transaction commits, so:
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
        save: impl FnOnce(&mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>) -> std::io::Result<T>,
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
        let saved = save(&mut |out| write_file(&opened.header, &opened.tables, &clinic_key, out))
            .map_err(TransferError::Save)?;
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

    /// A header and rows that open under `master`: the clinic's key row,
    /// and enough client-sized rows for the body to span several chunks.
    fn sample(master: &MasterKey, format: u32) -> (Header, Vec<TableRows>, ClinicKey) {
        let clinic = ClinicId::from_uuid(uuid::Uuid::from_u128(11));
        let key = ClinicKey::generate();
        let wrapped = B64.encode(master.wrap_clinic_key(&key, clinic).as_bytes());
        let mut key_row = serde_json::Map::new();
        key_row.insert("key_id".into(), 1.into());
        key_row.insert("wrapped".into(), wrapped.clone().into());
        let client_rows = (0..3000)
            .map(|i| {
                let mut r = serde_json::Map::new();
                r.insert("id".into(), uuid::Uuid::from_u128(i).to_string().into());
                r.insert("given_name".into(), format!("Client {i} with a longer name").into());
                r
            })
            .collect::<Vec<_>>();
        let tables = CLINIC_TABLES
            .iter()
            .map(|t| TableRows {
                table: t.name,
                rows: match t.name {
                    "clinic_keys" => vec![key_row.clone()],
                    "clients" => client_rows.clone(),
                    _ => Vec::new(),
                },
            })
            .collect::<Vec<_>>();
        let header = Header {
            format,
            clinic_id: clinic,
            exported_at: Timestamp::UNIX_EPOCH,
            master_key_fingerprint: master.fingerprint(),
            clinic_key: HeaderKey { key_id: 1, wrapped },
            rows: tables
                .iter()
                .map(|t| (t.table.to_owned(), t.rows.len() as u64))
                .collect(),
        };
        (header, tables, key)
    }

    fn same_rows(a: &[TableRows], b: &[TableRows]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.table == y.table && x.rows == y.rows)
    }

    #[test]
    fn the_streamed_body_round_trips_and_a_cut_or_reordered_body_is_refused() {
        let master = MasterKey::from_bytes(&[5; 32]).unwrap();
        let (header, tables, key) = sample(&master, FORMAT_VERSION);
        let file = encode_file(&header, &tables, &key).unwrap();
        assert!(file.len() > 3 * velum_crypto::stream::CHUNK, "{}", file.len());
        let opened = open_file(&file, &master).unwrap();
        assert_eq!(opened.header.format, FORMAT_VERSION);
        assert!(same_rows(&opened.tables, &tables));

        let header_end = CLINIC_EXPORT.marker.len()
            + file[CLINIC_EXPORT.marker.len()..]
                .iter()
                .position(|&b| b == b'\n')
                .unwrap()
            + 1;
        // The stream: version byte, 32-byte salt, then chunks of CHUNK + 16.
        let first = header_end + 33;
        let sealed_chunk = velum_crypto::stream::CHUNK + 16;
        for cut in [first + sealed_chunk, first + 2 * sealed_chunk, file.len() - 1] {
            assert!(
                matches!(open_file(&file[..cut], &master), Err(TransferError::Damaged(_))),
                "cut at {cut}"
            );
        }
        let chunk = |i: usize| &file[first + i * sealed_chunk..first + (i + 1) * sealed_chunk];
        let swapped = [&file[..first], chunk(1), chunk(0), &file[first + 2 * sealed_chunk..]].concat();
        assert_eq!(swapped.len(), file.len());
        assert!(matches!(open_file(&swapped, &master), Err(TransferError::Damaged(_))));
    }

    #[test]
    fn a_format_1_file_sealed_in_one_piece_still_opens() {
        let master = MasterKey::from_bytes(&[5; 32]).unwrap();
        let (header, tables, key) = sample(&master, 1);
        // As earlier builds wrote it.
        let header_bytes = serde_json::to_vec(&header).unwrap();
        let mut body = Vec::new();
        for t in &tables {
            for row in &t.rows {
                serde_json::to_writer(
                    &mut body,
                    &BodyLine {
                        table: t.table,
                        row: row.clone(),
                    },
                )
                .unwrap();
                body.push(b'\n');
            }
        }
        let sealed = key.seal(&body, &body_aad(1, &header_bytes, header.clinic_id));
        let file = CLINIC_EXPORT.assemble(&header_bytes, &sealed);
        let opened = open_file(&file, &master).unwrap();
        assert_eq!(opened.header.format, 1);
        assert!(same_rows(&opened.tables, &tables));
        // Its body does not pass for a format-2 (streamed) one.
        let relabelled = [
            MAGIC,
            &serde_json::to_vec(&Header { format: 2, ..header }).unwrap(),
            b"\n",
            &sealed,
        ]
        .concat();
        assert!(matches!(
            open_file(&relabelled, &master),
            Err(TransferError::Damaged(_))
        ));
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
